// The vxlan plugin binary in a multi-node world: three "node" namespaces
// joined by an "underlay" namespace holding a bridge (the switch between the
// machines), node i with underlay address 192.0.2.1<i> on link ul0. The plugin
// runs in a node's namespace for the containers on that node; traffic between
// containers on different nodes must cross the underlay as VXLAN (UDP).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "overlay.h"
#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;

const std::string kRefPlugins = "/usr/lib/cni";
constexpr int kNodes = 3;

class VxlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ul = sb.add_underlay();
    // Without a querier, IGMP snooping could prune the group: flood multicast like a dumb switch.
    ASSERT_TRUE(sb.exec_in(ul, "ip link set br0 type bridge mcast_snooping 0").ok());
    for (int i = 0; i < kNodes; ++i) {
      nodes.push_back(sb.add_ns("node" + std::to_string(i + 1)));
      sb.attach(ul, nodes[i], "ul0", vtep(i) + "/24");
    }
  }

  static std::string vtep(int i) { return "192.0.2.1" + std::to_string(i + 1); }

  // The plugin's config for node `node`: `extra` merged into a vni 42 network.
  // 1.0.0: the reference host-local (the fallback on CNI_PATH) knows no later version.
  json config(const json& extra, int node, const std::string& version = "1.0.0") {
    json c = {{"cniVersion", version}, {"name", "ov"}, {"type", "vxlan"}, {"vni", 42}};
    c.merge_patch(extra);
    if (c.contains("ipam")) c["ipam"]["dataDir"] = data[node].path();
    return c;
  }

  // Replaces the membership file with `doc`, as an external system would.
  void write_members(const json& doc) {
    std::string tmp = members_path() + ".tmp";
    std::ofstream(tmp) << doc.dump();
    std::rename(tmp.c_str(), members_path().c_str());
  }
  std::string members_path() const { return files.path() + "/members.json"; }

  RunResult run(const std::string& cmd, int node, const std::string& cid, const std::string& netns,
                const json& conf,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::map<std::string, std::string> env = {
        {"CNI_COMMAND", cmd},
        {"CNI_CONTAINERID", cid},
        {"CNI_IFNAME", "eth0"},
        {"CNI_PATH", std::string(KNET_PLUGIN_DIR) + ":" + kRefPlugins},
        {"KNET_RUN_DIR", run_dir.path()}};  // the test's own lock files
    if (!netns.empty()) env["CNI_NETNS"] = netns;
    return sb.run_plugin(plugin_path("vxlan"), env, conf.dump(), nodes[node], timeout);
  }

  // GC of network "ov" on `node` keeping only `valid` (container IDs, ifname eth0).
  RunResult gc(int node, const json& conf, const std::vector<std::string>& valid = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    json c = conf;
    c["cniVersion"] = "1.1.0";
    c["cni.dev/valid-attachments"] = json::array();
    for (const auto& id : valid) {
      c["cni.dev/valid-attachments"].push_back({{"containerID", id}, {"ifname", "eth0"}});
    }
    return run("GC", node, "", "", c, timeout);
  }

  // A container on `node`, attached by ADD, which must succeed; returns its IP.
  std::string attach(int node, const std::string& cid, const json& conf) {
    std::string ns = sb.add_container(cid);
    RunResult r = run("ADD", node, cid, ns, conf);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    if (!r.json || !r.json->contains("ips")) return {};
    results[cid] = *r.json;
    netns[cid] = ns;
    std::string a = (*r.json)["ips"][0]["address"];
    return a.substr(0, a.find('/'));
  }

  // An l2 config for `node`: `extra` plus host-local in <net>.0/24, each
  // node handing out its own slice <net>.<10(node+1)> ... <net>.<10(node+1)+9>.
  json l2_config(int node, const std::string& net, const json& extra) {
    json c = extra;
    c["ipam"] = {{"type", "host-local"},
                 {"subnet", net + ".0/24"},
                 {"rangeStart", net + "." + std::to_string(10 * node + 10)},
                 {"rangeEnd", net + "." + std::to_string(10 * node + 19)}};
    return config(c, node);
  }

  // An l3 config for `node` with the membership file and host-local
  // completed from it.
  json l3_file_config(int node) {
    return config({{"mode", "l3"},
                   {"underlay", "ul0"},
                   {"peersFile", members_path()},
                   {"ipam", {{"type", "host-local"}}}},
                  node);
  }

  // One container per node, "<prefix><node>", attached with conf(node);
  // returns their IPs.
  template <class Conf>
  std::vector<std::string> attach_all(const std::string& prefix, Conf conf) {
    std::vector<std::string> ips;
    for (int i = 0; i < kNodes; ++i) {
      ips.push_back(attach(i, prefix + std::to_string(i), conf(i)));
      EXPECT_FALSE(ips.back().empty()) << "ADD on node " << i + 1;
    }
    return ips;
  }

  bool ping(const std::string& cid, const std::string& ip, const std::string& extra = "") {
    return sb.exec_in(netns[cid], "ping -c1 -W2 " + extra + " " + ip + " >/dev/null").ok();
  }

  // Pings `ip` from container `cid` while tcpdump on the underlay switch
  // decodes UDP to `port` as VXLAN; returns the first echo request it saw,
  // with the outer header line before it ("" if none crossed encapsulated).
  std::string capture(const std::string& cid, const std::string& ip, int port) {
    std::string cmd = "timeout 4 tcpdump -i br0 -nn -l -T vxlan udp dst port " +
                      std::to_string(port) +
                      " 2>/dev/null | grep -m1 -B1 'ICMP echo request' & sleep 0.7; "
                      "ip netns exec " +
                      Sandbox::name_of(netns[cid]) + " ping -c1 -W2 " + ip + " >/dev/null; wait";
    return sb.exec_in(ul, cmd, std::chrono::seconds(8)).out;
  }

  // The capture shows the ping from `from_ip` to `to_ip` inside VXLAN (vni
  // 42) UDP from node 1's underlay address to `port`.
  void expect_encapsulated(const std::string& cap, const std::string& from_ip,
                           const std::string& to_ip, int port) {
    EXPECT_NE(cap.find(vtep(0) + "."), std::string::npos) << cap;
    EXPECT_NE(cap.find("." + std::to_string(port) + ": VXLAN"), std::string::npos) << cap;
    EXPECT_NE(cap.find("vni 42"), std::string::npos) << cap;
    EXPECT_NE(cap.find(from_ip + " > " + to_ip + ": ICMP echo request"), std::string::npos) << cap;
  }

  int mtu_of(const std::string& cid) { return sb.link_json(netns[cid], "eth0").value("mtu", 0); }

  // `cmd` (e.g. "bridge -j fdb show dev knetvx42") in node `node`, as JSON.
  json json_in(int node, const std::string& cmd) {
    return json::parse(sb.exec_in(nodes[node], cmd).out, nullptr, false);
  }

  // The underlay addresses node `node`'s VXLAN device sends to (any FDB entry).
  std::vector<std::string> fdb_dsts(int node, const std::string& mac = "") {
    std::vector<std::string> out;
    json fdb = json_in(node, "bridge -j fdb show dev knetvx42");
    for (const auto& e : fdb) {
      if (e.contains("dst") && (mac.empty() || e.value("mac", "") == mac)) {
        out.push_back(e["dst"]);
      }
    }
    return out;
  }

  bool has_link(int node, const std::string& name) {
    return !sb.link_json(nodes[node], name).is_null();
  }

  // What every mode must prove: container <prefix>0 on node 1 reaches the
  // containers on nodes 2 and 3, inside VXLAN UDP to `port` on the underlay,
  // with the computed MTU; CHECK agrees with what ADD built.
  void expect_overlay_works(const std::string& prefix, const std::vector<std::string>& ips,
                            int port, json check) {
    std::string c0 = prefix + "0";
    EXPECT_TRUE(ping(c0, ips[1]));
    EXPECT_TRUE(ping(c0, ips[2]));
    expect_encapsulated(capture(c0, ips[2], port), ips[0], ips[2], port);
    expect_mtu_path(c0, ips[1]);
    check["prevResult"] = results[c0];
    RunResult rc = run("CHECK", 0, c0, netns[c0], check);
    EXPECT_EQ(rc.code, 0) << rc.out;
  }

  // The MTU-sized ping with DF set crosses, one byte more does not.
  void expect_mtu_path(const std::string& from, const std::string& ip) {
    EXPECT_EQ(mtu_of(from), 1450);
    EXPECT_TRUE(ping(from, ip, "-M do -s 1422")) << "1450-byte packet with DF did not cross";
    EXPECT_FALSE(ping(from, ip, "-M do -s 1423")) << "1451-byte packet with DF crossed";
  }

  Sandbox sb;
  std::string ul;
  std::vector<std::string> nodes;
  TempDir data[kNodes];
  TempDir files;
  TempDir run_dir;
  std::map<std::string, json> results;
  std::map<std::string, std::string> netns;
};

