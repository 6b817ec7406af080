// The macvlan plugin binary in sandbox namespaces. The "master" is always the
// veth `mst` in the sandbox host namespace; its peer `far` lives in a second
// sandbox namespace `sw` (the "physical network" beyond the NIC).

#include <base/owner.h>
#include <gtest/gtest.h>
#include <unistd.h>

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

class MacvlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sw = sb.add_ns("sw");
    sb.connect(sb.host(), "mst", sw, "far", "192.0.2.1/24", "192.0.2.254/24");
  }

  // A config on master mst with host-local IPAM in 10.77.0.0/24; keys of
  // `extra` are merged in at the top level (a null value removes the key).
  // 1.0.0 by default: the reference host-local (the fallback on CNI_PATH) knows no later version.
  std::string config(const json& extra = json::object(), const std::string& version = "1.0.0") {
    json c = {{"cniVersion", version},
              {"name", "mvnet"},
              {"type", "macvlan"},
              {"master", "mst"},
              {"ipam",
               {{"type", "host-local"},
                {"dataDir", data.path()},
                {"subnet", "10.77.0.0/24"},
                {"gateway", "10.77.0.1"}}}};
    c.merge_patch(extra);
    return c.dump();
  }

  RunResult run(const std::string& cmd, const std::string& cid, const std::string& netns,
                const std::string& conf, const std::string& ifname = "eth0",
                const std::string& binary = plugin_path("macvlan"),
                const std::string& cni_args = "") {
    std::map<std::string, std::string> env = {
        {"CNI_COMMAND", cmd},
        {"CNI_CONTAINERID", cid},
        {"CNI_IFNAME", ifname},
        {"CNI_PATH", std::string(KNET_PLUGIN_DIR) + ":" + kRefPlugins}};
    if (!netns.empty()) env["CNI_NETNS"] = netns;
    if (!cni_args.empty()) env["CNI_ARGS"] = cni_args;
    return sb.run_plugin(binary, env, conf);
  }

  // ADD that must succeed; returns the result.
  json add(const std::string& cid, const std::string& netns, const std::string& conf) {
    RunResult r = run("ADD", cid, netns, conf);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return r.json.value_or(json());
  }

  // The error message of a failed invocation (and asserts that it failed).
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

  // The addresses host-local holds for network mvnet.
  std::set<std::string> reserved() {
    std::set<std::string> ips;
    fs::path dir = fs::path(data.path()) / "mvnet";
    if (!fs::exists(dir)) return ips;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::string n = e.path().filename();
      if (n.rfind("10.", 0) == 0) ips.insert(n);
    }
    return ips;
  }

  static std::string ip_of(const json& result, size_t i = 0) {
    std::string a = result["ips"][i]["address"];
    return a.substr(0, a.find('/'));
  }

  std::string ifindex_in(const std::string& ns, const std::string& ifname) {
    return std::to_string(sb.link_json(ns, ifname).value("ifindex", -1));
  }

  // Only lo and the master in the sandbox host: no temporary link left behind.
  void expect_host_clean() { EXPECT_EQ(links_in(sb.host()), (std::set<std::string>{"lo", "mst"})); }

  Sandbox sb;
  TempDir data;
  std::string sw;
};

TEST_F(MacvlanTest, BridgeModeContainersReachEachOther) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json r1 = add("c1", c1, config());
  json r2 = add("c2", c2, config());
  ASSERT_TRUE(r1.contains("ips") && r2.contains("ips")) << r1 << r2;
  EXPECT_EQ(r1["interfaces"][0]["name"], "eth0");
  EXPECT_EQ(r1["interfaces"][0]["sandbox"], c1);
  EXPECT_EQ(r1["ips"][0]["interface"], 0);
  auto link = sb.link_json(c1, "eth0");
  ASSERT_FALSE(link.is_null());
  EXPECT_EQ(link["linkinfo"]["info_kind"], "macvlan");
  EXPECT_EQ(link["linkinfo"]["info_data"]["mode"], "bridge");
  EXPECT_EQ(link["address"], r1["interfaces"][0]["mac"]);
  EXPECT_EQ(std::to_string(link.value("link_index", 0)), ifindex_in(sb.host(), "mst"));
  EXPECT_TRUE(sb.ping(c1, ip_of(r2)));
  EXPECT_TRUE(sb.ping(c2, ip_of(r1)));
  expect_host_clean();
}

