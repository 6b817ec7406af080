#include "nlw/neigh.h"

#include <sys/socket.h>

#include <algorithm>

#include "fixture.h"
#include "nlw/link.h"

namespace knet::test {
namespace {

using NeighTest = NetlinkTest;

TEST_F(NeighTest, PermanentNeighbourEntry) {
  auto peer = nlw::NetNS::open(sb.add_ns("peer"));
  int eth0 = nlw::create_veth(sock, "eth0", "eth0", peer).index;
  nlw::set_up(sock, eth0);
  auto ip = *knet::IP::parse("10.1.0.9");
  nlw::add_neigh(sock, eth0, ip, "0a:00:00:00:00:09");
  nlw::add_neigh(sock, eth0, ip, "0a:00:00:00:00:0a");  // replaces
  auto ns = nlw::list_neighs(sock, eth0, AF_INET);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].ip, ip);
  EXPECT_EQ(ns[0].mac, "0a:00:00:00:00:0a");
  EXPECT_TRUE(ns[0].permanent());
  EXPECT_TRUE(nlw::del_neigh(sock, eth0, ip));
  EXPECT_FALSE(nlw::del_neigh(sock, eth0, ip));
}

TEST_F(NeighTest, VxlanFdbHeadEndReplication) {
  auto vx = nlw::create_vxlan(sock, "vxlan1", {.vni = 1, .local = knet::IP::parse("10.0.0.1")});
  const std::string zero = "00:00:00:00:00:00";
  auto r1 = *knet::IP::parse("10.0.0.2"), r2 = *knet::IP::parse("10.0.0.3");
  nlw::add_fdb(sock, vx.index, zero, r1);
  nlw::add_fdb(sock, vx.index, zero, r2, {.append = true});
  nlw::add_fdb(sock, vx.index, "0a:00:00:00:00:02", r1);

  auto fdb = nlw::list_fdb(sock, vx.index);
  auto has = [&](const std::string& mac, const knet::IP& dst) {
    return std::any_of(fdb.begin(), fdb.end(), [&](const nlw::FdbEntry& e) {
      return e.mac == mac && e.dst == dst && e.self && e.permanent;
    });
  };
  EXPECT_TRUE(has(zero, r1));
  EXPECT_TRUE(has(zero, r2));
  EXPECT_TRUE(has("0a:00:00:00:00:02", r1));
  auto shown = sb.exec_in(sb.host(), "bridge fdb show dev vxlan1");
  EXPECT_NE(shown.out.find("00:00:00:00:00:00 dst 10.0.0.3 self permanent"), std::string::npos)
      << shown.out;

  EXPECT_TRUE(nlw::del_fdb(sock, vx.index, zero, r2));
  EXPECT_TRUE(nlw::del_fdb(sock, vx.index, "0a:00:00:00:00:02", r1));
  EXPECT_FALSE(nlw::del_fdb(sock, vx.index, "0a:00:00:00:00:02", r1));
  fdb = nlw::list_fdb(sock, vx.index);
  EXPECT_FALSE(has(zero, r2));
  EXPECT_TRUE(has(zero, r1));
}

// list_fdb reads the device's entries straight from a dump filtered by the
// kernel: every remote is listed, also two to one address that differ only
// in their VNI (a libnl cache took them for one object and kept one), and
// nothing of another device is.
TEST_F(NeighTest, FdbListsEveryRemoteOfTheDeviceOnly) {
  auto vx = nlw::create_vxlan(sock, "vxlan1", {.vni = 1, .local = knet::IP::parse("10.0.0.1")});
  auto other = nlw::create_vxlan(sock, "vxlan2", {.vni = 2, .local = knet::IP::parse("10.0.0.1")});
  const std::string zero = "00:00:00:00:00:00";
  auto r1 = *knet::IP::parse("10.0.0.2");
  for (int vni : {100, 200}) {
    ASSERT_TRUE(sb.exec_in(sb.host(), "bridge fdb append " + zero + " dev vxlan1 dst 10.0.0.2 vni " +
                                          std::to_string(vni) + " self permanent")
                    .ok());
  }
  for (int i = 0; i < 50; ++i) {
    nlw::add_fdb(sock, other.index, zero, knet::IP::parse("10.1.0." + std::to_string(i + 1)),
                 {.append = true});
  }
  auto fdb = nlw::list_fdb(sock, vx.index);
  long remotes = std::count_if(fdb.begin(), fdb.end(), [&](const nlw::FdbEntry& e) {
    return e.mac == zero && e.dst == r1 && e.self && e.permanent;
  });
  EXPECT_EQ(remotes, 2);
  for (const auto& e : fdb) EXPECT_EQ(e.index, vx.index);
  auto theirs = nlw::list_fdb(sock, other.index);
  EXPECT_EQ(std::count_if(theirs.begin(), theirs.end(),
                          [&](const nlw::FdbEntry& e) { return e.mac == zero && e.dst; }),
            50);
}

// Neighbour entries of one link, without the other's.
TEST_F(NeighTest, NeighboursOfOneLink) {
  auto peer = nlw::NetNS::open(sb.add_ns("peer"));
  int a = nlw::create_veth(sock, "a0", "a0", peer).index;
  int b = nlw::create_veth(sock, "b0", "b0", peer).index;
  nlw::set_up(sock, a);
  nlw::set_up(sock, b);
  nlw::add_neigh(sock, a, *knet::IP::parse("10.1.0.9"), "0a:00:00:00:00:09");
  nlw::add_neigh(sock, b, *knet::IP::parse("10.2.0.9"), "0a:00:00:00:00:0a");
  nlw::add_neigh(sock, a, *knet::IP::parse("fd00::9"), "0a:00:00:00:00:0b");
  auto ns = nlw::list_neighs(sock, a);
  ASSERT_EQ(ns.size(), 2u);
  for (const auto& n : ns) EXPECT_EQ(n.index, a);
  EXPECT_EQ(nlw::list_neighs(sock, a, AF_INET6).size(), 1u);
  EXPECT_EQ(nlw::list_neighs(sock, 0, AF_INET).size(), 2u);
}

}  // namespace
}  // namespace knet::test
