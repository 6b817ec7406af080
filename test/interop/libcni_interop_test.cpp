// knet against the Go libcni that container runtimes embed (Debian's
// golang-github-appc-cni-dev), in sandbox namespaces (root). For each spec
// version 1.0.0 / 0.4.0 / 0.3.1 and each chain (loopback alone; knet bridge +
// host-local + bandwidth with the bandwidth capability; knet bridge with the
// reference host-local), libcni must accept every result, and the result
// cache must work both ways: libcni ADD -> cnitool CHECK/DEL, and cnitool
// ADD -> libcni CHECK/DEL.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kClient = KNET_LIBCNI_CLIENT;  // "" when Go or libcni was missing at configure
const std::string kRef = "/usr/lib/cni";

struct Chain {
  std::string name;
  std::vector<std::string> knet;  // knet plugins it needs from KNET_PLUGIN_DIR
  std::vector<std::string> ref;   // reference plugins it needs from /usr/lib/cni
  json plugins;                   // the "plugins" array; "@DATA@" is the host-local dataDir
  json cap_args = json::object();
};

std::vector<Chain> chains() {
  json ipam = {{"type", "host-local"}, {"dataDir", "@DATA@"}, {"subnet", "10.99.0.0/24"}};
  json bridge = {{"type", "bridge"}, {"bridge", "kbr0"}, {"isGateway", true}, {"ipam", ipam}};
  return {
      {"loopback", {"loopback"}, {}, json::array({{{"type", "loopback"}}})},
      {"knet-bridge-bandwidth",
       {"bridge", "host-local", "bandwidth"},
       {},
       json::array({bridge, {{"type", "bandwidth"}, {"capabilities", {{"bandwidth", true}}}}}),
       {{"bandwidth",
         {{"ingressRate", 8000000},
          {"ingressBurst", 160000},
          {"egressRate", 8000000},
          {"egressBurst", 160000}}}}},
      {"knet-bridge-ref-host-local", {"bridge"}, {"host-local"}, json::array({bridge})},
  };
}

class LibcniInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (kClient.empty() || !fs::exists(kClient))
      GTEST_SKIP() << "Go libcni client not built (needs golang-go and "
                      "golang-github-appc-cni-dev at configure time)";
    fs::create_directories(bin());
    fs::create_directories(dir.path() + "/net.d");
  }
  std::string bin() const { return dir.path() + "/bin"; }
  std::string cache() const { return dir.path() + "/cache"; }

  // A CNI_PATH holding exactly the chain's plugins (knet's or the reference's),
  // so a mixed chain runs the binaries it names. False if one is missing.
  bool stage(const Chain& c) {
    for (const auto& p : c.knet) {
      if (!fs::exists(plugin_path(p))) return false;
      fs::create_symlink(plugin_path(p), bin() + "/" + p);
    }
    for (const auto& p : c.ref) {
      if (!fs::exists(kRef + "/" + p)) return false;
      fs::create_symlink(kRef + "/" + p, bin() + "/" + p);
    }
    return true;
  }
  std::string write_conflist(const Chain& c, const std::string& version) {
    std::string text =
        json{{"cniVersion", version}, {"name", "interop"}, {"plugins", c.plugins}}.dump(2);
    for (size_t at; (at = text.find("@DATA@")) != std::string::npos;)
      text.replace(at, 6, dir.path() + "/ipam");
    std::string path = dir.path() + "/net.d/10-interop.conflist";
    std::ofstream(path) << text;
    return path;
  }
  std::map<std::string, std::string> env(const Chain& c) const {
    return {{"CNI_PATH", bin()},
            {"CNI_CACHE_DIR", cache()},
            {"CAP_ARGS", c.cap_args.empty() ? "" : c.cap_args.dump()},
            {"KNET_RUN_DIR", sb.run_dir()},
            {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}};
  }
  RunResult go(const Chain& c, const std::string& cmd, const std::string& conflist,
               const std::string& netns, const std::string& cid) {
    return run_process({kClient, cmd, conflist, netns, cid, "eth0"}, env(c), "", sb.host(),
                       std::chrono::seconds(30));
  }
  RunResult cnitool(const Chain& c, const std::string& cmd, const std::string& netns,
                    const std::string& cid) {
    auto e = env(c);
    e["NETCONFPATH"] = dir.path() + "/net.d";
    e["CNI_CONTAINERID"] = cid;
    e["CNI_ARGS"] = "IgnoreUnknown=1";
    return run_process({plugin_path("cnitool"), cmd, "interop", netns}, e, "", sb.host(),
                       std::chrono::seconds(30));
  }
  std::string cache_file(const std::string& cid) const {
    return cache() + "/results/interop-" + cid + "-eth0";
  }
  bool has_eth0(const std::string& netns) const { return sb.link_json(netns, "eth0").is_object(); }

  Sandbox sb;
  TempDir dir;
};