TEST_F(MacvlanTest, PrivateModeContainersCannotReachEachOther) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json r1 = add("c1", c1, config({{"mode", "private"}}));
  json r2 = add("c2", c2, config({{"mode", "private"}}));
  EXPECT_EQ(sb.link_json(c1, "eth0")["linkinfo"]["info_data"]["mode"], "private");
  EXPECT_FALSE(sb.ping(c1, ip_of(r2)));
}

TEST_F(MacvlanTest, VepaModeNeedsAHairpinBeyondTheMaster) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json r1 = add("c1", c1, config({{"mode", "vepa"}}));
  json r2 = add("c2", c2, config({{"mode", "vepa"}}));
  EXPECT_EQ(sb.link_json(c1, "eth0")["linkinfo"]["info_data"]["mode"], "vepa");
  // Without a switch that reflects frames, vepa sends them out and they are gone.
  EXPECT_FALSE(sb.ping(c1, ip_of(r2)));
  // A bridge with hairpin on the port facing the master sends them back.
  auto sh = sb.exec_in(sw,
                       "ip link add br0 type bridge && ip link set far master br0 && "
                       "ip link set far type bridge_slave hairpin on && ip link set br0 up");
  ASSERT_TRUE(sh.ok()) << sh.out;
  EXPECT_TRUE(sb.ping(c1, ip_of(r2), 2));
  EXPECT_TRUE(sb.ping(c2, ip_of(r1)));
}

