// vxlan Config::parse, the membership file and the derived values: no privileges.

#include "config.h"

#include <cni/error.h>
#include <cni/result.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "overlay.h"

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

// A peersFile in a temporary file, removed at the end; `load` writes `doc`
// to it and loads it with the config `extra` names (l3 unless it says).
class VxlanPeersFile : public ::testing::Test {
 protected:
  void SetUp() override {
    int fd = mkstemp(path_);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  void TearDown() override { std::remove(path_); }

  Membership load(const std::string& text, json extra = json::object()) {
    { std::ofstream(path_) << text; }
    json c = {{"mode", "l3"}, {"ipam", {{"type", "host-local"}}}, {"peersFile", path_}};
    c.merge_patch(extra);
    return load_members(parse(c));
  }
  Membership load(const json& doc, json extra = json::object()) { return load(doc.dump(), extra); }

  // The message of the config error loading `doc` causes (code 7).
  template <class Doc>
  std::string error(const Doc& doc, json extra = json::object()) {
    try {
      load(doc, extra);
    } catch (const cni::Error& e) {
      EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig) << e.msg();
      return e.msg();
    }
    return "(no error)";
  }
  // "peersFile <path>: " + `msg`: an error in the file names it.
  std::string in_file(const std::string& msg) const { return "peersFile " + std::string(path_) + ": " + msg; }

  char path_[64] = "/tmp/knet-vxlan-pf-XXXXXX";
};

json node(int i, const std::string& mac = "") {
  json n = {{"vtep", "192.0.2." + std::to_string(i)}, {"subnet", "10.244." + std::to_string(i) + ".0/24"}};
  if (!mac.empty()) n["mac"] = mac;
  return n;
}

// `mac` and `network` as knet-node writes them: every MAC is used as
// given, in any spelling; `network` is kept in network form.
TEST_F(VxlanPeersFile, MacAndNetworkAreRead) {
  Membership m = load(json{{"network", "10.244.0.0/16"},
                           {"nodes", {node(1, "0a:58:0a:f4:01:00"), node(2, "0A-58-0A-F4-02-00"), node(3)}}});
  ASSERT_EQ(m.nodes.size(), 3u);
  EXPECT_EQ(m.nodes[0].mac, 0x0a580af40100u);
  EXPECT_EQ(mac_str(m.nodes[1].mac), "0a:58:0a:f4:02:00");
  EXPECT_EQ(m.nodes[2].mac, 0u);  // none given: derived
  EXPECT_EQ(node_mac(42, m.nodes[2]), vtep_mac_bits(42, m.nodes[2].vtep));
  EXPECT_EQ(node_mac(42, m.nodes[0]), 0x0a580af40100u);
  ASSERT_TRUE(m.network);
  EXPECT_EQ(m.network->str(), "10.244.0.0/16");
  EXPECT_EQ(load(json{{"network", "10.244.7.1/16"}, {"nodes", {node(1)}}}).network->str(), "10.244.0.0/16");
  EXPECT_FALSE(load(json{{"nodes", {node(1)}}}).network);
}

