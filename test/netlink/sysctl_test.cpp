#include "nlw/sysctl.h"

#include "fixture.h"
#include "nlw/addr.h"
#include "nlw/announce.h"
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

// The peer learns the new MAC from the announcement alone (arp_accept lets
// it create an entry from a gratuitous ARP).
TEST_F(NetlinkTest, GratuitousArpReachesThePeer) {
  std::string peer_path = sb.add_ns("peer");
  auto peer = nlw::NetNS::open(peer_path);
  auto eth0 = nlw::create_veth(sock, "eth0", "eth0", peer, {.mac = "0a:00:00:00:00:05"});
  nlw::write_sysctl(peer, "net/ipv4/conf/all/arp_accept", "1");
  nlw::write_sysctl(peer, "net/ipv4/conf/eth0/arp_accept", "1");
  auto psock = nlw::Socket::in(peer);
  nlw::add_address(psock, nlw::get_link(psock, "eth0").index, *cni::IPNet::parse("10.5.0.1/24"));
  nlw::set_up(psock, nlw::get_link(psock, "eth0").index);
  nlw::add_address(sock, eth0.index, *cni::IPNet::parse("10.5.0.2/24"));
  nlw::set_up(sock, eth0.index);
  // A veth carrier comes up asynchronously; bounded wait until both ends are up.
  for (int i = 0; i < 100 && !sb.exec_in(sb.host(), "ip link show eth0 | grep -q LOWER_UP").ok();
       i++) {
    usleep(10000);
  }
  nlw::send_gratuitous_arp(host, "eth0", *cni::IP::parse("10.5.0.2"));
  bool seen = false;
  for (int i = 0; i < 50 && !seen; i++) {
    seen = sb.exec_in(peer_path, "ip neigh show 10.5.0.2").out.find("0a:00:00:00:00:05") !=
           std::string::npos;
    if (!seen) usleep(20000);
  }
  EXPECT_TRUE(seen);
  // IPv6: only that it is sent without error.
  nlw::add_address(sock, eth0.index, *cni::IPNet::parse("fd00:5::2/64"), {.nodad = true});
  nlw::send_gratuitous_arp(host, "eth0", *cni::IP::parse("fd00:5::2"));
}

}  // namespace
}  // namespace knet::test