// One subnet over all nodes; flooding by head-end replication to the peers of
// peersFile; a node leaving the file is forgotten by the next ADD.
TEST_F(VxlanTest, L2UnicastPeersFromFile) {
  write_members({{"peers", {vtep(0), vtep(1), vtep(2)}}});
  auto conf = [&](int node) {
    return l2_config(node, "10.90.0", {{"underlay", "ul0"}, {"peersFile", members_path()}});
  };
  auto ips = attach_all("a", conf);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ips[1], "10.90.0.20");

  // The VTEP is a bridge port and floods to both other nodes, not itself.
  json dev = sb.link_json(nodes[0], "knetvx42");
  EXPECT_EQ(dev["linkinfo"]["info_data"]["id"], 42);
  EXPECT_EQ(dev["linkinfo"]["info_data"]["port"], 4789);
  EXPECT_EQ(dev.value("master", ""), "knetbr42");
  EXPECT_EQ(fdb_dsts(0, "00:00:00:00:00:00"), (std::vector<std::string>{vtep(1), vtep(2)}));

  expect_overlay_works("a", ips, 4789, conf(0));

  auto dsts = fdb_dsts(0);
  EXPECT_GE(std::count(dsts.begin(), dsts.end(), vtep(2)), 2) << "a2's MAC was not learned";

  // Node 3 leaves (its underlay goes down, so it cannot be re-learned): the
  // next ADD on node 1 drops its flood entry and every MAC learned behind it.
  ASSERT_TRUE(sb.exec_in(nodes[2], "ip link set ul0 down").ok());
  write_members({{"peers", {vtep(0), vtep(1)}}});
  attach(0, "a3", conf(0));
  EXPECT_EQ(fdb_dsts(0, "00:00:00:00:00:00"), (std::vector<std::string>{vtep(1)}));
  for (const auto& dst : fdb_dsts(0)) EXPECT_EQ(dst, vtep(1));  // learned MACs too
  EXPECT_TRUE(ping("a0", ips[1]));
  json check = conf(0);
  check["prevResult"] = results["a0"];
  RunResult rc = run("CHECK", 0, "a0", netns["a0"], check);
  EXPECT_EQ(rc.code, 0) << rc.out;

  // DEL keeps the shared device while a3 still uses it.
  RunResult rd = run("DEL", 0, "a0", netns["a0"], conf(0));
  EXPECT_EQ(rd.code, 0) << rd.out;
  EXPECT_TRUE(sb.link_json(netns["a0"], "eth0").is_null());
  EXPECT_TRUE(has_link(0, "knetvx42"));
  rd = run("DEL", 0, "a0", netns["a0"], conf(0));  // idempotent
  EXPECT_EQ(rd.code, 0) << rd.out;

  // GC with no valid attachment left removes the device and the bridge.
  json gc = config({{"underlay", "ul0"}, {"peersFile", members_path()}}, 0, "1.1.0");
  gc["cni.dev/valid-attachments"] = json::array();
  RunResult rg = run("GC", 0, "", "", gc);
  EXPECT_EQ(rg.code, 0) << rg.out;
  EXPECT_FALSE(has_link(0, "knetvx42"));
  EXPECT_FALSE(has_link(0, "knetbr42"));
  EXPECT_TRUE(sb.link_json(netns["a3"], "eth0").is_null());
}

