#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "cni/error.h"
#include "cni/skel.h"

namespace {

using cni::json;

struct Call {
  Call(std::map<std::string, std::string> e, std::string in) : env(std::move(e)), stdin_data(std::move(in)) {}
  std::map<std::string, std::string> env;
  std::string stdin_data;
  int rc = 0;
  std::string out, err;
  json parsed;
};

// A plugin that records what it was asked and can be told to fail.
struct Recorder {
  std::string last;
  std::vector<cni::Attachment> gc_list;
  bool fail_add = false;
  cni::Plugin plugin() {
    cni::Plugin p;
    p.about = "test plugin";
    p.add = [this](const cni::Env& e, const cni::NetConf& c) {
      last = "ADD";
      if (fail_add) throw cni::Error(cni::kTryAgainLater, "busy", "try later");
      cni::Result r;
      r.interfaces.push_back({e.ifname, "aa:bb:cc:dd:ee:ff", {}, e.netns, "", ""});
      r.ips.push_back({*knet::IPNet::parse("10.9.0.2/24"), knet::IP::parse("10.9.0.1"), 0});
      r.dns = c.dns;
      return r;
    };
    p.del = [this](const cni::Env&, const cni::NetConf&) { last = "DEL"; };
    p.check = [this](const cni::Env&, const cni::NetConf&) { last = "CHECK"; };
    p.gc = [this](const cni::Env&, const cni::NetConf&, const std::vector<cni::Attachment>& v) {
      last = "GC";
      gc_list = v;
    };
    p.status = [this](const cni::Env&, const cni::NetConf&) { last = "STATUS"; };
    return p;
  }
};

void run(Recorder& rec, Call& c) {
  std::istringstream in(c.stdin_data);
  std::ostringstream out, err;
  auto getenv = [&](const char* k) -> const char* {
    auto it = c.env.find(k);
    return it == c.env.end() ? nullptr : it->second.c_str();
  };
  c.rc = cni::run_plugin(rec.plugin(), getenv, in, out, err);
  c.out = out.str();
  c.err = err.str();
  c.parsed = json::parse(c.out, nullptr, false);
}

std::map<std::string, std::string> env(const char* cmd) {
  return {{"CNI_COMMAND", cmd}, {"CNI_CONTAINERID", "c1"}, {"CNI_NETNS", "/var/run/netns/c1"},
          {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/nonexistent"}};
}

std::string conf(const char* version, const std::string& extra = "") {
  return std::string(R"({"cniVersion":")") + version + R"(","name":"n1","type":"t")" + extra + "}";
}

TEST(Skel, VersionIgnoresStdin) {
  Recorder r;
  Call c{{{"CNI_COMMAND", "VERSION"}}, "garbage"};
  run(r, c);
  EXPECT_EQ(c.rc, 0);
  EXPECT_EQ(c.parsed["cniVersion"], "1.1.0");
  EXPECT_EQ(c.parsed["supportedVersions"].size(), 7u);
  EXPECT_EQ(c.parsed["supportedVersions"].back(), "1.1.0");
}

TEST(Skel, AboutWithoutCommand) {
  Recorder r;
  Call c{{}, ""};
  run(r, c);
  EXPECT_EQ(c.rc, 0);
  EXPECT_NE(c.err.find("test plugin"), std::string::npos);
}

TEST(Skel, AddPrintsResultInConfigVersion) {
  for (const char* v : {"0.2.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    Recorder r;
    Call c{env("ADD"), conf(v)};
    run(r, c);
    ASSERT_EQ(c.rc, 0) << c.out;
    EXPECT_EQ(c.parsed["cniVersion"], v);
    EXPECT_EQ(r.last, "ADD");
  }
}

TEST(Skel, ErrorsBecomeJsonOnStdout) {
  Recorder r;
  r.fail_add = true;
  Call c{env("ADD"), conf("1.0.0")};
  run(r, c);
  EXPECT_NE(c.rc, 0);
  EXPECT_EQ(c.parsed["code"], cni::kTryAgainLater);
  EXPECT_EQ(c.parsed["msg"], "busy");
  EXPECT_EQ(c.parsed["details"], "try later");
  EXPECT_EQ(c.parsed["cniVersion"], "1.0.0");
}

TEST(Skel, ErrorCodes) {
  struct Case {
    std::map<std::string, std::string> env;
    std::string stdin_data;
    int code;
  };
  auto e = env("ADD");
  auto no_ns = e;
  no_ns.erase("CNI_NETNS");
  std::vector<Case> cases = {
      {e, "{not json", cni::kDecodingFailure},
      {e, "[]", cni::kDecodingFailure},
      {e, conf("7.0.0"), cni::kIncompatibleVersion},
      {e, R"({"cniVersion":"1.0.0","type":"t"})", cni::kInvalidNetworkConfig},
      {e, R"({"cniVersion":"1.0.0","name":"a/b","type":"t"})", cni::kInvalidNetworkConfig},
      {e, R"({"cniVersion":"1.0.0","name":"..","type":"t"})", cni::kInvalidNetworkConfig},
      {e, R"({"cniVersion":"1.0.0","name":"n","ipMasq":"yes"})", cni::kInvalidNetworkConfig},
      {e, R"({"cniVersion":"1.0.0","name":"n","prevResult":{"ips":[{"address":"x"}]}})", cni::kInvalidNetworkConfig},
      {no_ns, conf("1.0.0"), cni::kInvalidEnv},
      {env("CHECK"), conf("0.3.1"), cni::kIncompatibleVersion},
      {env("GC"), conf("1.0.0"), cni::kIncompatibleVersion},
      {env("STATUS"), conf("0.4.0"), cni::kIncompatibleVersion},
      {e, std::string(5 << 20, ' '), cni::kIOFailure},
  };
  for (auto& k : cases) {
    Recorder r;
    Call c{k.env, k.stdin_data};
    run(r, c);
    EXPECT_NE(c.rc, 0);
    EXPECT_EQ(c.parsed["code"], k.code) << k.stdin_data.substr(0, 80) << " -> " << c.out;
    EXPECT_TRUE(c.parsed["msg"].is_string());
    EXPECT_EQ(r.last, "") << "plugin must not run on bad input";
  }
}

TEST(Skel, DispatchesEveryVerb) {
  for (const char* cmd : {"DEL", "CHECK", "STATUS"}) {
    Recorder r;
    Call c{env(cmd), conf("1.1.0")};
    run(r, c);
    EXPECT_EQ(c.rc, 0) << cmd << c.out;
    EXPECT_EQ(r.last, cmd);
    EXPECT_TRUE(c.out.empty());
  }
}

TEST(Skel, GcReadsBothAttachmentKeys) {
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    Recorder r;
    Call c{{{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/x"}},
           conf("1.1.0", std::string(R"(,")") + key + R"(":[{"containerID":"a","ifname":"eth0"},{"containerID":"b","ifname":"net1"}])")};
    run(r, c);
    ASSERT_EQ(c.rc, 0) << c.out;
    ASSERT_EQ(r.gc_list.size(), 2u);
    EXPECT_TRUE(cni::contains_attachment(r.gc_list, "b", "net1"));
    EXPECT_FALSE(cni::contains_attachment(r.gc_list, "b", "eth0"));
  }
}

// GC looks up every object it owns in the valid list: the list comes sorted
// and without duplicates, and lookups are binary searches that still find
// every entry (10,000 attachments, given in reverse order, twice).
TEST(Skel, GcAttachmentListIsSortedForLookups) {
  std::string list;
  for (int i = 9999; i >= 0; --i) {
    for (int copy = 0; copy < 2; ++copy) {
      list += std::string(list.empty() ? "" : ",") + R"({"containerID":"c)" + std::to_string(i) +
              R"(","ifname":"eth)" + std::to_string(i % 3) + R"("})";
    }
  }
  cni::json config = cni::json::parse(R"({"cni.dev/valid-attachments":[)" + list + "]}");
  std::vector<cni::Attachment> valid = cni::gc_attachments(config);
  ASSERT_EQ(valid.size(), 10000u);
  EXPECT_TRUE(std::is_sorted(valid.begin(), valid.end()));
  for (int i = 0; i < 10000; ++i) {
    std::string id = "c" + std::to_string(i);
    ASSERT_TRUE(cni::contains_attachment(valid, id, "eth" + std::to_string(i % 3))) << id;
    ASSERT_FALSE(cni::contains_attachment(valid, id, "eth" + std::to_string((i + 1) % 3))) << id;
    ASSERT_TRUE(cni::contains_container(valid, id)) << id;
  }
  EXPECT_FALSE(cni::contains_container(valid, "c10000"));
  EXPECT_FALSE(cni::contains_container(valid, "c"));
  std::vector<cni::Attachment> unsorted = {{"b", "eth0"}, {"a", "eth1"}, {"b", "eth0"}};
  cni::sort_attachments(unsorted);
  EXPECT_EQ(unsorted, (std::vector<cni::Attachment>{{"a", "eth1"}, {"b", "eth0"}}));
}

TEST(Skel, PrevResultInAnyVersion) {
  Recorder r;
  cni::Plugin p = r.plugin();
  std::string seen;
  p.check = [&](const cni::Env&, const cni::NetConf& c) { seen = c.prev_result->ips.at(0).address.str(); };
  Call c{env("CHECK"), conf("0.4.0", R"(,"prevResult":{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.7/24"}})")};
  std::istringstream in(c.stdin_data);
  std::ostringstream out, err;
  int rc = cni::run_plugin(p, [&](const char* k) -> const char* {
    auto it = c.env.find(k);
    return it == c.env.end() ? nullptr : it->second.c_str();
  }, in, out, err);
  EXPECT_EQ(rc, 0) << out.str();
  EXPECT_EQ(seen, "10.0.0.7/24");
}

}  // namespace

namespace {

// plugin_main inside an InProcessInvocation (how the multi-call binary runs a
// delegated IPAM plugin) reads the invocation's environment and stdin and
// writes its stdout, not the process's; invocations nest.
TEST(InProcessInvocation, PluginMainUsesTheInvocationsEnvironmentAndStreams) {
  Recorder rec;
  std::map<std::string, std::string> env = {{"CNI_COMMAND", "ADD"},    {"CNI_CONTAINERID", "c1"},
                                            {"CNI_NETNS", "/var/run/netns/x"}, {"CNI_IFNAME", "eth0"},
                                            {"CNI_PATH", "/nowhere"}};
  auto getenv = [&env](const char* k) -> const char* {
    auto it = env.find(k);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  const std::string in = R"({"cniVersion":"1.0.0","name":"n","type":"t"})";
  std::string out, err;
  int rc;
  {
    cni::InProcessInvocation outer(getenv, in, out, err);
    std::string out2, err2;
    env["CNI_COMMAND"] = "DEL";
    {
      cni::InProcessInvocation inner(getenv, in, out2, err2);
      EXPECT_EQ(cni::plugin_main(rec.plugin()), 0);
      EXPECT_EQ(rec.last, "DEL");
      EXPECT_EQ(out2, "");
    }
    env["CNI_COMMAND"] = "ADD";
    rc = cni::plugin_main(rec.plugin());
  }
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(rec.last, "ADD");
  json result = json::parse(out);
  EXPECT_EQ(result["ips"][0]["address"], "10.9.0.2/24");
  EXPECT_EQ(result["interfaces"][0]["sandbox"], "/var/run/netns/x");
}

// Bytes that are not UTF-8 in the environment used to make the error writer
// throw inside the skeleton's catch (SIGABRT). Now: code 4, and JSON.
TEST(Skel, InvalidUtf8InTheEnvironmentIsCode4) {
  for (const char* var : {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_ARGS"}) {
    Recorder r;
    auto e = env("ADD");
    e[var] = std::string(var) == "CNI_ARGS" ? "K8S_POD_NAME=\xff" : "eth\xff";
    Call c{e, conf("1.0.0")};
    run(r, c);
    EXPECT_NE(c.rc, 0) << var;
    ASSERT_FALSE(c.parsed.is_discarded()) << var << ": " << c.out;
    EXPECT_EQ(c.parsed["code"], cni::kInvalidEnv) << var;
    EXPECT_NE(c.parsed["msg"].get<std::string>().find(var), std::string::npos) << c.out;
    EXPECT_EQ(r.last, "") << var << " reached the plugin";
  }
}

TEST(Skel, TheErrorWriterNeverThrows) {
  Recorder r;
  cni::Plugin p = r.plugin();
  p.add = [](const cni::Env&, const cni::NetConf&) -> cni::Result {
    throw cni::Error(cni::kInternal, "bad bytes \xff\xfe in a message", "and \xc0 in details");
  };
  std::istringstream in(conf("1.0.0"));
  std::ostringstream out, err;
  auto vars = env("ADD");
  auto getenv = [&](const char* k) -> const char* {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(cni::run_plugin(p, getenv, in, out, err), 1);
  json parsed = json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << out.str();
  EXPECT_EQ(parsed["code"], cni::kInternal);
  EXPECT_EQ(parsed["msg"], "bad bytes \xef\xbf\xbd\xef\xbf\xbd in a message");
}

TEST(Skel, DeepNestingAnywhereIsCode6) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& where : {"\"ipam\":{\"x\":" + deep + "}", "\"args\":" + deep,
                                   "\"runtimeConfig\":{\"a\":" + deep + "}", "\"mtu\":" + deep}) {
    Recorder r;
    Call c{env("ADD"), conf("1.0.0", "," + where)};
    run(r, c);
    EXPECT_EQ(c.parsed["code"], cni::kDecodingFailure) << c.out.substr(0, 200);
    EXPECT_EQ(r.last, "");
  }
}

}  // namespace
