#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>

#include "fixture.h"
#include "nlw/addr.h"
#include "nlw/error.h"
#include "nlw/link.h"
#include "nlw/route.h"

namespace knet::test {
namespace {

// A host namespace with one up veth "eth0" (peer in a second namespace).
class AddrRouteTest : public NetlinkTest {
 protected:
  void SetUp() override {
    peer_ns = sb.add_ns("peer");
    auto peer = nlw::NetNS::open(peer_ns);
    eth0 = nlw::create_veth(sock, "eth0", "eth0", peer).index;
    nlw::set_up(sock, eth0);
    sb.exec_in(peer_ns, "ip link set eth0 up");
  }
  knet::IPNet net(const char* s) { return *knet::IPNet::parse(s); }
  knet::IP ip(const char* s) { return *knet::IP::parse(s); }
  std::string peer_ns;
  int eth0 = 0;
};

TEST_F(AddrRouteTest, IPv4AddressGetsBroadcastAndListsBack) {
  nlw::add_address(sock, eth0, net("10.1.0.5/24"));
  auto addrs = sb.addr_json(sb.host(), "eth0");
  ASSERT_GE(addrs.size(), 1u) << addrs.dump();  // then the IPv6 link-local
  EXPECT_EQ(addrs[0]["local"], "10.1.0.5");
  EXPECT_EQ(addrs[0]["prefixlen"], 24);
  EXPECT_EQ(addrs[0]["broadcast"], "10.1.0.255");

  auto listed = nlw::list_addresses(sock, eth0, AF_INET);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].net, net("10.1.0.5/24"));

  EXPECT_THROW(nlw::add_address(sock, eth0, net("10.1.0.5/24")), nlw::Exists);
  EXPECT_TRUE(nlw::del_address(sock, eth0, net("10.1.0.5/24")));
  EXPECT_FALSE(nlw::del_address(sock, eth0, net("10.1.0.5/24")));
  EXPECT_TRUE(nlw::list_addresses(sock, eth0, AF_INET).empty());
}

TEST_F(AddrRouteTest, IPv6NodadIsUsableAtOnce) {
  nlw::add_address(sock, eth0, net("fd00:1::5/64"), {.nodad = true});
  auto listed = nlw::list_addresses(sock, eth0, AF_INET6);
  auto it = std::find_if(listed.begin(), listed.end(),
                         [&](const auto& a) { return a.net == net("fd00:1::5/64"); });
  ASSERT_NE(it, listed.end());
  EXPECT_FALSE(it->tentative);
  nlw::wait_ipv6_usable(sock, eth0, std::chrono::seconds(5));
}

TEST_F(AddrRouteTest, NoPrefixRouteLeavesTheSubnetUnrouted) {
  nlw::add_address(sock, eth0, net("10.9.0.5/24"), {.noprefixroute = true});
  for (const auto& r : nlw::list_routes(sock, AF_INET)) {
    EXPECT_NE(r.dst, net("10.9.0.0/24"));
  }
}

TEST_F(AddrRouteTest, RoutesWithGatewayMetricTableAndOnlink) {
  nlw::add_address(sock, eth0, net("10.1.0.2/24"));
  nlw::add_route(sock, {.dst = net("10.2.0.0/16"),
                        .gw = ip("10.1.0.1"),
                        .priority = 100,
                        .mtu = 1300,
                        .advmss = 1200});
  nlw::add_route(sock, {.dst = net("0.0.0.0/0"), .gw = ip("10.1.0.1"), .table = 100});
  nlw::add_route(sock,
                 {.dst = net("10.3.0.0/16"), .gw = ip("192.168.9.1"), .oif = eth0, .onlink = true});

  auto main = nlw::list_routes(sock, AF_INET);
  auto find = [](const std::vector<nlw::RouteSpec>& rs, const knet::IPNet& dst) {
    auto it = std::find_if(rs.begin(), rs.end(), [&](const auto& r) { return r.dst == dst; });
    return it == rs.end() ? std::optional<nlw::RouteSpec>() : *it;
  };
  auto r = find(main, net("10.2.0.0/16"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->gw, ip("10.1.0.1"));
  EXPECT_EQ(r->oif, eth0);
  EXPECT_EQ(r->priority, 100u);
  EXPECT_EQ(r->mtu, 1300u);
  EXPECT_EQ(r->advmss, 1200u);
  auto onlink = find(main, net("10.3.0.0/16"));
  ASSERT_TRUE(onlink);
  EXPECT_TRUE(onlink->onlink);
  EXPECT_FALSE(find(main, net("0.0.0.0/0")));  // that one went to table 100
  auto t100 = nlw::list_routes(sock, AF_INET, 100);
  ASSERT_EQ(t100.size(), 1u);
  EXPECT_EQ(t100[0].gw, ip("10.1.0.1"));

  EXPECT_FALSE(nlw::default_route_link(sock, AF_INET));
  nlw::add_route(sock, {.dst = net("0.0.0.0/0"), .gw = ip("10.1.0.1")});
  EXPECT_EQ(nlw::default_route_link(sock, AF_INET), eth0);

  EXPECT_THROW(
      nlw::add_route(sock, {.dst = net("10.2.0.0/16"), .gw = ip("10.1.0.1"), .priority = 100}),
      nlw::Exists);
  nlw::add_route(sock, {.dst = net("10.2.0.0/16"), .gw = ip("10.1.0.3"), .priority = 100}, true);
  EXPECT_EQ(find(nlw::list_routes(sock, AF_INET), net("10.2.0.0/16"))->gw, ip("10.1.0.3"));

  EXPECT_TRUE(nlw::del_route(sock, {.dst = net("10.2.0.0/16"), .priority = 100}));
  EXPECT_FALSE(nlw::del_route(sock, {.dst = net("10.2.0.0/16"), .priority = 100}));
  EXPECT_TRUE(nlw::del_route(sock, {.dst = net("0.0.0.0/0"), .table = 100}));
}

TEST_F(AddrRouteTest, IPv6DefaultRoute) {
  nlw::add_address(sock, eth0, net("fd00:1::2/64"), {.nodad = true});
  nlw::add_route(sock, {.dst = net("::/0"), .gw = ip("fd00:1::1"), .oif = eth0});
  EXPECT_EQ(nlw::default_route_link(sock, AF_INET6), eth0);
  EXPECT_FALSE(nlw::default_route_link(sock, AF_INET));
}

TEST_F(AddrRouteTest, UnreachableGatewaySaysWhy) {
  std::string msg =
      error_of([&] { nlw::add_route(sock, {.dst = net("0.0.0.0/0"), .gw = ip("10.77.0.1")}); });
  EXPECT_NE(msg.find("failed to add route 0.0.0.0/0 via 10.77.0.1 in " + sb.host() +
                     ": Network is unreachable"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace knet::test
