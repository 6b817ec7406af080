// knet-node agents in a multi-node sandbox world (root): an "underlay"
// namespace holding the switch (bridge br0) and etcd on 192.0.2.1 (a
// 3-member cluster on 192.0.2.1-3 for the fault tests), node namespaces with
// underlay addresses 192.0.2.1<i> on ul0 (and fd00::1<i> for the IPv6
// underlay), one agent each, and containers added through knet's cnitool
// with the vxlan plugin reading the agent's peersFile. Short lease TTLs;
// every wait is bounded.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <config.h>  // the vxlan plugin's vtep_mac
#include "daemon.h"
#include "etcd/client.h"
#include "etcd_server.h"
#include "node/network.h"
#include "sandbox.h"

namespace knet::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kMaxNodes = 20;
constexpr int kMaxMembers = 3;
const std::string kPrefix = "/knet/network";
const std::string kConfig =
    R"({"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "Mode": "l3"}})";
const std::string kZeroMac = "00:00:00:00:00:00";

// Polls `pred` every 10 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class NodeTest : public ::testing::Test {
 protected:
  // How many etcd members SetUp starts (a derived fixture says 3).
  virtual int etcd_members() const { return 1; }

  void SetUp() override {
    ul = sb.add_underlay();
    const int n = etcd_members();
    std::string initial;
    for (int m = 0; m < n; ++m) {
      ASSERT_TRUE(sb.exec_in(ul, "ip addr add " + etcd_host(m) + "/24 dev br0").ok());
      initial += (m ? ",m" : "m") + std::to_string(m + 1) + "=http://" + etcd_host(m) + ":2380";
    }
    // The test thread lives in the underlay namespace: etcd is reached there,
    // never from the machine's own namespace.
    inside = std::make_unique<EnterNetns>(ul);
    for (int m = 0; m < n; ++m) {
      std::optional<EtcdMember> member;
      if (n > 1) member = EtcdMember{"m" + std::to_string(m + 1), initial};
      servers.push_back(std::make_unique<EtcdServer>(ul, etcd_dirs[m].path(), nullptr, etcd_host(m), member));
      servers.back()->launch();
    }
    for (auto& s : servers) s->wait_serving();
    etcd::ClientConfig c = servers[0]->client_config();
    c.endpoints.clear();
    for (int m = 0; m < n; ++m) c.endpoints.push_back("http://" + etcd_host(m) + ":2379");
    client = std::make_unique<etcd::Client>(c);
  }

  void TearDown() override {
    for (auto& a : agents) a.stop(milliseconds(2000));
    // KNET_NODE_TEST_LOGS=1 shows the agents' logs of passing tests too.
    if (HasFailure() || std::getenv("KNET_NODE_TEST_LOGS")) {
      for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
        std::cerr << "--- agent log of node " << i + 1 << ":\n" << slurp(dir(i) + "/agent.log");
      }
    }
  }

  static std::string etcd_host(int m) { return "192.0.2." + std::to_string(m + 1); }
  std::string endpoints() const {
    std::string e;
    for (int m = 0; m < etcd_members(); ++m) e += (m ? ",http://" : "http://") + etcd_host(m) + ":2379";
    return e;
  }
  // Node i's VTEP (underlay) address: IPv4, or IPv6 with `v6`.
  std::string vtep(int i) const { return (v6 ? "fd00::1" : "192.0.2.1") + std::to_string(i + 1); }
  std::string dir(int i) const { return dirs[i].path(); }
  std::string peers_file(int i) const { return dir(i) + "/peers/vxlan.json"; }

  // The network config (kConfig in this test's mode unless given).
  void put_config(std::string text = {}) {
    if (text.empty()) {
      text = kConfig;
      text.replace(text.find("\"l3\""), 4, "\"" + mode + "\"");
    }
    client->put({.key = kPrefix + "/config", .value = text});
  }

  // A node namespace on the underlay, with its directories.
  void add_node() {
    int i = static_cast<int>(nodes.size());
    nodes.push_back(sb.add_ns("node" + std::to_string(i + 1)));
    // IPv4 on the underlay in any case: etcd is reached by it.
    sb.attach(ul, nodes[i], "ul0", "192.0.2.1" + std::to_string(i + 1) + "/24");
    if (v6) {
      ASSERT_TRUE(sb.exec_in(nodes[i], "ip addr add " + vtep(i) + "/64 dev ul0 nodad").ok());
    }
    fs::create_directories(dir(i) + "/run");
    fs::create_directories(dir(i) + "/net.d");
    // The membership comes from the agent. l3: one conflist for every node;
    // l2: each node hands out its own slice of the one subnet.
    json ipam = {{"type", "host-local"}, {"dataDir", dir(i) + "/ipam"}};
    if (mode == "l3") {
      ipam["routes"] = {{{"dst", "10.244.0.0/16"}}};
    } else {
      std::string slice = "10.245." + std::to_string(i + 1) + ".";
      ipam["subnet"] = "10.245.0.0/16";
      ipam["rangeStart"] = slice + "1";
      ipam["rangeEnd"] = slice + "254";
    }
    json plugin = {{"type", "vxlan"}, {"mode", mode}, {"vni", 1}, {"port", 8472}, {"underlay", "ul0"},
                   {"peersFile", peers_file(i)}, {"ipam", ipam}};
    if (v6) plugin["local"] = vtep(i);
    json conf = {{"cniVersion", "1.0.0"}, {"name", "ov"}, {"plugins", {plugin}}};
    std::ofstream(dir(i) + "/net.d/10-ov.conflist") << conf.dump(2);
  }

  void start_agent(int i, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {plugin_path("knet-node"),
                                     "--etcd-endpoints=" + endpoints(),
                                     "--iface=ul0",
                                     "--public-ip=" + vtep(i),
                                     "--peers-file=" + peers_file(i),
                                     "--lease-ttl=3",
                                     "--healthz-addr=127.0.0.1:9090",
                                     "--cni-network=ov"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    agents[i].start(argv, {{"KNET_RUN_DIR", dir(i) + "/run"}, {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}},
                    nodes[i], dir(i) + "/agent.log");
  }

  // PublicIP -> subnet of every lease in etcd.
  std::map<std::string, std::string> leases() {
    std::map<std::string, std::string> out;
    for (const auto& kv : client->list_prefix(kPrefix + "/subnets/").kvs) {
      json v = json::parse(kv.value, nullptr, false);
      if (!v.is_object() || !v.contains("PublicIP")) continue;
      std::string name = kv.key.substr(kv.key.rfind('/') + 1);
      name[name.rfind('-')] = '/';
      out[v["PublicIP"]] = name;
    }
    return out;
  }

  // `cmd`'s JSON output in node `node`; an empty array when it printed none
  // (e.g. no knetvx1 yet).
  json json_in(int node, const std::string& cmd) {
    json j = json::parse(sb.exec_in(nodes[node], cmd).out, nullptr, false);
    return j.is_array() ? j : json::array();
  }

  // Node `at` holds node `peer`'s route, neighbour and FDB entry on knetvx1
  // (l2: its flood entry).
  bool has_entries(int at, int peer, const std::string& subnet) {
    if (mode == "l2") {
      for (const auto& e : json_in(at, "bridge -j fdb show dev knetvx1")) {
        if (e.value("mac", "") == kZeroMac && e.value("dst", "") == vtep(peer)) return true;
      }
      return false;
    }
    std::string net_ip = subnet.substr(0, subnet.find('/'));
    std::string mac = vxlan::vtep_mac(1, *knet::IP::parse(vtep(peer)));
    bool route = false, neigh = false, fdb = false;
    for (const auto& r : json_in(at, "ip -j route show dev knetvx1")) {
      route |= r.value("dst", "") == subnet && r.value("gateway", "") == net_ip;
    }
    for (const auto& n : json_in(at, "ip -j neigh show dev knetvx1")) {
      neigh |= n.value("dst", "") == net_ip && n.value("lladdr", "") == mac;
    }
    for (const auto& e : json_in(at, "bridge -j fdb show dev knetvx1")) {
      fdb |= e.value("mac", "") == mac && e.value("dst", "") == vtep(peer);
    }
    return route && neigh && fdb;
  }

  size_t routes_on_vtep(int at) { return json_in(at, "ip -j route show dev knetvx1").size(); }

  // Every node of the first `n` holds the entries of every other, per etcd.
  bool converged(int n) {
    auto l = leases();
    for (int i = 0; i < n; ++i) {
      if (!l.count(vtep(i))) return false;
    }
    for (int at = 0; at < n; ++at) {
      for (int peer = 0; peer < n; ++peer) {
        if (at != peer && !has_entries(at, peer, l[vtep(peer)])) return false;
      }
    }
    return true;
  }

  void start_cluster(int n, const std::vector<std::string>& extra = {}) {
    put_config();
    for (int i = 0; i < n; ++i) add_node();
    for (int i = 0; i < n; ++i) start_agent(i, extra);
    ASSERT_TRUE(eventually([&] { return converged(n); }, milliseconds(15000)))
        << "the nodes did not converge within 15 s";
    leases_seen = leases();
  }

  // cnitool ADD of a container on `node`; returns its IPv4 address.
  std::string add_container(int node, const std::string& id) {
    std::string ns = sb.add_container(id);
    RunResult r = run_process({plugin_path("cnitool"), "add", "ov", ns},
                              {{"NETCONFPATH", dir(node) + "/net.d"},
                               {"CNI_PATH", KNET_PLUGIN_DIR},
                               {"CNI_CACHE_DIR", dir(node) + "/cache"},
                               {"CNI_CONTAINERID", id},
                               {"KNET_RUN_DIR", dir(node) + "/run"},
                               {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}},
                              "", nodes[node], std::chrono::seconds(30));
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    if (!r.json || !r.json->contains("ips")) return {};
    containers[id] = ns;
    std::string a = (*r.json)["ips"][0]["address"];
    return a.substr(0, a.find('/'));
  }

  bool ping(const std::string& from, const std::string& ip) {
    return sb.exec_in(containers[from], "ping -c1 -W2 " + ip + " >/dev/null").ok();
  }

  std::string http_get(int node, const std::string& path) {
    return sb.exec_in(nodes[node], "curl -s -m 2 -w ' %{http_code}' http://127.0.0.1:9090" + path).out;
  }

  // Settings a test changes before its first add_node().
  std::string mode = "l3";
  bool v6 = false;

  Sandbox sb;
  TempDir etcd_dirs[kMaxMembers];
  TempDir dirs[kMaxNodes];
  std::string ul;
  std::vector<std::string> nodes;
  std::map<std::string, std::string> containers;
  std::unique_ptr<EnterNetns> inside;
  std::vector<std::unique_ptr<EtcdServer>> servers;
  std::unique_ptr<etcd::Client> client;
  Daemon agents[kMaxNodes];
  std::map<std::string, std::string> leases_seen;  // leases() when start_cluster converged
};

