#include "nlw/link.h"

#include <cerrno>

#include "fixture.h"
#include "nlw/error.h"

namespace knet::test {
namespace {

using LinkTest = NetlinkTest;

TEST_F(LinkTest, VethPeerIsCreatedDirectlyInTheOtherNamespace) {
  std::string c = sb.add_container();
  auto cns = nlw::NetNS::open(c);
  nlw::VethOptions opts;
  opts.mtu = 1400;
  opts.mac = "0a:58:0a:01:00:01";
  opts.peer_mac = "0a:58:0a:01:00:02";
  opts.alias = "net1/abc/eth0";
  opts.peer_alias = "container side";
  auto host_end = nlw::create_veth(sock, "veth-h", "eth0", cns, opts);

  EXPECT_EQ(host_end.kind, "veth");
  EXPECT_EQ(host_end.mtu, 1400u);
  EXPECT_EQ(host_end.mac, "0a:58:0a:01:00:01");
  EXPECT_EQ(host_end.alias, "net1/abc/eth0");
  EXPECT_FALSE(host_end.up);
  EXPECT_TRUE(host_end.link_netnsid.has_value());
  EXPECT_FALSE(nlw::find_link(sock, "eth0"));

  auto csock = nlw::Socket::in(cns);
  auto peer = nlw::get_link(csock, "eth0");
  EXPECT_EQ(peer.link, host_end.index);  // IFLA_LINK points at the peer's ifindex
  EXPECT_EQ(host_end.link, peer.index);
  EXPECT_EQ(peer.alias, "container side");
  auto j = sb.link_json(c, "eth0");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["mtu"], 1400);
  EXPECT_EQ(j["address"], "0a:58:0a:01:00:02");
}

TEST_F(LinkTest, CreatingATakenNameThrowsExistsNamingLinkAndNamespace) {
  auto cns = nlw::NetNS::open(sb.add_container());
  nlw::create_veth(sock, "veth-h", "eth0", cns);
  try {
    nlw::create_veth(sock, "veth-h", "eth1", cns);
    FAIL() << "no exception";
  } catch (const nlw::Exists& e) {
    EXPECT_NE(e.msg().find("veth-h"), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find(sb.host()), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find("File exists"), std::string::npos) << e.msg();
  }
}

TEST_F(LinkTest, BridgeMasterAndPortSettings) {
  auto cns = nlw::NetNS::open(sb.add_container());
  auto br = nlw::create_bridge(sock, "br0", {.mtu = 1450, .mac = "0a:00:00:00:00:10"});
  EXPECT_EQ(br.kind, "bridge");
  EXPECT_EQ(br.mac, "0a:00:00:00:00:10");
  auto v = nlw::create_veth(sock, "veth-h", "eth0", cns);
  nlw::set_master(sock, v.index, br.index);
  nlw::set_up(sock, br.index);
  nlw::set_up(sock, v.index);
  auto now = nlw::get_link(sock, "veth-h");
  EXPECT_EQ(now.master, br.index);
  EXPECT_TRUE(now.up);

  nlw::set_bridge_port(sock, v.index, {.hairpin = true, .isolated = true, .learning = false});
  auto j = sb.link_json(sb.host(), "veth-h");
  auto slave = j["linkinfo"]["info_slave_data"];
  EXPECT_EQ(slave["hairpin"], true) << j.dump();
  EXPECT_EQ(slave["isolated"], true) << j.dump();
  EXPECT_EQ(slave["learning"], false) << j.dump();

  nlw::set_master(sock, v.index, 0);
  EXPECT_EQ(nlw::get_link(sock, "veth-h").master, 0);
}

TEST_F(LinkTest, VlanFilteringFailsClearlyAndLeavesNoBridge) {
  // This kernel is built without bridge VLAN filtering.
  std::string msg = error_of([&] { nlw::create_bridge(sock, "br0", {.vlan_filtering = true}); });
  if (msg.empty()) GTEST_SKIP() << "kernel supports VLAN filtering";
  EXPECT_NE(msg.find("VLAN filtering on bridge br0"), std::string::npos) << msg;
  EXPECT_FALSE(nlw::find_link(sock, "br0"));

  auto br = nlw::create_bridge(sock, "br1");
  msg = error_of([&] { nlw::bridge_vlan_add(sock, br.index, 100, true, true, true); });
  EXPECT_NE(msg.find("failed to add VLAN 100 on br1"), std::string::npos) << msg;
}

TEST_F(LinkTest, MacvlanOnVethMasterAndDirectlyInAContainer) {
  std::string c = sb.add_container();
  auto cns = nlw::NetNS::open(c);
  auto other = nlw::NetNS::open(sb.add_ns("peer"));
  auto master = nlw::create_veth(sock, "uplink", "peer0", other);
  nlw::set_up(sock, master.index);

  auto local = nlw::create_macvlan(sock, "mv-local", master.index,
                                   {.mode = nlw::MacvlanMode::kPrivate, .mtu = 1300});
  EXPECT_EQ(local.kind, "macvlan");
  EXPECT_EQ(local.link, master.index);
  EXPECT_EQ(local.macvlan_mode, nlw::MacvlanMode::kPrivate);
  EXPECT_EQ(local.mtu, 1300u);

  auto in_c = nlw::create_macvlan(sock, "eth0", master.index,
                                  {.mode = nlw::MacvlanMode::kBridge, .bcqueuelen = 100}, &cns);
  EXPECT_EQ(in_c.name, "eth0");
  EXPECT_EQ(in_c.macvlan_mode, nlw::MacvlanMode::kBridge);
  EXPECT_FALSE(nlw::find_link(sock, "eth0"));
  auto j = sb.link_json(c, "eth0");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["linkinfo"]["info_data"]["mode"], "bridge");
  if (j["linkinfo"]["info_data"].contains("bcqueuelen")) {
    EXPECT_EQ(j["linkinfo"]["info_data"]["bcqueuelen"], 100);
  }
  EXPECT_EQ(nlw::parse_macvlan_mode("vepa"), nlw::MacvlanMode::kVepa);
  EXPECT_FALSE(nlw::parse_macvlan_mode("bogus"));
}

