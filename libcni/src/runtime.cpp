// Running a plugin chain: libcni's AddNetworkList, CheckNetworkList,
// DelNetworkList, GCNetworkList and GetStatusNetworkList.

#include "cni/runtime.h"

#include "cni/env.h"
#include "cni/error.h"
#include "cni/exec.h"
#include "cni/result.h"
#include "cni/version.h"

namespace cni {
namespace {

std::string prefix(std::string_view verb, const PluginConf& p) {
  return "plugin " + p.describe() + " failed (" + std::string(verb) + "): ";
}

// A plugin's error, reworded to name the plugin and verb, keeping code and details.
Error rewrap(const Error& e, std::string_view verb, const PluginConf& p) {
  std::string msg = e.msg();
  // invoke_plugin says "plugin <type> failed: <msg>"; keep only the plugin's words.
  std::string theirs = "plugin " + p.type + " failed: ";
  if (msg.rfind(theirs, 0) == 0) msg = msg.substr(theirs.size());
  return Error(e.code(), prefix(verb, p) + msg, e.details());
}

// Go's errors.Join of collected errors: the first code, every message.
void throw_joined(const std::vector<Error>& errs) {
  if (errs.empty()) return;
  std::string msg;
  for (const auto& e : errs) msg += (msg.empty() ? "" : "; ") + e.msg();
  throw Error(errs.front().code(), msg, errs.front().details());
}

void require_at_least(const NetworkConfigList& list, std::string_view min, std::string_view verb) {
  if (!version_at_least(list.effective_version(), min))
    throw Error(kIncompatibleVersion, "configuration version \"" + list.cni_version +
                                          "\" does not support the " + std::string(verb) +
                                          " command (it needs " + std::string(min) + " or later)");
}

// The result of `json` in `version`'s shape; unchanged when it already is.
json as_version(const json& result, std::string_view version) {
  std::string own = result.is_object() ? result.value("cniVersion", std::string()) : "";
  if (own == version) return result;
  return Result::from_json(result, version).to_json(version);
}

}  // namespace

Runtime::Runtime(Options opts) : opts_(std::move(opts)), cache_(opts_.cache_dir) {}

json Runtime::exec(const PluginConf& plugin, std::string_view verb, const json& stdin_conf,
                   const RuntimeConf* rt) const {
  std::string binary;
  try {
    binary = find_plugin(opts_.cni_path, plugin.type);
  } catch (const Error& e) {
    throw Error(e.code(), prefix(verb, plugin) + e.msg(), e.details());
  }
  std::map<std::string, std::string> env = {{"CNI_COMMAND", std::string(verb)},
                                            {"CNI_CONTAINERID", rt ? rt->container_id : ""},
                                            {"CNI_NETNS", rt ? rt->netns : ""},
                                            {"CNI_IFNAME", rt ? rt->ifname : ""},
                                            {"CNI_ARGS", rt ? join_cni_args(rt->args) : ""}};
  std::string path;
  for (const auto& d : opts_.cni_path) path += (path.empty() ? "" : ":") + d;
  env["CNI_PATH"] = path;
  try {
    return invoke_plugin(binary, plugin.type, knet::environ_with(env), dump_json(stdin_conf),
                         opts_.plugin_timeout);
  } catch (const Error& e) {
    throw rewrap(e, verb, plugin);
  }
}

json Runtime::add(const NetworkConfigList& list, const RuntimeConf& rt) const {
  if (!valid_cni_name(rt.container_id))
    throw Error(kInvalidEnv, "invalid container ID \"" + rt.container_id + "\"");
  validate_ifname(rt.ifname);
  std::string version = list.effective_version();
  json result;
  for (const auto& plugin : list.plugins) {
    try {
      json conf = build_plugin_config(list, plugin, &result, rt.capability_args);
      json out = exec(plugin, "ADD", conf, &rt);
      if (!out.is_object()) out = json::object();
      // As libcni: a result without a version is in the config's version.
      if (out.value("cniVersion", std::string()).empty()) out["cniVersion"] = version;
      try {
        Result::from_json(out, version);
      } catch (const Error& e) {
        throw Error(e.code(), prefix("ADD", plugin) + "invalid result: " + e.msg());
      }
      result = std::move(out);
    } catch (const Error&) {
      if (opts_.rollback_failed_add) {
        try {
          del_chain(list, rt, result.is_null() ? nullptr : &result);
        } catch (const Error&) {
          // The ADD's error is the one the caller must see.
        }
      }
      throw;
    }
  }
  try {
    cache_.save(list, rt, result);
  } catch (const Error& e) {
    throw Error(e.code(), "failed to set network \"" + list.name + "\" cached result: " + e.msg());
  }
  return result;
}

json Runtime::cached_result(const NetworkConfigList& list, const RuntimeConf& rt) const {
  auto a = cache_.load(list.name, rt.container_id, rt.ifname);
  if (!a || a->result.is_null()) return nullptr;
  try {
    return as_version(a->result, list.effective_version());
  } catch (const Error& e) {
    throw Error(e.code(), "failed to convert cached result of network \"" + list.name +
                              "\" to config version \"" + list.effective_version() +
                              "\": " + e.msg());
  }
}

void Runtime::check(const NetworkConfigList& list, const RuntimeConf& rt) const {
  require_at_least(list, "0.4.0", "CHECK");
  if (list.disable_check) return;
  json prev = cached_result(list, rt);
  for (const auto& plugin : list.plugins)
    exec(plugin, "CHECK", build_plugin_config(list, plugin, &prev, rt.capability_args), &rt);
}

void Runtime::del_chain(const NetworkConfigList& list, const RuntimeConf& rt,
                        const json* prev) const {
  for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it)
    exec(*it, "DEL", build_plugin_config(list, *it, prev, rt.capability_args), &rt);
}

