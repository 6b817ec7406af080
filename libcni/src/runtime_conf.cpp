// Loading network configuration lists and building each plugin's stdin, as
// libcni's conf.go and api.go (buildOneConfig / injectRuntimeConfig) do.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cni/error.h"
#include "cni/file.h"
#include "cni/runtime.h"
#include "cni/version.h"

namespace cni {
namespace {

namespace fs = std::filesystem;

std::string in_source(std::string_view source) {
  return source.empty() ? std::string() : " in " + std::string(source);
}

[[noreturn]] void list_error(std::string_view source, const std::string& msg) {
  config_error("invalid network configuration list" + in_source(source) + ": " + msg);
}

// "1.0.0"-style: dot-separated decimal numbers, as Go's version parser accepts.
bool is_version_string(std::string_view v) {
  if (v.empty()) return false;
  bool digit = false;
  for (char c : v) {
    if (c == '.') {
      if (!digit) return false;
      digit = false;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else {
      return false;
    }
  }
  return digit;
}

// Go reads the list-level booleans as a bool or the strings "true"/"false".
bool read_list_bool(const json& doc, const char* key, std::string_view source) {
  auto it = doc.find(key);
  if (it == doc.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    if (s == "true") return true;
    if (s == "false") return false;
  }
  list_error(source, std::string("invalid \"") + key + "\": expected true or false");
}

// The version the chain runs at: the highest of cniVersions (and cniVersion)
// that knet speaks, as libcni picks the highest it implements.
std::string choose_version(const json& doc, std::string_view source) {
  std::string version;
  if (auto it = doc.find("cniVersion"); it != doc.end()) {
    if (!it->is_string()) list_error(source, "invalid \"cniVersion\": expected a string");
    version = it->get<std::string>();
  }
  auto vs = doc.find("cniVersions");
  if (vs == doc.end()) {
    if (!version.empty() && !is_supported_version(version))
      throw Error(kIncompatibleVersion, "network configuration list" + in_source(source) +
                                            " has cniVersion \"" + version +
                                            "\", which knet does not support");
    return version;
  }
  if (!vs->is_array()) list_error(source, "invalid \"cniVersions\": expected a list of versions");
  std::vector<std::string> candidates;
  if (!version.empty()) candidates.push_back(version);
  for (size_t i = 0; i < vs->size(); ++i) {
    const json& v = (*vs)[i];
    std::string path = index_path("cniVersions", i);
    if (!v.is_string() || !is_version_string(v.get<std::string>()))
      list_error(source, "invalid \"" + path + "\": expected a version like \"1.0.0\"");
    candidates.push_back(v.get<std::string>());
  }
  std::string best;
  for (const auto& c : candidates)
    if (is_supported_version(c) && (best.empty() || compare_versions(c, best) > 0)) best = c;
  if (best.empty())
    throw Error(kIncompatibleVersion, "network configuration list" + in_source(source) +
                                          " offers no CNI version knet supports");
  return best;
}

// A configuration file found in a directory: a FIFO, a device or an
// oversized file there is an error naming it, never a hang.
std::string read_file(const std::string& path) {
  return read_user_file(path, kMaxConfFileBytes, "network configuration", kIOFailure);
}

}  // namespace

PluginConf PluginConf::from_json(const json& j, std::string_view path) {
  if (!j.is_object()) config_error("invalid \"" + std::string(path) + "\": expected an object");
  PluginConf p;
  p.raw = j;
  p.type = get_string(j, "type", join_path(path, "type")).value_or("");
  if (p.type.empty()) config_error("missing \"" + join_path(path, "type") + "\"");
  p.name = get_string(j, "name", join_path(path, "name")).value_or("");
  if (const json* caps = get_object(j, "capabilities", join_path(path, "capabilities"))) {
    for (const auto& [k, v] : caps->items()) {
      if (!v.is_boolean())
        config_error("invalid \"" + join_path(join_path(path, "capabilities"), k) +
                     "\": expected true or false");
      p.capabilities[k] = v.get<bool>();
    }
  }
  return p;
}

std::string PluginConf::describe() const {
  std::string s = "type=\"" + type + "\"";
  if (!name.empty()) s += " name=\"" + name + "\"";
  return s;
}

NetworkConfigList NetworkConfigList::parse(std::string_view bytes, std::string_view source) {
  json doc = parse_object(bytes, "network configuration list" + in_source(source));
  NetworkConfigList l;
  l.bytes = std::string(bytes);
  l.source = std::string(source);
  auto name = doc.find("name");
  if (name == doc.end()) list_error(source, "missing \"name\"");
  if (!name->is_string()) list_error(source, "invalid \"name\": expected a string");
  l.name = name->get<std::string>();
  if (!valid_cni_name(l.name))
    list_error(source, "invalid \"name\" \"" + l.name +
                           "\": only letters, digits, '_', '.' and '-' are allowed");
  l.cni_version = choose_version(doc, source);
  l.disable_check = read_list_bool(doc, "disableCheck", source);
  l.disable_gc = read_list_bool(doc, "disableGC", source);
  auto plugins = doc.find("plugins");
  if (plugins == doc.end()) list_error(source, "missing \"plugins\"");
  if (!plugins->is_array()) list_error(source, "invalid \"plugins\": expected a list");
  if (plugins->empty()) list_error(source, "\"plugins\" is empty");
  for (size_t i = 0; i < plugins->size(); ++i) {
    try {
      l.plugins.push_back(PluginConf::from_json((*plugins)[i], index_path("plugins", i)));
    } catch (const Error& e) {
      throw Error(e.code(), e.msg() + in_source(source), e.details());
    }
  }
  return l;
}

NetworkConfigList NetworkConfigList::from_plugin_conf(std::string_view bytes,
                                                      std::string_view source) {
  json doc = parse_object(bytes, "network configuration" + in_source(source));
  PluginConf::from_json(doc, "");  // a single config needs its "type" too
  // libcni re-marshals {"cniVersion","name","plugins":[conf]}; Go sorts map
  // keys, as nlohmann::json does, so the cached bytes come out the same.
  json list = {{"cniVersion", get_string(doc, "cniVersion").value_or("")},
               {"name", get_string(doc, "name").value_or("")},
               {"plugins", json::array({doc})}};
  return parse(dump_json(list), source);
}

std::vector<std::string> conf_files(const std::string& dir,
                                    const std::vector<std::string>& extensions) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) throw Error(kIOFailure, "failed to read " + dir + ": " + ec.message());
  for (const auto& e : it) {
    if (e.is_directory(ec)) continue;
    std::string ext = e.path().extension().string();
    if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end())
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

NetworkConfigList load_conf_list(const std::string& dir, std::string_view name) {
  // A file that cannot be read or parsed is passed over (another network's
  // broken file must not take this one down) and named if nothing matched.
  std::string skipped;
  auto skip = [&](const Error& e) { skipped += (skipped.empty() ? "; skipped: " : "; ") + e.msg(); };
  for (const auto& f : conf_files(dir, {".conflist"})) {
    try {
      auto l = NetworkConfigList::parse(read_file(f), f);
      if (l.name == name) return l;
    } catch (const Error& e) {
      skip(e);
    }
  }
  for (const auto& f : conf_files(dir, {".conf", ".json"})) {
    try {
      std::string bytes = read_file(f);
      json doc = parse_object(bytes, "network configuration in " + f);
      if (get_string(doc, "name", "name in " + f).value_or("") == name)
        return NetworkConfigList::from_plugin_conf(bytes, f);
    } catch (const Error& e) {
      skip(e);
    }
  }
  config_error("no net configuration with name \"" + std::string(name) + "\" in " + dir + skipped);
}

std::vector<NetworkConfigList> load_all_conf_lists(const std::string& dir,
                                                   std::vector<std::string>* errors) {
  std::vector<NetworkConfigList> out;
  auto load = [&](const std::string& f, bool single) {
    try {
      std::string bytes = read_file(f);
      out.push_back(single ? NetworkConfigList::from_plugin_conf(bytes, f)
                           : NetworkConfigList::parse(bytes, f));
    } catch (const Error& e) {
      if (errors) errors->push_back(e.msg());
    }
  };
  for (const auto& f : conf_files(dir, {".conflist"})) load(f, false);
  for (const auto& f : conf_files(dir, {".conf", ".json"})) load(f, true);
  return out;
}

std::string join_cni_args(const std::vector<std::pair<std::string, std::string>>& args) {
  std::string s;
  for (const auto& [k, v] : args) s += (s.empty() ? "" : ";") + k + "=" + v;
  return s;
}

json build_plugin_config(const NetworkConfigList& list, const PluginConf& plugin,
                         const json* prev_result, const json& capability_args) {
  json conf = plugin.raw;
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  if (prev_result && !prev_result->is_null()) conf["prevResult"] = *prev_result;
  json rc = json::object();
  for (const auto& [cap, enabled] : plugin.capabilities) {
    if (!enabled || !capability_args.is_object()) continue;
    if (auto it = capability_args.find(cap); it != capability_args.end()) rc[cap] = *it;
  }
  if (!rc.empty()) conf["runtimeConfig"] = rc;
  return conf;
}

}  // namespace cni