// Three agents take three subnets; each node's kernel holds the other two;
// containers on two nodes ping across; garbage in etcd is skipped, logged
// and never applied; /healthz and /metrics answer; SIGTERM leaves the kernel.
TEST_F(NodeTest, ThreeNodesConverge) {
  put_config();
  // Garbage first: its keys must neither be applied nor handed out.
  client->put({.key = kPrefix + "/subnets/10.244.1.0-24", .value = "not json"});
  client->put({.key = kPrefix + "/subnets/10.99.0.0-24",
               .value = R"({"PublicIP": "192.0.2.99", "BackendType": "vxlan", "BackendData": {"VNI": 1}})"});
  for (int i = 0; i < 3; ++i) add_node();
  for (int i = 0; i < 3; ++i) start_agent(i);
  ASSERT_TRUE(eventually([&] { return converged(3); }, milliseconds(15000)));

  auto l = leases();
  std::set<std::string> subnets;
  for (int i = 0; i < 3; ++i) subnets.insert(l[vtep(i)]);
  EXPECT_EQ(subnets.size(), 3u);
  EXPECT_FALSE(subnets.count("10.244.1.0/24")) << "a key holding garbage was handed out";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(routes_on_vtep(i), 2u) << "node " << i + 1;
  json file = json::parse(slurp(peers_file(0)));
  EXPECT_EQ(file["nodes"].size(), 3u) << file.dump();
  std::string log = slurp(dir(0) + "/agent.log");
  EXPECT_NE(log.find("skipping " + kPrefix + "/subnets/10.244.1.0-24 (revision"), std::string::npos) << log;
  EXPECT_NE(log.find("skipping " + kPrefix + "/subnets/10.99.0.0-24"), std::string::npos) << log;

  std::string a = add_container(0, "a"), b = add_container(1, "b");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_TRUE(ping("a", b));
  EXPECT_TRUE(ping("b", a));
  // Node 3 has no pod, yet reaches both through its overlay address.
  EXPECT_TRUE(sb.exec_in(nodes[2], "ping -c1 -W2 " + a + " >/dev/null").ok());
  EXPECT_TRUE(sb.exec_in(nodes[2], "ping -c1 -W2 " + b + " >/dev/null").ok());

  EXPECT_TRUE(eventually([&] { return http_get(0, "/healthz") == "ok\n 200"; }, milliseconds(3000)))
      << http_get(0, "/healthz");
  std::string metrics = http_get(0, "/metrics");
  EXPECT_NE(metrics.find("\nknet_node_peers 2\n"), std::string::npos) << metrics;
  EXPECT_EQ(http_get(0, "/nope"), "not found\n 404");

  agents[0].signal(SIGTERM);
  EXPECT_EQ(agents[0].wait(milliseconds(5000)), std::optional<int>(0));
  EXPECT_EQ(routes_on_vtep(0), 2u) << "SIGTERM must leave the kernel as it is";
  EXPECT_TRUE(ping("a", b));
}