// The file knet-node writes is read without a JSON document; anything else
// that is valid JSON (other keys, escapes, null, another spelling of a
// key, duplicates) is read the general way, with the same result.
TEST_F(VxlanPeersFile, QuickAndGeneralReadingAgree) {
  const std::string canonical =
      R"({"network":"10.244.0.0/16","nodes":[{"mac":"0a:58:0a:f4:01:00","subnet":"10.244.1.0/24","vtep":"192.0.2.1"},)"
      R"({"subnet":"10.244.2.0/24","vtep":"192.0.2.2"}]})";
  Membership want = load(canonical);
  ASSERT_EQ(want.nodes.size(), 2u);
  for (const std::string& text : {
           std::string(" \n\t{ \"nodes\" : [ { \"vtep\" : \"192.0.2.1\", \"subnet\": \"10.244.1.0/24\", "
                       "\"mac\": \"0a:58:0a:f4:01:00\" } ,{\"vtep\":\"192.0.2.2\",\"subnet\":\"10.244.2.0/24\"}],"
                       "\"network\" :\"10.244.0.0/16\" }\r\n"),
           std::string(R"({"comment":"x","network":"10.244.0.0/16","nodes":[{"mac":"0a:58:0a:f4:01:00","subnet":"10.244.1.0/24","vtep":"192.0.2.1"},{"subnet":"10.244.2.0/24","vtep":"192.0.2.2","zone":7}]})"),
           std::string(R"({"network":"10.244.0.0/16","nodes":[{"mac":"0a:58:0a:f4:01:00","subnet":"10.244.1.0/24","vtep":"192.0.2.1"},{"subnet":"10.244.2.0/24","vtep":"192.0.2.2","mac":null}]})"),
           std::string(R"({"Network":"10.244.0.0/16","Nodes":[{"MAC":"0a:58:0a:f4:01:00","Subnet":"10.244.1.0/24","VTEP":"192.0.2.1"},{"subnet":"10.244.2.0/24","vtep":"192.0.2.2"}]})"),
       }) {
    SCOPED_TRACE(text);
    Membership got = load(text);
    EXPECT_EQ(got.nodes, want.nodes);
    EXPECT_EQ(got.network, want.network);
  }
  // A refusal reads the same both ways too.
  const std::string bad = R"({"nodes":[{"vtep":"192.0.2.1","subnet":"10.244.1.0/24","mac":"01:00:5e:00:00:01"}]})";
  const std::string bad_slow = R"({"x":1,"nodes":[{"vtep":"192.0.2.1","subnet":"10.244.1.0/24","mac":"01:00:5e:00:00:01"}]})";
  EXPECT_EQ(error(bad), error(bad_slow));
  EXPECT_NE(error(bad).find("multicast"), std::string::npos) << error(bad);
  // Broken JSON is an error naming the file, whichever way it was tried.
  EXPECT_NE(error(std::string(R"({"nodes":[{"vtep":"192.0.2.1","subnet":"10.244.1.0/24"})")).find(path_),
            std::string::npos);
  EXPECT_NE(error(std::string(R"({"nodes":[]} x)")).find(path_), std::string::npos);
}

// The quick reader is hand-written: on hundreds of mutations of the file
// knet-node writes, it agrees with the JSON reader (made to read the same
// text by a leading member the quick reader does not know) on whether the
// file is good and on what it holds.
TEST_F(VxlanPeersFile, QuickReaderAgreesOnMutations) {
  const std::string base =
      R"({"network":"10.244.0.0/16","nodes":[{"mac":"0a:58:0a:f4:01:00","subnet":"10.244.1.0/24","vtep":"192.0.2.1"},)"
      R"({"subnet":"10.244.2.0/24","vtep":"192.0.2.2"}]})";
  const std::string bytes = "{}[]\",:.0123456789/abcfx- \\\n";
  std::mt19937 rng(42);
  int good = 0;
  for (int round = 0; round < 600; ++round) {
    std::string text = base;
    for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
      size_t at = 1 + rng() % (text.size() - 1);  // the leading '{' stays: see below
      switch (rng() % 3) {
        case 0: text[at] = bytes[rng() % bytes.size()]; break;
        case 1: text.erase(at, 1); break;
        default: text.insert(at, 1, bytes[rng() % bytes.size()]);
      }
    }
    std::string slow = "{\"zz\":0," + text.substr(1);
    SCOPED_TRACE(text);
    std::optional<Membership> quick, general;
    try {
      quick = load(text);
    } catch (const cni::Error&) {
    }
    try {
      general = load(slow);
    } catch (const cni::Error&) {
    }
    if (text.find_first_not_of(" \n", 1) == text.find('}', 1)) continue;  // "{}" alone: ",}" is no JSON
    ASSERT_EQ(quick.has_value(), general.has_value());
    if (!quick) continue;
    ++good;
    EXPECT_EQ(quick->nodes, general->nodes);
    EXPECT_EQ(quick->network, general->network);
  }
  EXPECT_GT(good, 20);  // the mutations also left valid files
}

