// cnitool and the loopback plugin in sandbox namespaces (root): loopback's
// result against the reference plugin's, its ADD/CHECK/DEL on a real lo, and
// cnitool's add/check/del/gc/status with a temporary NETCONFPATH and cache.

#include <base/hash.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kRefLoopback = "/usr/lib/cni/loopback";

bool lo_up(const Sandbox& sb, const std::string& ns) {
  json l = sb.link_json(ns, "lo");
  if (!l.is_object()) return false;
  for (const auto& f : l.value("flags", json::array()))
    if (f == "UP") return true;
  return false;
}

std::string lo_config(const std::string& version, const json& extra = json::object()) {
  json c = {{"cniVersion", version}, {"name", "lonet"}, {"type", "loopback"}};
  c.merge_patch(extra);
  return c.dump();
}

class LoopbackTest : public ::testing::Test {
 protected:
  RunResult run(const std::string& cmd, const std::string& netns, const std::string& conf,
                const std::string& binary = plugin_path("loopback")) {
    std::map<std::string, std::string> env = {{"CNI_COMMAND", cmd},
                                              {"CNI_CONTAINERID", "c1"},
                                              {"CNI_IFNAME", "eth0"},
                                              {"CNI_PATH", KNET_PLUGIN_DIR}};
    if (!netns.empty()) env["CNI_NETNS"] = netns;
    return sb.run_plugin(binary, env, conf);
  }
  // A container namespace whose lo is down, as a fresh pod's is.
  std::string fresh_container() {
    std::string c = sb.add_container();
    EXPECT_TRUE(sb.exec_in(c, "ip link set lo down").ok());
    return c;
  }
  Sandbox sb;
};

TEST_F(LoopbackTest, ResultMatchesReferencePlugin) {
  if (!fs::exists(kRefLoopback))
    GTEST_SKIP() << "reference loopback not installed at " << kRefLoopback;
  for (const std::string v : {"1.0.0", "0.4.0", "0.3.1"}) {
    SCOPED_TRACE(v);
    std::string a = fresh_container(), b = fresh_container();
    RunResult ours = run("ADD", a, lo_config(v));
    RunResult ref = run("ADD", b, lo_config(v), kRefLoopback);
    ASSERT_EQ(ours.code, 0) << ours.out << ours.err;
    ASSERT_EQ(ref.code, 0) << ref.out << ref.err;
    ASSERT_TRUE(ours.json && ref.json);
    json expect = *ref.json;
    expect["interfaces"][0]["sandbox"] = a;
    // The one intended difference: before 1.0.0 the spec gives every IP a
    // "version", which the reference (1.1.1) leaves out.
    json got = *ours.json;
    if (v != "1.0.0") {
      ASSERT_EQ(got["ips"].size(), 2u);
      EXPECT_EQ(got["ips"][0]["version"], "4");
      EXPECT_EQ(got["ips"][1]["version"], "6");
      for (auto& ip : got["ips"]) ip.erase("version");
    }
    EXPECT_EQ(got, expect);
  }
}

TEST_F(LoopbackTest, AddCheckDelOnRealLo) {
  std::string c = fresh_container();
  ASSERT_FALSE(lo_up(sb, c));
  RunResult add = run("ADD", c, lo_config("1.0.0"));
  ASSERT_EQ(add.code, 0) << add.out;
  EXPECT_TRUE(lo_up(sb, c));
  EXPECT_TRUE(sb.exec_in(c, "ping -c1 -W1 127.0.0.1 >/dev/null").ok());
  EXPECT_EQ(run("CHECK", c, lo_config("1.0.0")).code, 0);

  RunResult del = run("DEL", c, lo_config("1.0.0"));
  ASSERT_EQ(del.code, 0) << del.out;
  EXPECT_FALSE(lo_up(sb, c));
  RunResult check = run("CHECK", c, lo_config("1.0.0"));
  EXPECT_NE(check.code, 0);
  EXPECT_NE(check.out.find("loopback interface is down"), std::string::npos) << check.out;
}