// A fourth agent joins: the three running nodes get its entries within 1 s
// of its lease appearing, with no ADD on them, and reach its container.
TEST_F(NodeTest, FourthNodeReachedWithoutAdd) {
  start_cluster(3);
  std::string a = add_container(0, "a");
  add_node();
  start_agent(3);
  ASSERT_TRUE(eventually([&] { return leases().count(vtep(3)) > 0; }, milliseconds(10000)));
  const auto t0 = Clock::now();
  std::string subnet = leases()[vtep(3)];
  bool all = eventually(
      [&] { return has_entries(0, 3, subnet) && has_entries(1, 3, subnet) && has_entries(2, 3, subnet); },
      milliseconds(3000));
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  ASSERT_TRUE(all);
  EXPECT_LT(took.count(), 1000) << "entries of the new node took " << took.count() << " ms";
  RecordProperty("join_to_entries_ms", static_cast<int>(took.count()));
  std::string d = add_container(3, "d");
  ASSERT_FALSE(d.empty());
  EXPECT_TRUE(ping("a", d));
}

// An agent killed with -9 and started again keeps its subnet; the other
// nodes keep its entries throughout.
TEST_F(NodeTest, KilledAgentKeepsItsSubnet) {
  start_cluster(3);
  std::string before = leases()[vtep(1)];
  agents[1].signal(SIGKILL);
  ASSERT_TRUE(agents[1].wait(milliseconds(2000)).has_value());
  start_agent(1);
  EXPECT_TRUE(eventually([&] { return http_get(1, "/healthz") == "ok\n 200"; }, milliseconds(10000)));
  auto l = leases();
  EXPECT_EQ(l[vtep(1)], before);
  EXPECT_EQ(l.size(), 3u) << "the restart took a second subnet";
  EXPECT_TRUE(has_entries(0, 1, before));
  EXPECT_TRUE(has_entries(2, 1, before));
  EXPECT_TRUE(converged(3));
}