// Every refusal of `mac` and `network` names the key (and the file).
TEST_F(VxlanPeersFile, MacAndNetworkRefusals) {
  auto with = [](json n, const json& mac) {
    n["mac"] = mac;
    return n;
  };
  EXPECT_EQ(error(json{{"nodes", {node(1), with(node(2), "02:00:00:00:00")}}}),
            "invalid \"" + in_file("nodes[1].mac") + "\" \"02:00:00:00:00\": expected aa:bb:cc:dd:ee:ff");
  EXPECT_EQ(error(json{{"nodes", {with(node(1), "02:00:00:00:00:zz")}}}),
            "invalid \"" + in_file("nodes[0].mac") + "\" \"02:00:00:00:00:zz\": expected aa:bb:cc:dd:ee:ff");
  EXPECT_EQ(error(json{{"nodes", {with(node(1), "03:00:00:00:00:01")}}}),
            "invalid \"" + in_file("nodes[0].mac") + "\" \"03:00:00:00:00:01\": a multicast MAC");
  EXPECT_EQ(error(json{{"nodes", {with(node(1), "00:00:00:00:00:00")}}}),
            "invalid \"" + in_file("nodes[0].mac") + "\" \"00:00:00:00:00:00\": the all-zeros MAC");
  EXPECT_EQ(error(json{{"nodes", {with(node(1), 7)}}}),
            "invalid \"" + in_file("nodes[0].mac") + "\": expected a string, got an integer (7)");
  // One node, two MACs (a duplicate entry may add the MAC the first lacks).
  EXPECT_EQ(error(json{{"nodes", {with(node(1), "02:00:00:00:00:01"), node(1), with(node(1), "02:00:00:00:00:02")}}}),
            in_file("node 192.0.2.1 has two MACs, 02:00:00:00:00:01 and 02:00:00:00:00:02"));
  Membership m = load(json{{"nodes", {node(1), with(node(1), "02:00:00:00:00:01")}}});
  ASSERT_EQ(m.nodes.size(), 1u);
  EXPECT_EQ(m.nodes[0].mac, 0x020000000001u);
  // Two nodes, one MAC: given twice, or given and derived.
  EXPECT_EQ(error(json{{"nodes", {with(node(1), "02:00:00:00:00:01"), node(2), with(node(3), "02:00:00:00:00:01")}}}),
            in_file("node 192.0.2.3 has VTEP MAC 02:00:00:00:00:01 (\"mac\"), as node 192.0.2.1 (\"mac\") does: "
                    "a MAC leads to one node only, give each node its own \"mac\""));
  std::string derived = vtep_mac(42, *knet::IP::parse("192.0.2.1"));
  std::string msg = error(json{{"nodes", {node(1), with(node(2), derived)}}});
  EXPECT_EQ(msg, in_file("node 192.0.2.2 has VTEP MAC " + derived + " (\"mac\"), as node 192.0.2.1 (derived) does: "
                         "a MAC leads to one node only, give each node its own \"mac\""));

  // `network`: a CIDR holding every node's subnet, in l3 only.
  EXPECT_EQ(error(json{{"network", "10.244.0.0/33"}, {"nodes", {node(1)}}}),
            "invalid \"" + in_file("network") + "\": \"10.244.0.0/33\" is not a CIDR");
  EXPECT_EQ(error(json{{"network", 16}, {"nodes", {node(1)}}}),
            "invalid \"" + in_file("network") + "\": expected a string, got an integer (16)");
  EXPECT_EQ(error(json{{"network", "10.244.0.0/16"}, {"nodes", {node(1), {{"vtep", "192.0.2.9"}, {"subnet", "10.9.0.0/24"}}}}}),
            in_file("subnet 10.9.0.0/24 of node 192.0.2.9 is outside \"network\" 10.244.0.0/16"));
  EXPECT_EQ(error(json{{"network", "10.244.0.0/16"}, {"nodes", {{{"vtep", "192.0.2.9"}, {"subnet", "10.244.0.0/15"}}}}}),
            in_file("subnet 10.244.0.0/15 of node 192.0.2.9 is outside \"network\" 10.244.0.0/16"));
  EXPECT_EQ(error(json{{"network", "fd00::/48"}, {"nodes", {node(1)}}}),
            in_file("subnet 10.244.1.0/24 of node 192.0.2.1 is outside \"network\" fd00::/48"));
  EXPECT_EQ(error(json{{"network", "10.244.0.0/16"}, {"peers", {"192.0.2.1"}}}, {{"mode", "l2"}, {"ipam", nullptr}}),
            in_file("\"network\" is only used in mode l3"));

  // The config's own `network` and `nodes` meet the file's.
  json inline_net = {{"network", "10.244.0.0/16"}};
  EXPECT_EQ(error(json{{"network", "10.244.0.0/15"}, {"nodes", {node(1)}}}, inline_net),
            in_file("\"network\" 10.244.0.0/15 differs from the config's \"network\" 10.244.0.0/16"));
  EXPECT_EQ(error(json{{"nodes", {{{"vtep", "192.0.2.9"}, {"subnet", "10.9.0.0/24"}}}}}, inline_net),
            "subnet 10.9.0.0/24 of node 192.0.2.9 is outside \"network\" 10.244.0.0/16");
  EXPECT_EQ(error(json{{"network", "10.244.0.0/16"}, {"nodes", {node(1)}}},
                  {{"nodes", {{{"vtep", "192.0.2.9"}, {"subnet", "10.9.0.0/24"}}}}}),
            in_file("subnet 10.9.0.0/24 of node 192.0.2.9 is outside \"network\" 10.244.0.0/16"));
  EXPECT_EQ(error(json{{"nodes", {with(node(2), "02:00:00:00:00:09")}}},
                  {{"nodes", {with(node(1), "02:00:00:00:00:09")}}}),
            in_file("node 192.0.2.2 has VTEP MAC 02:00:00:00:00:09 (\"mac\"), as node 192.0.2.1 (\"mac\") does: "
                    "a MAC leads to one node only, give each node its own \"mac\""));
  m = load(json{{"network", "10.244.0.0/16"}, {"nodes", {node(2)}}}, {{"nodes", {node(1)}}});
  EXPECT_EQ(m.network->str(), "10.244.0.0/16");
  EXPECT_EQ(m.nodes.size(), 2u);
}

