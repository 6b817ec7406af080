// The runtime side of libcni without privileges: loading conflists, building
// each plugin's stdin, the libcni-compatible result cache, SHA-512, and the
// chain logic (order, prevResult, cache, GC) driven through fake plugins
// (small shell scripts that log what they were given).

#include <base/hash.h>
#include <cni/error.h>
#include <cni/exec.h>
#include <cni/runtime.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using cni::json;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "knet-rt-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cni::Error& e) {
    return e.code();
  }
  return 0;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const knet::Error& e) {
    return e.msg();
  }
  return "";
}

// ---- SHA-512 ----

TEST(Sha512, KnownVectors) {
  EXPECT_EQ(
      knet::sha512_hex(""),
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2"
      "877eec2f63b931bd47417a81a538327af927da3e");
  EXPECT_EQ(knet::sha512_hex("abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c"
            "23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  // Padding boundaries: 111 bytes fit one block with the length, 112 need two.
  EXPECT_EQ(knet::sha512_hex(std::string(111, 'a'), 8), "fa9121c7b32b9e01");
  EXPECT_EQ(knet::sha512_hex(std::string(112, 'a'), 8), "c01d080efd492776");
  EXPECT_EQ(knet::sha512_hex(std::string(239, 'a'), 8), "52c853cb8d907f3d");
}

// ---- conflist parsing ----

TEST(ConfList, ParsesListKeysAndPlugins) {
  auto l = cni::NetworkConfigList::parse(R"({"cniVersion":"1.0.0","name":"net1",
      "disableCheck":true,"disableGC":"TRUE",
      "plugins":[{"type":"bridge","capabilities":{"ips":true,"mac":false}},{"type":"bandwidth","name":"bw"}]})");
  EXPECT_EQ(l.name, "net1");
  EXPECT_EQ(l.cni_version, "1.0.0");
  EXPECT_TRUE(l.disable_check);
  EXPECT_TRUE(l.disable_gc);
  ASSERT_EQ(l.plugins.size(), 2u);
  EXPECT_EQ(l.plugins[0].type, "bridge");
  EXPECT_TRUE(l.plugins[0].capabilities.at("ips"));
  EXPECT_FALSE(l.plugins[0].capabilities.at("mac"));
  EXPECT_EQ(l.plugins[1].describe(), R"(type="bandwidth" name="bw")");
}

TEST(ConfList, CniVersionsPicksHighestSupported) {
  auto l = cni::NetworkConfigList::parse(
      R"({"cniVersion":"0.4.0","cniVersions":["0.3.1","1.0.0","9.9.9"],"name":"n","plugins":[{"type":"x"}]})");
  EXPECT_EQ(l.cni_version, "1.0.0");
  auto only = cni::NetworkConfigList::parse(
      R"({"cniVersions":["0.3.1","1.1.0"],"name":"n","plugins":[{"type":"x"}]})");
  EXPECT_EQ(only.cni_version, "1.1.0");
  EXPECT_EQ(code_of([] {
              cni::NetworkConfigList::parse(
                  R"({"cniVersions":["9.0.0"],"name":"n","plugins":[{"type":"x"}]})");
            }),
            cni::kIncompatibleVersion);
  EXPECT_NE(message_of([] {
              cni::NetworkConfigList::parse(
                  R"({"cniVersions":["1.0.0",3],"name":"n","plugins":[{"type":"x"}]})");
            }).find("cniVersions[1]"),
            std::string::npos);
}

TEST(ConfList, RejectsBadListsNamingTheKey) {
  struct Case {
    const char* doc;
    const char* key;
    int code;
  };
  const Case cases[] = {
      {R"({"cniVersion":"1.0.0","plugins":[{"type":"x"}]})", "\"name\"", 7},
      {R"({"name":5,"plugins":[{"type":"x"}]})", "\"name\"", 7},
      {R"({"name":"a b","plugins":[{"type":"x"}]})", "\"name\"", 7},
      {R"({"name":"n"})", "\"plugins\"", 7},
      {R"({"name":"n","plugins":[]})", "\"plugins\"", 7},
      {R"({"name":"n","plugins":{}})", "\"plugins\"", 7},
      {R"({"name":"n","plugins":[{"type":"x"},{"ipam":{}}]})", "plugins[1].type", 7},
      {R"({"name":"n","disableCheck":"maybe","plugins":[{"type":"x"}]})", "disableCheck", 7},
      {R"({"name":"n","plugins":[{"type":"x","capabilities":{"ips":"yes"}}]})",
       "plugins[0].capabilities.ips", 7},
      {R"({"cniVersion":"7.0.0","name":"n","plugins":[{"type":"x"}]})", "7.0.0", 1},
      {R"({"name":"n",)", "", 6},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.doc);
    std::string msg;
    int code = 0;
    try {
      cni::NetworkConfigList::parse(c.doc, "/etc/x.conflist");
    } catch (const cni::Error& e) {
      msg = e.msg();
      code = e.code();
    }
    EXPECT_EQ(code, c.code) << msg;
    EXPECT_NE(msg.find(c.key), std::string::npos) << msg;
  }
}