// A node that vanishes (agent killed, never back): once its lease's TTL has
// run out, every other node has dropped its route, neighbour and FDB entry,
// and its subnet is free in etcd.
TEST_F(NodeTest, VanishedNodeDroppedAfterItsTtl) {
  start_cluster(3);
  std::string gone = leases()[vtep(2)];
  agents[2].signal(SIGKILL);
  ASSERT_TRUE(agents[2].wait(milliseconds(2000)).has_value());
  EXPECT_TRUE(has_entries(0, 2, gone)) << "dropped before the TTL ran out";
  // TTL 3 s, renewed at most 1 s before the kill; etcd checks expiry every 0.5 s.
  EXPECT_TRUE(eventually([&] { return !has_entries(0, 2, gone) && !has_entries(1, 2, gone); },
                         milliseconds(6000)));
  EXPECT_EQ(routes_on_vtep(0), 1u);
  EXPECT_EQ(routes_on_vtep(1), 1u);
  EXPECT_FALSE(leases().count(vtep(2)));
  json file = json::parse(slurp(peers_file(0)));
  EXPECT_EQ(file["nodes"].size(), 2u) << file.dump();
}

// etcd goes away: the kernel and the file keep the last membership (nothing
// is flushed); when it is back, a change reaches every node again.
TEST_F(NodeTest, EtcdAwayKeepsTheKernel) {
  start_cluster(3);
  std::string before = slurp(peers_file(0));
  servers[0]->stop();
  std::this_thread::sleep_for(milliseconds(1500));  // watches broken, keepalives failing
  EXPECT_TRUE(has_entries(0, 1, leases_seen[vtep(1)]));
  EXPECT_EQ(routes_on_vtep(0), 2u);
  EXPECT_EQ(routes_on_vtep(2), 2u);
  EXPECT_EQ(slurp(peers_file(0)), before);
  servers[0]->start();
  // A lease put while the watchers were away reaches them by the resumed watch.
  add_node();
  start_agent(3);
  EXPECT_TRUE(eventually([&] { return converged(4); }, milliseconds(10000)));
}

