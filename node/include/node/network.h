#pragma once
// The network as etcd describes it, in flannel's layout and value format:
// <prefix>/config (the network's shape) and <prefix>/subnets/<a.b.c.d-len>
// (one lease per node). Pure parsing and formatting: no etcd, no kernel.

#include <base/ip.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <config.h>  // the vxlan plugin's (plugins/vxlan): Mode, Node, Membership

namespace knet::node {

// <prefix>/config: {"Network": "10.244.0.0/16", "SubnetLen": 24,
// "SubnetMin": "10.244.1.0", "SubnetMax": "10.244.255.0",
// "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "Mode": "l3"}}.
struct NetworkConfig {
  knet::IPNet network{};  // network form
  int subnet_len = 24;
  knet::IP subnet_min{};  // network address of the first subnet handed out
  knet::IP subnet_max{};  // network address of the last one
  uint32_t vni = 1;
  uint16_t port = 8472;
  vxlan::Mode mode = vxlan::Mode::kL3;
  // The address family of every lease's PublicIP: this node's own VTEP
  // address's (the agent sets it once it knows it). Not from the config: an
  // IPv4 network may run over an IPv6 underlay. A lease of the other family
  // is unusable (no VTEP reaches it) and skipped.
  int public_family = AF_INET;

  // Parses and validates the config's bytes with flannel's defaults:
  // SubnetLen 24 (2 more than the network's prefix when that is longer than
  // /22), SubnetMin the network's second subnet, SubnetMax its last; VNI 1,
  // Port 8472, Mode l3. IPv4 only. Throws knet::Error naming `where` (the
  // key, e.g. "/knet/network/config") and the bad field.
  static NetworkConfig parse(std::string_view text, const std::string& where);

  // How many subnets lie between subnet_min and subnet_max.
  uint64_t subnet_count() const;
  // The i-th subnet (0 = subnet_min), i < subnet_count().
  knet::IPNet subnet(uint64_t i) const;
  // True when `s` is one of the subnets this config hands out.
  bool holds(const knet::IPNet& s) const;
  // "10.244.0.0/16, SubnetLen 24, SubnetMin 10.244.1.0, SubnetMax 10.244.255.0"
  std::string describe() const;
};

// One node's lease as stored in <prefix>/subnets/<key>.
struct SubnetLease {
  knet::IPNet subnet{};
  knet::IP public_ip{};
  uint32_t vni = 0;
  std::string vtep_mac;  // "aa:bb:cc:dd:ee:ff"

  // {"PublicIP": ..., "BackendType": "vxlan", "BackendData": {"VNI": .., "VtepMAC": ..}}
  std::string to_json() const;
};

// "<prefix>/subnets/" with the prefix's trailing slashes dropped.
std::string subnets_prefix(std::string_view prefix);
// "<prefix>/config".
std::string config_key(std::string_view prefix);
// "<prefix>/subnets/10.244.3.0-24".
std::string subnet_key(std::string_view prefix, const knet::IPNet& subnet);

// The lease stored under `key` with `value`, checked against `net`: the key
// must be under subnets_prefix(prefix) and name a subnet of the network, the
// value JSON with a PublicIP of net.public_family, BackendType "vxlan" and
// the config's VNI.
// Throws knet::Error saying why the entry is unusable (one line).
SubnetLease parse_lease(const NetworkConfig& net, std::string_view prefix, std::string_view key,
                        std::string_view value);

}  // namespace knet::node