TEST(ConfList, LoadsByNameInFileOrderConflistFirst) {
  TempDir d;
  d.write("20-b.conflist", R"({"cniVersion":"1.0.0","name":"dup","plugins":[{"type":"second"}]})");
  d.write("10-a.conflist", R"({"cniVersion":"1.0.0","name":"dup","plugins":[{"type":"first"}]})");
  d.write("05-single.conf", R"({"cniVersion":"0.4.0","name":"dup","type":"conf"})");
  d.write("06-single.json",
          R"({"cniVersion":"0.3.1","name":"solo","type":"bridge","bridge":"b0"})");
  d.write("ignored.txt", R"({"name":"other","plugins":[{"type":"x"}]})");
  fs::create_directories(d.path() + "/sub.conflist");
  auto dup = cni::load_conf_list(d.path(), "dup");
  EXPECT_EQ(dup.plugins.at(0).type, "first");
  EXPECT_EQ(dup.source, d.path() + "/10-a.conflist");

  auto solo = cni::load_conf_list(d.path(), "solo");
  EXPECT_EQ(solo.cni_version, "0.3.1");
  ASSERT_EQ(solo.plugins.size(), 1u);
  EXPECT_EQ(solo.plugins[0].raw.value("bridge", ""), "b0");
  // libcni caches these re-marshalled bytes (Go sorts map keys).
  EXPECT_EQ(
      solo.bytes,
      R"({"cniVersion":"0.3.1","name":"solo","plugins":[{"bridge":"b0","cniVersion":"0.3.1","name":"solo","type":"bridge"}]})");

  EXPECT_EQ(message_of([&] { cni::load_conf_list(d.path(), "nope"); }),
            "no net configuration with name \"nope\" in " + d.path());
  EXPECT_EQ(code_of([] { cni::load_conf_list("/nonexistent/knet", "x"); }),
            cni::kInvalidNetworkConfig);
  EXPECT_EQ(cni::load_all_conf_lists(d.path()).size(), 4u);
}

TEST(ConfList, ABrokenFileIsNamedInTheError) {
  TempDir d;
  d.write("10-bad.conflist", R"({"name":"x","plugins":[{}]})");
  std::string msg = message_of([&] { cni::load_conf_list(d.path(), "y"); });
  EXPECT_NE(msg.find("10-bad.conflist"), std::string::npos) << msg;
}

// ---- stdin building ----

TEST(PluginStdin, InjectsNameVersionPrevResultAndDeclaredCapabilities) {
  auto l = cni::NetworkConfigList::parse(R"({"cniVersion":"1.0.0","name":"net1","plugins":[
      {"type":"portmap","name":"ignored","cniVersion":"0.1.0",
       "capabilities":{"portMappings":true,"bandwidth":false},"runtimeConfig":{"old":1}},
      {"type":"bridge"}]})");
  json caps = {{"portMappings", json::array({{{"hostPort", 80}}})},
               {"bandwidth", {{"ingressRate", 1}}},
               {"dns", {{"servers", {"1.1.1.1"}}}}};
  json prev = {{"cniVersion", "1.0.0"}, {"ips", json::array()}};
  json c = cni::build_plugin_config(l, l.plugins[0], &prev, caps);
  EXPECT_EQ(c["name"], "net1");
  EXPECT_EQ(c["cniVersion"], "1.0.0");
  EXPECT_EQ(c["prevResult"], prev);
  EXPECT_EQ(c["runtimeConfig"], (json{{"portMappings", caps["portMappings"]}}));
  EXPECT_EQ(c["capabilities"], l.plugins[0].raw["capabilities"]);

  json plain = cni::build_plugin_config(l, l.plugins[1], nullptr, caps);
  EXPECT_FALSE(plain.contains("runtimeConfig"));
  EXPECT_FALSE(plain.contains("prevResult"));
}

