#pragma once
// The bridge plugin's own configuration keys, parsed and validated once.

#include <cni/env.h>
#include <cni/netconf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace knet::bridge {

// How "ipMasq" is programmed: nftables over netlink into knet's own tables
// (the default), or iptables/ip6tables processes in the reference's layout.
enum class MasqBackend { kNftables, kIptables };

struct Config {
  std::string bridge = "cni0";
  bool is_gateway = false;          // true also when isDefaultGateway is
  bool is_default_gateway = false;  // adds a default route via the gateway per family
  bool force_address = false;       // replace a different gateway address in the same subnet
  bool ip_masq = false;
  MasqBackend masq_backend = MasqBackend::kNftables;
  unsigned mtu = 0;  // 0 = kernel default
  bool hairpin = false;
  bool promisc = false;
  uint16_t vlan = 0;                   // 0 = untagged
  std::vector<uint16_t> vlan_trunk{};  // sorted, unique VLAN IDs the port carries tagged
  bool preserve_default_vlan = true;
  bool macspoofchk = false;
  bool enable_dad = false;
  bool disable_container_interface = false;
  bool port_isolation = false;
  // Normalised "aa:bb:cc:dd:ee:ff", empty = random; mac_key names its source.
  std::string mac{};
  std::string mac_key{};
  bool has_ipam = false;  // false: L2 only (no addresses, no gateway, no masquerade)

  // The bridge needs VLAN filtering (vlan or vlanTrunk is set).
  bool vlan_filtering() const { return vlan != 0 || !vlan_trunk.empty(); }

  // Reads the plugin's keys from `conf.raw` and the MAC from CNI_ARGS `MAC`,
  // `args.cni.mac` and `runtimeConfig.mac` (later ones win, as in the
  // reference). Touches no kernel state. Throws cni::Error(kInvalidNetworkConfig)
  // naming the bad key.
  static Config parse(const cni::NetConf& conf, const cni::CniArgs& args);
};

}  // namespace knet::bridge
