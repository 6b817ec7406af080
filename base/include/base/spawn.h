#pragma once
// Running a program with a deadline and collecting what it prints: the
// process half of executing a CNI plugin, also used to run iptables and by
// the benches.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knet {

struct ExecOutput {
  int status = 0;  // exit code, or 128+signal
  std::string out;
  std::string err;
  long max_rss_kb = 0;  // the child's peak resident set size
};

// How long a program exec_binary runs may take before it is killed: far
// above what any real plugin needs (a DHCP lease, an iptables lock), so it
// only ends one that hangs. The CNI runtime's is configurable
// (cni::Runtime::Options::plugin_timeout).
inline constexpr std::chrono::milliseconds kDefaultExecTimeout = std::chrono::minutes(5);

// Runs `binary` with exactly `env` ("K=V" strings) and `stdin_data`, collecting
// stdout and stderr until the child has exited and closed both. Past
// `timeout` the child is killed (SIGKILL) and reaped, and knet::Error is
// thrown naming the binary and the deadline; also when the binary cannot be
// started. Safe to call from several threads at once: SIGPIPE from a child
// that does not read its stdin is blocked in the calling thread only.
ExecOutput exec_binary(const std::string& binary, const std::vector<std::string>& env,
                       std::string_view stdin_data,
                       std::chrono::milliseconds timeout = kDefaultExecTimeout);

// Like exec_binary, with arguments: runs args[0] (a path) with argv `args`.
ExecOutput exec_argv(const std::vector<std::string>& args, const std::vector<std::string>& env,
                     std::string_view stdin_data,
                     std::chrono::milliseconds timeout = kDefaultExecTimeout);

// The entries of a ':'-separated search path (PATH, CNI_PATH), empty ones dropped.
std::vector<std::string> split_path(std::string_view path);
// The first `dirs`/`name` that is an executable regular file, if any.
std::optional<std::string> find_executable(const std::vector<std::string>& dirs,
                                           std::string_view name);

// The current process environment with `overrides` applied (K -> V; an empty
// V removes K), as "K=V" strings.
std::vector<std::string> environ_with(const std::map<std::string, std::string>& overrides);

}  // namespace knet
