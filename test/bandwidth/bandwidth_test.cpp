// The bandwidth plugin binary, chained after the reference bridge +
// host-local in sandbox namespaces: what it leaves in the kernel, CHECK, DEL,
// GC, STATUS, and iperf3 measuring the shaped rates.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;

const std::string kRefPlugins = "/usr/lib/cni";
constexpr double kTolerance = 0.10;  // the bound on |measured - rate| / rate

class BandwidthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kRefPlugins + "/bridge")) {
      GTEST_SKIP() << "reference bridge plugin not installed in " << kRefPlugins;
    }
    cont = sb.add_container();
    // Host-side address outside the bridge subnet, reached via the default route.
    ASSERT_TRUE(sb.exec_in(sb.host(), "ip addr add 192.0.2.1/32 dev lo").ok());
    json r = run_bridge("ADD", "c1", cont);
    ASSERT_TRUE(r.is_object()) << r;
    prev = r;
    cont_ip = prev["ips"][0]["address"].get<std::string>();
    cont_ip = cont_ip.substr(0, cont_ip.find('/'));
    for (const auto& i : prev["interfaces"]) {
      if (!i.contains("sandbox") && i["name"].get<std::string>().starts_with("veth")) {
        host_veth = i["name"];
      }
    }
    ASSERT_FALSE(host_veth.empty()) << prev;
  }

  void TearDown() override {
    for (pid_t p : servers) ::kill(p, SIGTERM);
  }

  std::map<std::string, std::string> env(const std::string& cmd, const std::string& cid,
                                         const std::string& netns) {
    std::map<std::string, std::string> e = {{"CNI_COMMAND", cmd},
                                            {"CNI_CONTAINERID", cid},
                                            {"CNI_IFNAME", "eth0"},
                                            {"CNI_PATH", kRefPlugins}};
    if (!netns.empty()) e["CNI_NETNS"] = netns;
    return e;
  }

  json run_bridge(const std::string& cmd, const std::string& cid, const std::string& netns) {
    json c = {
        {"cniVersion", "1.0.0"},
        {"name", "bwnet"},
        {"type", "bridge"},
        {"bridge", "kbr0"},
        {"isGateway", true},
        {"isDefaultGateway", true},
        {"ipam", {{"type", "host-local"}, {"subnet", "10.77.0.0/24"}, {"dataDir", data.path()}}}};
    RunResult r = sb.run_plugin(kRefPlugins + "/bridge", env(cmd, cid, netns), c.dump());
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return r.json.value_or(json());
  }

  // The bandwidth config with `keys` merged in and the bridge's result as prevResult.
  std::string config(const json& keys, const std::string& version = "1.0.0") {
    json c = {
        {"cniVersion", version}, {"name", "bwnet"}, {"type", "bandwidth"}, {"prevResult", prev}};
    c.merge_patch(keys);
    return c.dump();
  }

  RunResult bw(const std::string& cmd, const std::string& conf, const std::string& cid = "c1",
               const std::string& netns = "") {
    return sb.run_plugin(plugin_path("bandwidth"), env(cmd, cid, netns.empty() ? cont : netns),
                         conf);
  }

  json tc_json(const std::string& what) {
    auto r = sb.exec_in(sb.host(), "tc -j " + what);
    return json::parse(r.out, nullptr, false);
  }

  // Names of the host's ifb devices.
  std::vector<std::string> ifbs() {
    std::vector<std::string> out;
    auto j = json::parse(sb.exec_in(sb.host(), "ip -j link show type ifb").out, nullptr, false);
    if (j.is_array()) {
      for (const auto& l : j) out.push_back(l["ifname"]);
    }
    return out;
  }

  // The kernel's qdisc kinds on the host veth ("tbf", "htb", "ingress").
  std::set<std::string> veth_qdiscs() {
    std::set<std::string> out;
    json j = tc_json("qdisc show dev " + host_veth);
    if (j.is_array()) {
      for (const auto& q : j) {
        if (q["kind"] != "noqueue") out.insert(q["kind"].get<std::string>());
      }
    }
    return out;
  }

  // The steady TCP rate from `from_ns` to `to_ns`: 3 s measured after 1 s of
  // slow start left out (iperf3 -O 1). Through an ifb, slow start can end in
  // one retransmission timeout (at least 200 ms), 7% of a 3 s run; a user's
  // default 10 s iperf3 run amortises it, the test leaves it out.
  double steady_bps(const std::string& from_ns, const std::string& from_ip,
                    const std::string& to_ns) {
    return received_bps(iperf(from_ns, from_ip, to_ns, 3, "-O 1"));
  }

  // TCP (or `extra`) from `from_ns` to `to_ns` for `secs` seconds, measured at
  // the receiver: an iperf3 server (one test, bounded by timeout) in the
  // sending namespace bound to `from_ip`, the client in the receiving one with -R.
  json iperf(const std::string& from_ns, const std::string& from_ip, const std::string& to_ns,
             int secs = 3, const std::string& extra = "") {
    auto s =
        sb.exec_in(from_ns, "timeout " + std::to_string(secs + 12) + " iperf3 -s -1 -p 5201 -B " +
                                from_ip + " >/dev/null 2>&1 & echo $!");
    if (s.ok()) servers.push_back(std::stoi(s.out));
    std::string last;
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto c = sb.exec_in(to_ns,
                          "iperf3 -c " + from_ip + " -p 5201 -R -J -t " + std::to_string(secs) +
                              " --connect-timeout 1000 " + extra,
                          std::chrono::seconds(secs + 10));
      json j = json::parse(c.out, nullptr, false);
      if (c.ok() && received_bps(j) > 0) return j;
      last = c.out;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // server not listening yet
    }
    ADD_FAILURE() << "iperf3 from " << from_ip << " never ran: " << last;
    return json();
  }

  // The receiver's average, 0 when `j` is not a finished iperf3 report.
  static double received_bps(const json& j) {
    for (const char* path : {"/end/sum_received/bits_per_second", "/end/sum/bits_per_second"}) {
      json::json_pointer p(path);  // TCP reports sum_received, UDP sum
      if (j.is_object() && j.contains(p) && j[p].is_number()) return j[p].get<double>();
    }
    return 0;
  }

  // Asserts that goodput is within kTolerance of `rate` and logs how far it is
  // from the best TCP can do at that L2 rate.
  // The configured rate is TCP payload (see tc/bucket.h): iperf3's goodput
  // should be the rate itself.
  // A 3 s run on this 2-core VM is sometimes off by 8-13 % for reasons outside
  // the shaper (seen with the old and the new shaping code alike), so a run
  // outside the tolerance is measured once more and the second run decides:
  // a shaper that is really wrong misses both.
  void expect_rate(const std::function<double()>& measure, double rate, const std::string& what) {
    double got = 0;
    for (int attempt = 1; attempt <= 2; ++attempt) {
      got = measure();
      std::printf("[ accuracy ] %s: %.2f Mbit/s at %.0f Mbit/s (%.1f%% of the rate)%s\n",
                  what.c_str(), got / 1e6, rate / 1e6, 100 * got / rate,
                  attempt == 2 ? " (second run)" : "");
      if (std::abs(got - rate) / rate <= kTolerance) return;
    }
    ADD_FAILURE() << what << ": " << got << " bit/s twice outside " << kTolerance << " of " << rate;
  }

  // True when the host veth carries no shaping: no root qdisc but the
  // default and no ingress filter. DEL leaves an empty ingress qdisc (see
  // tc/redirect.h); it passes everything.
  bool unshaped() {
    std::set<std::string> q = veth_qdiscs();
    q.erase("ingress");
    return q.empty() &&
           sb.exec_in(sb.host(), "tc filter show dev " + host_veth + " ingress").out.empty();
  }

  // Packets HTB class `classid` ("6b62:10") of `dev` has sent, -1 if it has none.
  long class_packets(const std::string& dev, const std::string& classid) {
    std::string out = sb.exec_in(sb.host(), "tc -s class show dev " + dev).out;
    size_t at = out.find("class htb " + classid + " ");
    if (at == std::string::npos) return -1;
    size_t sent = out.find("Sent ", at);
    size_t bytes = out.find(" bytes ", sent);
    if (sent == std::string::npos || bytes == std::string::npos) return -1;
    return std::stol(out.substr(bytes + 7));
  }

  void require_iperf3() {
    if (!sb.exec_in(sb.host(), "command -v iperf3").ok()) GTEST_SKIP() << "iperf3 not installed";
  }

  Sandbox sb;
  TempDir data;
  std::string cont, cont_ip, host_veth;
  json prev;
  std::vector<pid_t> servers;
};

