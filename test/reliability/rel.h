#pragma once
// Shared pieces of the reliability tests: which plugin binaries to run, the
// CNI environment of one invocation, the bridge + host-local + bandwidth
// chain, and a snapshot of everything a plugin could leave behind in a
// sandbox host (links, addresses, routes, qdiscs, nftables, dataDir files).

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "sandbox.h"

namespace knet::test::rel {

using nlohmann::json;

// The directory holding the plugins under test: $KNET_REL_PLUGIN_DIR when set
// (by hand, e.g. /usr/lib/cni to compare with the reference), else the
// build's KNET_PLUGIN_DIR. It is also CNI_PATH, so delegated IPAM comes from
// the same place.
std::string plugin_dir();
std::string plugin(const std::string& name);

// True if the plugin's VERSION answer lists `version` (e.g. "1.1.0" for GC).
bool supports_version(const Sandbox& sb, const std::string& name, const std::string& version);

// An env for one CNI invocation; CNI_NETNS is left out when `netns` is empty.
std::map<std::string, std::string> cni_env(const std::string& command, const std::string& cid,
                                           const std::string& netns,
                                           const std::string& ifname = "eth0");

// Runs `name` from plugin_dir() in the sandbox host.
RunResult run(const Sandbox& sb, const std::string& name, const std::string& command,
              const std::string& cid, const std::string& netns, const json& conf,
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

// "code=N out=... err=..." for assertion messages.
std::string describe(const RunResult& r);

// A bridge (+ host-local) network, optionally followed by bandwidth: the
// chain a runtime would run for a two-plugin conflist, prevResult threaded
// through as libcni does.
struct Chain {
  std::string version = "1.0.0";
  std::string name = "relnet";
  std::string bridge = "kbr0";
  std::string subnet = "10.77.0.0/16";
  std::string data_dir;
  bool ip_masq = true;
  bool bandwidth = true;

  json bridge_conf() const;
  json bandwidth_conf(const json& prev) const;

  // ADD of every plugin in order; returns the last result, or the failing
  // run's description in `error` (and then runs nothing more).
  json add(const Sandbox& sb, const std::string& cid, const std::string& netns,
           std::string* error) const;
  // DEL of every plugin in reverse order, with `prev` (the cached ADD result,
  // may be null); returns "" or the first failure.
  std::string del(const Sandbox& sb, const std::string& cid, const std::string& netns,
                  const json& prev) const;
};

// What a sandbox namespace holds, as sets of normalized lines per category,
// so that two snapshots compare exactly and a difference prints readably.
struct Snapshot {
  std::map<std::string, std::set<std::string>> parts;  // "link", "addr", ... -> lines

  bool operator==(const Snapshot&) const = default;
};

// Takes a snapshot of namespace `ns` and, if `data_dir` is given, of the
// host-local reservations (IP-named files) below it.
Snapshot snapshot(const Sandbox& sb, const std::string& ns, const std::string& data_dir = {});

// The lines only in `after` (+) and only in `before` (-), per category; "" when equal.
std::string diff(const Snapshot& before, const Snapshot& after);

// True if `s` is an IPv4 or IPv6 address: host-local's reservation files are
// named so; anything else in its dataDir (lock, last_reserved_ip.N,
// knet.index) is bookkeeping.
bool is_ip(const std::string& s);

// Files below `data_dir` that are IP reservations.
std::set<std::string> ip_files(const std::string& data_dir);

// The interfaces in `ns` whose kind is one of veth / ifb / macvlan / vxlan.
std::set<std::string> links_of_kind(const Sandbox& sb, const std::string& ns,
                                    const std::set<std::string>& kinds);

}  // namespace knet::test::rel
