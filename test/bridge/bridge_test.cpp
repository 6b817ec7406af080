// The bridge plugin binary in sandbox namespaces: containers on one bridge,
// gateway, masquerade rules, cleanup on every path.

#include <base/owner.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kRefPlugins = "/usr/lib/cni";

class BridgeTest : public ::testing::Test {
 protected:
  // A config for network brnet on bridge kbr0 with host-local IPAM in
  // 10.66.0.0/24; keys of `extra` are merged in (a null value removes a key).
  // 1.0.0 by default: the reference host-local (the CNI_PATH fallback) knows no later version.
  std::string config(const json& extra = json::object(), const std::string& version = "1.0.0") {
    json c = {
        {"cniVersion", version},
        {"name", "brnet"},
        {"type", "bridge"},
        {"bridge", "kbr0"},
        {"ipam", {{"type", "host-local"}, {"dataDir", data.path()}, {"subnet", "10.66.0.0/24"}}}};
    c.merge_patch(extra);
    return c.dump();
  }
  json ranges(const json& r) { return {{"ipam", {{"subnet", nullptr}, {"ranges", r}}}}; }

  RunResult run(const std::string& cmd, const std::string& cid, const std::string& netns,
                const std::string& conf, const std::string& binary = plugin_path("bridge"),
                const std::string& ns = {}) {
    std::map<std::string, std::string> env = {
        {"CNI_COMMAND", cmd},
        {"CNI_CONTAINERID", cid},
        {"CNI_IFNAME", "eth0"},
        {"CNI_PATH", std::string(KNET_PLUGIN_DIR) + ":" + kRefPlugins}};
    if (!netns.empty()) env["CNI_NETNS"] = netns;
    return sb.run_plugin(binary, env, conf, ns);
  }

  json add(const std::string& cid, const std::string& netns, const std::string& conf) {
    RunResult r = run("ADD", cid, netns, conf);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return r.json.value_or(json());
  }

  std::string error_of(const RunResult& r) {
    EXPECT_NE(r.code, 0) << r.out;
    if (!r.json || !r.json->contains("msg")) return r.out + r.err;
    return (*r.json)["msg"].get<std::string>();
  }

  std::set<std::string> links_in(const std::string& ns) {
    std::set<std::string> names;
    auto j = json::parse(sb.exec_in(ns, "ip -j link show").out, nullptr, false);
    if (j.is_array()) {
      for (const auto& l : j) names.insert(l.value("ifname", ""));
    }
    return names;
  }

  // Host veths (bridge ports) in the sandbox host.
  std::set<std::string> veths() {
    std::set<std::string> out;
    for (const auto& n : links_in(sb.host())) {
      if (n.rfind("veth", 0) == 0) out.insert(n);
    }
    return out;
  }

  std::set<std::string> reserved() {
    std::set<std::string> ips;
    fs::path dir = fs::path(data.path()) / "brnet";
    if (!fs::exists(dir)) return ips;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::string n = e.path().filename();
      if (n.rfind("knet.", 0) == 0) continue;  // knet host-local's owner index, not a reservation
      if (n.find('.') != std::string::npos && n.rfind("last_", 0) != 0) ips.insert(n);
      if (n.find(':') != std::string::npos) ips.insert(n);
    }
    return ips;
  }

  // The comments of knet-nat rules of `family` in the sandbox host.
  std::vector<std::string> masq_rules(const std::string& family = "ip") {
    std::vector<std::string> out;
    json j = json::parse(sb.exec_in(sb.host(), "nft -j list ruleset").out, nullptr, false);
    if (!j.is_object()) return out;
    for (const auto& e : j["nftables"]) {
      if (e.contains("rule") && e["rule"]["family"] == family && e["rule"]["table"] == "knet-nat" &&
          e["rule"].contains("comment")) {
        out.push_back(e["rule"].value("comment", ""));
      }
    }
    return out;
  }

  static std::string ip_of(const json& result, size_t i = 0) {
    std::string a = result["ips"][i]["address"];
    return a.substr(0, a.find('/'));
  }

  static std::string host_veth(const std::string& cid) {
    return knet::owner_ifname("veth", {"brnet", cid, "eth0"});
  }

  Sandbox sb;
  TempDir data;
};

