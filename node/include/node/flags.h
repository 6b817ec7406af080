#pragma once
// knet-node's command line, with flannel's flag names where flannel has one.

#include <base/ip.h>
#include <cni/log.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace knet::node {

// What the command line asks for; defaults as documented in usage().
struct Options {
  std::vector<std::string> etcd_endpoints{"http://127.0.0.1:2379"};
  std::string etcd_prefix = "/knet/network";
  std::string etcd_cafile;
  std::string etcd_certfile;
  std::string etcd_keyfile;
  std::string iface;                  // empty: the default route's device
  std::optional<knet::IP> public_ip;  // unset: the first global address of iface
  std::string peers_file = "/run/knet/vxlan-peers.json";
  std::chrono::seconds lease_ttl{60};
  // How often the kernel entries and the file are re-applied from the last
  // known membership even when nothing changed (an entry removed by hand
  // comes back); 0: only on changes.
  std::chrono::seconds resync_interval{60};
  std::string healthz_addr;  // "HOST:PORT"; empty: no health server
  bool release_on_exit = false;
  // The name of the CNI network whose vxlan device the agent makes (its
  // conflist's "name"): the plugin reuses a device only of its own network.
  std::string cni_network = "overlay";
  // --log-file / --log-level / --log-max-size, else the node-wide log file
  // (cni/log.h): where the JSON log goes; an empty file means none.
  cni::LogConfig log{};
  bool help = false;
};

// Parses `args` (argv without the program name): --flag=value or --flag
// value; --release-on-exit and --help take no value. Checks every value
// (URLs, an absolute peers file, a TTL of 2 ... 86400 s, a resync
// interval of 0 ... 86400 s, HOST:PORT).
// Throws knet::Error naming the flag and what is wrong with it.
Options parse_flags(const std::vector<std::string>& args);

// The --help text: every flag, its default and meaning.
std::string usage();

}  // namespace knet::node