// A full network: the agent that finds no free subnet exits non-zero naming
// the network, and the nodes that hold one are not disturbed.
TEST_F(NodeTest, FullNetworkIsAClearError) {
  // A /24 cut into /26s: 10.1.0.64, .128 and .192 (the first is the network's).
  put_config(R"({"Network": "10.1.0.0/24", "SubnetLen": 26, "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472}})");
  for (int i = 0; i < 4; ++i) add_node();
  for (int i = 0; i < 3; ++i) start_agent(i);
  ASSERT_TRUE(eventually([&] { return leases().size() == 3; }, milliseconds(10000)));
  start_agent(3);
  auto code = agents[3].wait(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "the fourth agent still runs";
  EXPECT_EQ(*code, 1);
  std::string log = slurp(dir(3) + "/agent.log");
  EXPECT_NE(log.find("no free subnet for 192.0.2.14: all 3 subnets of Network 10.1.0.0/24, SubnetLen 26"),
            std::string::npos)
      << log;
  EXPECT_EQ(leases().size(), 3u);
  EXPECT_TRUE(sb.link_json(nodes[3], "knetvx1").is_null());
}

// A bad <prefix>/config: the agent exits non-zero naming the field, before
// it touches etcd, the kernel or the peers file.
TEST_F(NodeTest, BadConfigTouchesNothing) {
  put_config(R"({"Network": "10.244.0.0/16", "Backend": {"Type": "udp"}})");
  add_node();
  start_agent(0);
  auto code = agents[0].wait(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "the agent still runs";
  EXPECT_EQ(*code, 1);
  std::string log = slurp(dir(0) + "/agent.log");
  EXPECT_NE(log.find("invalid network config /knet/network/config: \"Backend.Type\" \"udp\""), std::string::npos)
      << log;
  EXPECT_TRUE(leases().empty());
  EXPECT_FALSE(fs::exists(peers_file(0)));
  EXPECT_TRUE(sb.link_json(nodes[0], "knetvx1").is_null());
}

// The resync puts entries removed by hand back without any change in etcd;
// a node's key deleted while its lease lives is put back (same value, same
// lease); a second key with a node's PublicIP is skipped with its reason,
// never applied.
TEST_F(NodeTest, ResyncAndDeletedKeyPutBack) {
  start_cluster(3, {"--resync-interval=1"});
  const std::string s1 = leases_seen[vtep(1)];
  const std::string mac1 = vxlan::vtep_mac(1, *knet::IP::parse(vtep(1)));
  // Both deletions succeed (the entries were there); a resync may come
  // between them and the check below, so their absence is not asserted.
  ASSERT_TRUE(sb.exec_in(nodes[0], "ip route del " + s1 + " dev knetvx1").ok());
  ASSERT_TRUE(sb.exec_in(nodes[0], "bridge fdb del " + mac1 + " dev knetvx1 dst " + vtep(1)).ok());
  EXPECT_TRUE(eventually([&] { return has_entries(0, 1, s1); }, milliseconds(3000)))
      << "the resync did not put the entries back";

  const std::string key1 = kPrefix + "/subnets/" + s1.substr(0, s1.find('/')) + "-24";
  auto before = client->get(key1);
  ASSERT_TRUE(before.has_value());
  client->remove(etcd::DeleteRequest::single(key1));
  EXPECT_TRUE(eventually(
      [&] {
        auto kv = client->get(key1);
        return kv && kv->value == before->value && kv->lease == before->lease;
      },
      milliseconds(3000)))
      << "node 2 did not put its key back";
  EXPECT_NE(slurp(dir(1) + "/agent.log").find(key1 + " was deleted"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return converged(3); }, milliseconds(3000)));
  EXPECT_EQ(leases().size(), 3u);

  // A newer key with node 3's PublicIP: the older key keeps it.
  const std::string dup = kPrefix + "/subnets/10.244.200.0-24";
  client->put({.key = dup, .value = client->get(kPrefix + "/subnets/" + leases_seen[vtep(2)].substr(0, leases_seen[vtep(2)].find('/')) + "-24")->value});
  EXPECT_TRUE(eventually([&] { return slurp(dir(0) + "/agent.log").find("skipping " + dup) != std::string::npos; },
                         milliseconds(3000)));
  std::this_thread::sleep_for(milliseconds(1200));  // a resync went by
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(routes_on_vtep(i), 2u) << "node " << i + 1;
    EXPECT_TRUE(has_entries(i, 2, leases_seen[vtep(2)])) << "node " << i + 1;
  }
  EXPECT_EQ(json::parse(slurp(peers_file(0)))["nodes"].size(), 3u);
}

