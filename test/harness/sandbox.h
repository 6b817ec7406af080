#pragma once
// The sandbox every networking test builds its world in: uniquely named
// network namespaces (never the machine's own), real plugin binaries run
// inside them, and assertions on what the kernel holds afterwards.

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace knet::test {

// The path of a built plugin binary, e.g. plugin_path("bridge").
std::string plugin_path(const std::string& name);

struct CmdResult {
  int code = -1;    // exit status; 128+signal if killed; -1 if it could not run
  std::string out;  // stdout and stderr, interleaved
  bool ok() const { return code == 0; }
};

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
  std::optional<nlohmann::json> json;  // stdout parsed, when it is JSON
  bool timed_out = false;
};

// Runs argv[0] (a path) with exactly `env`, feeding `input` on stdin, inside
// the network namespace at `ns_path` (the caller's own when empty), killed
// after `timeout`. The building block of run_plugin and exec_in.
RunResult run_process(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env, const std::string& input,
                      const std::string& ns_path, std::chrono::milliseconds timeout);

// A temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A set of network namespaces named knet-<pid>-<n>-<role>. The constructor
// makes the "host" namespace (where plugins run); the destructor deletes
// every namespace it made, and with them every link inside. A process-wide
// registry also deletes them at exit or on SIGINT/SIGTERM, and namespaces of
// dead knet test processes are reaped when the first Sandbox is made.
class Sandbox {
 public:
  Sandbox();
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // /var/run/netns/<name> of the host namespace.
  const std::string& host() const { return host_; }
  // A new namespace for a container, with lo up; returns its path (CNI_NETNS).
  std::string add_container(const std::string& role = "c");
  // A new namespace for any role (node, underlay, ...), with lo up; returns its path.
  std::string add_ns(const std::string& role);

  // Runs the plugin binary in the host namespace (or `ns`) with exactly
  // `env` plus PATH, `config` on stdin, bounded by `timeout`.
  RunResult run_plugin(const std::string& binary, const std::map<std::string, std::string>& env,
                       const std::string& config, const std::string& ns = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  // Runs `sh -c cmd` via `ip netns exec` in `ns` (path or name), bounded by `timeout`.
  CmdResult exec_in(const std::string& ns, const std::string& cmd,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // `ip -j -d link show dev <ifname>` in `ns`: the link's JSON object, or null if absent.
  nlohmann::json link_json(const std::string& ns, const std::string& ifname) const;
  // `ip -j addr show dev <ifname>`: the "addr_info" array ("local", "prefixlen", ...).
  nlohmann::json addr_json(const std::string& ns, const std::string& ifname) const;
  // True if one ping from `ns` to `ip` is answered within `wait_s` seconds.
  bool ping(const std::string& ns, const std::string& ip, int wait_s = 1) const;

  // A veth pair ifA in nsA <-> ifB in nsB, both ends up; optional addresses ("10.0.0.1/24").
  void connect(const std::string& nsA, const std::string& ifA, const std::string& nsB,
               const std::string& ifB, const std::string& cidrA = {},
               const std::string& cidrB = {});
  // An "underlay" namespace with bridge br0 up: the switch joining nodes in
  // multi-node (vxlan) tests. Returns its path.
  std::string add_underlay();
  // Plugs `node` into `underlay` as link `ifname` with address `cidr`, up.
  void attach(const std::string& underlay, const std::string& node, const std::string& ifname,
              const std::string& cidr);

  // The KNET_RUN_DIR run_plugin gives plugins: a temporary directory of this
  // sandbox, so their lock files never touch the machine's /run/knet.
  const std::string& run_dir() const { return run_dir_.path(); }

  // "knet-123-4-host" for "/var/run/netns/knet-123-4-host" (names pass through).
  static std::string name_of(const std::string& ns);

 private:
  std::string make_ns(const std::string& role);
  TempDir run_dir_;  // KNET_RUN_DIR of every plugin run_plugin starts
  std::string host_;
  std::vector<std::string> names_;
  int ports_ = 0;  // counter for underlay port names
};

}  // namespace knet::test