TEST(PluginStdin, JoinsCniArgs) {
  EXPECT_EQ(cni::join_cni_args({{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "p"}}),
            "IgnoreUnknown=1;K8S_POD_NAME=p");
}

// ---- result cache ----

TEST(ResultCache, SavesInLibcniFormat) {
  TempDir d;
  cni::ResultCache cache(d.path());
  auto l = cni::NetworkConfigList::parse(
      R"({"cniVersion":"1.0.0","name":"net1","plugins":[{"type":"x"}]})");
  cni::RuntimeConf rt{"cid1", "/var/run/netns/a", "eth0", {{"K", "V"}}, {{"bandwidth", 1}}};
  json result = {{"cniVersion", "1.0.0"}, {"ips", {{{"address", "10.1.0.2/24"}}}}};
  cache.save(l, rt, result);

  std::string file = d.path() + "/results/net1-cid1-eth0";
  EXPECT_EQ(cache.path("net1", "cid1", "eth0"), file);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  json j = json::parse(slurp(file));
  EXPECT_EQ(j["kind"], "cniCacheV1");
  EXPECT_EQ(j["containerId"], "cid1");
  EXPECT_EQ(j["ifName"], "eth0");
  EXPECT_EQ(j["networkName"], "net1");
  EXPECT_EQ(j["netns"], "/var/run/netns/a");
  EXPECT_EQ(j["cniArgs"], json::parse(R"([["K","V"]])"));
  EXPECT_EQ(j["capabilityArgs"], (json{{"bandwidth", 1}}));
  EXPECT_EQ(j["result"], result);
  // base64 of the conflist bytes, as Go marshals []byte.
  EXPECT_EQ(j["config"],
            "eyJjbmlWZXJzaW9uIjoiMS4wLjAiLCJuYW1lIjoibmV0MSIsInBsdWdpbnMiOlt7InR5cGUiOiJ4In1dfQ==");

  auto back = cache.load("net1", "cid1", "eth0");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->config, l.bytes);
  EXPECT_EQ(back->cni_args, rt.args);
  EXPECT_EQ(back->result, result);
  EXPECT_FALSE(cache.load("net1", "cid2", "eth0"));
  EXPECT_EQ(cache.list().size(), 1u);
  EXPECT_TRUE(cache.list("other").empty());
  EXPECT_TRUE(cache.remove("net1", "cid1", "eth0"));
  EXPECT_FALSE(cache.remove("net1", "cid1", "eth0"));
  EXPECT_EQ(code_of([&] { cache.path("net1", "", "eth0"); }), cni::kInvalidEnv);
}

TEST(ResultCache, ReadsLegacyAndSkipsForeignFiles) {
  TempDir d;
  d.write("results/net1-c1-eth0",
          R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}]})");
  d.write("results/garbage", "not json");
  d.write(
      "results/net1-c2-eth0",
      R"({"kind":"cniCacheV1","containerId":"c2","ifName":"eth0","networkName":"net1","config":"e30="})");
  cni::ResultCache cache(d.path());
  auto legacy = cache.load("net1", "c1", "eth0");
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->result["cniVersion"], "0.4.0");
  auto all = cache.list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].container_id, "c2");
  EXPECT_EQ(all[0].config, "{}");
}