TEST_F(BridgeTest, TwoContainersReachEachOtherAndTheGateway) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json r1 = add("c1", c1, config({{"isGateway", true}}));
  json r2 = add("c2", c2, config({{"isGateway", true}}));
  ASSERT_TRUE(r1.contains("ips") && r2.contains("ips")) << r1 << r2;

  // The reference's shape: [bridge, host veth, container interface], ips on index 2.
  ASSERT_EQ(r1["interfaces"].size(), 3u) << r1;
  EXPECT_EQ(r1["interfaces"][0]["name"], "kbr0");
  EXPECT_EQ(r1["interfaces"][1]["name"], host_veth("c1"));
  EXPECT_FALSE(r1["interfaces"][1].contains("sandbox"));
  EXPECT_EQ(r1["interfaces"][2]["name"], "eth0");
  EXPECT_EQ(r1["interfaces"][2]["sandbox"], c1);
  EXPECT_EQ(r1["ips"][0]["interface"], 2);
  EXPECT_EQ(r1["ips"][0]["gateway"], "10.66.0.1");
  EXPECT_EQ(r1["interfaces"][0]["mac"], r2["interfaces"][0]["mac"]) << "the bridge MAC is stable";
  EXPECT_EQ(sb.link_json(c1, "eth0").value("address", ""), r1["interfaces"][2]["mac"]);

  json hv = sb.link_json(sb.host(), host_veth("c1"));
  EXPECT_EQ(hv.value("master", ""), "kbr0");
  EXPECT_EQ(hv.value("ifalias", ""), "knet:brnet:c1:eth0");

  EXPECT_TRUE(sb.ping(c1, ip_of(r2)));
  EXPECT_TRUE(sb.ping(c2, ip_of(r1)));
  EXPECT_TRUE(sb.ping(c1, "10.66.0.1"));
  EXPECT_EQ(sb.exec_in(sb.host(), "cat /proc/sys/net/ipv4/ip_forward").out, "1\n");
  // No default route without isDefaultGateway, and DAD off in the container.
  EXPECT_EQ(sb.exec_in(c1, "ip route show default").out, "");
  EXPECT_EQ(sb.exec_in(c1, "cat /proc/sys/net/ipv6/conf/eth0/accept_dad").out, "0\n");

  EXPECT_EQ(run("DEL", "c1", c1, config({{"isGateway", true}})).code, 0);
  EXPECT_EQ(run("DEL", "c2", c2, config({{"isGateway", true}})).code, 0);
  EXPECT_TRUE(veths().empty());
  EXPECT_TRUE(links_in(sb.host()).count("kbr0")) << "DEL never removes the bridge";
  EXPECT_TRUE(reserved().empty());
}

TEST_F(BridgeTest, DefaultGatewayAndMasquerade) {
  std::string c1 = sb.add_container("c1");
  std::string conf = config({{"isDefaultGateway", true}, {"ipMasq", true}});
  json r = add("c1", c1, conf);
  ASSERT_TRUE(r.contains("routes")) << r;
  EXPECT_EQ(r["routes"][0]["dst"], "0.0.0.0/0");
  EXPECT_EQ(r["routes"][0]["gw"], "10.66.0.1");
  EXPECT_NE(sb.exec_in(c1, "ip route show default").out.find("via 10.66.0.1"), std::string::npos);
  EXPECT_EQ(masq_rules(), (std::vector<std::string>{"knet:brnet:c1:eth0"}));
  std::string listing = sb.exec_in(sb.host(), "nft list table ip knet-nat").out;
  EXPECT_NE(listing.find("ip saddr " + ip_of(r) + " ip daddr != 10.66.0.0/24"), std::string::npos)
      << listing;
  EXPECT_EQ(sb.exec_in(sb.host(), "iptables-save -t nat | grep -c CNI-").out, "0\n")
      << "the nftables backend spawns no iptables";

  // Masqueraded traffic really leaves with the host's address: an "outside"
  // namespace routed via the sandbox host sees the bridge's uplink address.
  std::string out = sb.add_ns("out");
  sb.connect(sb.host(), "up0", out, "up1", "198.51.100.1/24", "198.51.100.2/24");
  EXPECT_TRUE(sb.ping(c1, "198.51.100.2"));

  EXPECT_EQ(run("DEL", "c1", c1, conf).code, 0);
  EXPECT_TRUE(masq_rules().empty());
}