// One subnet over all nodes; flooding to a multicast group, on a non-default port.
TEST_F(VxlanTest, L2Multicast) {
  auto conf = [&](int node) {
    return l2_config(node, "10.91.0",
                     {{"underlay", "ul0"}, {"group", "239.1.1.42"}, {"port", 8472}});
  };
  auto ips = attach_all("m", conf);
  ASSERT_FALSE(HasFailure());
  json dev = sb.link_json(nodes[1], "knetvx42");
  EXPECT_EQ(dev["linkinfo"]["info_data"]["group"], "239.1.1.42");
  EXPECT_EQ(dev["linkinfo"]["info_data"]["port"], 8472);

  expect_overlay_works("m", ips, 8472, conf(0));
}

// A subnet per node, routed over the overlay; the underlay is found through
// the default route; nodes come from peersFile.
TEST_F(VxlanTest, L3RoutedSubnets) {
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(sb.exec_in(nodes[i], "ip route add default via 192.0.2.254 dev ul0").ok());
  }
  json all = json::array();
  for (int i = 0; i < kNodes; ++i) {
    all.push_back({{"vtep", vtep(i)}, {"subnet", "10.244." + std::to_string(i + 1) + ".0/24"}});
  }
  write_members({{"nodes", all}});
  auto conf = [&](int node) {
    return config(
        {{"mode", "l3"}, {"peersFile", members_path()}, {"ipam", {{"type", "host-local"}}}}, node);
  };
  auto ips = attach_all("r", conf);
  ASSERT_FALSE(HasFailure());
  const std::string &ip0 = ips[0], &ip1 = ips[1], &ip2 = ips[2];
  EXPECT_EQ(ip0.rfind("10.244.1.", 0), 0u) << ip0;
  EXPECT_EQ(ip2.rfind("10.244.3.", 0), 0u) << ip2;
  // The container's route to the cluster goes via its node.
  EXPECT_NE(sb.exec_in(netns["r0"], "ip route").out.find("10.244.0.0/22 via 10.244.1.1"),
            std::string::npos);

  // Node 1's entries for node 3: route via the overlay address (its metric
  // a function of the subnet, see l3_metric), neighbour, FDB.
  json route = json_in(0, "ip -j route show dev knetvx42 10.244.3.0/24");
  ASSERT_EQ(route.size(), 1u) << route;
  EXPECT_EQ(route[0].value("gateway", ""), "10.244.3.0") << route;
  EXPECT_NE(route[0].dump().find("onlink"), std::string::npos) << route;
  json neigh = json_in(0, "ip -j neigh show dev knetvx42 10.244.3.0");
  ASSERT_EQ(neigh.size(), 1u) << neigh;
  std::string mac3 = neigh[0]["lladdr"];
  EXPECT_EQ(sb.link_json(nodes[2], "knetvx42").value("address", ""), mac3);
  EXPECT_EQ(fdb_dsts(0, mac3), (std::vector<std::string>{vtep(2)}));

  expect_overlay_works("r", ips, 4789, conf(0));
  json check = conf(0);
  check["prevResult"] = results["r0"];

  // CHECK notices a missing entry; the next ADD puts it back.
  ASSERT_TRUE(sb.exec_in(nodes[0], "ip neigh del 10.244.2.0 dev knetvx42").ok());
  RunResult rc = run("CHECK", 0, "r0", netns["r0"], check);
  EXPECT_NE(rc.code, 0);
  EXPECT_NE(rc.out.find("no neighbour entry 10.244.2.0"), std::string::npos) << rc.out;

  // Node 3 leaves: the next ADD on node 1 removes its route, neighbour and FDB entry.
  all.erase(2);
  write_members({{"nodes", all}});
  attach(0, "r3", conf(0));
  EXPECT_EQ(sb.exec_in(nodes[0], "ip route show dev knetvx42").out.find("10.244.3.0"),
            std::string::npos);
  EXPECT_TRUE(json_in(0, "ip -j neigh show dev knetvx42 10.244.3.0").empty());
  EXPECT_TRUE(fdb_dsts(0, mac3).empty());
  EXPECT_EQ(fdb_dsts(0), (std::vector<std::string>{vtep(1)}));
  EXPECT_FALSE(ping("r0", ip2));
  EXPECT_TRUE(ping("r0", ip1));
}

