// cnitool: runs a network configuration list against a network namespace,
// like containernetworking/cni's cnitool, with the same environment:
//   NETCONFPATH (default /etc/cni/net.d), CNI_PATH, CNI_IFNAME (default eth0),
//   CNI_ARGS ("K=V;K=V"), CAP_ARGS (a JSON object of capability arguments);
// and knet's additions: CNI_CACHE_DIR (default /var/lib/cni) and
// CNI_CONTAINERID (instead of the ID derived from the netns path).

#include <base/hash.h>
#include <cni/env.h>
#include <cni/error.h>
#include <cni/exec.h>
#include <cni/runtime.h>
#include <nlw/error.h>
#include <nlw/netns.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>


namespace {

constexpr const char* kUsage = R"(Usage:
  cnitool add    <network> <netns-path>
  cnitool check  <network> <netns-path>
  cnitool del    <network> <netns-path>
  cnitool gc     <network> [<netns-path>] [--valid <containerID>:<ifname>]... [--all-stale]
  cnitool status <network> [<netns-path>]

Runs the plugins of network <network> (a .conflist, or a .conf/.json wrapped
into a list, from NETCONFPATH) for the container whose network namespace is
<netns-path>, and prints the result of add as JSON.

gc deletes the cached attachments of <network> that are no longer valid and
then asks each plugin to collect what belongs to no valid attachment. Valid
are the attachments given with --valid, or by default every cached attachment
whose network namespace still exists. --all-stale treats every cached
attachment as stale and sends plugins no list (what the upstream cnitool does).

Environment:
  NETCONFPATH      directory with the network configs (default /etc/cni/net.d)
  CNI_PATH         plugin directories, ':'-separated
  CNI_IFNAME       interface name in the container (default eth0)
  CNI_ARGS         extra arguments for the plugins, "K1=V1;K2=V2"
  CAP_ARGS         capability arguments as a JSON object, e.g.
                   '{"portMappings":[...],"bandwidth":{"ingressRate":1000000}}'
  CNI_CACHE_DIR    result cache root (default /var/lib/cni; files in results/)
  CNI_CONTAINERID  container ID (default: "cnitool-" and the first 20 hex
                   digits of the SHA-512 of the absolute netns path)
)";

std::string env_or(const char* key, const std::string& fallback) {
  const char* v = std::getenv(key);
  return v && *v ? std::string(v) : fallback;
}

// Upstream cnitool's CNI_ARGS parser: every pair needs exactly one '=' and
// both sides non-empty.
std::vector<std::pair<std::string, std::string>> parse_cni_args(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(';', start);
    std::string pair = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size() ||
        pair.find('=', eq + 1) != std::string::npos)
      throw cni::Error(cni::kInvalidEnv, "invalid CNI_ARGS pair \"" + pair + "\"");
    out.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// Go's filepath.Abs: joined with the working directory and cleaned.
std::string absolute(const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_relative()) path = std::filesystem::current_path() / path;
  std::string s = path.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// False only when `path` certainly is no network namespace any more (gone,
// or no longer a namespace); unknown states count as alive.
bool netns_alive(const std::string& path) {
  if (path.empty()) return true;  // written by a libcni without "netns": cannot tell
  try {
    nlw::NetNS::open(path);
    return true;
  } catch (const nlw::Error&) {  // gone, or no longer a network namespace
    return false;
  }
}

struct GcArgs {
  std::optional<std::vector<cni::Attachment>> valid;
  bool all_stale = false;
};

GcArgs parse_gc_args(const std::vector<std::string>& rest) {
  GcArgs g;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (a == "--all-stale") {
      g.all_stale = true;
    } else if (a == "--valid" || a.rfind("--valid=", 0) == 0) {
      std::string v = a == "--valid" ? (i + 1 < rest.size() ? rest[++i] : "") : a.substr(8);
      size_t colon = v.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
        throw cni::Error(cni::kInvalidEnv,
                         "invalid --valid \"" + v + "\": expected <containerID>:<ifname>");
      if (!g.valid) g.valid.emplace();
      g.valid->push_back({v.substr(0, colon), v.substr(colon + 1)});
    } else if (a.rfind("--", 0) == 0) {
      throw cni::Error(cni::kInvalidEnv, "unknown option " + a);
    }  // anything else is upstream's unused <netns> argument
  }
  if (g.all_stale && g.valid)
    throw cni::Error(cni::kInvalidEnv, "--all-stale and --valid exclude each other");
  return g;
}

int run(const std::vector<std::string>& args) {
  const std::string& cmd = args[0];
  cni::NetworkConfigList list =
      cni::load_conf_list(env_or("NETCONFPATH", "/etc/cni/net.d"), args[1]);
  cni::Runtime::Options opts;
  opts.cni_path = knet::split_path(env_or("CNI_PATH", ""));
  opts.cache_dir = env_or("CNI_CACHE_DIR", std::string(cni::ResultCache::kDefaultDir));
  cni::Runtime runtime(opts);

  if (cmd == "status") {
    runtime.status(list);
    return 0;
  }
  if (cmd == "gc") {
    GcArgs g = parse_gc_args({args.begin() + 2, args.end()});
    if (!g.all_stale && !g.valid) {
      g.valid.emplace();
      for (const auto& a : runtime.cache().list(list.name))
        if (netns_alive(a.netns)) g.valid->push_back({a.container_id, a.ifname});
    }
    runtime.gc(list, g.valid);
    return 0;
  }
  if (args.size() < 3) throw cni::Error(cni::kInvalidEnv, cmd + " needs <network> <netns-path>");

  cni::RuntimeConf rt;
  rt.netns = absolute(args[2]);
  rt.container_id = env_or("CNI_CONTAINERID", "cnitool-" + knet::sha512_hex(rt.netns, 10));
  const char* ifname = std::getenv("CNI_IFNAME");  // set-but-empty is an error, as upstream
  rt.ifname = ifname ? ifname : "eth0";
  rt.args = parse_cni_args(env_or("CNI_ARGS", ""));
  if (std::string cap = env_or("CAP_ARGS", ""); !cap.empty()) {
    rt.capability_args = cni::parse_object(cap, "CAP_ARGS");
  }

  if (cmd == "add") {
    std::string out = cni::dump_json(runtime.add(list, rt), 4) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else if (cmd == "check") {
    runtime.check(list, rt);
  } else {
    runtime.del(list, rt);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  static const std::vector<std::string> kCommands = {"add", "check", "del", "gc", "status"};
  bool known =
      !args.empty() && std::find(kCommands.begin(), kCommands.end(), args[0]) != kCommands.end();
  if (!known || args.size() < 2) {
    if (!args.empty() && !known) {
      std::fprintf(stderr, "cnitool: unknown command \"%s\"\n", args[0].c_str());
    }
    std::fputs(kUsage, stderr);
    return 1;
  }
  try {
    return run(args);
  } catch (const cni::Error& e) {
    std::string details = e.details().empty() ? "" : " (" + e.details() + ")";
    std::fprintf(stderr, "cnitool: %s%s [CNI error code %d]\n", e.msg().c_str(), details.c_str(),
                 e.code());
  } catch (const knet::Error& e) {  // a kernel failure: what a plugin reports as code 999
    std::fprintf(stderr, "cnitool: %s [CNI error code %d]\n", e.msg().c_str(), cni::kInternal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cnitool: %s\n", e.what());
  }
  return 1;
}