TEST_F(BridgeTest, IptablesBackendUsesTheReferenceLayout) {
  std::string c1 = sb.add_container("c1");
  std::string conf = config({{"isGateway", true}, {"ipMasq", true}, {"ipMasqBackend", "iptables"}});
  json r = add("c1", c1, conf);
  std::string rules = sb.exec_in(sb.host(), "iptables -t nat -S").out;
  EXPECT_NE(rules.find("-A POSTROUTING -s " + ip_of(r) +
                       "/32 -m comment --comment \"name: \\\"brnet\\\" id: \\\"c1\\\"\" -j CNI-"),
            std::string::npos)
      << rules;
  EXPECT_NE(rules.find("-d 10.66.0.0/24 -m comment --comment \"name: \\\"brnet\\\" id: "
                       "\\\"c1\\\"\" -j ACCEPT"),
            std::string::npos)
      << rules;
  EXPECT_NE(rules.find("! -d 224.0.0.0/4 -m comment"), std::string::npos) << rules;
  EXPECT_TRUE(masq_rules().empty());
  EXPECT_EQ(run("DEL", "c1", c1, conf).code, 0);
  EXPECT_EQ(sb.exec_in(sb.host(), "iptables -t nat -S | grep -c CNI-").out, "0\n");
}

TEST_F(BridgeTest, MtuHairpinIsolationPromisc) {
  std::string c1 = sb.add_container("c1");
  json extra = {{"mtu", 1400}, {"hairpinMode", true}, {"portIsolation", true}};
  add("c1", c1, config(extra));
  EXPECT_EQ(sb.link_json(sb.host(), "kbr0").value("mtu", 0), 1400);
  json hv = sb.link_json(sb.host(), host_veth("c1"));
  EXPECT_EQ(hv.value("mtu", 0), 1400);
  EXPECT_EQ(sb.link_json(c1, "eth0").value("mtu", 0), 1400);
  std::string port = sb.exec_in(sb.host(), "ip -d link show dev " + host_veth("c1")).out;
  EXPECT_NE(port.find("hairpin on"), std::string::npos) << port;
  EXPECT_NE(port.find("isolated on"), std::string::npos) << port;

  std::string c2 = sb.add_container("c2");
  add("c2", c2, config({{"promiscMode", true}}));
  EXPECT_GT(sb.link_json(sb.host(), "kbr0").value("promiscuity", 0), 0);
}

TEST_F(BridgeTest, SecondAddOfTheSameContainerFailsAndLeavesTheFirstAlone) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json r1 = add("c1", c1, config({{"ipMasq", true}}));
  add("c2", c2, config());
  RunResult again = run("ADD", "c1", c1, config({{"ipMasq", true}}));
  EXPECT_NE(error_of(again).find("container veth name provided (eth0) already exists"),
            std::string::npos);
  EXPECT_TRUE(sb.ping(c2, ip_of(r1))) << "the first attachment still works";
  EXPECT_EQ(reserved().size(), 2u);
  EXPECT_EQ(masq_rules().size(), 1u);
}

TEST_F(BridgeTest, DelIsIdempotentAndWorksAfterTheNamespaceIsGone) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  std::string conf = config({{"ipMasq", true}});
  add("c1", c1, conf);
  add("c2", c2, conf);
  EXPECT_EQ(run("DEL", "c1", c1, conf).code, 0);
  EXPECT_EQ(run("DEL", "c1", c1, conf).code, 0);
  EXPECT_EQ(run("DEL", "c1", "", conf).code, 0) << "no CNI_NETNS";

  ASSERT_TRUE(sb.exec_in(sb.host(), "ip netns del " + Sandbox::name_of(c2)).ok());
  RunResult d = run("DEL", "c2", c2, conf);
  EXPECT_EQ(d.code, 0) << d.out;
  EXPECT_TRUE(reserved().empty());
  EXPECT_TRUE(veths().empty());
  EXPECT_TRUE(masq_rules().empty()) << "rules are found by owner, not by address";
}

TEST_F(BridgeTest, FailedAddLeavesNothingBehind) {
  // A /30 whose range holds one address: the second ADD fails in IPAM, after
  // its veth was made.
  json r = ranges(
      {{{{"subnet", "10.66.9.0/30"}, {"rangeStart", "10.66.9.2"}, {"rangeEnd", "10.66.9.2"}}}});
  r["ipMasq"] = true;
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  add("c1", c1, config(r));
  RunResult f = run("ADD", "c2", c2, config(r));
  EXPECT_NE(f.code, 0);
  EXPECT_EQ(veths(), (std::set<std::string>{host_veth("c1")}));
  EXPECT_EQ(links_in(c2), (std::set<std::string>{"lo"}));
  EXPECT_EQ(masq_rules().size(), 1u);
}