// Bad input leaves nothing behind; a foreign device under our name is
// refused with the difference named; STATUS fails without the underlay.
TEST_F(VxlanTest, FailuresLeaveNothingBehind) {
  json l3 = config({{"mode", "l3"},
                    {"underlay", "ul0"},
                    {"nodes", {{{"vtep", vtep(0)}, {"subnet", "10.245.1.0/24"}}}},
                    {"ipam", {{"type", "host-local"}}}},
                   0);
  auto links = [&] { return sb.exec_in(nodes[0], "ip -o link show | wc -l").out; };
  std::string before = links();
  std::string c = sb.add_container("bad");

  json no_ipam_plugin = l3;
  no_ipam_plugin["ipam"]["type"] = "no-such-ipam";
  RunResult r = run("ADD", 0, "bad", c, no_ipam_plugin);
  EXPECT_NE(r.code, 0);
  json not_a_node = l3;
  not_a_node["nodes"][0]["vtep"] = vtep(1);
  r = run("ADD", 0, "bad", c, not_a_node);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("no entry in \\\"nodes\\\""), std::string::npos) << r.out;
  json big_mtu = l3;
  big_mtu["mtu"] = 1451;
  r = run("ADD", 0, "bad", c, big_mtu);
  EXPECT_NE(r.out.find("at most 1450"), std::string::npos) << r.out;
  EXPECT_EQ(links(), before);
  EXPECT_TRUE(sb.link_json(c, "eth0").is_null());

  ASSERT_TRUE(sb.exec_in(nodes[0],
                         "ip link add knetvx42 type vxlan id 42 dstport 8472 dev ul0 "
                         "&& ip link set knetvx42 alias knet-vxlan:ov")
                  .ok());
  r = run("ADD", 0, "bad", c, l3);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("port 8472"), std::string::npos) << r.out;
  EXPECT_TRUE(sb.link_json(c, "eth0").is_null());
  EXPECT_FALSE(has_link(0, "knetbr42"));
  // host-local ran before the device was refused; its reservation was released.
  std::string dir = data[0].path() + "/ov";
  EXPECT_TRUE(
      sb.exec_in(nodes[0], "test -d " + dir + " && ! ls " + dir + " | grep -q '^10[.]'").ok());

  json st = config({{"underlay", "ul0"}}, 0, "1.1.0");
  r = run("STATUS", 0, "", "", st);
  EXPECT_EQ(r.code, 0) << r.out;
  st["underlay"] = "missing0";
  r = run("STATUS", 0, "", "", st);
  EXPECT_NE(r.code, 0);
  ASSERT_TRUE(r.json) << r.out;
  EXPECT_EQ((*r.json)["code"], 50);
  st.erase("underlay");  // and no default route either
  r = run("STATUS", 0, "", "", st);
  EXPECT_EQ(r.json.value_or(json())["code"], 50) << r.out;
}

