// vxlan Config::parse, the membership file and the derived values: no privileges.

#include "config.h"

#include <cni/error.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace knet::vxlan {
namespace {

using cni::json;

cni::NetConf conf_of(const json& extra) {
  json c = {{"cniVersion", "1.1.0"}, {"name", "ov"}, {"type", "vxlan"}, {"vni", 42}};
  c.merge_patch(extra);
  return cni::NetConf::from_json(c);
}

Config parse(const json& extra) { return Config::parse(conf_of(extra)); }

// The message of the config error `extra` causes (and that it is code 7).
std::string error_of(const json& extra) {
  try {
    parse(extra);
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig) << e.msg();
    return e.msg();
  }
  ADD_FAILURE() << "no error for " << extra;
  return {};
}

TEST(VxlanConfig, Defaults) {
  Config c = parse(json::object());
  EXPECT_EQ(c.vni, 42u);
  EXPECT_EQ(c.port, 4789);
  EXPECT_EQ(c.mode, Mode::kL2);
  EXPECT_EQ(c.bridge, "knetbr42");
  EXPECT_EQ(c.device(), "knetvx42");
  EXPECT_TRUE(c.learning);
  EXPECT_EQ(c.mtu, 0u);
  EXPECT_EQ(c.ttl, 0);
  EXPECT_FALSE(c.group);
  EXPECT_FALSE(c.has_ipam);
}

TEST(VxlanConfig, L2Unicast) {
  Config c = parse({{"peers", {"192.0.2.1", "192.0.2.2", "192.0.2.1"}},
                    {"port", 8472},
                    {"underlay", "eth1"},
                    {"local", "192.0.2.1"},
                    {"learning", false},
                    {"mtu", 1400},
                    {"ttl", 64}});
  ASSERT_EQ(c.members.peers.size(), 2u);  // duplicates merged
  EXPECT_EQ(c.members.peers[1].str(), "192.0.2.2");
  EXPECT_EQ(c.port, 8472);
  EXPECT_EQ(c.underlay, "eth1");
  EXPECT_EQ(c.local->str(), "192.0.2.1");
  EXPECT_FALSE(c.learning);
  EXPECT_EQ(c.mtu, 1400u);
  EXPECT_EQ(c.ttl, 64);
}

TEST(VxlanConfig, L3Nodes) {
  Config c = parse({{"mode", "l3"},
                    {"ipam", {{"type", "host-local"}}},
                    {"nodes",
                     {{{"vtep", "192.0.2.1"}, {"subnet", "10.244.1.7/24"}},
                      {{"vtep", "192.0.2.2"}, {"subnet", "10.244.2.0/24"}}}}});
  EXPECT_EQ(c.mode, Mode::kL3);
  EXPECT_FALSE(c.learning);  // l3 needs no learning: MACs are derived
  ASSERT_EQ(c.members.nodes.size(), 2u);
  EXPECT_EQ(c.members.nodes[0].subnet.str(), "10.244.1.0/24");
  EXPECT_EQ(overlay_ip(c.members.nodes[1]).str(), "10.244.2.0");
  EXPECT_EQ(cluster_cidr(c.members.nodes, AF_INET)->str(), "10.244.0.0/22");
  EXPECT_FALSE(cluster_cidr(c.members.nodes, AF_INET6));
}

TEST(VxlanConfig, Errors) {
  EXPECT_NE(error_of({{"vni", nullptr}}).find("\"vni\""), std::string::npos);
  EXPECT_NE(error_of({{"vni", 1 << 24}}).find("vni"), std::string::npos);
  EXPECT_NE(error_of({{"vni", "7"}}).find("vni"), std::string::npos);
  EXPECT_NE(error_of({{"port", 0}}).find("port"), std::string::npos);
  EXPECT_NE(error_of({{"mode", "l4"}}).find("\"mode\""), std::string::npos);
  EXPECT_NE(error_of({{"bridge", "a-name-longer-than-15"}}).find("\"bridge\""), std::string::npos);
  EXPECT_NE(error_of({{"peers", {"192.0.2.300"}}}).find("peers[0]"), std::string::npos);
  EXPECT_NE(error_of({{"peers", {"239.1.1.1"}}}).find("multicast"), std::string::npos);
  EXPECT_NE(error_of({{"group", "192.0.2.1"}}).find("\"group\""), std::string::npos);
  EXPECT_NE(error_of({{"group", "239.1.1.1"}, {"peers", {"192.0.2.1"}}}).find("exclude"),
            std::string::npos);
  EXPECT_NE(error_of({{"nodes", json::array()}}).find("\"nodes\" is not used in mode l2"),
            std::string::npos);
  EXPECT_NE(error_of({{"mode", "l3"}, {"ipam", {{"type", "host-local"}}}, {"peers", {"192.0.2.1"}}})
                .find("\"peers\""),
            std::string::npos);
  EXPECT_NE(error_of({{"mode", "l3"}}).find("ipam.type"), std::string::npos);
  json l3 = {{"mode", "l3"}, {"ipam", {{"type", "host-local"}}}};
  auto with_nodes = [&](const json& nodes) {
    json c = l3;
    c["nodes"] = nodes;
    return c;
  };
  EXPECT_NE(error_of(with_nodes({{{"vtep", "192.0.2.1"}}})).find("nodes[0].subnet"),
            std::string::npos);
  EXPECT_NE(error_of(with_nodes({{{"vtep", "192.0.2.1"}, {"subnet", "10.1.0.0/33"}}}))
                .find("nodes[0].subnet"),
            std::string::npos);
  EXPECT_NE(error_of(with_nodes({{{"vtep", "192.0.2.1"}, {"subnet", "10.1.0.0/24"}},
                                 {{"vtep", "192.0.2.2"}, {"subnet", "10.1.0.128/25"}}}))
                .find("overlaps"),
            std::string::npos);
  EXPECT_NE(error_of(with_nodes({{{"vtep", "192.0.2.1"}, {"subnet", "10.1.0.0/24"}},
                                 {{"vtep", "192.0.2.1"}, {"subnet", "10.2.0.0/24"}}}))
                .find("two subnets"),
            std::string::npos);
  EXPECT_NE(error_of({{"peersFile", "relative.json"}}).find("\"peersFile\""), std::string::npos);
  EXPECT_NE(error_of({{"mtu", 20}}).find("\"mtu\""), std::string::npos);
  EXPECT_NE(error_of({{"ttl", 256}}).find("\"ttl\""), std::string::npos);
}