TEST_F(LoopbackTest, DelSucceedsWhenNamespaceIsGone) {
  EXPECT_EQ(run("DEL", "/var/run/netns/knet-no-such-ns", lo_config("1.0.0")).code, 0);
  EXPECT_EQ(run("DEL", "", lo_config("1.0.0")).code, 0);
  RunResult add = run("ADD", "/var/run/netns/knet-no-such-ns", lo_config("1.0.0"));
  EXPECT_NE(add.code, 0);
  ASSERT_TRUE(add.json);
  EXPECT_NE((*add.json)["msg"].get<std::string>().find("knet-no-such-ns"), std::string::npos);
}

TEST_F(LoopbackTest, ChainedAfterAnotherPluginPassesPrevResultThrough) {
  std::string c = fresh_container();
  json prev = json::parse(R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"x"}],
                              "ips":[{"address":"10.1.2.3/24","interface":0}]})");
  RunResult add = run("ADD", c, lo_config("1.0.0", {{"prevResult", prev}}));
  ASSERT_EQ(add.code, 0) << add.out;
  EXPECT_TRUE(lo_up(sb, c));
  EXPECT_EQ((*add.json)["ips"][0]["address"], "10.1.2.3/24");
  EXPECT_EQ((*add.json)["interfaces"][0]["name"], "eth0");
}

// cnitool in the sandbox host namespace, as an operator (or the demo) runs it.
class CnitoolTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(netconf()); }
  std::string netconf() const { return dir.path() + "/net.d"; }
  std::string cache() const { return dir.path() + "/cache"; }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(netconf() + "/" + name) << text;
  }
  RunResult cnitool(const std::vector<std::string>& args,
                    std::map<std::string, std::string> env = {}) {
    env.emplace("NETCONFPATH", netconf());
    env.emplace("CNI_PATH", KNET_PLUGIN_DIR);
    env.emplace("CNI_CACHE_DIR", cache());
    std::vector<std::string> argv = {plugin_path("cnitool")};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    return run_process(argv, env, "", sb.host(), std::chrono::seconds(20));
  }
  static std::string derived_id(const std::string& netns) {
    return "cnitool-" + knet::sha512_hex(netns, 10);
  }
  Sandbox sb;
  TempDir dir;
};

TEST_F(CnitoolTest, AddCheckDelWithDerivedContainerId) {
  write("10-lo.conflist",
        R"({"cniVersion":"1.0.0","name":"lonet","plugins":[{"type":"loopback"}]})");
  std::string c = sb.add_container();
  ASSERT_TRUE(sb.exec_in(c, "ip link set lo down").ok());
  RunResult add = cnitool({"add", "lonet", c});
  ASSERT_EQ(add.code, 0) << add.out << add.err;
  ASSERT_TRUE(add.json);
  EXPECT_EQ((*add.json)["interfaces"][0]["sandbox"], c);
  EXPECT_TRUE(lo_up(sb, c));
  std::string cached = cache() + "/results/lonet-" + derived_id(c) + "-eth0";
  ASSERT_TRUE(fs::exists(cached)) << cached;
  std::ifstream in(cached);
  json entry = json::parse(in);
  EXPECT_EQ(entry["kind"], "cniCacheV1");
  EXPECT_EQ(entry["result"], *add.json);

  EXPECT_EQ(cnitool({"check", "lonet", c}).code, 0);
  RunResult del = cnitool({"del", "lonet", c});
  EXPECT_EQ(del.code, 0) << del.err;
  EXPECT_FALSE(lo_up(sb, c));
  EXPECT_FALSE(fs::exists(cached));

  RunResult check = cnitool({"check", "lonet", c});
  EXPECT_NE(check.code, 0);
  EXPECT_NE(check.err.find("plugin type=\"loopback\" failed (CHECK): loopback interface is down"),
            std::string::npos)
      << check.err;
}

