#include "cni/env.h"

#include <strings.h>

#include <cctype>

#include "cni/error.h"
#include "cni/exec.h"
#include "cni/json.h"

namespace cni {

std::optional<Command> parse_command(std::string_view s) {
  if (s == "ADD") return Command::Add;
  if (s == "DEL") return Command::Del;
  if (s == "CHECK") return Command::Check;
  if (s == "VERSION") return Command::Version;
  if (s == "GC") return Command::GC;
  if (s == "STATUS") return Command::Status;
  return std::nullopt;
}

std::string_view command_name(Command c) {
  switch (c) {
    case Command::Add: return "ADD";
    case Command::Del: return "DEL";
    case Command::Check: return "CHECK";
    case Command::Version: return "VERSION";
    case Command::GC: return "GC";
    case Command::Status: return "STATUS";
  }
  return "?";
}

CniArgs CniArgs::parse(std::string_view s) {
  CniArgs a;
  while (!s.empty()) {
    auto semi = s.find(';');
    std::string_view pair = s.substr(0, semi);
    s = semi == std::string_view::npos ? std::string_view{} : s.substr(semi + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.find('=', eq + 1) != std::string_view::npos)
      throw Error(kInvalidEnv, "invalid CNI_ARGS: pair \"" + std::string(pair) + "\" is not KEY=VALUE");
    a.pairs.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
  }
  return a;
}

std::optional<std::string> CniArgs::get(std::string_view key) const {
  std::optional<std::string> v;
  for (const auto& [k, val] : pairs)
    if (k == key) v = val;  // the last one wins, as in libcni
  return v;
}

bool CniArgs::ignore_unknown() const {
  auto v = get("IgnoreUnknown");
  return v && (*v == "1" || strcasecmp(v->c_str(), "true") == 0);
}

void CniArgs::require_known(const std::set<std::string, std::less<>>& known) const {
  if (ignore_unknown()) return;
  std::string unknown;
  for (const auto& [k, v] : pairs) {
    if (known.count(k) || k == "IgnoreUnknown" || k.rfind("K8S_POD_", 0) == 0) continue;
    unknown += (unknown.empty() ? "" : ", ") + k;
  }
  if (!unknown.empty())
    throw Error(kInvalidEnv, "invalid CNI_ARGS: unknown keys [" + unknown + "] (set IgnoreUnknown=1 to allow them)");
}

bool valid_cni_name(std::string_view s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

std::optional<std::string> ifname_problem(std::string_view n) {
  if (n.empty()) return "interface name is empty";
  // The kernel would take any byte, but the name goes into JSON answers.
  if (!valid_utf8(n)) return "not valid UTF-8";
  if (n.size() > 15) return "longer than 15 bytes";
  if (n == "." || n == "..") return "interface name is . or ..";
  for (char c : n) {
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0')
      return "contains '/', ':' or whitespace";
  }
  return std::nullopt;
}

void validate_ifname(std::string_view n) {
  if (auto why = ifname_problem(n)) {
    // Bytes that are not UTF-8 stay out of the message.
    std::string shown = valid_utf8(n) && !n.empty() ? " \"" + std::string(n) + "\"" : "";
    throw Error(kInvalidEnv, "invalid CNI_IFNAME" + shown + ": " + *why);
  }
}

Env Env::from_environment(const std::function<const char*(const char*)>& getenv) {
  auto var = [&](const char* k) {
    const char* v = getenv(k);
    return std::string(v ? v : "");
  };
  Env e;
  // Every value may end up in a JSON answer or message: bytes that are not
  // UTF-8 are refused up front rather than found when the result is written.
  for (const char* k : {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_ARGS"}) {
    if (!valid_utf8(var(k))) throw Error(kInvalidEnv, "invalid " + std::string(k) + ": not valid UTF-8");
  }
  std::string cmd = var("CNI_COMMAND");
  if (cmd.empty()) throw Error(kInvalidEnv, "required env variables [CNI_COMMAND] missing");
  auto c = parse_command(cmd);
  if (!c) throw Error(kInvalidEnv, "unknown CNI_COMMAND \"" + cmd + "\"");
  e.command = *c;
  e.container_id = var("CNI_CONTAINERID");
  e.netns = var("CNI_NETNS");
  e.ifname = var("CNI_IFNAME");
  e.args_raw = var("CNI_ARGS");
  e.path_raw = var("CNI_PATH");

  bool full = e.command == Command::Add || e.command == Command::Check || e.command == Command::Del;
  std::string missing;
  auto need = [&](bool required, const std::string& v, const char* name) {
    if (required && v.empty()) missing += (missing.empty() ? "" : ",") + std::string(name);
  };
  need(full, e.container_id, "CNI_CONTAINERID");
  need(e.command == Command::Add || e.command == Command::Check, e.netns, "CNI_NETNS");
  need(full, e.ifname, "CNI_IFNAME");
  need(full, e.path_raw, "CNI_PATH");
  if (!missing.empty()) throw Error(kInvalidEnv, "required env variables [" + missing + "] missing");

  if (!e.container_id.empty() && !valid_cni_name(e.container_id))
    throw Error(kInvalidEnv, "invalid CNI_CONTAINERID \"" + e.container_id +
                                 "\": must start with a letter or digit and contain only letters, digits, '_', '.' and '-'");
  if (full) validate_ifname(e.ifname);
  e.args = CniArgs::parse(e.args_raw);
  e.path = knet::split_path(e.path_raw);
  return e;
}

}  // namespace cni
