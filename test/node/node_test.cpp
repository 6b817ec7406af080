// knet-node agents in a multi-node sandbox world (root): an "underlay"
// namespace holding the switch (bridge br0) and etcd on 192.0.2.1, node
// namespaces with underlay addresses 192.0.2.1<i> on ul0, one agent each,
// and containers added through knet's cnitool with the vxlan plugin reading
// the agent's peersFile. Short lease TTLs; every wait is bounded.

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

constexpr int kMaxNodes = 4;
const std::string kPrefix = "/knet/network";
const std::string kEtcdHost = "192.0.2.1";
constexpr const char* kConfig =
    R"({"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "Mode": "l3"}})";

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
  void SetUp() override {
    ul = sb.add_underlay();
    ASSERT_TRUE(sb.exec_in(ul, "ip addr add " + kEtcdHost + "/24 dev br0").ok());
    // The test thread lives in the underlay namespace: etcd is reached there,
    // never from the machine's own namespace.
    inside = std::make_unique<EnterNetns>(ul);
    server = std::make_unique<EtcdServer>(ul, etcd_dir.path(), nullptr, kEtcdHost);
    server->start();
    client = std::make_unique<etcd::Client>(server->client_config());
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

  static std::string vtep(int i) { return "192.0.2.1" + std::to_string(i + 1); }
  std::string dir(int i) const { return dirs[i].path(); }
  std::string peers_file(int i) const { return dir(i) + "/peers/vxlan.json"; }

  void put_config(const std::string& text = kConfig) {
    client->put({.key = kPrefix + "/config", .value = text});
  }

  // A node namespace on the underlay, with its directories.
  void add_node() {
    int i = static_cast<int>(nodes.size());
    nodes.push_back(sb.add_ns("node" + std::to_string(i + 1)));
    sb.attach(ul, nodes[i], "ul0", vtep(i) + "/24");
    fs::create_directories(dir(i) + "/run");
    fs::create_directories(dir(i) + "/net.d");
    // One conflist for every node: the membership comes from the agent.
    json conf = {{"cniVersion", "1.0.0"},
                 {"name", "ov"},
                 {"plugins",
                  {{{"type", "vxlan"},
                    {"mode", "l3"},
                    {"vni", 1},
                    {"port", 8472},
                    {"underlay", "ul0"},
                    {"peersFile", peers_file(i)},
                    {"ipam",
                     {{"type", "host-local"},
                      {"dataDir", dir(i) + "/ipam"},
                      {"routes", {{{"dst", "10.244.0.0/16"}}}}}}}}}};
    std::ofstream(dir(i) + "/net.d/10-ov.conflist") << conf.dump(2);
  }

  void start_agent(int i, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {plugin_path("knet-node"),
                                     "--etcd-endpoints=http://" + kEtcdHost + ":2379",
                                     "--iface=ul0",
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

  // Node `at` holds node `peer`'s route, neighbour and FDB entry on knetvx1.
  bool has_entries(int at, int peer, const std::string& subnet) {
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

  void start_cluster(int n) {
    put_config();
    for (int i = 0; i < n; ++i) add_node();
    for (int i = 0; i < n; ++i) start_agent(i);
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

  Sandbox sb;
  TempDir etcd_dir;
  TempDir dirs[kMaxNodes];
  std::string ul;
  std::vector<std::string> nodes;
  std::map<std::string, std::string> containers;
  std::unique_ptr<EnterNetns> inside;
  std::unique_ptr<EtcdServer> server;
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
  server->stop();
  std::this_thread::sleep_for(milliseconds(1500));  // watches broken, keepalives failing
  EXPECT_TRUE(has_entries(0, 1, leases_seen[vtep(1)]));
  EXPECT_EQ(routes_on_vtep(0), 2u);
  EXPECT_EQ(routes_on_vtep(2), 2u);
  EXPECT_EQ(slurp(peers_file(0)), before);
  server->start();
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

}  // namespace
}  // namespace knet::test