TEST(VxlanConfig, PeersFileIsMergedWithInlineList) {
  char path[] = "/tmp/knet-vxlan-peers-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  Config c = parse({{"peers", {"192.0.2.1"}}, {"peersFile", path}});
  { std::ofstream(path) << R"({"peers": ["192.0.2.2", "192.0.2.1"]})"; }
  Membership m = load_members(c);
  ASSERT_EQ(m.peers.size(), 2u);
  EXPECT_EQ(m.peers[1].str(), "192.0.2.2");
  { std::ofstream(path) << R"({"nodes": []})"; }
  try {
    load_members(c);
    ADD_FAILURE() << "nodes accepted in l2";
  } catch (const cni::Error& e) {
    EXPECT_NE(e.msg().find(path), std::string::npos) << e.msg();
  }
  { std::ofstream(path) << "{not json"; }
  EXPECT_THROW(load_members(c), cni::Error);
  std::remove(path);
  try {
    load_members(c);
    ADD_FAILURE() << "missing file accepted";
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
    EXPECT_NE(e.msg().find(path), std::string::npos) << e.msg();
  }
}

// The merge sorts instead of comparing every pair (O(n log n)): duplicates
// still go (first occurrence kept, order kept), and a conflict between
// entries far apart in the lists, inline or in the file, is still found and
// reported with the source of the later entry.
TEST(VxlanConfig, MergeOfLargeMemberships) {
  char path[] = "/tmp/knet-vxlan-nodes-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto node = [](int i) {
    return json{{"vtep", "198." + std::to_string(18 + i / 65536) + "." +
                             std::to_string(i / 256 % 256) + "." + std::to_string(i % 256)},
                {"subnet", "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"}};
  };
  json inline_nodes = json::array({node(7), node(3)});
  json file_nodes = json::array();
  for (int i = 0; i < 20000; ++i) file_nodes.push_back(node(i));
  file_nodes.push_back(node(3));  // a duplicate of an inline entry
  Config c = parse({{"mode", "l3"}, {"ipam", {{"type", "host-local"}}}, {"nodes", inline_nodes},
                    {"peersFile", path}});
  auto load = [&](const json& nodes) {
    { std::ofstream(path) << json{{"nodes", nodes}}.dump(); }
    return load_members(c);
  };
  Membership m = load(file_nodes);
  ASSERT_EQ(m.nodes.size(), 20000u);
  EXPECT_EQ(m.nodes[0].subnet.str(), "10.0.7.0/24");  // inline first, in their order
  EXPECT_EQ(m.nodes[1].subnet.str(), "10.0.3.0/24");
  EXPECT_EQ(m.nodes[2].subnet.str(), "10.0.0.0/24");
  EXPECT_EQ(m.nodes[19999].subnet.str(), "10.78.31.0/24");

  auto error = [&](const json& nodes) {
    try {
      load(nodes);
    } catch (const cni::Error& e) {
      return e.msg();
    }
    return std::string("no error");
  };
  // A /16 at the end covering subnets near the start of the list.
  json nested = file_nodes;
  nested.push_back({{"vtep", "192.0.2.99"}, {"subnet", "10.0.0.0/16"}});
  std::string msg = error(nested);
  EXPECT_NE(msg.find(std::string("peersFile ") + path + ": subnet 10.0.0.0/16 of node 192.0.2.99 overlaps"),
            std::string::npos)
      << msg;
  // A vtep far down the file with another subnet than its inline entry.
  json moved = file_nodes;
  moved[15000]["vtep"] = "198.18.0.7";
  msg = error(moved);
  EXPECT_NE(msg.find("node 198.18.0.7 has two subnets, 10.0.7.0/24 and 10.58.152.0/24"),
            std::string::npos)
      << msg;
  std::remove(path);
}

TEST(VxlanConfig, VtepMacIsDeterministicLocalUnicast) {
  knet::IP a = *knet::IP::parse("192.0.2.1"), b = *knet::IP::parse("192.0.2.2");
  std::string m = vtep_mac(1, a);
  EXPECT_EQ(m, vtep_mac(1, a));
  EXPECT_NE(m, vtep_mac(2, a));
  EXPECT_NE(m, vtep_mac(1, b));
  EXPECT_EQ(m.size(), 17u);
  EXPECT_EQ(m.substr(0, 3), "02:");  // locally administered, unicast
  EXPECT_EQ(encap_overhead(a), 50u);
  EXPECT_EQ(encap_overhead(*knet::IP::parse("2001:db8::1")), 70u);
}

}  // namespace
}  // namespace knet::vxlan
