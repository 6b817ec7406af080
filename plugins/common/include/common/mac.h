#pragma once
// The MAC address a runtime asks for a container interface, from the places
// the reference plugins read it.

#include <cni/env.h>
#include <cni/netconf.h>

#include <string>

namespace knet::common {

struct RequestedMac {
  std::string mac;  // "aa:bb:cc:dd:ee:ff" (lower case), empty = none asked for
  std::string key;  // where it came from, for messages: "mac", "CNI_ARGS MAC", ...
};

// The requested MAC, from its sources weakest first; the last one set wins:
// the config's "mac" (only when `config_key`: macvlan has it, bridge not),
// CNI_ARGS MAC, "args.cni.mac", "runtimeConfig.mac". Validated as
// parse_unicast_mac does, naming the winning source.
RequestedMac requested_mac(const cni::NetConf& conf, const cni::CniArgs& args, bool config_key);

// `s` ("aa:bb:cc:dd:ee:ff", ':' or '-' separated, any case) in lower case
// with ':'; code 7 naming `key` for anything an interface cannot take
// (malformed, multicast, all zeros).
std::string parse_unicast_mac(const std::string& s, const std::string& key);

}  // namespace knet::common
