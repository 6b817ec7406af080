#pragma once
// Executing a CNI plugin binary: the runtime side (cnitool, chains) and IPAM
// delegation both come through here.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/json.h"

namespace cni {

// Finds `name` in the CNI_PATH directories; throws code 5 naming the plugin
// and the directories searched when it is not there.
std::string find_plugin(const std::vector<std::string>& path, std::string_view name);
std::vector<std::string> split_path(std::string_view cni_path);

struct ExecOutput {
  int status = 0;  // exit code, or 128+signal
  std::string out;
  std::string err;
  long max_rss_kb = 0;  // the child's peak resident set size
};

// How long a plugin (or any program exec_binary runs) may take before it is
// killed: far above what any real plugin needs (a DHCP lease, an iptables
// lock), so it only ends a plugin that hangs. The runtime's is configurable
// (cni::Runtime::Options::plugin_timeout).
inline constexpr std::chrono::milliseconds kDefaultExecTimeout = std::chrono::minutes(5);

// Runs `binary` with exactly `env` ("K=V" strings) and `stdin_data`, collecting
// stdout and stderr until the child has exited and closed both. Past
// `timeout` the child is killed (SIGKILL) and reaped, and code 5 is thrown
// naming the binary and the deadline; also code 5 when the binary cannot be
// started. Safe to call from several threads at once: SIGPIPE from a child
// that does not read its stdin is blocked in the calling thread only.
ExecOutput exec_binary(const std::string& binary, const std::vector<std::string>& env,
                       std::string_view stdin_data,
                       std::chrono::milliseconds timeout = kDefaultExecTimeout);

// Like exec_binary, with arguments: runs args[0] (a path) with argv `args`.
ExecOutput exec_argv(const std::vector<std::string>& args, const std::vector<std::string>& env,
                     std::string_view stdin_data,
                     std::chrono::milliseconds timeout = kDefaultExecTimeout);

// The current process environment with `overrides` applied (K -> V; an empty
// V removes K), as "K=V" strings.
std::vector<std::string> environ_with(const std::map<std::string, std::string>& overrides);

// Runs a plugin and interprets its answer: on exit 0 returns the parsed stdout
// (null when it printed nothing); otherwise throws cni::Error with the plugin's
// own code and message, prefixed by `plugin_name`. A plugin still running
// after `timeout` is killed: code 5 naming the plugin and the deadline.
json invoke_plugin(const std::string& binary, std::string_view plugin_name,
                   const std::vector<std::string>& env, std::string_view stdin_data,
                   std::chrono::milliseconds timeout = kDefaultExecTimeout);

// knet's programs live in one executable (multicall/). A runner set here runs
// one of them, by name, inside this process, answering exactly what the exec
// would have (exit status, stdout, stderr); it returns nothing for a name it
// does not know.
using InProcessRunner = std::optional<ExecOutput> (*)(std::string_view name,
                                                      const std::vector<std::string>& env,
                                                      std::string_view stdin_data);
void set_in_process_runner(InProcessRunner runner);

// Delegation from one plugin to another (IPAM): like invoke_plugin, but when
// `binary` is this very executable and a runner knows `plugin_name`, the
// delegate runs in this process and fork+exec (~1 ms) is saved.
json delegate_plugin(const std::string& binary, std::string_view plugin_name,
                     const std::vector<std::string>& env, std::string_view stdin_data);

}  // namespace cni