TEST_F(MacvlanTest, PassthruTakesTheMasterForOneContainer) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json cfg = {{"mode", "passthru"}};
  add("c1", c1, config(cfg));
  EXPECT_EQ(sb.link_json(c1, "eth0")["linkinfo"]["info_data"]["mode"], "passthru");
  std::string msg = error_of(run("ADD", "c2", c2, config(cfg)));
  EXPECT_NE(msg.find("passthru"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mst"), std::string::npos) << msg;
  // A bridge-mode macvlan cannot join a passthru master either.
  msg = error_of(run("ADD", "c2", c2, config()));
  EXPECT_NE(msg.find("passthru"), std::string::npos) << msg;
  EXPECT_EQ(links_in(c2), std::set<std::string>{"lo"});
  EXPECT_EQ(reserved().size(), 1u);
  expect_host_clean();
}

TEST_F(MacvlanTest, WithoutIpamTheInterfaceIsL2Only) {
  std::string c1 = sb.add_container("c1");
  json r = add("c1", c1, config({{"ipam", nullptr}}));
  EXPECT_FALSE(r.contains("ips")) << r;
  EXPECT_EQ(r["interfaces"].size(), 1u);
  auto link = sb.link_json(c1, "eth0");
  ASSERT_FALSE(link.is_null());
  EXPECT_NE(std::find(link["flags"].begin(), link["flags"].end(), "UP"), link["flags"].end());
  for (const auto& a : sb.addr_json(c1, "eth0")) EXPECT_NE(a["family"], "inet") << a;
  EXPECT_EQ(run("DEL", "c1", c1, config({{"ipam", nullptr}})).code, 0);
  EXPECT_TRUE(sb.link_json(c1, "eth0").is_null());
}

TEST_F(MacvlanTest, ExplicitMacFromConfigCniArgsAndRuntimeConfig) {
  std::string c1 = sb.add_container("c1");
  json r = add("c1", c1, config({{"mac", "02:77:00:00:00:01"}}));
  EXPECT_EQ(r["interfaces"][0]["mac"], "02:77:00:00:00:01");
  EXPECT_EQ(sb.link_json(c1, "eth0")["address"], "02:77:00:00:00:01");

  RunResult a = run("ADD", "c1", c1, config({{"mac", "02:77:00:00:00:01"}}), "eth1",
                    plugin_path("macvlan"), "IgnoreUnknown=1;MAC=02:77:00:00:00:02");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(sb.link_json(c1, "eth1")["address"], "02:77:00:00:00:02");

  a = run("ADD", "c1", c1, config({{"runtimeConfig", {{"mac", "02:77:00:00:00:03"}}}}), "eth2",
          plugin_path("macvlan"), "IgnoreUnknown=1;MAC=02:77:00:00:00:02");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(sb.link_json(c1, "eth2")["address"], "02:77:00:00:00:03");
}

TEST_F(MacvlanTest, MtuAboveTheMastersIsRejected) {
  std::string c1 = sb.add_container("c1");
  RunResult r = run("ADD", "c1", c1, config({{"mtu", 9000}}));
  std::string msg = error_of(r);
  ASSERT_TRUE(r.json);
  EXPECT_EQ((*r.json)["code"], 7);
  EXPECT_NE(msg.find("\"mtu\" 9000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1500"), std::string::npos) << msg;
  EXPECT_EQ(links_in(c1), std::set<std::string>{"lo"});
  EXPECT_TRUE(reserved().empty());

  add("c1", c1, config({{"mtu", 1400}}));
  EXPECT_EQ(sb.link_json(c1, "eth0")["mtu"], 1400);
}

TEST_F(MacvlanTest, DefaultMasterIsTheDefaultRoutesInterface) {
  std::string c1 = sb.add_container("c1");
  std::string msg = error_of(run("ADD", "c1", c1, config({{"master", nullptr}})));
  EXPECT_NE(msg.find("default route"), std::string::npos) << msg;

  ASSERT_TRUE(sb.exec_in(sb.host(), "ip route add default via 192.0.2.254 dev mst").ok());
  add("c1", c1, config({{"master", nullptr}}));
  auto link = sb.link_json(c1, "eth0");
  ASSERT_FALSE(link.is_null());
  EXPECT_EQ(std::to_string(link.value("link_index", 0)), ifindex_in(sb.host(), "mst"));
}

TEST_F(MacvlanTest, LinkInContainerUsesAMasterInsideTheContainer) {
  std::string c1 = sb.add_container("c1");
  sb.connect(c1, "up0", sw, "far2");
  add("c1", c1, config({{"master", "up0"}, {"linkInContainer", true}}));
  auto link = sb.link_json(c1, "eth0");
  ASSERT_FALSE(link.is_null());
  EXPECT_EQ(link.value("link", ""), "up0");
  expect_host_clean();
  EXPECT_EQ(run("DEL", "c1", c1, config({{"master", "up0"}, {"linkInContainer", true}})).code, 0);
  EXPECT_TRUE(sb.link_json(c1, "eth0").is_null());
}

TEST_F(MacvlanTest, DelTwiceAndAfterTheNamespaceIsGone) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  add("c1", c1, config());
  add("c2", c2, config());
  EXPECT_EQ(reserved().size(), 2u);
  EXPECT_EQ(run("DEL", "c1", c1, config()).code, 0);
  EXPECT_TRUE(sb.link_json(c1, "eth0").is_null());
  EXPECT_EQ(run("DEL", "c1", c1, config()).code, 0);
  EXPECT_EQ(reserved().size(), 1u);

  ASSERT_TRUE(sb.exec_in(sb.host(), "ip netns delete " + Sandbox::name_of(c2)).ok());
  RunResult r = run("DEL", "c2", c2, config());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(reserved().empty());
  // The master may be gone too by the time DEL runs.
  EXPECT_EQ(run("DEL", "c2", c2, config({{"master", "gone0"}})).code, 0);
}

TEST_F(MacvlanTest, FailedAddLeavesNothing) {
  std::string c1 = sb.add_container("c1");
  // IPAM fails: the link made before it must go.
  std::string msg = error_of(run("ADD", "c1", c1, config({{"ipam", {{"type", "no-such-ipam"}}}})));
  EXPECT_NE(msg.find("no-such-ipam"), std::string::npos) << msg;
  EXPECT_EQ(links_in(c1), std::set<std::string>{"lo"});
  // A route the kernel refuses, after IPAM: the link and the address reservation go.
  json bad_route = {{"ipam", {{"routes", {{{"dst", "198.51.100.0/24"}, {"gw", "203.0.113.9"}}}}}}};
  msg = error_of(run("ADD", "c1", c1, config(bad_route)));
  EXPECT_NE(msg.find("198.51.100.0/24"), std::string::npos) << msg;
  EXPECT_EQ(links_in(c1), std::set<std::string>{"lo"});
  EXPECT_TRUE(reserved().empty());
  // The name is taken in the container: the existing link is left alone.
  ASSERT_TRUE(sb.exec_in(c1, "ip link add eth0 type veth peer name eth0p").ok());
  msg = error_of(run("ADD", "c1", c1, config()));
  EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  EXPECT_EQ(sb.link_json(c1, "eth0")["linkinfo"]["info_kind"], "veth");
  EXPECT_TRUE(reserved().empty());
  expect_host_clean();
}