TEST_F(CnitoolTest, EnvironmentOverridesAndSingleConf) {
  write("20-lo.conf", R"({"cniVersion":"0.4.0","name":"single","type":"loopback"})");
  std::string c = sb.add_container();
  RunResult add = cnitool({"add", "single", c}, {{"CNI_CONTAINERID", "mine"},
                                                 {"CNI_IFNAME", "lo0"},
                                                 {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=p"}});
  ASSERT_EQ(add.code, 0) << add.err;
  EXPECT_EQ((*add.json)["cniVersion"], "0.4.0");
  std::ifstream in(cache() + "/results/single-mine-lo0");
  json entry = json::parse(in);
  EXPECT_EQ(entry["cniArgs"], json::parse(R"([["IgnoreUnknown","1"],["K8S_POD_NAME","p"]])"));
  EXPECT_EQ(
      cnitool({"del", "single", c}, {{"CNI_CONTAINERID", "mine"}, {"CNI_IFNAME", "lo0"}}).code, 0);
  EXPECT_FALSE(fs::exists(cache() + "/results/single-mine-lo0"));
}

TEST_F(CnitoolTest, ClearErrorsAndUsage) {
  RunResult missing = cnitool({"add", "nonet", "/var/run/netns/x"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no net configuration with name \"nonet\""), std::string::npos);
  write("10-x.conflist", R"({"cniVersion":"1.0.0","name":"x","plugins":[{"type":"nosuch"}]})");
  RunResult noplugin = cnitool({"add", "x", sb.add_container()});
  EXPECT_NE(noplugin.err.find("type=\"nosuch\""), std::string::npos) << noplugin.err;
  RunResult badargs = cnitool({"add", "x", "/tmp"}, {{"CNI_ARGS", "A"}});
  EXPECT_NE(badargs.err.find("invalid CNI_ARGS pair \"A\""), std::string::npos) << badargs.err;
  RunResult badcap = cnitool({"add", "x", "/tmp"}, {{"CAP_ARGS", "[1"}});
  EXPECT_NE(badcap.err.find("CAP_ARGS"), std::string::npos) << badcap.err;
  EXPECT_EQ(cnitool({"--help"}).code, 0);
  EXPECT_NE(cnitool({"frob", "x", "y"}).code, 0);
}

TEST_F(CnitoolTest, GcKeepsAttachmentsWhoseNamespaceExists) {
  write("10-lo.conflist",
        R"({"cniVersion":"1.1.0","name":"lonet","plugins":[{"type":"loopback"}]})");
  std::string live = sb.add_container("live"), dead = sb.add_container("dead");
  ASSERT_EQ(cnitool({"add", "lonet", live}).code, 0);
  ASSERT_EQ(cnitool({"add", "lonet", dead}).code, 0);
  ASSERT_EQ(run_process({"/usr/sbin/ip", "netns", "del", Sandbox::name_of(dead)}, {}, "", "",
                        std::chrono::seconds(10))
                .code,
            0);
  std::string results = cache() + "/results/lonet-";
  RunResult gc = cnitool({"gc", "lonet"});
  EXPECT_EQ(gc.code, 0) << gc.err;
  EXPECT_TRUE(fs::exists(results + derived_id(live) + "-eth0"));
  EXPECT_FALSE(fs::exists(results + derived_id(dead) + "-eth0"));
  EXPECT_TRUE(lo_up(sb, live));  // a valid attachment is left alone

  // Explicit list: the live one is not in it, so it is deleted too.
  gc = cnitool({"gc", "lonet", "--valid", "other:eth0"});
  EXPECT_EQ(gc.code, 0) << gc.err;
  EXPECT_FALSE(fs::exists(results + derived_id(live) + "-eth0"));
  EXPECT_FALSE(lo_up(sb, live));
  EXPECT_NE(cnitool({"gc", "lonet", "--valid", "nocolon"}).code, 0);
  EXPECT_EQ(cnitool({"status", "lonet"}).code, 0);
}

}  // namespace
}  // namespace knet::test
