// The harness itself: namespaces are really separate and really removed,
// plugins see exactly the environment they are given, timeouts hold.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "sandbox.h"

namespace knet::test {
namespace {

namespace fs = std::filesystem;

TEST(HarnessTest, NamespacesAreUniqueAndRemoved) {
  std::string host, c1;
  {
    Sandbox sb;
    host = sb.host();
    c1 = sb.add_container("c1");
    EXPECT_NE(host, c1);
    EXPECT_NE(Sandbox::name_of(c1).find("knet-" + std::to_string(getpid()) + "-"),
              std::string::npos);
    EXPECT_TRUE(fs::exists(host));
    auto lo = sb.link_json(c1, "lo");
    ASSERT_FALSE(lo.is_null());
    EXPECT_EQ(lo["operstate"], "UNKNOWN");  // up (lo has no carrier state)
  }
  EXPECT_FALSE(fs::exists(host));
  EXPECT_FALSE(fs::exists(c1));
}

TEST(HarnessTest, RunPluginGetsExactEnvStdinAndHostNamespace) {
  Sandbox sb;
  auto r = sb.run_plugin("/bin/sh", {{"CNI_COMMAND", "VERSION"}},
                         "env | sort; readlink /proc/self/ns/net; echo '{\"a\":1}' >/dev/null");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("CNI_COMMAND=VERSION\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PATH="), std::string::npos);
  EXPECT_EQ(r.out.find("HOME="), std::string::npos) << r.out;
  auto in_host = sb.exec_in(sb.host(), "readlink /proc/self/ns/net");
  EXPECT_NE(r.out.find(in_host.out), std::string::npos) << r.out << " vs " << in_host.out;

  auto j = sb.run_plugin("/bin/sh", {}, "echo '{\"cniVersion\":\"1.0.0\"}'; exit 3");
  EXPECT_EQ(j.code, 3);
  ASSERT_TRUE(j.json);
  EXPECT_EQ((*j.json)["cniVersion"], "1.0.0");
}

TEST(HarnessTest, TimeoutsKill) {
  Sandbox sb;
  auto t0 = std::chrono::steady_clock::now();
  auto r = sb.run_plugin("/bin/sh", {}, "sleep 30", {}, std::chrono::milliseconds(300));
  EXPECT_TRUE(r.timed_out);
  auto e = sb.exec_in(sb.host(), "sleep 30", std::chrono::seconds(1));
  EXPECT_FALSE(e.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(6));
}

TEST(HarnessTest, UnderlayJoinsNodes) {
  Sandbox sb;
  auto u = sb.add_underlay();
  auto n1 = sb.add_ns("node1"), n2 = sb.add_ns("node2");
  sb.attach(u, n1, "eth0", "192.168.50.1/24");
  sb.attach(u, n2, "eth0", "192.168.50.2/24");
  bool ok = false;
  for (int i = 0; i < 5 && !ok; i++) ok = sb.ping(n1, "192.168.50.2");
  EXPECT_TRUE(ok);
  TempDir d;
  EXPECT_TRUE(fs::is_directory(d.path()));
}

}  // namespace
}  // namespace knet::test
