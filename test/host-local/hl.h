#pragma once
// Running a host-local binary (knet's or the reference) against a temporary
// dataDir. host-local touches no network state, so it runs in the test's own
// namespace; CNI_NETNS is any path (the plugins ignore it).

#include <base/ip.h>
#include <sandbox.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace knet::test::host_local {

using nlohmann::json;

inline const std::string kRef = "/usr/lib/cni/host-local";
inline std::string knet() { return plugin_path("host-local"); }

// The config of network `name` with the given "ipam" keys (type and dataDir added).
inline json conf(const std::string& data_dir, json ipam, const std::string& name = "hlnet",
                 const std::string& version = "1.1.0") {
  ipam["type"] = "host-local";
  ipam["dataDir"] = data_dir;
  return {{"cniVersion", version}, {"name", name}, {"type", "bridge"}, {"ipam", ipam}};
}

inline RunResult run(const std::string& binary, const std::string& cmd, const json& config,
                     const std::string& cid = "c1", const std::string& ifname = "eth0",
                     const std::string& args = "") {
  std::map<std::string, std::string> env{{"CNI_COMMAND", cmd},
                                         {"CNI_CONTAINERID", cid},
                                         {"CNI_NETNS", "/var/run/netns/knet-hl-unused"},
                                         {"CNI_IFNAME", ifname},
                                         {"CNI_PATH", "/usr/lib/cni"},
                                         {"PATH", "/usr/bin:/bin"}};
  if (!args.empty()) env["CNI_ARGS"] = args;
  if (cid.empty()) env.erase("CNI_CONTAINERID");
  return run_process({binary}, env, config.dump(), "", std::chrono::seconds(30));
}

inline std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.code) + ", stdout: " + r.out + ", stderr: " + r.err;
}

// Runs `n` invocations at once, `call(i)` each, and returns their results in order.
template <typename Call>
std::vector<RunResult> parallel(int n, Call call) {
  std::vector<RunResult> res(n);
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) ts.emplace_back([&, i] { res[i] = call(i); });
  for (auto& t : ts) t.join();
  return res;
}

// The first address of an ADD result ("10.1.0.2/24" -> "10.1.0.2").
inline std::string ip_of(const RunResult& r, size_t i = 0) {
  std::string a = r.json.value()["ips"][i]["address"];
  return a.substr(0, a.find('/'));
}

// Names in the network's directory.
inline std::set<std::string> files(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    out.insert(e.path().filename());
  return out;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace knet::test::host_local
