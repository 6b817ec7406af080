#include <gtest/gtest.h>

#include <map>

#include "cni/env.h"
#include "cni/error.h"

namespace {

using cni::Env;

// Builds a getenv over a fixed map.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  const char* operator()(const char* k) const {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  }
};

FakeEnv add_env() {
  return FakeEnv{{{"CNI_COMMAND", "ADD"},
                  {"CNI_CONTAINERID", "abc123"},
                  {"CNI_NETNS", "/var/run/netns/x"},
                  {"CNI_IFNAME", "eth0"},
                  {"CNI_PATH", "/opt/cni/bin:/usr/lib/cni"}}};
}

int code_of(const FakeEnv& e) {
  try {
    Env::from_environment(e);
  } catch (const cni::Error& err) {
    return err.code();
  }
  return 0;
}

TEST(Env, ParsesAdd) {
  auto e = Env::from_environment(add_env());
  EXPECT_EQ(e.command, cni::Command::Add);
  EXPECT_EQ(e.container_id, "abc123");
  EXPECT_EQ(e.ifname, "eth0");
  ASSERT_EQ(e.path.size(), 2u);
  EXPECT_EQ(e.path[1], "/usr/lib/cni");
}

TEST(Env, MissingVariablesAreListed) {
  FakeEnv f = add_env();
  f.vars.erase("CNI_NETNS");
  f.vars.erase("CNI_IFNAME");
  try {
    Env::from_environment(f);
    FAIL();
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidEnv);
    EXPECT_NE(e.msg().find("CNI_NETNS,CNI_IFNAME"), std::string::npos) << e.msg();
  }
}

TEST(Env, DelDoesNotNeedNetns) {
  FakeEnv f = add_env();
  f.vars["CNI_COMMAND"] = "DEL";
  f.vars.erase("CNI_NETNS");
  EXPECT_EQ(code_of(f), 0);
}

TEST(Env, VersionGcStatusNeedOnlyCommand) {
  for (const char* c : {"VERSION", "GC", "STATUS"}) {
    FakeEnv f{{{"CNI_COMMAND", c}}};
    EXPECT_EQ(code_of(f), 0) << c;
  }
}

TEST(Env, UnknownCommand) {
  FakeEnv f = add_env();
  f.vars["CNI_COMMAND"] = "FROB";
  EXPECT_EQ(code_of(f), cni::kInvalidEnv);
  f.vars.erase("CNI_COMMAND");
  EXPECT_EQ(code_of(f), cni::kInvalidEnv);
}

TEST(Env, ContainerIdCharacters) {
  for (const char* bad : {"../etc", "a/b", "a b", "-abc", ".x", "a:b"}) {
    FakeEnv f = add_env();
    f.vars["CNI_CONTAINERID"] = bad;
    EXPECT_EQ(code_of(f), cni::kInvalidEnv) << bad;
  }
  FakeEnv ok = add_env();
  ok.vars["CNI_CONTAINERID"] = "Ab0_.-x";
  EXPECT_EQ(code_of(ok), 0);
}

TEST(Env, InterfaceNameRules) {
  for (const char* bad : {"0123456789abcdef", ".", "..", "a/b", "a:b", "a b", "a\tb"}) {
    FakeEnv f = add_env();
    f.vars["CNI_IFNAME"] = bad;
    EXPECT_EQ(code_of(f), cni::kInvalidEnv) << bad;
  }
  FakeEnv ok = add_env();
  ok.vars["CNI_IFNAME"] = "0123456789abcde";  // exactly 15 bytes
  EXPECT_EQ(code_of(ok), 0);
}

TEST(CniArgs, ParsesPairsAndK8sKeys) {
  auto a = cni::CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c;"
                               "K8S_POD_UID=u;IP=10.1.0.9");
  EXPECT_TRUE(a.ignore_unknown());
  EXPECT_EQ(a.get("K8S_POD_NAME"), "p");
  EXPECT_EQ(a.get("IP"), "10.1.0.9");
  EXPECT_FALSE(a.get("ip"));  // keys are case-sensitive, as in libcni
  EXPECT_NO_THROW(a.require_known({}));
}

TEST(CniArgs, EmptyAndBadPairs) {
  EXPECT_TRUE(cni::CniArgs::parse("").pairs.empty());
  EXPECT_THROW(cni::CniArgs::parse("novalue"), cni::Error);
  EXPECT_THROW(cni::CniArgs::parse("a=b=c"), cni::Error);
  EXPECT_THROW(cni::CniArgs::parse("a=b;;c=d"), cni::Error);
}

TEST(CniArgs, UnknownKeysRejectedUnlessIgnored) {
  auto a = cni::CniArgs::parse("FOO=1;IP=10.0.0.1;K8S_POD_NAME=x");
  try {
    a.require_known({"IP"});
    FAIL();
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidEnv);
    EXPECT_NE(e.msg().find("FOO"), std::string::npos);
    EXPECT_EQ(e.msg().find("K8S_POD_NAME"), std::string::npos);
  }
  EXPECT_NO_THROW(cni::CniArgs::parse("FOO=1;IgnoreUnknown=true").require_known({}));
  EXPECT_THROW(cni::CniArgs::parse("FOO=1;IgnoreUnknown=0").require_known({}), cni::Error);
}

}  // namespace