// l2 across nodes: each node holds a flood entry per other node, and
// containers on three nodes ping each other on the one stretched subnet.
TEST_F(NodeTest, L2AcrossThreeNodes) {
  mode = "l2";
  start_cluster(3);
  json file = json::parse(slurp(peers_file(0)));
  EXPECT_EQ(file["peers"].size(), 3u) << file.dump();
  std::string ip[3];
  for (int i = 0; i < 3; ++i) {
    ip[i] = add_container(i, "c" + std::to_string(i));
    ASSERT_FALSE(ip[i].empty());
  }
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (i != j) {
        EXPECT_TRUE(ping("c" + std::to_string(i), ip[j])) << i + 1 << " -> " << j + 1;
      }
    }
  }
}

// An IPv6 underlay (VTEPs on fd00::1<i>, the pod network IPv4): the nodes
// converge and containers ping across.
TEST_F(NodeTest, Ipv6UnderlayConverges) {
  v6 = true;
  start_cluster(3);
  EXPECT_EQ(leases().size(), 3u);
  std::string a = add_container(0, "a"), c = add_container(2, "c");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(c.empty());
  EXPECT_TRUE(ping("a", c));
  EXPECT_TRUE(ping("c", a));
  EXPECT_TRUE(sb.exec_in(nodes[1], "ping -c1 -W2 " + a + " >/dev/null").ok());
}

// 20 agents started at once take 20 distinct subnets, and each one's file
// lists all 20 nodes.
TEST_F(NodeTest, TwentyAgentsAtOnce) {
  put_config();
  for (int i = 0; i < kMaxNodes; ++i) add_node();
  for (int i = 0; i < kMaxNodes; ++i) start_agent(i, {"--lease-ttl=10"});
  ASSERT_TRUE(eventually([&] { return leases().size() == kMaxNodes; }, milliseconds(20000)))
      << leases().size() << " leases";
  std::set<std::string> subnets;
  for (const auto& [ip, subnet] : leases()) subnets.insert(subnet);
  EXPECT_EQ(subnets.size(), static_cast<size_t>(kMaxNodes));
  EXPECT_TRUE(eventually(
      [&] {
        for (int i = 0; i < kMaxNodes; ++i) {
          json f = json::parse(slurp(peers_file(i)), nullptr, false);
          if (!f.is_object() || f["nodes"].size() != kMaxNodes) return false;
        }
        return true;
      },
      milliseconds(10000)));
}