TEST_F(BridgeTest, ForeignAddressOnTheBridgeNeedsForceAddress) {
  ASSERT_TRUE(sb.exec_in(sb.host(),
                         "ip link add kbr0 type bridge && ip addr add 10.66.0.9/24 dev "
                         "kbr0")
                  .ok());
  std::string c1 = sb.add_container("c1");
  RunResult f = run("ADD", "c1", c1, config({{"isGateway", true}, {"ipMasq", true}}));
  EXPECT_NE(error_of(f).find("already has an IP address"), std::string::npos);
  EXPECT_TRUE(veths().empty());
  EXPECT_TRUE(reserved().empty());
  EXPECT_TRUE(masq_rules().empty());
  EXPECT_EQ(links_in(c1), (std::set<std::string>{"lo"}));

  add("c1", c1, config({{"isGateway", true}, {"forceAddress", true}}));
  std::string addrs = sb.addr_json(sb.host(), "kbr0").dump();
  EXPECT_NE(addrs.find("10.66.0.1"), std::string::npos) << addrs;
  EXPECT_EQ(addrs.find("10.66.0.9"), std::string::npos) << addrs;
}

// The reference refuses a second network with another IPv4 subnet on one
// bridge (its ensureAddr); knet used to add a second gateway address.
TEST_F(BridgeTest, TwoNetworksWithDifferentSubnetsCannotShareABridge) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  add("c1", c1, config({{"isGateway", true}}));
  json other = {{"name", "othernet"}, {"isGateway", true}, {"ipam", {{"subnet", "10.67.0.0/24"}}}};
  RunResult f = run("ADD", "c2", c2, config(other));
  std::string msg = error_of(f);
  EXPECT_NE(msg.find("already has an IP address 10.66.0.1/24 different from 10.67.0.1/24"),
            std::string::npos) << msg;
  EXPECT_EQ(veths(), (std::set<std::string>{host_veth("c1")}));
  EXPECT_EQ(links_in(c2), (std::set<std::string>{"lo"}));
  EXPECT_EQ(sb.addr_json(sb.host(), "kbr0").dump().find("10.67.0.1"), std::string::npos);
}

// A bad IPAM section fails after the bridge exists: the bridge this ADD
// made goes too (it used to stay on the host).
TEST_F(BridgeTest, AFailedFirstAddRemovesTheBridgeItCreated) {
  std::string c1 = sb.add_container("c1");
  for (const json& bad :
       {ranges({{{{"subnet", "10.66.0.0/33"}}}}), ranges({{{{"subnet", "10.300.0.0/24"}}}}),
        ranges({{{{"subnet", "10.66.0.0/24"}, {"rangeStart", "10.66.0.200"}, {"rangeEnd", "10.66.0.100"}}}}),
        ranges({{{{"subnet", "10.66.0.0/24"}, {"gateway", "10.99.0.1"}}}})}) {
    json conf = bad;
    conf["isGateway"] = true;
    RunResult f = run("ADD", "c1", c1, config(conf));
    EXPECT_NE(f.code, 0) << conf.dump();
    EXPECT_EQ(links_in(sb.host()).count("kbr0"), 0u) << conf.dump() << ": " << f.out;
    EXPECT_TRUE(veths().empty());
    EXPECT_TRUE(reserved().empty());
    EXPECT_EQ(links_in(c1), (std::set<std::string>{"lo"}));
  }
  // A bridge that was there before the failed ADD stays.
  ASSERT_TRUE(sb.exec_in(sb.host(), "ip link add kbr0 type bridge").ok());
  EXPECT_NE(run("ADD", "c1", c1, config(ranges({{{{"subnet", "10.66.0.0/33"}}}}))).code, 0);
  EXPECT_EQ(links_in(sb.host()).count("kbr0"), 1u);
}