TEST_P(LibcniInterop, EveryChainEveryVersionBothWays) {
  const std::string version = GetParam();
  for (const Chain& c : chains()) {
    SCOPED_TRACE(c.name + " @ " + version);
    fs::remove_all(bin());
    fs::create_directories(bin());
    if (!stage(c)) {
      std::cout << "[ SKIPPED  ] chain " << c.name
                << ": a plugin it needs is not built/installed\n";
      continue;
    }
    std::string conflist = write_conflist(c, version);
    bool checks = version != "0.3.1";
    bool makes_eth0 = c.name != "loopback";

    // libcni adds; knet's cnitool checks and deletes from libcni's cache.
    std::string c1 = sb.add_container("go");
    RunResult add = go(c, "add", conflist, c1, "go-" + version);
    ASSERT_EQ(add.code, 0) << add.err << add.out;
    ASSERT_TRUE(add.json) << add.out;
    EXPECT_EQ((*add.json)["cniVersion"], version);
    ASSERT_TRUE(fs::exists(cache_file("go-" + version)));
    EXPECT_EQ(has_eth0(c1), makes_eth0);
    if (makes_eth0) {
      std::string ip = (*add.json)["ips"][0]["address"].get<std::string>();
      EXPECT_EQ(ip.rfind("10.99.0.", 0), 0u) << ip;
    }
    if (!c.cap_args.empty()) {  // runtimeConfig reached bandwidth: the host veth is shaped
      EXPECT_TRUE(sb.exec_in(sb.host(), "tc qdisc show | grep -q tbf").ok());
    }
    if (checks) {
      RunResult chk = go(c, "check", conflist, c1, "go-" + version);
      EXPECT_EQ(chk.code, 0) << chk.err;
      chk = cnitool(c, "check", c1, "go-" + version);
      EXPECT_EQ(chk.code, 0) << chk.err;
    }
    RunResult del = cnitool(c, "del", c1, "go-" + version);
    EXPECT_EQ(del.code, 0) << del.err;
    EXPECT_FALSE(fs::exists(cache_file("go-" + version)));
    EXPECT_FALSE(has_eth0(c1));

    // knet's cnitool adds; libcni checks and deletes from knet's cache.
    std::string c2 = sb.add_container("tool");
    RunResult tadd = cnitool(c, "add", c2, "tool-" + version);
    ASSERT_EQ(tadd.code, 0) << tadd.err;
    ASSERT_TRUE(fs::exists(cache_file("tool-" + version)));
    if (checks) {
      RunResult chk = go(c, "check", conflist, c2, "tool-" + version);
      EXPECT_EQ(chk.code, 0) << chk.err;
    }
    RunResult gdel = go(c, "del", conflist, c2, "tool-" + version);
    EXPECT_EQ(gdel.code, 0) << gdel.err;
    EXPECT_FALSE(fs::exists(cache_file("tool-" + version)));
    EXPECT_FALSE(has_eth0(c2));
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, LibcniInterop, ::testing::Values("1.0.0", "0.4.0", "0.3.1"),
                         [](const auto& info) {
                           std::string s = "v" + info.param;
                           for (auto& ch : s)
                             if (ch == '.') ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace knet::test