// The same keys inline in the config, refused with the key alone.
TEST(VxlanConfig, InlineMacAndNetwork) {
  json l3 = {{"mode", "l3"}, {"ipam", {{"type", "host-local"}}}};
  auto with = [&](const json& extra) {
    json c = l3;
    c.merge_patch(extra);
    return c;
  };
  Config c = parse(with({{"network", "10.244.0.0/16"},
                         {"nodes", {{{"vtep", "192.0.2.1"}, {"subnet", "10.244.1.0/24"}, {"mac", "0a:58:0a:f4:01:00"}}}}}));
  EXPECT_EQ(c.members.network->str(), "10.244.0.0/16");
  EXPECT_EQ(c.members.nodes[0].mac, 0x0a580af40100u);
  EXPECT_EQ(error_of(with({{"nodes", {{{"vtep", "192.0.2.1"}, {"subnet", "10.244.1.0/24"}, {"mac", "ff:ff:ff:ff:ff:ff"}}}}})),
            "invalid \"nodes[0].mac\" \"ff:ff:ff:ff:ff:ff\": a multicast MAC");
  EXPECT_EQ(error_of(with({{"network", "10.1.0.0/16"}, {"nodes", {{{"vtep", "192.0.2.1"}, {"subnet", "10.244.1.0/24"}}}}})),
            "subnet 10.244.1.0/24 of node 192.0.2.1 is outside \"network\" 10.1.0.0/16");
  EXPECT_EQ(error_of({{"network", "10.1.0.0/16"}}), "\"network\" is only used in mode l3");
}

