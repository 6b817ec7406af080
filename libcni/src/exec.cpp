#include "cni/exec.h"

#include <sys/stat.h>
#include <unistd.h>

#include "cni/error.h"

namespace cni {

std::string find_plugin(const std::vector<std::string>& path, std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
    throw Error(kInvalidNetworkConfig, "invalid plugin type \"" + std::string(name) + "\"");
  if (std::optional<std::string> p = knet::find_executable(path, name)) return *p;
  std::string searched;
  for (const auto& dir : path) searched += (searched.empty() ? "" : ", ") + dir;
  throw Error(kIOFailure,
              "failed to find plugin \"" + std::string(name) + "\" in path [" + searched + "]");
}

namespace {

// A plugin's answer: the parsed stdout on exit 0, else its error as cni::Error.
json interpret(const knet::ExecOutput& o, std::string_view plugin_name) {
  std::string who = "plugin " + std::string(plugin_name);
  json out = o.out.empty() ? json() : parse_any(o.out, who + "'s output");
  if (o.status == 0) {
    if (out.is_discarded())
      throw Error(kDecodingFailure,
                  who + " printed output that is not JSON: " + o.out.substr(0, 200));
    return out;
  }
  if (out.is_object() && out.contains("code") && out["code"].is_number_integer()) {
    std::string msg = out["msg"].is_string() ? out["msg"].get<std::string>() : std::string();
    std::string details = out["details"].is_string() ? out["details"].get<std::string>() : std::string();
    throw Error(out["code"].get<int>(), who + " failed: " + msg, details);
  }
  std::string why = o.err.empty() ? o.out : o.err;
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  throw Error(kInternal, who + " failed with exit status " + std::to_string(o.status) +
                             (why.empty() ? "" : ": " + why.substr(0, 500)));
}

InProcessRunner in_process_runner = nullptr;

bool is_this_executable(const std::string& binary) {
  struct stat self = {};
  struct stat other = {};
  return ::stat("/proc/self/exe", &self) == 0 && ::stat(binary.c_str(), &other) == 0 &&
         self.st_dev == other.st_dev && self.st_ino == other.st_ino;
}

}  // namespace

json invoke_plugin(const std::string& binary, std::string_view plugin_name,
                   const std::vector<std::string>& env, std::string_view stdin_data,
                   std::chrono::milliseconds timeout) {
  knet::ExecOutput o;
  try {
    o = knet::exec_binary(binary, env, stdin_data, timeout);
  } catch (const knet::Error& e) {  // not started, or killed at the deadline
    throw Error(kIOFailure, "plugin " + std::string(plugin_name) + " failed: " + e.msg(),
                e.details());
  }
  return interpret(o, plugin_name);
}

void set_in_process_runner(InProcessRunner runner) { in_process_runner = runner; }

json delegate_plugin(const std::string& binary, std::string_view plugin_name,
                     const std::vector<std::string>& env, std::string_view stdin_data) {
  if (in_process_runner && is_this_executable(binary)) {
    std::string_view name = binary;
    if (auto slash = name.rfind('/'); slash != std::string_view::npos)
      name.remove_prefix(slash + 1);
    if (std::optional<knet::ExecOutput> o = in_process_runner(name, env, stdin_data))
      return interpret(*o, plugin_name);
  }
  return invoke_plugin(binary, plugin_name, env, stdin_data);
}

}  // namespace cni