// ---- the chain, through fake plugins ----

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log = bin.path() + "/log";
    ::setenv("KNET_FAKE_LOG", log.c_str(), 1);
    fake("one", R"({"cniVersion":"1.0.0","ips":[{"address":"10.9.0.2/24"}]})");
    fake("two", R"({"ips":[{"address":"10.9.0.2/24"}],"interfaces":[{"name":"eth0"}]})");
  }
  void TearDown() override { ::unsetenv("KNET_FAKE_LOG"); }

  // A plugin that appends "<verb> <name> <cid> <ifname> <netns> <args>" and
  // its stdin to the log, prints `add_out` on ADD, and exits `rc` (with an
  // error JSON) for `fail_verb`.
  void fake(const std::string& name, const std::string& add_out, const std::string& fail_verb = "-",
            int code = 0) {
    std::string script =
        "#!/bin/sh\nin=$(cat)\n"
        "set -- $CNI_COMMAND " +
        name +
        " $CNI_CONTAINERID $CNI_IFNAME $CNI_NETNS $CNI_ARGS\n"
        "echo \"$*\" >> \"$KNET_FAKE_LOG\"\n"
        "printf '%s\\n' \"$in\" >> \"$KNET_FAKE_LOG.stdin\"\n"
        "if [ \"$CNI_COMMAND\" = " +
        fail_verb + " ]; then echo '{\"code\":" + std::to_string(code) +
        ",\"msg\":\"boom\",\"details\":\"why\"}'; exit 1; fi\n"
        "if [ \"$CNI_COMMAND\" = ADD ]; then echo '" +
        add_out + "'; fi\n";
    std::string p = bin.write(name, script);
    ::chmod(p.c_str(), 0755);
  }
  std::vector<std::string> lines(const std::string& suffix = "") {
    std::vector<std::string> out;
    std::ifstream in(log + suffix);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  std::vector<json> stdins() {
    std::vector<json> out;
    for (const auto& l : lines(".stdin")) out.push_back(json::parse(l));
    return out;
  }
  cni::Runtime runtime(bool rollback = true) {
    cni::Runtime::Options o;
    o.cni_path = {"/nonexistent", bin.path()};
    o.cache_dir = cache.path();
    o.rollback_failed_add = rollback;
    return cni::Runtime(o);
  }
  cni::NetworkConfigList list(const std::string& version = "1.0.0", const std::string& extra = "") {
    return cni::NetworkConfigList::parse(R"({"cniVersion":")" + version + R"(","name":"chain")" +
                                         extra + R"(,"plugins":[
        {"type":"one","capabilities":{"mac":true}},{"type":"two"}]})");
  }

  TempDir bin, cache;
  std::string log;
  cni::RuntimeConf rt{
      "cid1", "/var/run/netns/x", "eth0", {{"A", "1"}}, {{"mac", "aa:bb:cc:dd:ee:ff"}}};
};

TEST_F(ChainTest, AddRunsInOrderChainsResultsAndCaches) {
  auto r = runtime();
  json out = r.add(list(), rt);
  EXPECT_EQ(lines(), (std::vector<std::string>{"ADD one cid1 eth0 /var/run/netns/x A=1",
                                               "ADD two cid1 eth0 /var/run/netns/x A=1"}));
  auto in = stdins();
  ASSERT_EQ(in.size(), 2u);
  EXPECT_FALSE(in[0].contains("prevResult"));
  EXPECT_EQ(in[0]["runtimeConfig"], (json{{"mac", "aa:bb:cc:dd:ee:ff"}}));
  EXPECT_EQ(in[1]["prevResult"]["ips"][0]["address"], "10.9.0.2/24");
  EXPECT_FALSE(in[1].contains("runtimeConfig"));
  // "two" printed no cniVersion: the config's is filled in, as libcni does.
  EXPECT_EQ(out["cniVersion"], "1.0.0");
  EXPECT_EQ(out["interfaces"][0]["name"], "eth0");
  EXPECT_EQ(r.cached_result(list(), rt), out);
}

TEST_F(ChainTest, DelRunsInReverseWithCachedResultThenDropsCache) {
  auto r = runtime();
  json out = r.add(list(), rt);
  fs::remove(log + ".stdin");
  r.del(list(), rt);
  EXPECT_EQ(lines().at(2), "DEL two cid1 eth0 /var/run/netns/x A=1");
  EXPECT_EQ(lines().at(3), "DEL one cid1 eth0 /var/run/netns/x A=1");
  for (const auto& in : stdins()) EXPECT_EQ(in["prevResult"], out);
  EXPECT_FALSE(r.cache().load("chain", "cid1", "eth0"));
  r.del(list(), rt);  // again: no cache, no prevResult, still fine
  EXPECT_FALSE(stdins().back().contains("prevResult"));
}