// 0.0.0.0/0 as the subnet would make the gateway address a connected
// default route of the host through the bridge.
TEST_F(BridgeTest, ASlashZeroSubnetIsRefused) {
  std::string c1 = sb.add_container("c1");
  RunResult f = run("ADD", "c1", c1,
                    config({{"isGateway", true}, {"ipam", {{"subnet", "0.0.0.0/0"}}}}));
  EXPECT_NE(error_of(f).find("/0"), std::string::npos);
  EXPECT_EQ((*f.json)["code"], 7);
  EXPECT_EQ(links_in(sb.host()).count("kbr0"), 0u);
  EXPECT_TRUE(veths().empty());
  EXPECT_TRUE(reserved().empty());
}

// The owner tag "knet:<network>:<container>:<ifname>" must fit a link alias
// (255 bytes); a longer one used to fail after the veth pair existed, and leak it.
TEST_F(BridgeTest, ANameTooLongForTheOwnerTagIsRefusedBeforeAnythingIsMade) {
  std::string c1 = sb.add_container("c1");
  RunResult f = run("ADD", "c1", c1, config({{"name", std::string(250, 'n')}}));
  EXPECT_NE(error_of(f).find("too long together"), std::string::npos);
  EXPECT_EQ((*f.json)["code"], 7);
  EXPECT_EQ(links_in(sb.host()).count("kbr0"), 0u);
  EXPECT_TRUE(veths().empty());
  EXPECT_TRUE(reserved().empty());
  // The longest name that fits works.
  std::string longest(knet::kMaxOwnerTagBytes - std::string("knet:::eth0").size() - 2, 'n');
  add("c1", c1, config({{"name", longest}}));
}

TEST_F(BridgeTest, NonBridgeLinkWithTheNameFails) {
  ASSERT_TRUE(sb.exec_in(sb.host(), "ip link add kbr0 type veth peer name kbr0p").ok());
  std::string c1 = sb.add_container("c1");
  EXPECT_NE(error_of(run("ADD", "c1", c1, config())).find("is not a bridge"), std::string::npos);
  EXPECT_TRUE(veths().empty());
  EXPECT_TRUE(reserved().empty());
}

TEST_F(BridgeTest, DualStackAndIpv6Only) {
  json ds = ranges({{{{"subnet", "10.66.1.0/24"}}}, {{{"subnet", "fd00:66::/64"}}}});
  ds["isDefaultGateway"] = true;
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json r1 = add("c1", c1, config(ds));
  json r2 = add("c2", c2, config(ds));
  ASSERT_EQ(r1["ips"].size(), 2u) << r1;
  EXPECT_EQ(r1["routes"].size(), 2u) << r1;
  EXPECT_TRUE(sb.ping(c1, ip_of(r2, 0)));
  EXPECT_TRUE(sb.ping(c1, ip_of(r2, 1)));
  EXPECT_TRUE(sb.ping(c2, "fd00:66::1")) << "the IPv6 gateway is usable at once";
  EXPECT_NE(sb.exec_in(c1, "ip -6 route show default").out.find("via fd00:66::1"),
            std::string::npos);
  EXPECT_EQ(sb.exec_in(sb.host(), "cat /proc/sys/net/ipv6/conf/all/forwarding").out, "1\n");

  json v6 = ranges({{{{"subnet", "fd00:67::/64"}}}});
  v6["bridge"] = "kbr6";
  v6["isGateway"] = true;
  v6["ipMasq"] = true;
  std::string c3 = sb.add_container("c3"), c4 = sb.add_container("c4");
  json r3 = add("c3", c3, config(v6));
  json r4 = add("c4", c4, config(v6));
  EXPECT_TRUE(sb.ping(c3, ip_of(r4)));
  EXPECT_EQ(masq_rules("ip6").size(), 2u);
  EXPECT_EQ(run("DEL", "c3", c3, config(v6)).code, 0);
  EXPECT_EQ(masq_rules("ip6").size(), 1u);
}

TEST_F(BridgeTest, CheckVerifiesAgainstPrevResult) {
  std::string c1 = sb.add_container("c1");
  json conf = json::parse(config({{"isDefaultGateway", true}}));
  json r = add("c1", c1, conf.dump());
  conf["prevResult"] = r;
  RunResult ok = run("CHECK", "c1", c1, conf.dump());
  EXPECT_EQ(ok.code, 0) << ok.out;
  ASSERT_TRUE(sb.exec_in(c1, "ip route del default").ok());
  EXPECT_NE(error_of(run("CHECK", "c1", c1, conf.dump())).find("0.0.0.0/0"), std::string::npos);
  ASSERT_TRUE(sb.exec_in(c1, "ip addr flush dev eth0").ok());
  EXPECT_NE(error_of(run("CHECK", "c1", c1, conf.dump())).find("lacks address"), std::string::npos);
  ASSERT_TRUE(sb.exec_in(sb.host(), "ip link set " + host_veth("c1") + " nomaster").ok());
  EXPECT_NE(error_of(run("CHECK", "c1", c1, conf.dump())).find("not a port of bridge kbr0"),
            std::string::npos);
}

