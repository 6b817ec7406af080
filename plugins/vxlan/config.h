#pragma once
// The vxlan plugin's own configuration keys (see docs/vxlan.md), parsed and
// validated once, and the membership (peers / nodes) they describe.

#include <base/ip.h>
#include <cni/json.h>
#include <cni/netconf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knet::vxlan {

enum class Mode { kL2, kL3 };

// One node of an l3 overlay: its underlay address, its pod subnet (network
// form, host bits cleared) and the MAC of its VTEP when the node published
// one.
struct Node {
  knet::IP vtep{};
  knet::IPNet subnet{};
  // The `mac` key as 48 bits, first octet highest; 0 = not given, the node's
  // VTEP has the derived MAC (vtep_mac). See node_mac.
  uint64_t mac = 0;
  bool operator==(const Node&) const = default;
};

// Who is in the overlay: `peers` (l2 unicast) or `nodes` (l3), this node
// included, and (l3) the pod network every node's subnet is part of.
struct Membership {
  std::vector<knet::IP> peers{};
  std::vector<Node> nodes{};
  std::optional<knet::IPNet> network{};  // the `network` key, network form
};

struct Config {
  uint32_t vni = 0;
  uint16_t port = 4789;
  std::string underlay{};          // empty = the default route's interface
  std::optional<knet::IP> local{};  // unset = the underlay's first global address
  Mode mode = Mode::kL2;
  std::string bridge{};            // always set after parse (default knetbr<vni>)
  std::optional<knet::IP> group{};  // l2 multicast
  Membership members{};            // the inline `peers` / `nodes`
  std::string peers_file{};
  unsigned mtu = 0;  // 0 = underlay MTU minus the encapsulation overhead
  bool learning = true;
  int ttl = 0;
  bool has_ipam = false;

  // The VXLAN device's name: knetvx<vni>.
  std::string device() const;

  // Reads the plugin's keys from `conf.raw`. Pure: touches neither the kernel
  // nor `peersFile`. Throws cni::Error(kInvalidNetworkConfig) naming the bad key.
  static Config parse(const cni::NetConf& conf);
};

// The membership of `cfg`: the inline list plus the one in cfg.peers_file,
// duplicates merged. Throws cni::Error(kInvalidNetworkConfig) naming the
// file when it cannot be read or parsed, or when it contradicts itself or
// the config (one vtep with two subnets or two MACs, overlapping subnets,
// two nodes with one VTEP MAC, a subnet outside `network`, two networks).
Membership load_members(const Config& cfg);

// `s` ("aa:bb:cc:dd:ee:ff", ':' or '-' between octets, any case) as 48 bits,
// first octet highest; nullopt when it is not a MAC.
std::optional<uint64_t> parse_mac(std::string_view s);
// 48 bits as "aa:bb:cc:dd:ee:ff".
std::string mac_str(uint64_t mac);
// Whether an interface can have `mac`: unicast and not all zeros.
inline bool is_unicast_mac(uint64_t mac) { return mac != 0 && !(mac >> 40 & 1); }

// The deterministic MAC of the VTEP of `vni` at underlay address `vtep`:
// 02 followed by five bytes of an FNV-1a hash, so every node can compute
// every other node's MAC without asking.
uint64_t vtep_mac_bits(uint32_t vni, const knet::IP& vtep);
inline std::string vtep_mac(uint32_t vni, const knet::IP& vtep) { return mac_str(vtep_mac_bits(vni, vtep)); }

// The MAC of n's VTEP: the one it published (`mac`), else the derived one.
inline uint64_t node_mac(uint32_t vni, const Node& n) { return n.mac ? n.mac : vtep_mac_bits(vni, n.vtep); }

// The overlay address of an l3 node: its subnet's network address.
inline knet::IP overlay_ip(const Node& n) { return n.subnet.first(); }

// The smallest prefix covering every subnet of `family` in `nodes`, or
// nullopt if there is none (what l3 routes to when `network` is not given).
std::optional<knet::IPNet> cluster_cidr(const std::vector<Node>& nodes, int family);

// The bytes of the VXLAN header chain on top of the inner frame: 50 over an
// IPv4 underlay, 70 over IPv6.
inline unsigned encap_overhead(const knet::IP& local) { return local.is_v4() ? 50 : 70; }

const char* to_string(Mode m);

}  // namespace knet::vxlan