json both(uint64_t rate, uint64_t burst) {
  return {
      {"ingressRate", rate}, {"ingressBurst", burst}, {"egressRate", rate}, {"egressBurst", burst}};
}

TEST_F(BandwidthTest, AddShapesBothDirectionsAndPassesPrevResultOn) {
  std::string conf = config(both(10'000'000, 200'000));
  RunResult r = bw("ADD", conf);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(*r.json, prev);
  EXPECT_EQ(veth_qdiscs(), (std::set<std::string>{"tbf", "ingress"}));
  auto names = ifbs();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(names[0].starts_with("kbw"));
  json link = sb.link_json(sb.host(), names[0]);
  EXPECT_EQ(link["ifalias"], "knet:bwnet:c1:eth0");
  json q = tc_json("qdisc show dev " + names[0]);
  ASSERT_TRUE(q.is_array() && !q.empty());
  EXPECT_EQ(q[0]["kind"], "tbf");
  EXPECT_EQ(q[0]["options"]["rate"], 1'306'975);  // 10 Mbit/s of TCP payload in 1514-byte frames

  r = bw("CHECK", conf);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  r = bw("DEL", conf);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(unshaped());
  EXPECT_TRUE(ifbs().empty());
  r = bw("DEL", conf);
  EXPECT_EQ(r.code, 0) << "DEL succeeds when everything is gone: " << r.out;
}

TEST_F(BandwidthTest, CheckNoticesAChangedShaper) {
  std::string conf = config(both(10'000'000, 200'000));
  ASSERT_EQ(bw("ADD", conf).code, 0);
  ASSERT_TRUE(
      sb.exec_in(sb.host(), "tc qdisc replace dev " + host_veth +
                                " root handle 6b62: tbf rate 20mbit burst 25000 limit 40000")
          .ok());
  RunResult r = bw("CHECK", conf);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("rate"), std::string::npos) << r.out;
  ASSERT_EQ(bw("DEL", conf).code, 0);
  r = bw("CHECK", conf);
  EXPECT_NE(r.code, 0) << "CHECK must fail once the shapers are gone";
}

TEST_F(BandwidthTest, SubnetsUseHtbAndCheckPasses) {
  json keys = both(10'000'000, 200'000);
  keys["shapedSubnets"] = {"192.0.2.0/24", "2001:db8::/32"};
  std::string conf = config(keys);
  RunResult r = bw("ADD", conf);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  // HTB classifies; the shaped class's leaf is the TBF that shapes.
  EXPECT_EQ(veth_qdiscs(), (std::set<std::string>{"htb", "tbf", "ingress"}));
  json leaf = tc_json("qdisc show dev " + host_veth + " parent 6b62:10");
  ASSERT_TRUE(leaf.is_array() && leaf.size() == 1) << leaf;
  EXPECT_EQ(leaf[0].value("kind", ""), "tbf");
  EXPECT_EQ(leaf[0]["options"].value("rate", 0.0), 1'306'975) << leaf;
  json f = tc_json("filter show dev " + host_veth + " parent 6b62:");
  int matches = 0;
  for (const auto& e : f) matches += e.contains("options") && e["options"].contains("match");
  EXPECT_EQ(matches, 2) << f;
  r = bw("CHECK", conf);
  EXPECT_EQ(r.code, 0) << r.out;
  keys["shapedSubnets"] = {"192.0.2.0/24"};
  r = bw("CHECK", config(keys));
  EXPECT_NE(r.code, 0) << "CHECK must see the missing 2001:db8::/32 filter";
  EXPECT_EQ(bw("DEL", conf).code, 0);
  EXPECT_TRUE(unshaped());
}

// Above ~16.4 Gbit/s libnl's TBF API stops and an HTB shapes. Without subnets
// it has no filters, so its default class must be the shaped one: with the
// unshaped class as default nothing was enforced, and CHECK agreed.
TEST_F(BandwidthTest, RateBeyondTbfRangeIsEnforced) {
  std::string conf = config(both(20'000'000'000, 20'000'000));
  RunResult r = bw("ADD", conf);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  for (const std::string& dev : {host_veth, ifbs().at(0)}) {
    json q = tc_json("qdisc show dev " + dev + " root");
    ASSERT_TRUE(q.is_array() && q.size() == 1) << q;
    EXPECT_EQ(q[0].value("kind", ""), "htb") << dev;
    EXPECT_EQ(q[0]["options"].value("default", ""), "0x10") << dev << ": " << q;
  }
  EXPECT_EQ(bw("CHECK", conf).code, 0);
  // Traffic both ways goes through the shaped class 6b62:10, none through 6b62:20.
  ASSERT_TRUE(sb.ping(cont, "10.77.0.1"));
  for (const std::string& dev : {host_veth, ifbs().at(0)}) {
    EXPECT_GT(class_packets(dev, "6b62:10"), 0) << dev;
    EXPECT_EQ(class_packets(dev, "6b62:20"), 0) << dev;
  }
  ASSERT_TRUE(
      sb.exec_in(sb.host(), "tc qdisc del dev " + host_veth + " root && tc qdisc add dev " +
                                        host_veth + " root handle 6b62: htb default 20")
          .ok());
  r = bw("CHECK", conf);
  EXPECT_NE(r.code, 0) << "CHECK must see that the default class is the unshaped one";
  EXPECT_NE(r.out.find("default class"), std::string::npos) << r.out;
  EXPECT_EQ(bw("DEL", conf).code, 0);
}

TEST_F(BandwidthTest, BadConfigLeavesNothingBehind) {
  json keys = both(10'000'000, 200'000);
  keys["egressBurst"] = nullptr;
  RunResult r = bw("ADD", config(keys));
  EXPECT_EQ(r.code, 1);
  ASSERT_TRUE(r.json) << r.out;
  EXPECT_EQ((*r.json)["code"], 7);
  EXPECT_NE((*r.json)["msg"].get<std::string>().find("egressRate"), std::string::npos);
  EXPECT_TRUE(veth_qdiscs().empty());
  EXPECT_TRUE(ifbs().empty());
}

TEST_F(BandwidthTest, NoLimitsPassesThrough) {
  RunResult r = bw("ADD", config(json::object()));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(*r.json, prev);
  EXPECT_TRUE(veth_qdiscs().empty());
}

// A drop-in replacement: knet's DEL removes what the reference's ADD made
// (its "bwp..." ifb and the qdiscs on the host veth).
TEST_F(BandwidthTest, DelRemovesTheReferencePluginsShaping) {
  std::string conf = config(both(10'000'000, 200'000));
  RunResult r = sb.run_plugin(kRefPlugins + "/bandwidth", env("ADD", "c1", cont), conf);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto made = ifbs();
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].rfind("bwp", 0), 0u) << made[0];
  ASSERT_FALSE(veth_qdiscs().empty());
  r = bw("DEL", conf);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(ifbs().empty()) << "the reference's ifb " << made[0] << " is left";
  EXPECT_TRUE(unshaped());
  EXPECT_EQ(bw("DEL", conf).code, 0) << "a second DEL";
}

TEST_F(BandwidthTest, GcDeletesIfbsOfGoneAttachmentsOnly) {
  std::string conf = config(both(10'000'000, 200'000));
  ASSERT_EQ(bw("ADD", conf).code, 0);
  std::string cont2 = sb.add_container("c2");
  json prev1 = prev;
  prev = run_bridge("ADD", "c2", cont2);
  std::string conf2 = config(both(10'000'000, 200'000));
  ASSERT_EQ(bw("ADD", conf2, "c2", cont2).code, 0);
  ASSERT_EQ(ifbs().size(), 2u) << "two attachments, two ifbs";

  json gc = {{"cniVersion", "1.1.0"},
             {"name", "bwnet"},
             {"type", "bandwidth"},
             {"cni.dev/valid-attachments", {{{"containerID", "c2"}, {"ifname", "eth0"}}}}};
  auto e = env("GC", "", "");
  e.erase("CNI_CONTAINERID");
  e.erase("CNI_IFNAME");
  RunResult r = sb.run_plugin(plugin_path("bandwidth"), e, gc.dump());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto left = ifbs();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(sb.link_json(sb.host(), left[0])["ifalias"], "knet:bwnet:c2:eth0");
  // c1's veth outlived the runtime's list: it loses its shaping with its ifb
  // instead of keeping a redirect into nothing, which would drop all it sends.
  EXPECT_TRUE(unshaped()) << "c1's host veth still has knet qdiscs";
  EXPECT_TRUE(sb.ping(cont, "10.77.0.1")) << "c1 cut off after GC";
}

// CNI_NETNS naming the plugin's own namespace: the "container" interface is
// a host link. The reference's skeleton refuses with code 8; knet shaped it.
TEST_F(BandwidthTest, PluginsOwnNamespaceAsContainerIsRefused) {
  ASSERT_TRUE(sb.exec_in(sb.host(), "ip link add hup0 type veth peer name eth0 && "
                                    "ip link set hup0 up && ip link set eth0 up")
                  .ok());
  json c = json::parse(config(both(10'000'000, 200'000)));
  c["prevResult"] = {
      {"cniVersion", "1.0.0"},
      {"interfaces", {{{"name", "hup0"}}, {{"name", "eth0"}, {"sandbox", sb.host()}}}}};
  std::string conf = c.dump();
  for (const char* verb : {"ADD", "CHECK", "DEL"}) {
    RunResult r = bw(verb, conf, "c1", sb.host());
    EXPECT_EQ(r.code, 1) << verb << ": " << r.out;
    ASSERT_TRUE(r.json) << r.out;
    EXPECT_EQ((*r.json)["code"], 8) << verb << ": " << r.out;
    EXPECT_NE(r.out.find("should not be the same"), std::string::npos) << r.out;
  }
  for (const char* dev : {"hup0", "eth0"}) {
    json q = tc_json(std::string("qdisc show dev ") + dev);
    for (const auto& e : q) EXPECT_EQ(e.value("kind", ""), "noqueue") << dev << ": " << q;
  }
  EXPECT_TRUE(ifbs().empty());
}

// Container x's eth0 has its peer in another namespace, at the ifindex c1's
// host veth has in the sandbox host. By ifindex alone DEL took c1's veth for
// x's peer and stripped c1's shaping; the peer's netnsid tells them apart.
TEST_F(BandwidthTest, DelOfAnotherContainerWithTheSamePeerIndexLeavesShapingAlone) {
  std::string conf = config(both(10'000'000, 200'000));
  ASSERT_EQ(bw("ADD", conf).code, 0);
  int index = sb.link_json(sb.host(), host_veth)["ifindex"];
  std::string other = sb.add_ns("z");
  std::string x = sb.add_container("x");
  ASSERT_TRUE(sb.exec_in(other, "ip link add name zp0 index " + std::to_string(index) +
                                    " type veth peer name eth0 netns " + Sandbox::name_of(x))
                  .ok());
  ASSERT_EQ(sb.link_json(other, "zp0")["ifindex"], index);
  RunResult r = bw("DEL", conf, "x", x);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(veth_qdiscs(), (std::set<std::string>{"tbf", "ingress"}));
  EXPECT_EQ(ifbs().size(), 1u);
  r = bw("CHECK", conf);
  EXPECT_EQ(r.code, 0) << "c1's shaping must be intact: " << r.out;
  EXPECT_EQ(bw("DEL", conf).code, 0);
}

// Another tool's ingress filter (and its ingress qdisc) survives ADD and DEL:
// knet's redirect is added beside it and only that goes.
TEST_F(BandwidthTest, ForeignIngressFilterSurvivesAddAndDel) {
  ASSERT_TRUE(sb.exec_in(sb.host(), "tc qdisc add dev " + host_veth +
                                        " ingress && tc filter add dev " + host_veth +
                                        " parent ffff: protocol ip prio 5 u32 match ip dst "
                                        "198.51.100.0/24 flowid :1 && tc filter add dev " +
                                        host_veth +
                                        " parent ffff: protocol all prio 1 u32 match ip src "
                                        "203.0.113.0/24 flowid :2")
                  .ok());
  auto filters = [&] {
    return sb.exec_in(sb.host(), "tc filter show dev " + host_veth + " ingress").out;
  };
  std::string conf = config(both(10'000'000, 200'000));
  RunResult r = bw("ADD", conf);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::string f = filters();
  EXPECT_NE(f.find("match c6336400/ffffff00"), std::string::npos) << f;  // 198.51.100.0/24
  EXPECT_NE(f.find("mirred (Egress Redirect to device kbw"), std::string::npos) << f;
  EXPECT_EQ(bw("CHECK", conf).code, 0);
  ASSERT_EQ(bw("DEL", conf).code, 0);
  f = filters();
  EXPECT_NE(f.find("match c6336400/ffffff00"), std::string::npos)
      << "the foreign filter is gone: " << f;
  // 203.0.113.0/24, in the u32 table knet's filter shared (same priority and protocol).
  EXPECT_NE(f.find("match cb007100/ffffff00"), std::string::npos) << f;
  EXPECT_EQ(f.find("mirred"), std::string::npos) << f;
  EXPECT_EQ(veth_qdiscs(), (std::set<std::string>{"ingress"}));
  EXPECT_TRUE(ifbs().empty());
  // A second round: the same again on the foreign qdisc.
  ASSERT_EQ(bw("ADD", conf).code, 0);
  ASSERT_EQ(bw("DEL", conf).code, 0);
  EXPECT_NE(filters().find("match c6336400/ffffff00"), std::string::npos);
}

// A clsact qdisc (what eBPF datapaths attach to) takes knet's filter on its
// ingress hook and stays after DEL.
TEST_F(BandwidthTest, ClsactOfAnotherToolHoldsTheRedirect) {
  ASSERT_TRUE(sb.exec_in(sb.host(), "tc qdisc add dev " + host_veth + " clsact").ok());
  std::string conf = config(both(10'000'000, 200'000));
  ASSERT_EQ(bw("ADD", conf).code, 0);
  EXPECT_EQ(veth_qdiscs(), (std::set<std::string>{"tbf", "clsact"}));
  EXPECT_NE(
      sb.exec_in(sb.host(), "tc filter show dev " + host_veth + " ingress").out.find("mirred"),
      std::string::npos);
  EXPECT_EQ(bw("CHECK", conf).code, 0);
  ASSERT_EQ(bw("DEL", conf).code, 0);
  EXPECT_EQ(veth_qdiscs(), (std::set<std::string>{"clsact"}));
  EXPECT_EQ(sb.exec_in(sb.host(), "tc filter show dev " + host_veth + " ingress").out, "");
  EXPECT_TRUE(ifbs().empty());
}

// Another tool's filter holds knet's priority with another protocol: the
// kernel refuses knet's beside it. ADD fails saying so, and leaves the
// foreign filter and nothing of its own.
TEST_F(BandwidthTest, ForeignFilterAtKnetsPriorityFailsAddClearly) {
  ASSERT_TRUE(sb.exec_in(sb.host(), "tc qdisc add dev " + host_veth +
                                        " ingress && tc filter add dev " + host_veth +
                                        " parent ffff: protocol ip prio 1 u32 match ip dst "
                                        "198.51.100.0/24 flowid :1")
                  .ok());
  RunResult r = bw("ADD", config(both(10'000'000, 200'000)));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("beside the ingress filters already there"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(host_veth), std::string::npos) << r.out;
  std::string f = sb.exec_in(sb.host(), "tc filter show dev " + host_veth + " ingress").out;
  EXPECT_NE(f.find("match c6336400/ffffff00"), std::string::npos) << f;
  EXPECT_EQ(f.find("mirred"), std::string::npos) << f;
  EXPECT_EQ(veth_qdiscs(), (std::set<std::string>{"ingress"}));
  EXPECT_TRUE(ifbs().empty());
}

// Another tool's root qdisc on the veth is neither replaced by ADD (which
// fails, naming it, and leaves nothing) nor removed by DEL.
TEST_F(BandwidthTest, ForeignRootQdiscIsNeitherReplacedNorRemoved) {
  ASSERT_TRUE(
      sb.exec_in(sb.host(), "tc qdisc add dev " + host_veth + " root handle 1: tbf rate 500mbit "
                                                              "burst 100kb latency 50ms")
          .ok());
  auto root = [&] {
    json q = tc_json("qdisc show dev " + host_veth + " root");
    return q.is_array() && q.size() == 1 ? q[0].value("kind", "") + " " + q[0].value("handle", "")
                                         : q.dump();
  };
  // Egress only: the root is not needed, ADD works beside it.
  json egress = {{"egressRate", 10'000'000}, {"egressBurst", 200'000}};
  ASSERT_EQ(bw("ADD", config(egress)).code, 0);
  EXPECT_EQ(root(), "tbf 1:");
  ASSERT_EQ(bw("DEL", config(egress)).code, 0);
  EXPECT_EQ(root(), "tbf 1:") << "DEL removed another tool's root qdisc";
  // Ingress needs the root: refused, nothing left.
  std::set<std::string> before = veth_qdiscs();
  RunResult r = bw("ADD", config(both(10'000'000, 200'000)));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("already has a root qdisc tbf 1:"), std::string::npos) << r.out;
  EXPECT_EQ(root(), "tbf 1:");
  EXPECT_EQ(veth_qdiscs(), before);
  EXPECT_EQ(sb.exec_in(sb.host(), "tc filter show dev " + host_veth + " ingress").out, "");
  EXPECT_TRUE(ifbs().empty());
}

// GC with many stale ifbs, some with a host veth still redirecting to them:
// the stale ones go (and those veths lose knet's redirect and root qdisc),
// the valid ones and other networks' stay. The qdiscs are dumped once, not
// once per (stale ifb x veth), and the exclusive owner lock is let go before
// the first deletion (read from strace, when it is installed).
TEST_F(BandwidthTest, GcWithManyStaleIfbs) {
  constexpr int kStale = 40, kRedirected = 5;
  ASSERT_EQ(bw("ADD", config(both(10'000'000, 200'000))).code, 0);
  std::string script;
  auto tagged_ifb = [&](const std::string& name, const std::string& tag) {
    script += "ip link add " + name + " type ifb && ip link set " + name + " alias " + tag + " && ";
  };
  auto redirect = [&](const std::string& veth, const std::string& ifb) {
    script += "ip link add " + veth + " type veth peer name " + veth + "p && ip link set " + veth +
              " up && tc qdisc add dev " + veth + " root handle 6b62: tbf rate 10mbit burst 20kb " +
              "latency 10ms && tc qdisc add dev " + veth + " ingress && tc filter add dev " + veth +
              " parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect " +
              "dev " + ifb + " && ";
  };
  for (int i = 0; i < kStale; ++i) {
    tagged_ifb("kst" + std::to_string(i), "knet:bwnet:stale" + std::to_string(i) + ":eth0");
  }
  for (int i = 0; i < kRedirected; ++i)
    redirect("gv" + std::to_string(i), "kst" + std::to_string(i));
  script += "ip link add kbw0000000000a1 type ifb && ";  // untagged: a killed ADD's
  tagged_ifb("kvalid", "knet:bwnet:c9:eth0");
  redirect("gvalid", "kvalid");
  tagged_ifb("kother", "knet:othernet:stale0:eth0");
  script += "true";
  ASSERT_TRUE(sb.exec_in(sb.host(), script, std::chrono::seconds(60)).ok());
  ASSERT_EQ(ifbs().size(), static_cast<size_t>(kStale + 4));

  json gc = {
      {"cniVersion", "1.1.0"},
      {"name", "bwnet"},
      {"type", "bandwidth"},
      {"cni.dev/valid-attachments",
       {{{"containerID", "c1"}, {"ifname", "eth0"}}, {{"containerID", "c9"}, {"ifname", "eth0"}}}}};
  auto e = env("GC", "", "");
  e.erase("CNI_CONTAINERID");
  e.erase("CNI_IFNAME");
  e["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
  e["KNET_RUN_DIR"] = sb.run_dir();  // the sandbox's lock files, not the machine's /run/knet
  e["ASAN_OPTIONS"] = "detect_leaks=0";  // LeakSanitizer cannot run under ptrace
  TempDir trace_dir;
  std::string trace = trace_dir.path() + "/trace";
  bool traced = std::filesystem::exists("/usr/bin/strace");
  std::vector<std::string> argv = {plugin_path("bandwidth")};
  if (traced) {
    argv.insert(argv.begin(), {"/usr/bin/strace", "-f", "-qq", "-o", trace, "-e",
                               "trace=openat,close,sendmsg"});
  }
  RunResult r = run_process(argv, e, gc.dump(), sb.host(), std::chrono::seconds(60));
  ASSERT_EQ(r.code, 0) << r.out << r.err;

  std::set<std::string> left;
  for (const auto& n : ifbs()) left.insert(n);
  ASSERT_EQ(left.size(), 3u) << testing::PrintToString(left);
  EXPECT_TRUE(left.count("kvalid") && left.count("kother"));
  for (int i = 0; i < kRedirected; ++i) {
    std::string v = "gv" + std::to_string(i);
    json q = tc_json("qdisc show dev " + v);
    for (const auto& x : q) {
      EXPECT_TRUE(x.value("kind", "") == "noqueue" || x.value("kind", "") == "ingress")
          << v << ": " << q;
    }
    EXPECT_EQ(sb.exec_in(sb.host(), "tc filter show dev " + v + " ingress").out, "") << v;
  }
  EXPECT_NE(sb.exec_in(sb.host(), "tc filter show dev gvalid ingress").out.find("kvalid"),
            std::string::npos);
  EXPECT_EQ(bw("CHECK", config(both(10'000'000, 200'000))).code, 0) << "c1 is valid";

  if (!traced) GTEST_SKIP() << "strace not installed: dump count and lock scope not checked";
  std::ifstream in(trace);
  std::string line, lock_fd;
  int qdisc_dumps = 0;
  bool released = false, deleted_while_locked = false;
  while (std::getline(in, line)) {
    if (line.find("untagged.lock") != std::string::npos &&
        line.find("openat") != std::string::npos) {
      lock_fd = line.substr(line.rfind("= ") + 2);
    } else if (!lock_fd.empty() && line.find("close(" + lock_fd + ")") != std::string::npos) {
      released = true;
    }
    qdisc_dumps += line.find("RTM_GETQDISC") != std::string::npos;
    if (line.find("RTM_DELLINK") != std::string::npos && !released) deleted_while_locked = true;
  }
  EXPECT_FALSE(lock_fd.empty()) << "no lock taken";
  EXPECT_FALSE(deleted_while_locked) << "an ifb was deleted under the exclusive lock";
  // One dump for the map, then one each by the two removals per redirecting veth.
  EXPECT_LE(qdisc_dumps, 1 + 2 * kRedirected);
}

// What a DEL costs is RCU grace periods: a link deletion waits for a full
// one (rcu_barrier), each qdisc deletion for an expedited one. DEL deletes
// one link, the ifb, then the filter (no grace period) and one qdisc (knet's
// root; the ingress qdisc stays) (read from strace, when it is installed;
// timing is in bench/, the order's effect in bench/results.md).
TEST_F(BandwidthTest, DelDeletesTheIfbThenOneQdisc) {
  if (!std::filesystem::exists("/usr/bin/strace")) GTEST_SKIP() << "strace not installed";
  std::string conf = config(both(10'000'000, 200'000));
  ASSERT_EQ(bw("ADD", conf).code, 0);
  TempDir trace_dir;
  std::string trace = trace_dir.path() + "/trace";
  auto e = env("DEL", "c1", cont);
  e["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
  e["KNET_RUN_DIR"] = sb.run_dir();  // the sandbox's lock files, not the machine's /run/knet
  e["ASAN_OPTIONS"] = "detect_leaks=0";  // LeakSanitizer cannot run under ptrace
  RunResult r = run_process({"/usr/bin/strace", "-f", "-qq", "-o", trace, "-e", "trace=sendmsg",
                             plugin_path("bandwidth")},
                            e, conf, sb.host(), std::chrono::seconds(20));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(unshaped());
  EXPECT_TRUE(ifbs().empty());
  std::ifstream in(trace);
  std::vector<std::string> deletions;
  for (std::string line; std::getline(in, line);) {
    for (const char* t : {"RTM_DELQDISC", "RTM_DELTFILTER", "RTM_DELLINK"}) {
      if (line.find(t) != std::string::npos) deletions.push_back(t);
    }
  }
  EXPECT_EQ(deletions, (std::vector<std::string>{"RTM_DELLINK", "RTM_DELTFILTER", "RTM_DELQDISC"}))
      << testing::PrintToString(deletions);
}

TEST_F(BandwidthTest, StatusReportsKernelSupport) {
  json st = {{"cniVersion", "1.1.0"}, {"name", "bwnet"}, {"type", "bandwidth"}};
  auto e = env("STATUS", "", "");
  e.erase("CNI_CONTAINERID");
  e.erase("CNI_IFNAME");
  RunResult r = sb.run_plugin(plugin_path("bandwidth"), e, st.dump());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(ifbs().empty()) << "the probe runs in its own namespace";
}

// The accuracy bound: 10 and 100 Mbit/s, both directions, TCP.
TEST_F(BandwidthTest, TcpThroughputMatchesTheRate) {
  require_iperf3();
  for (uint64_t rate : {10'000'000ull, 100'000'000ull}) {
    std::string conf = config(both(rate, rate / 10));
    ASSERT_EQ(bw("ADD", conf).code, 0);
    std::string mbit = std::to_string(rate / 1'000'000) + " Mbit/s";
    expect_rate([&] { return steady_bps(sb.host(), "10.77.0.1", cont); }, rate, "ingress " + mbit);
    expect_rate([&] { return steady_bps(cont, cont_ip, sb.host()); }, rate, "egress " + mbit);
    ASSERT_EQ(bw("DEL", conf).code, 0);
  }
}

// containerd's CRI sends capitalised keys and a burst of 4294967295 bits when a
// pod sets only a rate; the bucket cap keeps the first second near the rate.
TEST_F(BandwidthTest, CriBurstDoesNotLetTheFirstSecondThrough) {
  require_iperf3();
  const uint64_t rate = 10'000'000;
  json rc = {{"runtimeConfig",
              {{"bandwidth",
                {{"IngressRate", rate},
                 {"IngressBurst", 4294967295ull},
                 {"EgressRate", rate},
                 {"EgressBurst", 4294967295ull}}}}}};
  std::string conf = config(rc);
  ASSERT_EQ(bw("ADD", conf).code, 0);
  EXPECT_EQ(bw("CHECK", conf).code, 0);
  for (bool ingress : {true, false}) {
    json j = ingress ? iperf(sb.host(), "10.77.0.1", cont, 2, "-i 1")
                     : iperf(cont, cont_ip, sb.host(), 2, "-i 1");
    json::json_pointer p("/intervals/0/sum/bits_per_second");
    ASSERT_TRUE(j.is_object() && j.contains(p)) << j;
    double first = j[p].get<double>();
    std::printf("[ accuracy ] CRI burst, %s: first second %.2f Mbit/s at 10 Mbit/s\n",
                ingress ? "ingress" : "egress", first / 1e6);
    EXPECT_LE(first, 1.2 * rate) << (ingress ? "ingress" : "egress");
  }
}

// unshapedSubnets: 192.0.2.1 (host loopback, via the default route) runs at full
// speed while the gateway 10.77.0.1 is limited, in both directions.
TEST_F(BandwidthTest, UnshapedSubnetRunsAtFullSpeed) {
  require_iperf3();
  const uint64_t rate = 10'000'000;
  json keys = both(rate, rate / 10);
  keys["unshapedSubnets"] = {"192.0.2.0/24"};
  std::string conf = config(keys);
  ASSERT_EQ(bw("ADD", conf).code, 0);
  ASSERT_EQ(bw("CHECK", conf).code, 0);
  expect_rate([&] { return steady_bps(cont, cont_ip, sb.host()); }, rate,
              "egress to a shaped subnet");
  expect_rate([&] { return steady_bps(sb.host(), "10.77.0.1", cont); }, rate,
              "ingress from a shaped subnet");
  double out = received_bps(iperf(sb.host(), "192.0.2.1", cont, 2));
  std::printf("[ accuracy ] unshaped ingress: %.0f Mbit/s\n", out / 1e6);
  EXPECT_GT(out, 5.0 * rate) << "traffic from an unshaped subnet must not be limited";
  // Egress to 192.0.2.1: the container is the server's peer; bind its client side.
  auto s = sb.exec_in(sb.host(),
                      "timeout 14 iperf3 -s -1 -p 5202 -B 192.0.2.1 >/dev/null 2>&1 & echo $!");
  if (s.ok()) servers.push_back(std::stoi(s.out));
  double in = 0;
  for (int attempt = 0; attempt < 20 && in == 0; ++attempt) {
    auto c = sb.exec_in(cont, "iperf3 -c 192.0.2.1 -p 5202 -J -t 2 --connect-timeout 1000",
                        std::chrono::seconds(12));
    in = received_bps(json::parse(c.out, nullptr, false));
    if (in == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("[ accuracy ] unshaped egress: %.0f Mbit/s\n", in / 1e6);
  EXPECT_GT(in, 5.0 * rate) << "traffic to an unshaped subnet must not be limited";
  EXPECT_EQ(bw("DEL", conf).code, 0);
}

// Not a bound from the issue: UDP sent at the configured rate is queued on the
// ifb, not policed; reports the loss.
TEST_F(BandwidthTest, UdpAtTheRateIsQueuedNotPoliced) {
  require_iperf3();
  const uint64_t rate = 10'000'000;
  std::string conf = config(both(rate, rate / 10));
  ASSERT_EQ(bw("ADD", conf).code, 0);
  // The sender paces at 95% of the L2 rate in payload bits (UDP/IP headers on top).
  json j = iperf(cont, cont_ip, sb.host(), 2, "-u -l 1400 -b " + std::to_string(rate * 9 / 10));
  json::json_pointer p("/end/sum/lost_percent");
  ASSERT_TRUE(j.is_object() && j.contains(p)) << j;
  double loss = j[p].get<double>();
  std::printf("[ accuracy ] UDP egress at 90%% of 10 Mbit/s: %.2f%% loss\n", loss);
  EXPECT_LT(loss, 5.0);
}

}  // namespace
}  // namespace knet::test