// peersFile is read only when it is a regular file (of at most 64 MiB): a
// FIFO, a device or a directory fails the ADD at once with an error naming
// the key, the path and why, and leaves nothing. DEL and GC never read it:
// with the file broken they still clean up.
TEST_F(VxlanTest, PeersFileThatIsNotARegularFile) {
  write_members({{"peers", {vtep(0), vtep(1)}}});
  std::string fifo = files.path() + "/fifo", dir = files.path() + "/dir";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  auto conf = [&](const std::string& file) {
    return l2_config(0, "10.92.0", {{"underlay", "ul0"}, {"peersFile", file}});
  };
  std::string c = sb.add_container("pf");
  struct Bad {
    std::string path, why;
  };
  // The FIFO first: before the fix it blocked, and /dev/zero grew without bound.
  for (const Bad& bad : {Bad{fifo, "is a FIFO"}, Bad{"/dev/zero", "is a character device"},
                         Bad{dir, "is a directory"}}) {
    SCOPED_TRACE(bad.path);
    RunResult r = run("ADD", 0, "pf", c, conf(bad.path), std::chrono::seconds(5));
    ASSERT_FALSE(r.timed_out) << "ADD hung on peersFile " << bad.path;
    ASSERT_TRUE(r.json) << r.out << r.err;
    EXPECT_EQ((*r.json)["code"], 7);
    std::string msg = (*r.json).value("msg", "");
    EXPECT_NE(msg.find("\"peersFile\" " + bad.path + ": " + bad.why), std::string::npos) << msg;
    EXPECT_FALSE(has_link(0, "knetvx42"));
    EXPECT_TRUE(sb.link_json(c, "eth0").is_null());
  }

  // An attachment made while the file was good; then the file breaks.
  attach(0, "pf", conf(members_path()));
  ASSERT_FALSE(HasFailure());
  for (const std::string& path : {fifo, std::string("/dev/zero")}) {
    RunResult r = run("DEL", 0, "pf", c, conf(path), std::chrono::seconds(5));
    ASSERT_FALSE(r.timed_out) << "DEL hung on peersFile " << path;
    EXPECT_EQ(r.code, 0) << r.out;
  }
  EXPECT_TRUE(sb.link_json(c, "eth0").is_null());
  RunResult r = gc(0, conf(fifo), {}, std::chrono::seconds(5));
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(has_link(0, "knetvx42"));
  EXPECT_FALSE(has_link(0, "knetbr42"));
  EXPECT_TRUE(sb.exec_in(nodes[0], "! ls " + data[0].path() + "/ov | grep -q '^10[.]'").ok())
      << "the address was not released";
}

