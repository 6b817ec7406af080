#include "node/flags.h"

#include <base/error.h>

#include <charconv>
#include <functional>
#include <map>

#include "node/healthz.h"

namespace knet::node {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

[[noreturn]] void bad(const std::string& flag, const std::string& value, const std::string& why) {
  throw knet::Error("invalid --" + flag + "=" + value + ": " + why);
}

// A whole number of seconds in [min, max].
std::chrono::seconds seconds(const std::string& flag, const std::string& v, long min, long max) {
  long n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < min || n > max) {
    bad(flag, v, "expected seconds, " + std::to_string(min) + " ... " + std::to_string(max));
  }
  return std::chrono::seconds(n);
}

}  // namespace

std::string usage() {
  return R"(usage: knet-node [flags]

Keeps this node's subnet lease in etcd, writes the cluster's membership to the
vxlan plugin's peersFile and programs the kernel on every change (docs/knet-node.md).

  --etcd-endpoints=URL[,URL...]  etcd's client URLs (default http://127.0.0.1:2379)
  --etcd-prefix=PREFIX           where the network lives in etcd (default /knet/network)
  --etcd-cafile=FILE             CA bundle for https:// endpoints
  --etcd-certfile=FILE           client certificate (with --etcd-keyfile)
  --etcd-keyfile=FILE            client key (with --etcd-certfile)
  --iface=DEV                    the underlay device (default: the default route's)
  --public-ip=IP                 this node's VTEP address (default: iface's first global address)
  --peers-file=PATH              the vxlan plugin's peersFile (default /run/knet/vxlan-peers.json)
  --lease-ttl=SECONDS            TTL of the subnet lease, renewed every TTL/3 (default 60)
  --resync-interval=SECONDS      re-apply the membership to the kernel and the file this often
                                 even without a change; 0: never (default 60)
  --healthz-addr=HOST:PORT       serve /healthz and /metrics there (default: off)
  --cni-network=NAME             the CNI network ("name") of the vxlan conflist (default overlay)
  --log-file=PATH                append JSON log lines there (default: the node-wide
                                 /etc/knet/log.json's logFile, $KNET_LOG_CONFIG moves it; none)
  --log-level=LEVEL              error, info or debug (default info)
  --log-max-size=BYTES           rotate the log file at this size, keeping one old file (default 10485760)
  --release-on-exit              give the subnet back on SIGTERM (default: keep it)
  --help                         this text
)";
}

Options parse_flags(const std::vector<std::string>& args) {
  Options o;
  using Setter = std::function<void(const std::string& flag, const std::string& v)>;
  std::map<std::string, Setter> valued = {
      {"etcd-endpoints",
       [&](const std::string& f, const std::string& v) {
         o.etcd_endpoints = split_list(v);
         if (o.etcd_endpoints.empty()) bad(f, v, "no URL given");
         for (const auto& e : o.etcd_endpoints) {
           if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) {
             bad(f, v, "\"" + e + "\" is not an http:// or https:// URL");
           }
         }
       }},
      {"etcd-prefix",
       [&](const std::string& f, const std::string& v) {
         if (v.empty() || v.front() != '/') bad(f, v, "must start with '/'");
         o.etcd_prefix = v;
       }},
      {"etcd-cafile", [&](const std::string&, const std::string& v) { o.etcd_cafile = v; }},
      {"etcd-certfile", [&](const std::string&, const std::string& v) { o.etcd_certfile = v; }},
      {"etcd-keyfile", [&](const std::string&, const std::string& v) { o.etcd_keyfile = v; }},
      {"iface",
       [&](const std::string& f, const std::string& v) {
         if (v.empty() || v.size() > 15 || v.find_first_of("/: \t\n") != std::string::npos) {
           bad(f, v, "not an interface name");
         }
         o.iface = v;
       }},
      {"public-ip",
       [&](const std::string& f, const std::string& v) {
         o.public_ip = knet::IP::parse(v);
         if (!o.public_ip) bad(f, v, "not an IP address");
       }},
      {"peers-file",
       [&](const std::string& f, const std::string& v) {
         if (v.empty() || v.front() != '/') bad(f, v, "must be an absolute path");
         o.peers_file = v;
       }},
      {"lease-ttl",
       [&](const std::string& f, const std::string& v) { o.lease_ttl = seconds(f, v, 2, 86400); }},
      {"resync-interval",
       [&](const std::string& f, const std::string& v) { o.resync_interval = seconds(f, v, 0, 86400); }},
      {"healthz-addr",
       [&](const std::string& f, const std::string& v) {
         try {
           parse_listen_address(v);
         } catch (const knet::Error& e) {
           bad(f, v, e.msg());
         }
         o.healthz_addr = v;
       }},
      {"cni-network",
       [&](const std::string& f, const std::string& v) {
         if (v.empty()) bad(f, v, "empty");
         o.cni_network = v;
       }},
  };
  cni::json log_keys = cni::json::object();
  for (const char* f : {"log-file", "log-level", "log-max-size"}) {
    valued[f] = [&](const std::string& flag, const std::string& v) {
      if (flag == "log-file") log_keys["logFile"] = v;
      if (flag == "log-level") log_keys["logLevel"] = v;
      if (flag == "log-max-size") {
        uint64_t n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || end != v.data() + v.size()) bad(flag, v, "expected a number of bytes");
        log_keys["logMaxSize"] = n;
      }
    };
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) throw knet::Error("unexpected argument \"" + a + "\" (see --help)");
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help" || name == "release-on-exit") {
      if (has_value) throw knet::Error("--" + name + " takes no value");
      (name == "help" ? o.help : o.release_on_exit) = true;
      continue;
    }
    auto it = valued.find(name);
    if (it == valued.end()) throw knet::Error("unknown flag --" + name + " (see --help)");
    if (!has_value) {
      if (i + 1 >= args.size()) throw knet::Error("--" + name + " needs a value");
      value = args[++i];
    }
    it->second(name, value);
  }
  try {
    o.log = cni::LogConfig::from_config(log_keys, cni::LogConfig::node_file_path());
  } catch (const knet::Error& e) {
    throw knet::Error(e.msg() + " (from --log-file / --log-level / --log-max-size)");
  }
  if (o.etcd_certfile.empty() != o.etcd_keyfile.empty()) {
    throw knet::Error("--etcd-certfile and --etcd-keyfile come together");
  }
  return o;
}

}  // namespace knet::node
