#pragma once
// Executing a CNI plugin binary: the runtime side (cnitool, chains) and IPAM
// delegation both come through here.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/spawn.h"
#include "cni/json.h"

namespace cni {

// Finds `name` in the CNI_PATH directories; throws code 5 naming the plugin
// and the directories searched when it is not there.
std::string find_plugin(const std::vector<std::string>& path, std::string_view name);

// Runs a plugin and interprets its answer: on exit 0 returns the parsed stdout
// (null when it printed nothing); otherwise throws cni::Error with the plugin's
// own code and message, prefixed by `plugin_name`. A plugin still running
// after `timeout` is killed: code 5 naming the plugin and the deadline.
json invoke_plugin(const std::string& binary, std::string_view plugin_name,
                   const std::vector<std::string>& env, std::string_view stdin_data,
                   std::chrono::milliseconds timeout = knet::kDefaultExecTimeout);

// knet's programs live in one executable (multicall/). A runner set here runs
// one of them, by name, inside this process, answering exactly what the exec
// would have (exit status, stdout, stderr); it returns nothing for a name it
// does not know.
using InProcessRunner = std::optional<knet::ExecOutput> (*)(std::string_view name,
                                                      const std::vector<std::string>& env,
                                                      std::string_view stdin_data);
void set_in_process_runner(InProcessRunner runner);

// Delegation from one plugin to another (IPAM): like invoke_plugin, but when
// `binary` is this very executable and a runner knows `plugin_name`, the
// delegate runs in this process and fork+exec (~1 ms) is saved.
json delegate_plugin(const std::string& binary, std::string_view plugin_name,
                     const std::vector<std::string>& env, std::string_view stdin_data);

}  // namespace cni