// l3 with explicit IPAM ranges and no routes: containers still get the route
// to the cluster CIDR and reach the other node.
TEST_F(VxlanTest, L3ExplicitRangesStillRouteToTheCluster) {
  json members = json::array();
  for (int i = 0; i < 2; ++i) {
    members.push_back({{"vtep", vtep(i)}, {"subnet", "10.246." + std::to_string(i + 1) + ".0/24"}});
  }
  auto conf = [&](int node) {
    std::string subnet = "10.246." + std::to_string(node + 1) + ".0/24";
    return config({{"mode", "l3"},
                   {"underlay", "ul0"},
                   {"nodes", members},
                   {"ipam", {{"type", "host-local"}, {"ranges", {{{{"subnet", subnet}}}}}}}},
                  node);
  };
  std::string ip0 = attach(0, "x0", conf(0)), ip1 = attach(1, "x1", conf(1));
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(sb.exec_in(netns["x0"], "ip route").out.find("10.246.0.0/22 via 10.246.1.1"),
            std::string::npos)
      << sb.exec_in(netns["x0"], "ip route").out;
  EXPECT_EQ(results["x0"]["routes"][0]["dst"], "10.246.0.0/22") << results["x0"];
  EXPECT_TRUE(ping("x0", ip1));
  EXPECT_TRUE(ping("x1", ip0));
  json check = conf(0);
  check["prevResult"] = results["x0"];
  RunResult rc = run("CHECK", 0, "x0", netns["x0"], check);
  EXPECT_EQ(rc.code, 0) << rc.out;
}

// The first node of a new cluster: a membership of this node alone works
// (no cluster beyond its own subnet, so no cluster route), and once a
// second node joins through peersFile, the next ADDs connect across nodes.
TEST_F(VxlanTest, L3OneNodeThenASecondJoins) {
  json members = json::array({{{"vtep", vtep(0)}, {"subnet", "10.247.1.0/24"}}});
  write_members({{"nodes", members}});
  auto conf = [&](int node) { return l3_file_config(node); };
  std::string first = attach(0, "o0", conf(0));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(first.rfind("10.247.1.", 0), 0u) << first;
  EXPECT_FALSE(results["o0"].contains("routes") && !results["o0"]["routes"].empty())
      << results["o0"];

  members.push_back({{"vtep", vtep(1)}, {"subnet", "10.247.2.0/24"}});
  write_members({{"nodes", members}});
  std::string there = attach(1, "o1", conf(1)), here = attach(0, "o2", conf(0));
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(sb.exec_in(netns["o2"], "ip route").out.find("10.247.0.0/22 via 10.247.1.1"),
            std::string::npos);
  EXPECT_TRUE(ping("o2", there));
  EXPECT_TRUE(ping("o1", here));
}