TEST_F(LinkTest, VxlanParametersReadBack) {
  auto vx = nlw::create_vxlan(sock, "vxlan42",
                              {.vni = 42,
                               .port = 4790,
                               .local = knet::IP::parse("10.0.0.1"),
                               .group = knet::IP::parse("10.0.0.2"),
                               .learning = false,
                               .ttl = 5,
                               .mtu = 1400});
  EXPECT_EQ(vx.kind, "vxlan");
  ASSERT_TRUE(vx.vxlan);
  EXPECT_EQ(vx.vxlan->vni, 42u);
  EXPECT_EQ(vx.vxlan->port, 4790);
  EXPECT_EQ(vx.vxlan->local, knet::IP::parse("10.0.0.1"));
  EXPECT_EQ(vx.vxlan->group, knet::IP::parse("10.0.0.2"));
  EXPECT_FALSE(vx.vxlan->learning);
  EXPECT_EQ(vx.vxlan->ttl, 5);
  EXPECT_EQ(vx.mtu, 1400u);
  auto j = sb.link_json(sb.host(), "vxlan42")["linkinfo"]["info_data"];
  EXPECT_EQ(j["id"], 42);
  EXPECT_EQ(j["port"], 4790);
  EXPECT_EQ(j["local"], "10.0.0.1");
}

TEST_F(LinkTest, VxlanWithIPv6Local) {
  auto vx = nlw::create_vxlan(sock, "vx6", {.vni = 7, .local = knet::IP::parse("fd00::1")});
  ASSERT_TRUE(vx.vxlan);
  EXPECT_EQ(vx.vxlan->local, knet::IP::parse("fd00::1"));
  EXPECT_EQ(vx.vxlan->port, 4789);
  EXPECT_TRUE(vx.vxlan->learning);
}

TEST_F(LinkTest, Ifb) {
  auto ifb = nlw::create_ifb(sock, "ifb-test", 1500, "owner");
  EXPECT_EQ(ifb.kind, "ifb");
  EXPECT_EQ(ifb.alias, "owner");
}

TEST_F(LinkTest, ChangesRenameMoveAndDelete) {
  auto cns = nlw::NetNS::open(sb.add_container());
  auto other = nlw::NetNS::open(sb.add_ns("peer"));
  auto v = nlw::create_veth(sock, "tmp0", "tmp0p", other);
  nlw::set_mtu(sock, v.index, 1280);
  nlw::set_mac(sock, v.index, "0a:00:00:00:00:99");
  nlw::set_alias(sock, v.index, "knet/test");
  nlw::set_promisc(sock, v.index, true);
  nlw::rename(sock, v.index, "tmp1");
  auto l = nlw::get_link(sock, "tmp1");
  EXPECT_EQ(l.mtu, 1280u);
  EXPECT_EQ(l.mac, "0a:00:00:00:00:99");
  EXPECT_EQ(l.alias, "knet/test");
  EXPECT_TRUE(l.promisc);
  nlw::set_promisc(sock, v.index, false);
  EXPECT_FALSE(nlw::get_link(sock, "tmp1").promisc);

  nlw::move_to_netns(sock, v.index, cns, "eth0");
  EXPECT_FALSE(nlw::find_link(sock, "tmp1"));
  auto csock = nlw::Socket::in(cns);
  auto moved = nlw::get_link(csock, "eth0");
  EXPECT_EQ(moved.alias, "knet/test");

  EXPECT_TRUE(nlw::delete_link_if_exists(csock, "eth0"));
  EXPECT_FALSE(nlw::delete_link_if_exists(csock, "eth0"));
  EXPECT_EQ(nlw::list_links(csock).size(), 1u);  // lo
}

TEST_F(LinkTest, ErrorsNameTheObjectNamespaceAndReason) {
  EXPECT_THROW(nlw::delete_link(sock, 9999), nlw::NotFound);
  std::string msg = error_of([&] { nlw::set_mtu(sock, 9999, 1400); });
  EXPECT_EQ(msg, "failed to set MTU 1400 on ifindex 9999 in " + sb.host() + ": No such device");
  auto br = nlw::create_bridge(sock, "br0");
  auto lo = nlw::get_link(sock, "lo");
  msg = error_of([&] { nlw::set_master(sock, lo.index, br.index); });
  EXPECT_NE(msg.find("failed to attach lo to br0 in " + sb.host() + ": "), std::string::npos)
      << msg;
  msg = error_of([&] { nlw::set_mac(sock, br.index, "zz:00"); });
  EXPECT_EQ(msg, "invalid MAC address \"zz:00\"");
  EXPECT_FALSE(nlw::find_link(sock, "nonexistent"));
  EXPECT_FALSE(nlw::find_link(sock, 9999));
}

// Messages that name a link look it up only when the request failed, and
// that lookup leaves the failure's errno for the caller to inspect.
TEST_F(LinkTest, AFailureKeepsItsErrnoWhileTheMessageNamesTheLink) {
  auto br = nlw::create_bridge(sock, "br0");
  std::string msg = error_of([&] { nlw::set_mtu(sock, br.index, 70000); });
  EXPECT_EQ(msg.rfind("failed to set MTU 70000 on br0 in " + sb.host() + ": ", 0), 0u) << msg;
  EXPECT_EQ(sock.last_errno(), EINVAL);
}

}  // namespace
}  // namespace knet::test
