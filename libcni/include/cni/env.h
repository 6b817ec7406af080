#pragma once
// The CNI_* environment a runtime passes to a plugin, parsed and validated
// as the spec and the reference skeleton do.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cni {

enum class Command { Add, Del, Check, Version, GC, Status };
std::optional<Command> parse_command(std::string_view s);
std::string_view command_name(Command c);

// CNI_ARGS: "K=V;K=V". Keys keep their case (IP, MAC, K8S_POD_NAME, ...).
struct CniArgs {
  std::vector<std::pair<std::string, std::string>> pairs;
  // Parses; throws code 4 on a pair without exactly one '='.
  static CniArgs parse(std::string_view s);
  std::optional<std::string> get(std::string_view key) const;
  // True when IgnoreUnknown is 1/true (case-insensitive), as libcni sends.
  bool ignore_unknown() const;
  // Throws code 4 naming the unknown keys unless IgnoreUnknown is set. The
  // K8S_POD_* keys and IgnoreUnknown itself are always known.
  void require_known(const std::set<std::string, std::less<>>& known) const;
};

struct Env {
  Command command = Command::Version;
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string args_raw;
  CniArgs args;
  std::vector<std::string> path;  // CNI_PATH split on ':'
  std::string path_raw;

  // Reads the CNI_* variables through `getenv` (tests pass their own) and
  // validates them: required variables per verb, container ID characters,
  // interface name rules. Throws cni::Error with code 4 (or 3 for a missing ID).
  static Env from_environment(const std::function<const char*(const char*)>& getenv);
};

// The spec's name rule shared by network names and container IDs.
bool valid_cni_name(std::string_view s);
// Throws code 4 if `ifname` is empty, longer than 15 bytes, "." / "..", or has '/', ':' or whitespace.
void validate_ifname(std::string_view ifname);
// Why `ifname` cannot be a Linux interface name (empty, over 15 bytes, "." or
// "..", '/', ':', whitespace, not UTF-8), or nullopt when it can.
std::optional<std::string> ifname_problem(std::string_view ifname);

}  // namespace cni
