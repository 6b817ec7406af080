// libFuzzer target: the plugin skeleton end to end, as a plugin binary runs
// it: the CNI_* variables, the config on stdin, typed reads of every key,
// then a result or an error written back. Input: CNI_COMMAND, CNI_CONTAINERID,
// CNI_IFNAME and CNI_ARGS separated by NUL bytes, then the stdin bytes.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cni/error.h"
#include "cni/json.h"
#include "cni/skel.h"

namespace {

// Reads every top-level key with every typed reader, as plugins' Config::parse do.
void read_keys(const cni::NetConf& conf) {
  if (!conf.raw.is_object()) return;
  for (auto it = conf.raw.begin(); it != conf.raw.end(); ++it) {
    const std::string& k = it.key();
    auto attempt = [&](auto&& read) {
      try {
        read();
      } catch (const cni::Error&) {
      }
    };
    attempt([&] { (void)cni::get_string(conf.raw, k); });
    attempt([&] { (void)cni::get_bool(conf.raw, k); });
    attempt([&] { (void)cni::get_int(conf.raw, k, k, 0, 65535); });
    attempt([&] { (void)cni::get_uint(conf.raw, k, k, 1u << 30); });
    attempt([&] { (void)cni::get_object(conf.raw, k); });
    attempt([&] { (void)cni::get_string_list(conf.raw, k); });
  }
}

cni::Result add(const cni::Env& env, const cni::NetConf& conf) {
  read_keys(conf);
  if (conf.raw.contains("fail")) throw cni::Error(cni::kInternal, "failed on " + env.ifname + " of " + env.netns);
  cni::Result r;
  cni::Interface i;
  i.name = env.ifname;
  i.sandbox = env.netns;
  r.interfaces.push_back(i);
  r.dns = conf.dns;
  return r;
}

void verb(const cni::Env&, const cni::NetConf& conf) { read_keys(conf); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> env{{"CNI_NETNS", "/var/run/netns/fuzz"}, {"CNI_PATH", "/nonexistent"}};
  for (const char* k : {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_ARGS"}) {
    size_t nul = in.find('\0');
    if (nul == std::string_view::npos) return 0;
    env[k] = std::string(in.substr(0, nul));
    in.remove_prefix(nul + 1);
  }
  cni::Plugin plugin{"fuzz", add, verb, verb,
                     [](const cni::Env&, const cni::NetConf& c, const std::vector<cni::Attachment>&) {
                       read_keys(c);
                     },
                     verb};
  std::string out, err;
  auto getenv = [&](const char* k) -> const char* {
    auto it = env.find(k);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  cni::run_plugin(plugin, getenv, [&] { return std::string(in); }, out, err);
  // Whatever happened, stdout holds one JSON document (or nothing).
  if (!out.empty() && cni::json::parse(out, nullptr, false).is_discarded()) __builtin_trap();
  return 0;
}