// Spec 1.1 routes with a "table": the gateway is reachable only through the
// main table's connected route, which the kernel falls back to; IPv4 and
// IPv6, an explicit and an implied gateway, two tables; CHECK finds them.
TEST_F(BridgeTest, RoutesInOtherTablesWithAGateway) {
  std::string c1 = sb.add_container("c1");
  json conf = json::parse(config(
      {{"isGateway", true},
       {"ipam",
        {{"subnet", nullptr},
         {"ranges", {{{{"subnet", "10.66.0.0/24"}}}, {{{"subnet", "fd66::/64"}}}}},
         {"routes",
          {{{"dst", "0.0.0.0/0"}, {"gw", "10.66.0.1"}, {"table", 100}},
           {{"dst", "10.93.0.0/16"}, {"table", 101}},
           {{"dst", "::/0"}, {"gw", "fd66::1"}, {"table", 100}},
           {{"dst", "fd93::/64"}, {"table", 101}}}}}}},
      "1.1.0"));
  RunResult r = run("ADD", "c1", c1, conf.dump());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::string t100 = sb.exec_in(c1, "ip route show table 100; ip -6 route show table 100").out;
  std::string t101 = sb.exec_in(c1, "ip route show table 101; ip -6 route show table 101").out;
  EXPECT_NE(t100.find("default via 10.66.0.1 dev eth0"), std::string::npos) << t100;
  EXPECT_NE(t100.find("default via fd66::1 dev eth0"), std::string::npos) << t100;
  EXPECT_NE(t101.find("10.93.0.0/16 via 10.66.0.1 dev eth0"), std::string::npos) << t101;
  EXPECT_NE(t101.find("fd93::/64 via fd66::1 dev eth0"), std::string::npos) << t101;
  conf["prevResult"] = *r.json;
  RunResult ok = run("CHECK", "c1", c1, conf.dump());
  EXPECT_EQ(ok.code, 0) << ok.out;
}

TEST_F(BridgeTest, GcRemovesWhatIsNotValid) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  std::string conf = config({{"ipMasq", true}, {"macspoofchk", true}});
  add("c1", c1, conf);
  add("c2", c2, conf);
  // GC is CNI 1.1; the reference host-local predates it, so no IPAM here.
  json gc = json::parse(config({{"ipMasq", true}, {"ipam", nullptr}}, "1.1.0"));
  gc["cni.dev/valid-attachments"] = {{{"containerID", "c1"}, {"ifname", "eth0"}}};
  RunResult g = run("GC", "", "", gc.dump());
  EXPECT_EQ(g.code, 0) << g.out;
  EXPECT_EQ(veths(), (std::set<std::string>{host_veth("c1")}));
  EXPECT_EQ(masq_rules(), (std::vector<std::string>{"knet:brnet:c1:eth0"}));
  std::string spoof = sb.exec_in(sb.host(), "nft list table bridge knet-macspoof").out;
  EXPECT_NE(spoof.find("knet:brnet:c1:eth0"), std::string::npos) << spoof;
  EXPECT_EQ(spoof.find("knet:brnet:c2:eth0"), std::string::npos) << spoof;
}

TEST_F(BridgeTest, MacFromRuntimeConfigAndSpoofCheck) {
  std::string c1 = sb.add_container("c1");
  std::string conf =
      config({{"runtimeConfig", {{"mac", "02:66:00:00:00:01"}}}, {"macspoofchk", true}});
  json r = add("c1", c1, conf);
  EXPECT_EQ(r["interfaces"][2]["mac"], "02:66:00:00:00:01");
  EXPECT_EQ(sb.link_json(c1, "eth0").value("address", ""), "02:66:00:00:00:01");
  std::string spoof = sb.exec_in(sb.host(), "nft list table bridge knet-macspoof").out;
  EXPECT_NE(spoof.find("iifname \"" + host_veth("c1") + "\" ether saddr != 02:66:00:00:00:01 drop"),
            std::string::npos)
      << spoof;
  EXPECT_EQ(run("DEL", "c1", c1, conf).code, 0);
  spoof = sb.exec_in(sb.host(), "nft list table bridge knet-macspoof").out;
  EXPECT_EQ(spoof.find("knet:brnet:c1:eth0"), std::string::npos) << spoof;
}

