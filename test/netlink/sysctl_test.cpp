#include "nlw/sysctl.h"

#include "fixture.h"
#include "nlw/addr.h"
#include "nlw/error.h"
#include "nlw/link.h"

namespace knet::test {
namespace {

TEST(SysctlTest, WritesOnlyTheSandboxNamespace) {
  Sandbox sb;
  auto ns = nlw::NetNS::open(sb.host());
  auto mine = nlw::NetNS::current();
  std::string before = nlw::read_sysctl(mine, "net/ipv4/ip_forward");
  std::string target = before == "1" ? "0" : "1";
  nlw::write_sysctl(ns, "net/ipv4/ip_forward", target);
  EXPECT_EQ(nlw::read_sysctl(ns, "net/ipv4/ip_forward"), target);
  EXPECT_EQ(nlw::read_sysctl(mine, "net/ipv4/ip_forward"), before);
  EXPECT_EQ(sb.exec_in(sb.host(), "cat /proc/sys/net/ipv4/ip_forward").out, target + "\n");
}

TEST(SysctlTest, MissingKeyNamesKeyAndNamespace) {
  Sandbox sb;
  auto ns = nlw::NetNS::open(sb.host());
  try {
    nlw::read_sysctl(ns, "net/ipv4/conf/nosuchif/forwarding");
    FAIL() << "no exception";
  } catch (const nlw::NotFound& e) {
    EXPECT_EQ(e.msg(), "failed to read sysctl net/ipv4/conf/nosuchif/forwarding in " + sb.host() +
                           ": No such file or directory");
  }
}

// ensure_sysctl writes only a different value; the same value is left as is
// (knet-node in an unprivileged container, whose /proc/sys is read-only).
TEST(SysctlTest, EnsureWritesOnlyADifferentValue) {
  Sandbox sb;
  auto ns = nlw::NetNS::open(sb.host());
  nlw::ensure_sysctl(ns, "net/ipv4/ip_forward", "1");
  EXPECT_EQ(nlw::read_sysctl(ns, "net/ipv4/ip_forward"), "1");
  nlw::ensure_sysctl(ns, "net/ipv4/ip_forward", "1");
  EXPECT_EQ(nlw::read_sysctl(ns, "net/ipv4/ip_forward"), "1");
  nlw::ensure_sysctl(ns, "net/ipv4/ip_forward", "0");
  EXPECT_EQ(nlw::read_sysctl(ns, "net/ipv4/ip_forward"), "0");
}

}  // namespace
}  // namespace knet::test