TEST_F(ChainTest, CheckUsesCacheAndHonoursVersionAndDisableCheck) {
  auto r = runtime();
  json out = r.add(list(), rt);
  fs::remove(log + ".stdin");
  r.check(list(), rt);
  ASSERT_EQ(stdins().size(), 2u);
  EXPECT_EQ(stdins()[1]["prevResult"], out);
  EXPECT_EQ(code_of([&] { r.check(list("0.3.1"), rt); }), cni::kIncompatibleVersion);
  size_t before = lines().size();
  r.check(list("1.0.0", R"(,"disableCheck":true)"), rt);
  EXPECT_EQ(lines().size(), before);
}

TEST_F(ChainTest, CachedResultIsConvertedToTheListVersion) {
  auto r = runtime();
  r.add(list(), rt);
  json old = r.cached_result(list("0.4.0"), rt);
  EXPECT_EQ(old["cniVersion"], "0.4.0");
  EXPECT_EQ(old["ips"][0]["version"], "4");
}

TEST_F(ChainTest, FailureNamesThePluginKeepsCodeAndRollsBack) {
  fake("two", "{}", "ADD", 11);
  auto r = runtime();
  cni::Error err(0, "");
  try {
    r.add(list(), rt);
  } catch (const cni::Error& e) {
    err = e;
  }
  EXPECT_EQ(err.code(), 11);
  EXPECT_EQ(err.msg(), R"(plugin type="two" failed (ADD): boom)");
  EXPECT_EQ(err.details(), "why");
  EXPECT_EQ(lines(), (std::vector<std::string>{"ADD one cid1 eth0 /var/run/netns/x A=1",
                                               "ADD two cid1 eth0 /var/run/netns/x A=1",
                                               "DEL two cid1 eth0 /var/run/netns/x A=1",
                                               "DEL one cid1 eth0 /var/run/netns/x A=1"}));
  EXPECT_FALSE(r.cache().load("chain", "cid1", "eth0"));
}

TEST_F(ChainTest, NoRollbackWhenDisabled) {
  fake("two", "{}", "ADD", 7);
  EXPECT_EQ(code_of([&] { runtime(false).add(list(), rt); }), 7);
  EXPECT_EQ(lines().size(), 2u);
}

TEST_F(ChainTest, MissingPluginIsNamed) {
  auto l = cni::NetworkConfigList::parse(
      R"({"cniVersion":"1.0.0","name":"chain","plugins":[{"type":"absent"}]})");
  std::string msg = message_of([&] { runtime().add(l, rt); });
  EXPECT_NE(msg.find("type=\"absent\""), std::string::npos) << msg;
  EXPECT_NE(msg.find(bin.path()), std::string::npos) << msg;
}

TEST_F(ChainTest, AddValidatesContainerIdAndIfname) {
  auto bad = rt;
  bad.container_id = "a/b";
  EXPECT_EQ(code_of([&] { runtime().add(list(), bad); }), cni::kInvalidEnv);
  bad = rt;
  bad.ifname = "this-name-is-too-long";
  EXPECT_EQ(code_of([&] { runtime().add(list(), bad); }), cni::kInvalidEnv);
  EXPECT_TRUE(lines().empty());
}

TEST_F(ChainTest, GcDeletesStaleCachedAttachmentsAndSendsValidList) {
  auto r = runtime();
  auto l = list("1.1.0");
  r.add(l, rt);
  cni::RuntimeConf other{"cid2", "/var/run/netns/y", "net1", {}, json::object()};
  r.add(l, other);
  fs::remove(log);
  fs::remove(log + ".stdin");
  r.gc(l, std::vector<cni::Attachment>{{"cid1", "eth0"}});
  EXPECT_EQ(lines(),
            (std::vector<std::string>{"DEL two cid2 net1 /var/run/netns/y",
                                      "DEL one cid2 net1 /var/run/netns/y", "GC one", "GC two"}));
  EXPECT_TRUE(r.cache().load("chain", "cid1", "eth0"));
  EXPECT_FALSE(r.cache().load("chain", "cid2", "net1"));
  auto in = stdins();
  json expect = json::parse(R"([{"containerID":"cid1","ifname":"eth0"}])");
  EXPECT_EQ(in[2]["cni.dev/valid-attachments"], expect);
  EXPECT_EQ(in[3]["cni.dev/valid-attachments"], expect);
  EXPECT_FALSE(in[2].contains("runtimeConfig"));
}