TEST_F(BridgeTest, L2OnlyAndDisabledContainerInterface) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json r = add("c1", c1, config({{"ipam", nullptr}}));
  EXPECT_FALSE(r.contains("ips")) << r;
  EXPECT_EQ(r["interfaces"].size(), 3u);
  EXPECT_NE(sb.exec_in(c1, "ip link show eth0").out.find(",UP"), std::string::npos);
  add("c2", c2, config({{"ipam", nullptr}, {"disableContainerInterface", true}}));
  EXPECT_EQ(sb.exec_in(c2, "ip link show eth0").out.find(",UP"), std::string::npos);
  EXPECT_EQ(run("STATUS", "", "", config({{"ipam", nullptr}}, "1.1.0")).code, 0);
}

bool kernel_has_bridge_vlan_filtering(const Sandbox& sb) {
  return sb
      .exec_in(sb.host(),
               "ip link add kprobe0 type bridge vlan_filtering 1 && "
               "ip link del kprobe0")
      .ok();
}

TEST_F(BridgeTest, VlanAndTrunk) {
  if (!kernel_has_bridge_vlan_filtering(sb)) {
    std::string c1 = sb.add_container("c1");
    // Without the feature the ADD fails cleanly and says why.
    RunResult f = run("ADD", "c1", c1, config({{"vlan", 100}}));
    EXPECT_NE(error_of(f).find("VLAN filtering"), std::string::npos);
    EXPECT_FALSE(links_in(sb.host()).count("kbr0"));
    EXPECT_TRUE(reserved().empty());
    GTEST_SKIP() << "kernel without bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)";
  }
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  add("c1", c1, config({{"vlan", 100}, {"preserveDefaultVlan", false}}));
  std::string v = sb.exec_in(sb.host(), "bridge vlan show dev " + host_veth("c1")).out;
  EXPECT_NE(v.find("100 PVID Egress Untagged"), std::string::npos) << v;
  json trunk = {{"vlanTrunk", {{{"minID", 200}, {"maxID", 201}}, {{"id", 300}}}}};
  add("c2", c2, config(trunk));
  v = sb.exec_in(sb.host(), "bridge vlan show dev " + host_veth("c2")).out;
  for (const char* id : {"200", "201", "300"}) EXPECT_NE(v.find(id), std::string::npos) << v;
}

// The same ADD through the reference plugin and knet gives results of the same shape.
TEST_F(BridgeTest, ResultShapeMatchesTheReference) {
  if (!fs::exists(kRefPlugins + "/bridge")) GTEST_SKIP() << "reference plugins not installed";
  json extra = ranges({{{{"subnet", "10.66.2.0/24"}}}, {{{"subnet", "fd00:68::/64"}}}});
  extra["isDefaultGateway"] = true;
  extra["dns"] = {{"nameservers", {"192.0.2.53"}}};
  std::string c1 = sb.add_container("c1");
  json mine = add("c1", c1, config(extra));
  Sandbox other;
  TempDir data2;
  json ref_conf = json::parse(config(extra));
  ref_conf["ipam"]["dataDir"] = data2.path();
  std::string c2 = other.add_container("c2");
  std::map<std::string, std::string> env = {{"CNI_COMMAND", "ADD"},
                                            {"CNI_CONTAINERID", "c1"},
                                            {"CNI_IFNAME", "eth0"},
                                            {"CNI_NETNS", c2},
                                            {"CNI_PATH", kRefPlugins}};
  RunResult ref = other.run_plugin(kRefPlugins + "/bridge", env, ref_conf.dump());
  ASSERT_EQ(ref.code, 0) << ref.out;
  json theirs = *ref.json;
  // Everything but MACs, names of the host veth and sandbox paths must be equal.
  for (json* j : {&mine, &theirs}) {
    for (auto& i : (*j)["interfaces"]) {
      i.erase("mac");
      if (i.contains("sandbox")) i["sandbox"] = "x";
    }
    (*j)["interfaces"][1]["name"] = "veth";
  }
  EXPECT_EQ(mine, theirs);
}

}  // namespace
}  // namespace knet::test