TEST_F(MacvlanTest, CheckComparesTheLinkWithPrevResult) {
  std::string c1 = sb.add_container("c1");
  json r = add("c1", c1, config());
  json with_prev = json::parse(config());
  with_prev["prevResult"] = r;
  RunResult ok = run("CHECK", "c1", c1, with_prev.dump());
  EXPECT_EQ(ok.code, 0) << ok.out;

  json wrong_mode = with_prev;
  wrong_mode["mode"] = "private";
  EXPECT_NE(error_of(run("CHECK", "c1", c1, wrong_mode.dump())).find("mode bridge"),
            std::string::npos);

  ASSERT_TRUE(sb.exec_in(c1, "ip addr flush dev eth0 scope global").ok());
  std::string msg = error_of(run("CHECK", "c1", c1, with_prev.dump()));
  EXPECT_NE(msg.find(r["ips"][0]["address"].get<std::string>()), std::string::npos) << msg;
}

TEST_F(MacvlanTest, StatusFailsWithoutTheMaster) {
  json l2 = {{"ipam", nullptr}};
  EXPECT_EQ(run("STATUS", "", "", config(l2, "1.1.0")).code, 0);
  for (json missing : {json{{"master", "gone0"}}, json{{"master", nullptr}}}) {
    missing.merge_patch(l2);
    RunResult r = run("STATUS", "", "", config(missing, "1.1.0"));
    std::string msg = error_of(r);
    ASSERT_TRUE(r.json);
    EXPECT_EQ((*r.json)["code"], 50) << msg;
  }
}

// A crash between creating the link and moving it leaves it in the host
// namespace under the owner's temporary name; GC removes it unless the
// attachment is still valid.
TEST_F(MacvlanTest, GcRemovesLeftoverTemporaryLinks) {
  std::vector<std::string> names;
  for (std::string cid : {"live", "dead"}) {
    std::string tmp = knet::owner_ifname("mv", {"mvnet", cid, "eth0"});
    names.push_back(tmp);
    ASSERT_TRUE(sb.exec_in(sb.host(), "ip link add " + tmp + " link mst type macvlan && " +
                                          "ip link set " + tmp + " alias knet:mvnet:" + cid +
                                          ":eth0")
                    .ok());
  }
  json gc = json::parse(config({{"ipam", nullptr}}, "1.1.0"));
  gc["cni.dev/valid-attachments"] = {{{"containerID", "live"}, {"ifname", "eth0"}}};
  RunResult g = run("GC", "", "", gc.dump());
  EXPECT_EQ(g.code, 0) << g.out;
  EXPECT_EQ(links_in(sb.host()), (std::set<std::string>{"lo", "mst", names[0]}));
  // DEL of the live attachment removes its leftover too.
  EXPECT_EQ(run("DEL", "live", "", config({{"ipam", nullptr}})).code, 0);
  expect_host_clean();
}

// GC and STATUS are CNI 1.1: they reach IPAM only with knet's host-local.
TEST_F(MacvlanTest, GcAndStatusReachIpam) {
  if (!fs::exists(plugin_path("host-local"))) {
    GTEST_SKIP() << "needs knet's host-local in " << KNET_PLUGIN_DIR
                 << " (the reference one predates CNI 1.1 GC/STATUS)";
  }
  EXPECT_EQ(run("STATUS", "", "", config(json::object(), "1.1.0")).code, 0);
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  add("c1", c1, config(json::object(), "1.1.0"));
  json r2 = add("c2", c2, config(json::object(), "1.1.0"));
  json gc = json::parse(config(json::object(), "1.1.0"));
  gc["cni.dev/valid-attachments"] = {{{"containerID", "c2"}, {"ifname", "eth0"}}};
  RunResult g = run("GC", "", "", gc.dump());
  EXPECT_EQ(g.code, 0) << g.out;
  EXPECT_EQ(reserved(), std::set<std::string>{ip_of(r2)});
}