// The peersFile as knet-node writes it: every node's published VTEP MAC
// and the network. Each node's device takes its own entry's MAC, and each
// node programs the others' as given (read back from the kernel's
// neighbour and FDB tables); a node without "mac" keeps the derived one.
// A container's route is the whole network, so one started while the
// cluster has two nodes reaches the pods of a third that joins later with
// a subnet outside the prefix of the first two (10.248.0.0/22).
TEST_F(VxlanTest, L3PublishedMacsAndTheWholeNetwork) {
  const std::string mac[] = {"0a:58:0a:f8:01:00", "0a:58:0a:f8:02:00"};
  json members = json::array({{{"vtep", vtep(0)}, {"subnet", "10.248.1.0/24"}, {"mac", mac[0]}},
                              {{"vtep", vtep(1)}, {"subnet", "10.248.2.0/24"}, {"mac", "0A-58-0A-F8-02-00"}}});
  write_members({{"network", "10.248.0.0/16"}, {"nodes", members}});
  auto conf = [&](int node) { return l3_file_config(node); };
  std::string ip0 = attach(0, "w0", conf(0)), ip1 = attach(1, "w1", conf(1));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(sb.link_json(nodes[0], "knetvx42").value("address", ""), mac[0]);
  EXPECT_EQ(sb.link_json(nodes[1], "knetvx42").value("address", ""), mac[1]);
  json neigh = json_in(0, "ip -j neigh show dev knetvx42 10.248.2.0");
  ASSERT_EQ(neigh.size(), 1u) << neigh;
  EXPECT_EQ(neigh[0].value("lladdr", ""), mac[1]);
  EXPECT_EQ(fdb_dsts(0, mac[1]), (std::vector<std::string>{vtep(1)}));
  neigh = json_in(1, "ip -j neigh show dev knetvx42 10.248.1.0");
  ASSERT_EQ(neigh.size(), 1u) << neigh;
  EXPECT_EQ(neigh[0].value("lladdr", ""), mac[0]);
  EXPECT_EQ(fdb_dsts(1, mac[0]), (std::vector<std::string>{vtep(0)}));
  EXPECT_EQ(results["w0"]["routes"][0]["dst"], "10.248.0.0/16") << results["w0"];
  EXPECT_NE(sb.exec_in(netns["w0"], "ip route").out.find("10.248.0.0/16 via 10.248.1.1"),
            std::string::npos);
  EXPECT_TRUE(ping("w0", ip1));
  EXPECT_TRUE(ping("w1", ip0));

  members.push_back({{"vtep", vtep(2)}, {"subnet", "10.248.200.0/24"}});
  write_members({{"network", "10.248.0.0/16"}, {"nodes", members}});
  std::string ip2 = attach(2, "w2", conf(2));
  attach(0, "w3", conf(0));  // node 1's next ADD brings in node 3
  ASSERT_FALSE(HasFailure());
  std::string derived = knet::vxlan::vtep_mac(42, *knet::IP::parse(vtep(2)));
  EXPECT_EQ(sb.link_json(nodes[2], "knetvx42").value("address", ""), derived);
  neigh = json_in(0, "ip -j neigh show dev knetvx42 10.248.200.0");
  ASSERT_EQ(neigh.size(), 1u) << neigh;
  EXPECT_EQ(neigh[0].value("lladdr", ""), derived);
  EXPECT_EQ(fdb_dsts(0, derived), (std::vector<std::string>{vtep(2)}));
  EXPECT_TRUE(ping("w0", ip2)) << "the first container's route does not cover the third node";
  EXPECT_TRUE(ping("w2", ip0));
  json check = conf(0);
  check["prevResult"] = results["w0"];
  RunResult rc = run("CHECK", 0, "w0", netns["w0"], check);
  EXPECT_EQ(rc.code, 0) << rc.out;
}