// A node cut off from etcd (its packets to and from etcd dropped) while the
// others are not: it keeps forwarding to the peers it knew and its resync
// keeps its entries; once it is back, it has the node that joined meanwhile.
TEST_F(NodeTest, CutOffNodeKeepsForwarding) {
  // A TTL longer than the cut: the others keep the cut-off node's entries.
  start_cluster(3, {"--lease-ttl=15", "--resync-interval=1"});
  std::string a = add_container(0, "a"), b = add_container(1, "b");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  // Dropped, not refused: the established watch stays open and silent, as
  // in a partition, and TCP delivers what it missed once the cut is gone.
  const std::string cut =
      "nft add table ip cut && "
      "nft add chain ip cut out '{ type filter hook output priority 0; }' && "
      "nft add rule ip cut out ip daddr 192.0.2.0/29 tcp dport 2379 drop && "
      "nft add chain ip cut in '{ type filter hook input priority 0; }' && "
      "nft add rule ip cut in ip saddr 192.0.2.0/29 tcp sport 2379 drop";
  ASSERT_TRUE(sb.exec_in(nodes[1], cut).ok());
  EXPECT_TRUE(ping("b", a));
  EXPECT_TRUE(ping("a", b));
  // Its resync runs from the last known membership.
  const std::string s0 = leases_seen[vtep(0)];
  ASSERT_TRUE(sb.exec_in(nodes[1], "ip route del " + s0 + " dev knetvx1").ok());
  EXPECT_TRUE(eventually([&] { return has_entries(1, 0, s0); }, milliseconds(3000)));
  // A fourth node joins while node 2 is cut off.
  add_node();
  start_agent(3, {"--lease-ttl=15"});
  ASSERT_TRUE(eventually([&] { return leases().count(vtep(3)) > 0; }, milliseconds(10000)));
  const std::string s3 = leases()[vtep(3)];
  EXPECT_TRUE(eventually([&] { return has_entries(0, 3, s3) && has_entries(3, 1, leases_seen[vtep(1)]); },
                         milliseconds(5000)));
  EXPECT_FALSE(has_entries(1, 3, s3)) << "node 2 saw etcd through the cut";
  ASSERT_TRUE(sb.exec_in(nodes[1], "nft delete table ip cut").ok());
  // The watch's missed events come by TCP retransmission (its backoff doubles
  // up to seconds during the cut) or, had the stream broken, by a new stream.
  EXPECT_TRUE(eventually([&] { return has_entries(1, 3, s3); }, milliseconds(15000)));
  std::string d = add_container(3, "d");
  ASSERT_FALSE(d.empty());
  EXPECT_TRUE(ping("b", d));
  EXPECT_EQ(leases()[vtep(1)], leases_seen[vtep(1)]);
}

// A 3-member etcd cluster; every agent is given the three endpoints.
class EtcdClusterTest : public NodeTest {
 protected:
  int etcd_members() const override { return 3; }

  // The member that leads now (by /v3/maintenance/status), or -1.
  int leader() {
    for (int m = 0; m < etcd_members(); ++m) {
      auto r = sb.exec_in(ul, "curl -s -m 1 -X POST -d '{}' http://" + etcd_host(m) + ":2379/v3/maintenance/status");
      json j = json::parse(r.out, nullptr, false);
      if (j.is_object() && j.contains("header") && j["header"].value("member_id", "") == j.value("leader", "x")) {
        return m;
      }
    }
    return -1;
  }
};

// The leader is killed: agents keep their kernel state and their leases, and
// a node joining while that member is down converges everywhere.
TEST_F(EtcdClusterTest, LeaderKilled) {
  start_cluster(3);
  std::string a = add_container(0, "a");
  ASSERT_FALSE(a.empty());
  int lead = -1;
  ASSERT_TRUE(eventually([&] { return (lead = leader()) >= 0; }, milliseconds(5000)));
  servers[lead]->kill();
  std::this_thread::sleep_for(milliseconds(1500));  // a new election, failed calls and watches
  for (int i = 0; i < 3; ++i) EXPECT_EQ(routes_on_vtep(i), 2u) << "node " << i + 1;
  EXPECT_TRUE(converged(3));
  add_node();
  start_agent(3);
  EXPECT_TRUE(eventually([&] { return converged(4); }, milliseconds(10000)));
  std::string d = add_container(3, "d");
  ASSERT_FALSE(d.empty());
  EXPECT_TRUE(ping("a", d));
  EXPECT_TRUE(ping("d", a));
  EXPECT_EQ(leases().size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(leases()[vtep(i)], leases_seen[vtep(i)]) << "node " << i + 1;
}

}  // namespace
}  // namespace knet::test
