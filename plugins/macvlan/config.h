#pragma once
// The macvlan plugin's own configuration keys, parsed and validated once.

#include <cni/env.h>
#include <cni/netconf.h>
#include <nlw/link.h>

#include <cstdint>
#include <optional>
#include <string>

namespace knet::macvlan {

struct Config {
  // The parent link; empty means "the interface of the default route" of the
  // namespace the master lives in (resolved at ADD time, not here).
  std::string master{};
  nlw::MacvlanMode mode = nlw::MacvlanMode::kBridge;
  unsigned mtu = 0;  // 0 = inherit the master's MTU
  // Normalised "aa:bb:cc:dd:ee:ff", empty = the kernel picks a random one.
  std::string mac{};
  // Where `mac` came from ("mac", "CNI_ARGS MAC", "args.cni.mac",
  // "runtimeConfig.mac"), so errors about it name the right key.
  std::string mac_key{};
  // The master lives in the container namespace, not in the host's.
  bool link_in_container = false;
  std::optional<uint32_t> bcqueuelen{};
  // With no ipam.type the interface is L2 only: up, no addresses, no "ips".
  bool has_ipam = false;

  // Reads the plugin's keys from `conf.raw` and the MAC overrides from
  // `conf`'s args/runtimeConfig and `args` (CNI_ARGS). Pure: touches no kernel
  // state. Throws cni::Error(kInvalidNetworkConfig) naming the bad key.
  static Config parse(const cni::NetConf& conf, const cni::CniArgs& args);
};

// Parses a MAC written as six hex pairs separated by ':' or '-' and returns it
// as lower-case "aa:bb:cc:dd:ee:ff"; throws a config error naming `key` if it
// is malformed, multicast or all zeros (a link cannot take such an address).
std::string parse_unicast_mac(const std::string& s, const std::string& key);

}  // namespace knet::macvlan
