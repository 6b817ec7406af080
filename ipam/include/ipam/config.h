#pragma once
// host-local's configuration: every key of the reference plugin, read once
// from the network config (the "ipam" section, "args", "runtimeConfig") and
// CNI_ARGS, and validated before anything touches the disk.

#include <cni/env.h>
#include <cni/netconf.h>
#include <cni/result.h>

#include <optional>
#include <string>
#include <vector>

#include "ipam/range.h"

namespace knet::ipam {

inline constexpr const char* kDefaultDataDir = "/var/lib/cni/networks";

struct Config {
  std::string network;   // the network name; also the store's directory name
  std::string data_dir;  // "ipam.dataDir"
  // runtimeConfig.ipRanges, then the legacy single range (ipam.subnet, ...),
  // then ipam.ranges: one address per set, no two sets overlapping.
  std::vector<RangeSet> range_sets;
  std::vector<cni::Route> routes;  // "ipam.routes"
  std::string resolv_conf;         // "ipam.resolvConf"; "" when unset
  // Requested addresses: CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips.
  std::vector<knet::IP> requested;

  // Reads and validates everything; throws cni::Error (7 for the config, 4 for
  // CNI_ARGS) naming the key. `args` is CNI_ARGS; only IP= is read from it.
  static Config parse(const cni::NetConf& conf, const cni::CniArgs& args);

  // The requested address of each range set, as the reference pairs them: a
  // set takes the first request it holds. Throws (code 7) for a request that
  // no set takes (outside every range, or a second one for a set) or that is
  // a gateway. Called by ADD only: DEL ignores requests, like the reference.
  std::vector<std::optional<knet::IP>> requested_per_set() const;

  // The network's directory: data_dir/network.
  std::string network_dir() const { return data_dir + "/" + network; }
};

// The "dns" of an ADD result from a resolv.conf: nameserver, domain, search and
// options lines, as the reference reads them. Reads the file only with
// cni::read_user_file: throws code 5 naming "ipam.resolvConf", the path and
// the reason if it cannot be read, is not a regular file (a FIFO is never
// waited on) or is larger than cni::kMaxResolvConfBytes.
cni::DNS parse_resolv_conf(const std::string& path);

}  // namespace knet::ipam