TEST_F(MacvlanTest, GratuitousArpTeachesTheNetworkTheNewMac) {
  ASSERT_TRUE(sb.exec_in(sw,
                         "sysctl -qw net.ipv4.conf.far.arp_accept=1 && "
                         "ip addr add 10.77.0.254/24 dev far")
                  .ok());
  std::string c1 = sb.add_container("c1");
  json r = add("c1", c1, config());
  auto neigh = sb.exec_in(sw, "ip neigh show dev far " + ip_of(r));
  EXPECT_NE(neigh.out.find(r["interfaces"][0]["mac"].get<std::string>()), std::string::npos)
      << neigh.out;
}

TEST_F(MacvlanTest, DualStackAddressesAreUsableOnReturn) {
  std::string c1 = sb.add_container("c1"), c2 = sb.add_container("c2");
  json v6 = {{"ipam",
              {{"subnet", nullptr},
               {"gateway", nullptr},
               {"ranges", {{{{"subnet", "10.77.0.0/24"}}}, {{{"subnet", "fd00:77::/64"}}}}}}}};
  json r1 = add("c1", c1, config(v6));
  json r2 = add("c2", c2, config(v6));
  ASSERT_EQ(r1["ips"].size(), 2u) << r1;
  for (const auto& a : sb.addr_json(c1, "eth0")) EXPECT_FALSE(a.value("tentative", false)) << a;
  EXPECT_TRUE(sb.ping(c1, ip_of(r2, 1)));
}

TEST_F(MacvlanTest, BroadcastQueueLength) {
  std::string c1 = sb.add_container("c1");
  RunResult r = run("ADD", "c1", c1, config({{"bcqueuelen", 42}}));
  if (r.code != 0 && r.out.find("queue") != std::string::npos) {
    GTEST_SKIP() << "kernel without IFLA_MACVLAN_BC_QUEUE_LEN: " << r.out;
  }
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(sb.link_json(c1, "eth0")["linkinfo"]["info_data"].value("bcqueuelen", 0), 42);
}

// Same config, same IPAM state: knet's result is the reference's, key for key.
TEST_F(MacvlanTest, ResultMatchesTheReferencePlugin) {
  if (!fs::exists(kRefPlugins + "/macvlan")) GTEST_SKIP() << "reference plugins not installed";
  for (std::string version : {"1.0.0", "0.4.0", "0.3.1"}) {
    std::string c1 = sb.add_container("ref"), c2 = sb.add_container("knet");
    json extra = {{"mac", "02:77:00:00:00:09"}, {"dns", {{"nameservers", {"10.77.0.53"}}}}};
    TempDir ref_data, ours_data;  // fresh IPAM state for each, so both get the same address
    extra["ipam"] = {{"dataDir", ref_data.path()}};
    std::string conf = config(extra, version);
    RunResult ref = run("ADD", "x", c1, conf, "eth0", kRefPlugins + "/macvlan");
    ASSERT_EQ(ref.code, 0) << ref.out;
    EXPECT_EQ(run("DEL", "x", c1, conf, "eth0", kRefPlugins + "/macvlan").code, 0);
    extra["ipam"] = {{"dataDir", ours_data.path()}};
    conf = config(extra, version);
    RunResult ours = run("ADD", "x", c2, conf);
    ASSERT_EQ(ours.code, 0) << ours.out;
    EXPECT_EQ(run("DEL", "x", c2, conf).code, 0);
    ASSERT_TRUE(ref.json && ours.json);
    (*ref.json)["interfaces"][0].erase("sandbox");
    (*ours.json)["interfaces"][0].erase("sandbox");
    EXPECT_EQ(*ours.json, *ref.json) << version;
  }
}

}  // namespace
}  // namespace knet::test
