#include <fcntl.h>

#include <filesystem>

#include "fixture.h"
#include "nlw/error.h"
#include "nlw/link.h"

namespace knet::test {
namespace {

TEST(NetNSTest, MissingPathIsNotFound) {
  try {
    nlw::NetNS::open("/var/run/netns/knet-does-not-exist");
    FAIL() << "no exception";
  } catch (const nlw::NotFound& e) {
    EXPECT_NE(e.msg().find("/var/run/netns/knet-does-not-exist"), std::string::npos) << e.msg();
  }
}

TEST(NetNSTest, RegularFileIsNotANetworkNamespace) {
  TempDir dir;
  std::string file = dir.path() + "/plain";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  try {
    nlw::NetNS::open(file);
    FAIL() << "no exception";
  } catch (const nlw::InvalidArgument& e) {
    EXPECT_EQ(e.sys_errno(), ENOTTY);
    EXPECT_EQ(e.msg(), file + " is not a network namespace");
  }
}

TEST(NetNSTest, SameAsComparesNamespacesNotPaths) {
  Sandbox sb;
  auto a = nlw::NetNS::open(sb.host());
  auto b = nlw::NetNS::open(sb.host());
  auto c = nlw::NetNS::open(sb.add_container());
  EXPECT_TRUE(a.same_as(b));
  EXPECT_TRUE(a.same_as(a.dup()));
  EXPECT_FALSE(a.same_as(c));
  EXPECT_TRUE(nlw::NetNS::current().same_as(nlw::NetNS::of_pid(getpid())));
}

TEST(NetNSTest, GuardEntersAndReturns) {
  Sandbox sb;
  auto target = nlw::NetNS::open(sb.host());
  auto before = nlw::NetNS::current();
  {
    nlw::NsGuard guard(target);
    EXPECT_TRUE(nlw::NetNS::current().same_as(target));
  }
  EXPECT_TRUE(nlw::NetNS::current().same_as(before));
}

TEST(NetNSTest, SocketKeepsTalkingToItsNamespace) {
  Sandbox sb;
  auto ns = nlw::NetNS::open(sb.host());
  auto sock = nlw::Socket::in(ns);
  // Only lo exists in a fresh namespace; the machine's own has more.
  auto links = list_links(sock);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].name, "lo");
  EXPECT_EQ(sock.ns_name(), sb.host());
}

}  // namespace
}  // namespace knet::test