void Runtime::del(const NetworkConfigList& list, const RuntimeConf& rt) const {
  json prev;
  if (version_at_least(list.effective_version(), "0.4.0")) {
    try {
      prev = cached_result(list, rt);
    } catch (const Error&) {
      // As libcni: a cache entry that cannot be used must not block the DEL.
      prev = nullptr;
    }
  }
  del_chain(list, rt, prev.is_null() ? nullptr : &prev);
  if (!rt.container_id.empty() && !rt.ifname.empty())
    cache_.remove(list.name, rt.container_id, rt.ifname);
}

void Runtime::gc(const NetworkConfigList& list,
                 const std::optional<std::vector<Attachment>>& valid) const {
  if (list.disable_gc) return;
  std::vector<Error> errs;
  std::optional<std::vector<Attachment>> keep = valid;
  if (keep) sort_attachments(*keep);
  for (const auto& a : cache_.list(list.name)) {
    if (keep && contains_attachment(*keep, a.container_id, a.ifname)) continue;
    RuntimeConf rt{a.container_id, a.netns, a.ifname, a.cni_args, a.capability_args};
    try {
      del(list, rt);
    } catch (const Error& e) {
      errs.emplace_back(e.code(), "failed to delete stale attachment " + a.container_id + " " +
                                      a.ifname + ": " + e.msg());
    }
  }
  if (version_at_least(list.effective_version(), "1.1.0")) {
    json attachments = json::array();
    if (valid) {
      for (const auto& a : *valid)
        attachments.push_back({{"containerID", a.container_id}, {"ifname", a.ifname}});
    }
    for (const auto& plugin : list.plugins) {
      json conf = build_plugin_config(list, plugin, nullptr, json::object());
      if (valid) conf["cni.dev/valid-attachments"] = attachments;
      try {
        exec(plugin, "GC", conf, nullptr);
      } catch (const Error& e) {
        errs.push_back(e);
      }
    }
  }
  throw_joined(errs);
}

void Runtime::status(const NetworkConfigList& list) const {
  if (!version_at_least(list.effective_version(), "1.1.0")) return;
  for (const auto& plugin : list.plugins)
    exec(plugin, "STATUS", build_plugin_config(list, plugin, nullptr, json::object()), nullptr);
}

}  // namespace cni