TEST_F(ChainTest, GcGatesOnVersionAndDisableGC) {
  auto r = runtime();
  r.add(list("1.0.0"), rt);
  fs::remove(log);
  r.gc(list("1.0.0", R"(,"disableGC":true)"), std::nullopt);
  EXPECT_TRUE(lines().empty());
  r.gc(list("1.0.0"), std::nullopt);  // libcni's nil list: everything cached is stale
  EXPECT_EQ(lines().size(), 2u);      // two DELs, and no GC below 1.1.0
}

TEST_F(ChainTest, StatusRunsOnlyFrom110AndStopsAtFirstFailure) {
  fake("one", "{}", "STATUS", 50);
  auto r = runtime();
  r.status(list("1.0.0"));
  EXPECT_TRUE(lines().empty());
  EXPECT_EQ(code_of([&] { r.status(list("1.1.0")); }), cni::kPluginNotAvailable);
  EXPECT_EQ(lines(), (std::vector<std::string>{"STATUS one"}));
}

// ---- exec: deadline, SIGPIPE, threads ----

// A plugin that closes stdout and stderr, then hangs: before the deadline it
// blocked its caller in wait4 until it ended by itself (and was then taken
// for a success). Now it is killed at the deadline, reaped, and the error
// names the plugin and the deadline.
TEST_F(ChainTest, PluginThatClosesItsOutputAndHangsIsKilledAtTheDeadline) {
  std::string p = bin.write("hang",
                            "#!/bin/sh\necho $$ > \"$KNET_FAKE_LOG.pid\"\n"
                            "exec sleep 20 >&- 2>&-\n");
  ::chmod(p.c_str(), 0755);
  cni::Runtime::Options o;
  o.cni_path = {bin.path()};
  o.cache_dir = cache.path();
  o.plugin_timeout = std::chrono::milliseconds(300);
  o.rollback_failed_add = false;
  auto l = cni::NetworkConfigList::parse(
      R"({"cniVersion":"1.0.0","name":"chain","plugins":[{"type":"hang"}]})");
  std::string msg = message_of([&] { cni::Runtime(o).add(l, rt); });
  EXPECT_NE(msg.find("type=\"hang\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("did not finish within 300 ms"), std::string::npos) << msg;
  // Killed and reaped: no process, not even a zombie, is left.
  std::string pid = slurp(log + ".pid");
  ASSERT_FALSE(pid.empty());
  pid.pop_back();
  EXPECT_FALSE(fs::exists("/proc/" + pid)) << "plugin process " << pid << " still exists";
}

// The same through the exec API itself, as IPAM delegation and iptables use it.
TEST(Exec, DeadlineAppliesWhenTheChildClosesItsOutput) {
  TempDir d;
  std::string p = d.write("hang", "#!/bin/sh\nexec sleep 20 >&- 2>&-\n");
  ::chmod(p.c_str(), 0755);
  auto open_fds = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator());
  };
  auto before = open_fds();
  std::string msg =
      message_of([&] { knet::exec_binary(p, {}, "", std::chrono::milliseconds(200)); });
  EXPECT_NE(msg.find(p + " did not finish within 200 ms"), std::string::npos) << msg;
  EXPECT_EQ(open_fds(), before) << "pipes or the pidfd were left open";
}

// Many threads exec plugins that exit without reading their (large) stdin,
// so every write ends in EPIPE. SIGPIPE used to be set to SIG_IGN and back
// process-wide around each exec: one thread restoring the default while
// another was writing killed the whole process. Every exec must return
// the plugin's answer, and the process must keep its own SIGPIPE action.
TEST(Exec, ConcurrentExecsFromThreadsSurviveBrokenPipes) {
  TempDir d;
  std::string p = d.write("deaf", "#!/bin/sh\nexec 0<&-\necho '{\"ok\":true}'\n");
  ::chmod(p.c_str(), 0755);
  const std::string input(1 << 20, 'x');  // far more than a pipe buffer holds
  constexpr int kThreads = 8, kRuns = 25;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRuns; ++i) {
        knet::ExecOutput o = knet::exec_binary(p, {}, input);
        if (o.status == 0 && o.out == "{\"ok\":true}\n") ++answered;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(answered.load(), kThreads * kRuns);
  struct sigaction now {};
  sigaction(SIGPIPE, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL) << "the process-wide SIGPIPE action was changed";
}

}  // namespace