// ADD and GC of a network hold its lock (an flock under KNET_RUN_DIR): while
// someone else holds it, neither proceeds, so a GC that finds no veth cannot
// delete the device under an ADD that is about to attach its first one.
TEST_F(VxlanTest, AddAndGcWaitForTheNetworkLock) {
  write_members({{"peers", {vtep(0), vtep(1)}}});
  json conf = l2_config(0, "10.93.0", {{"underlay", "ul0"}, {"peersFile", members_path()}});
  attach(0, "lk0", conf);
  ASSERT_FALSE(HasFailure());
  std::string path = run_dir.path() + "/" + knet::vxlan::network_lock_file("ov");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(flock(fd, LOCK_EX), 0);

  RunResult r = gc(0, conf, {}, std::chrono::milliseconds(1500));
  EXPECT_TRUE(r.timed_out) << "GC did not wait for the network lock: " << r.out;
  EXPECT_TRUE(has_link(0, "knetvx42"));
  std::string c = sb.add_container("lk1");
  r = run("ADD", 0, "lk1", c, conf, std::chrono::milliseconds(1500));
  EXPECT_TRUE(r.timed_out) << "ADD did not wait for the network lock: " << r.out;
  EXPECT_TRUE(sb.link_json(c, "eth0").is_null());

  ::close(fd);  // releases the lock
  r = gc(0, conf, {"lk0"});
  EXPECT_EQ(r.code, 0) << r.out;
  r = run("ADD", 0, "lk1", c, conf);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has_link(0, "knetvx42"));
}

// An ADD killed between creating its host veth and tagging it leaves an
// untagged knet-named veth on the bridge (born enslaved, it is always a
// port): GC removes it, and keeps the valid attachment and the device.
TEST_F(VxlanTest, GcRemovesAnUntaggedVethOnTheBridge) {
  json conf = l2_config(0, "10.94.0", {{"underlay", "ul0"}, {"peers", {vtep(0), vtep(1)}}});
  attach(0, "ut0", conf);
  ASSERT_FALSE(HasFailure());
  std::string c = sb.add_container("ut1");
  ASSERT_TRUE(sb.exec_in(nodes[0], "ip link add veth0123456789a master knetbr42 up type veth "
                                   "peer name eth0 netns " + Sandbox::name_of(c))
                  .ok());
  RunResult r = gc(0, conf, {"ut0"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(has_link(0, "veth0123456789a"));
  EXPECT_TRUE(sb.link_json(c, "eth0").is_null());
  EXPECT_FALSE(sb.link_json(netns["ut0"], "eth0").is_null());
  EXPECT_TRUE(has_link(0, "knetvx42"));
}

// The first ADD of a network and a GC that finds nothing to keep, started
// together, round after round: whichever takes the network's lock first
// goes first, so the ADD never fails and never reports success on a network
// whose device or bridge the GC deleted under it.
TEST_F(VxlanTest, FirstAddAndGcRunTogether) {
  json conf = l2_config(0, "10.95.0", {{"underlay", "ul0"}, {"peers", {vtep(0), vtep(1)}}});
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string cid = "cc" + std::to_string(round);
    std::string c = sb.add_container(cid);
    RunResult add, collected;
    std::thread gc_thread([&] { collected = gc(0, conf); });
    add = run("ADD", 0, cid, c, conf);
    gc_thread.join();
    EXPECT_EQ(collected.code, 0) << collected.out;
    ASSERT_EQ(add.code, 0) << add.out << add.err;
    json veth = sb.link_json(nodes[0], (*add.json)["interfaces"][1]["name"]);
    if (!veth.is_null()) {  // the GC ran first: the ADD's network must be whole
      EXPECT_EQ(veth.value("master", ""), "knetbr42");
      EXPECT_EQ(sb.link_json(nodes[0], "knetvx42").value("master", ""), "knetbr42");
    }
    ASSERT_EQ(gc(0, conf).code, 0);  // the next round starts without the network
    EXPECT_FALSE(has_link(0, "knetvx42"));
  }
}

}  // namespace
}  // namespace knet::test