// The route l3 adds to a container's result: the whole `network` when the
// membership has one (so a node that joins later is covered), else the
// smallest prefix covering today's subnets; none when a route covers it.
TEST(VxlanConfig, ClusterRouteIsTheWholeNetwork) {
  View v;
  v.self = Node{*knet::IP::parse("192.0.2.1"), *knet::IPNet::parse("10.244.1.0/24")};
  v.all_nodes = {*v.self, Node{*knet::IP::parse("192.0.2.2"), *knet::IPNet::parse("10.244.2.0/24")}};
  auto route_of = [&](const View& view, std::vector<cni::Route> routes = {}) {
    cni::Result r;
    r.routes = routes;
    add_cluster_route(r, view);
    return r.routes.size() > routes.size() ? r.routes.back().dst.str() + " via " + r.routes.back().gw->str()
                                           : std::string("none");
  };
  EXPECT_EQ(route_of(v), "10.244.0.0/22 via 10.244.1.1");
  v.network = knet::IPNet::parse("10.244.0.0/16");
  EXPECT_EQ(route_of(v), "10.244.0.0/16 via 10.244.1.1");
  cni::Route covering;
  covering.dst = *knet::IPNet::parse("10.0.0.0/8");
  EXPECT_EQ(route_of(v, {covering}), "none");
  v.all_nodes.resize(1);  // this node alone, the network still beyond it
  EXPECT_EQ(route_of(v), "10.244.0.0/16 via 10.244.1.1");
  v.network.reset();
  EXPECT_EQ(route_of(v), "none");
}

TEST(VxlanConfig, MacSpellings) {
  EXPECT_EQ(parse_mac("0a:58:0A:f4:01:ff"), 0x0a580af401ffu);
  EXPECT_EQ(parse_mac("0a-58-0a-f4-01-ff"), 0x0a580af401ffu);
  EXPECT_FALSE(parse_mac("0a:58:0a:f4:01"));
  EXPECT_FALSE(parse_mac("0a:58:0a:f4:01:fg"));
  EXPECT_FALSE(parse_mac("0a.58.0a.f4.01.ff"));
  EXPECT_EQ(mac_str(0x0a580af401ffu), "0a:58:0a:f4:01:ff");
  EXPECT_TRUE(is_unicast_mac(0x020000000001u));
  EXPECT_FALSE(is_unicast_mac(0x010000000001u));
  EXPECT_FALSE(is_unicast_mac(0));
}

TEST(VxlanConfig, VtepMacIsDeterministicLocalUnicast) {
  knet::IP a = *knet::IP::parse("192.0.2.1"), b = *knet::IP::parse("192.0.2.2");
  std::string m = vtep_mac(1, a);
  EXPECT_EQ(m, vtep_mac(1, a));
  EXPECT_NE(m, vtep_mac(2, a));
  EXPECT_NE(m, vtep_mac(1, b));
  EXPECT_EQ(m.size(), 17u);
  EXPECT_EQ(m.substr(0, 3), "02:");  // locally administered, unicast
  // The value every knet node has derived so far (devices keep it across upgrades).
  EXPECT_EQ(vtep_mac(1, a), "02:1d:38:34:2f:03");
  EXPECT_EQ(vtep_mac_bits(1, a), 0x021d38342f03u);
  EXPECT_EQ(encap_overhead(a), 50u);
  EXPECT_EQ(encap_overhead(*knet::IP::parse("2001:db8::1")), 70u);
}

}  // namespace
}  // namespace knet::vxlan
