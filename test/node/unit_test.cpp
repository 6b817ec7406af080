// knet-node's pure parts: flags, the network config and lease values in
// flannel's format, the membership built from them, and the peersFile the
// vxlan plugin reads (read back with the plugin's own parser).

#include <gtest/gtest.h>

#include <base/error.h>
#include <cni/json.h>
#include <cni/netconf.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "node/agent.h"
#include "node/flags.h"
#include "node/log.h"
#include "node/network.h"
#include "node/registry.h"
#include "sandbox.h"

namespace knet::node {
namespace {

using knet::test::TempDir;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const knet::Error& e) {
    return e.msg();
  }
  return "(no error)";
}

TEST(Flags, Defaults) {
  Options o = parse_flags({});
  EXPECT_EQ(o.etcd_endpoints, std::vector<std::string>{"http://127.0.0.1:2379"});
  EXPECT_EQ(o.etcd_prefix, "/knet/network");
  EXPECT_EQ(o.lease_ttl, std::chrono::seconds(60));
  EXPECT_EQ(o.resync_interval, std::chrono::seconds(60));
  EXPECT_EQ(o.peers_file, "/run/knet/vxlan-peers.json");
  EXPECT_TRUE(o.healthz_addr.empty());
  EXPECT_FALSE(o.release_on_exit);
  EXPECT_FALSE(o.public_ip);
}

TEST(Flags, EveryFlagBothForms) {
  Options o = parse_flags({"--etcd-endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379",
                           "--etcd-prefix", "/x/net", "--etcd-cafile=/ca", "--etcd-certfile=/c",
                           "--etcd-keyfile=/k", "--iface", "eth1", "--public-ip=192.0.2.7",
                           "--peers-file=/etc/cni/net.d/p.json", "--lease-ttl=5", "--resync-interval", "0",
                           "--healthz-addr=127.0.0.1:9090", "--release-on-exit", "--cni-network=ov"});
  EXPECT_EQ(o.etcd_endpoints.size(), 2u);
  EXPECT_EQ(o.etcd_endpoints[1], "https://10.0.0.2:2379");
  EXPECT_EQ(o.etcd_prefix, "/x/net");
  EXPECT_EQ(o.etcd_cafile, "/ca");
  EXPECT_EQ(o.etcd_keyfile, "/k");
  EXPECT_EQ(o.iface, "eth1");
  EXPECT_EQ(o.public_ip->str(), "192.0.2.7");
  EXPECT_EQ(o.peers_file, "/etc/cni/net.d/p.json");
  EXPECT_EQ(o.lease_ttl, std::chrono::seconds(5));
  EXPECT_EQ(o.resync_interval, std::chrono::seconds(0));
  EXPECT_EQ(o.healthz_addr, "127.0.0.1:9090");
  EXPECT_TRUE(o.release_on_exit);
  EXPECT_EQ(o.cni_network, "ov");
  EXPECT_TRUE(parse_flags({"--help"}).help);
  EXPECT_NE(usage().find("--etcd-endpoints"), std::string::npos);
}

TEST(Flags, BadFlagsSayWhich) {
  EXPECT_EQ(error_of([] { parse_flags({"--etcd-endpoint=x"}); }),
            "unknown flag --etcd-endpoint (see --help)");
  EXPECT_EQ(error_of([] { parse_flags({"--iface"}); }), "--iface needs a value");
  EXPECT_EQ(error_of([] { parse_flags({"--lease-ttl=1"}); }),
            "invalid --lease-ttl=1: expected seconds, 2 ... 86400");
  EXPECT_EQ(error_of([] { parse_flags({"--lease-ttl=10s"}); }),
            "invalid --lease-ttl=10s: expected seconds, 2 ... 86400");
  EXPECT_EQ(error_of([] { parse_flags({"--resync-interval=-1"}); }),
            "invalid --resync-interval=-1: expected seconds, 0 ... 86400");
  EXPECT_EQ(error_of([] { parse_flags({"--peers-file=peers.json"}); }),
            "invalid --peers-file=peers.json: must be an absolute path");
  EXPECT_EQ(error_of([] { parse_flags({"--etcd-endpoints=10.0.0.1:2379"}); }),
            "invalid --etcd-endpoints=10.0.0.1:2379: \"10.0.0.1:2379\" is not an http:// or https:// URL");
  EXPECT_EQ(error_of([] { parse_flags({"--public-ip=node1"}); }),
            "invalid --public-ip=node1: not an IP address");
  EXPECT_EQ(error_of([] { parse_flags({"--healthz-addr=localhost:80"}); }),
            "invalid --healthz-addr=localhost:80: host \"localhost\" is not an IP address");
  EXPECT_EQ(error_of([] { parse_flags({"--healthz-addr=127.0.0.1:0"}); }),
            "invalid --healthz-addr=127.0.0.1:0: port \"0\" is not 1 ... 65535");
  EXPECT_EQ(error_of([] { parse_flags({"--etcd-certfile=/c"}); }),
            "--etcd-certfile and --etcd-keyfile come together");
  EXPECT_EQ(error_of([] { parse_flags({"--release-on-exit=yes"}); }), "--release-on-exit takes no value");
  EXPECT_EQ(error_of([] { parse_flags({"etcd"}); }), "unexpected argument \"etcd\" (see --help)");
}

constexpr const char* kWhere = "/knet/network/config";

TEST(NetworkConfig, FlannelDefaults) {
  NetworkConfig c = NetworkConfig::parse(R"({"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}})", kWhere);
  EXPECT_EQ(c.network.str(), "10.244.0.0/16");
  EXPECT_EQ(c.subnet_len, 24);
  EXPECT_EQ(c.subnet_min.str(), "10.244.1.0");
  EXPECT_EQ(c.subnet_max.str(), "10.244.255.0");
  EXPECT_EQ(c.vni, 1u);
  EXPECT_EQ(c.port, 8472);
  EXPECT_EQ(c.mode, vxlan::Mode::kL3);
  EXPECT_EQ(c.subnet_count(), 255u);
  EXPECT_EQ(c.subnet(0).str(), "10.244.1.0/24");
  EXPECT_EQ(c.subnet(254).str(), "10.244.255.0/24");
  EXPECT_TRUE(c.holds(*knet::IPNet::parse("10.244.3.0/24")));
  EXPECT_FALSE(c.holds(*knet::IPNet::parse("10.244.0.0/24")));  // below SubnetMin
  EXPECT_FALSE(c.holds(*knet::IPNet::parse("10.244.3.0/25")));
  EXPECT_FALSE(c.holds(*knet::IPNet::parse("10.245.3.0/24")));
  // A network smaller than a /22: subnets two bits longer.
  NetworkConfig small = NetworkConfig::parse(R"({"Network": "10.1.0.0/24", "Backend": {"Type": "vxlan"}})", kWhere);
  EXPECT_EQ(small.subnet_len, 26);
  EXPECT_EQ(small.subnet_count(), 3u);
}

TEST(NetworkConfig, EveryKey) {
  NetworkConfig c = NetworkConfig::parse(
      R"({"Network": "10.50.0.0/16", "SubnetLen": 26, "SubnetMin": "10.50.1.0", "SubnetMax": "10.50.1.192",
          "Backend": {"Type": "vxlan", "VNI": 7, "Port": 4789, "Mode": "l2"}})",
      kWhere);
  EXPECT_EQ(c.subnet_len, 26);
  EXPECT_EQ(c.subnet_count(), 4u);
  EXPECT_EQ(c.subnet(3).str(), "10.50.1.192/26");
  EXPECT_EQ(c.vni, 7u);
  EXPECT_EQ(c.port, 4789);
  EXPECT_EQ(c.mode, vxlan::Mode::kL2);
  EXPECT_NE(c.describe().find("SubnetMax 10.50.1.192"), std::string::npos);
}

TEST(NetworkConfig, BadConfigsNameTheKeyAndTheField) {
  auto err = [](const std::string& text) { return error_of([&] { NetworkConfig::parse(text, kWhere); }); };
  const std::string pre = "invalid network config /knet/network/config: ";
  EXPECT_EQ(err(R"({"Backend": {"Type": "vxlan"}})"), pre + "required \"Network\" missing");
  EXPECT_EQ(err(R"({"Network": "fd00::/64", "Backend": {"Type": "vxlan"}})"),
            pre + "\"Network\" fd00::/64: only IPv4 networks are supported");
  EXPECT_EQ(err(R"({"Network": "10.0.0.0/16", "SubnetLen": 16, "Backend": {"Type": "vxlan"}})"),
            pre + "\"SubnetLen\" 16 must be longer than Network's /16");
  EXPECT_EQ(err(R"({"Network": "10.0.0.0/16", "SubnetMin": "10.1.0.0", "Backend": {"Type": "vxlan"}})"),
            pre + "SubnetMin 10.1.0.0 is outside Network 10.0.0.0/16");
  EXPECT_EQ(err(R"({"Network": "10.0.0.0/16", "SubnetMax": "10.0.5.7", "Backend": {"Type": "vxlan"}})"),
            pre + "SubnetMax 10.0.5.7 is not the start of a /24 subnet");
  EXPECT_EQ(err(R"({"Network": "10.0.0.0/16", "SubnetMin": "10.0.9.0", "SubnetMax": "10.0.5.0",
                    "Backend": {"Type": "vxlan"}})"),
            pre + "\"SubnetMax\" 10.0.5.0 is below \"SubnetMin\" 10.0.9.0");
  EXPECT_EQ(err(R"({"Network": "10.0.0.0/16", "Backend": {"Type": "udp"}})"),
            pre + "\"Backend.Type\" \"udp\" is not supported: knet-node runs \"vxlan\"");
  EXPECT_EQ(err(R"({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan", "Mode": "l4"}})"),
            pre + "\"Backend.Mode\" \"l4\": expected \"l3\" or \"l2\"");
  EXPECT_NE(err(R"({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan", "VNI": 16777216}})")
                .find("Backend.VNI"),
            std::string::npos);
  EXPECT_NE(err("Network=10.0.0.0/16").find(pre), std::string::npos);
  EXPECT_EQ(err(R"({"Network": "10.0.0.0/16"})"),
            pre + "required \"Backend\" missing (knet-node runs {\"Type\": \"vxlan\"})");
}

const NetworkConfig& net16() {
  static NetworkConfig c = NetworkConfig::parse(
      R"({"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1}})", kWhere);
  return c;
}

// A lease of `ip`; its VtepMAC 02:aa:bb:cc:dd:<ip's last octet> unless `mac` says ("-": none).
std::string lease_json(const std::string& ip, int vni = 1, const std::string& type = "vxlan",
                       std::string mac = "") {
  if (mac.empty()) {
    char last[8];
    std::snprintf(last, sizeof last, "%02x", std::stoi(ip.substr(ip.rfind('.') + 1)));
    mac = "02:aa:bb:cc:dd:" + std::string(last);
  }
  std::string data = R"({"VNI": )" + std::to_string(vni) + (mac == "-" ? "" : R"(, "VtepMAC": ")" + mac + "\"") + "}";
  return R"({"PublicIP": ")" + ip + R"(", "BackendType": ")" + type + R"(", "BackendData": )" + data + "}";
}

TEST(Lease, KeysAndValuesInFlannelsFormat) {
  EXPECT_EQ(subnet_key("/knet/network/", *knet::IPNet::parse("10.244.3.0/24")),
            "/knet/network/subnets/10.244.3.0-24");
  EXPECT_EQ(config_key("/knet/network"), "/knet/network/config");
  SubnetLease l{*knet::IPNet::parse("10.244.3.0/24"), *knet::IP::parse("192.0.2.3"), 1, "02:aa:bb:cc:dd:ee"};
  SubnetLease back = parse_lease(net16(), "/knet/network", "/knet/network/subnets/10.244.3.0-24", l.to_json());
  EXPECT_EQ(back.subnet, l.subnet);
  EXPECT_EQ(back.public_ip, l.public_ip);
  EXPECT_EQ(back.vtep_mac, l.vtep_mac);
  EXPECT_EQ(l.to_json(),
            R"({"BackendData":{"VNI":1,"VtepMAC":"02:aa:bb:cc:dd:ee"},"BackendType":"vxlan","PublicIP":"192.0.2.3"})");
}

TEST(Lease, GarbageIsRefusedWithAReason) {
  auto err = [](const std::string& key, const std::string& value) {
    return error_of([&] { parse_lease(net16(), "/knet/network", key, value); });
  };
  const std::string k = "/knet/network/subnets/10.244.3.0-24";
  EXPECT_EQ(err(k, "not json"), "value is not a JSON object");
  EXPECT_EQ(err("/knet/network/subnets/10.99.0.0-24", lease_json("192.0.2.3")),
            "subnet 10.99.0.0/24 is not one of " + net16().describe());
  EXPECT_EQ(err("/knet/network/subnets/banana", lease_json("192.0.2.3")),
            "key does not name a subnet (a.b.c.d-len)");
  EXPECT_EQ(err(k, lease_json("192.0.2.3", 1, "udp")), "\"BackendType\" is \"udp\", not \"vxlan\"");
  EXPECT_EQ(err(k, lease_json("192.0.2.3", 2)), "\"BackendData.VNI\" 2 is not the network's VNI 1");
  EXPECT_EQ(err(k, lease_json("fd00::3", 1, "vxlan", "02:00:00:00:00:03")),
            "\"PublicIP\" fd00::3 is not IPv4 like this node's underlay");
  EXPECT_EQ(err(k, R"({"BackendType": "vxlan"})"), "\"PublicIP\" missing or not an IP address");
}

etcd::KeyValue kv(const std::string& subnet, const std::string& value, int64_t create_rev) {
  return {"/knet/network/subnets/" + subnet, value, create_rev, create_rev, 1, 7};
}

TEST(Registry, SkipsGarbageAndDuplicatesWithOneLineEach) {
  std::vector<std::string> log;
  Registry r(net16(), "/knet/network", [&](const std::string& m) { log.push_back(m); });
  r.reset({kv("10.244.1.0-24", lease_json("192.0.2.11"), 5), kv("10.244.2.0-24", "{broken", 6),
           kv("10.99.0.0-24", lease_json("192.0.2.13"), 7), kv("10.244.4.0-24", lease_json("192.0.2.11"), 3),
           kv("10.244.5.0-24", lease_json("192.0.2.12"), 8)});
  vxlan::Membership m = r.membership();
  ASSERT_EQ(m.nodes.size(), 2u);
  // 192.0.2.11 twice: the older lease (create revision 3) wins.
  EXPECT_EQ(m.nodes[0].subnet.str(), "10.244.4.0/24");
  EXPECT_EQ(m.nodes[1].vtep.str(), "192.0.2.12");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], "skipping /knet/network/subnets/10.244.2.0-24 (revision 6): value is not a JSON object");
  EXPECT_NE(log[1].find("10.99.0.0-24"), std::string::npos);
  EXPECT_EQ(log[2], "skipping /knet/network/subnets/10.244.1.0-24: PublicIP 192.0.2.11 is held by "
                    "/knet/network/subnets/10.244.4.0-24 already");
  r.membership();
  EXPECT_EQ(log.size(), 3u) << "a duplicate is reported once";

  etcd::Event del;
  del.type = etcd::Event::Type::kDelete;
  del.kv.key = "/knet/network/subnets/10.244.4.0-24";
  etcd::Event put;
  put.kv = kv("10.244.6.0-24", lease_json("192.0.2.14"), 9);
  r.apply({del, put});
  m = r.membership();
  ASSERT_EQ(m.nodes.size(), 3u);
  EXPECT_EQ(m.nodes[0].subnet.str(), "10.244.1.0/24");  // the other lease of .11 now counts
  EXPECT_EQ(m.nodes[2].vtep.str(), "192.0.2.14");
}

// l3: every node with its published VtepMAC (the derived one when the lease
// has none) and the config's Network; a VtepMAC that is no unicast MAC is
// garbage, and of two leases with one MAC the older wins (the FDB maps a MAC
// to one VTEP), reported once.
TEST(Registry, PublishesMacsAndTheNetwork) {
  std::vector<std::string> log;
  Registry r(net16(), "/knet/network", [&](const std::string& m) { log.push_back(m); });
  r.reset({kv("10.244.1.0-24", lease_json("192.0.2.11", 1, "vxlan", "0A-58-0A-F4-01-00"), 5),
           kv("10.244.2.0-24", lease_json("192.0.2.12", 1, "vxlan", "-"), 6),
           kv("10.244.3.0-24", lease_json("192.0.2.13", 1, "vxlan", "01:00:5e:00:00:01"), 7),
           kv("10.244.4.0-24", lease_json("192.0.2.14", 1, "vxlan", "02:zz"), 8),
           kv("10.244.5.0-24", lease_json("192.0.2.15", 1, "vxlan", "0a:58:0a:f4:01:00"), 4)});
  vxlan::Membership m = r.membership();
  ASSERT_EQ(m.nodes.size(), 2u);
  EXPECT_EQ(m.nodes[0].vtep.str(), "192.0.2.12");
  EXPECT_EQ(m.nodes[0].mac, vxlan::vtep_mac_bits(1, m.nodes[0].vtep));
  EXPECT_EQ(m.nodes[1].vtep.str(), "192.0.2.15");  // older than .11, which has its MAC
  EXPECT_EQ(vxlan::mac_str(m.nodes[1].mac), "0a:58:0a:f4:01:00");
  ASSERT_TRUE(m.network);
  EXPECT_EQ(m.network->str(), "10.244.0.0/16");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], "skipping /knet/network/subnets/10.244.3.0-24 (revision 7): "
                    "\"BackendData.VtepMAC\" \"01:00:5e:00:00:01\" is not a unicast MAC");
  EXPECT_EQ(log[1], "skipping /knet/network/subnets/10.244.4.0-24 (revision 8): "
                    "\"BackendData.VtepMAC\" \"02:zz\" is not a unicast MAC");
  EXPECT_EQ(log[2], "skipping /knet/network/subnets/10.244.1.0-24: VtepMAC 0a:58:0a:f4:01:00 is held by "
                    "/knet/network/subnets/10.244.5.0-24 already");
  r.membership();
  EXPECT_EQ(log.size(), 3u) << "a duplicate is reported once";

  // l2 uses no VTEP MAC: one MAC on two leases is no reason to skip either.
  NetworkConfig l2 = net16();
  l2.mode = vxlan::Mode::kL2;
  Registry r2(l2, "/knet/network", [&](const std::string& m) { log.push_back(m); });
  r2.reset({kv("10.244.1.0-24", lease_json("192.0.2.11", 1, "vxlan", "02:00:00:00:00:01"), 5),
            kv("10.244.2.0-24", lease_json("192.0.2.12", 1, "vxlan", "02:00:00:00:00:01"), 6)});
  m = r2.membership();
  EXPECT_EQ(m.peers.size(), 2u);
  EXPECT_FALSE(m.network);
}

// The membership by brute force from the usable leases (key -> PublicIP,
// VTEP MAC, create revision): of the leases with one address the oldest
// (create revision, then key) holds it; in l3, of those holders with one MAC
// the oldest holds it; the holders in key order.
struct Usable {
  knet::IP ip;
  uint64_t mac;
  int64_t rev;
};
std::map<std::string, vxlan::Node> brute_force(const std::map<std::string, Usable>& leases, vxlan::Mode mode) {
  auto older = [](const auto& a, const auto& b) {
    return a.second.rev != b.second.rev ? a.second.rev < b.second.rev : a.first < b.first;
  };
  std::map<std::string, Usable> holders;
  for (const auto& a : leases) {
    bool oldest = true;
    for (const auto& b : leases) oldest = oldest && !(b.second.ip == a.second.ip && older(b, a));
    if (oldest) holders.insert(a);
  }
  std::map<std::string, vxlan::Node> out;
  for (const auto& a : holders) {
    bool oldest = true;
    for (const auto& b : holders) {
      oldest = oldest && !(mode == vxlan::Mode::kL3 && b.second.mac == a.second.mac && older(b, a));
    }
    // "/knet/network/subnets/10.244.7.0-24" -> 10.244.7.0/24
    size_t slash = a.first.rfind('/'), dash = a.first.rfind('-');
    auto subnet = *knet::IPNet::parse(a.first.substr(slash + 1, dash - slash - 1) + "/24");
    if (oldest) out[a.first] = {a.second.ip, subnet, mode == vxlan::Mode::kL3 ? a.second.mac : 0};
  }
  return out;
}

// Random joins, leaves and changes (new address, new MAC, no MAC, garbage,
// a bad MAC; a few addresses and MACs shared by many keys, so that holders
// come and go), applied as watch events: after every step the registry's
// membership, its delta, its peersFile and the membership log agree with a
// brute-force rebuild and with a fresh registry listing the same keys.
// A member as the membership log names it: address, subnet (address, prefix).
using Tag = std::tuple<knet::IP, knet::IP, int>;
Tag tag(const knet::IP& vtep, const knet::IPNet& subnet) { return {vtep, subnet.ip, subnet.prefix}; }

TEST(Registry, IncrementalSameAsARebuild) {
  TempDir dir;
  struct LogBack {  // the log closed and its memory of members back to none, however the test ends
    ~LogBack() {
      open_log({});
      log_membership({});
    }
  } log_back;
  for (vxlan::Mode mode : {vxlan::Mode::kL3, vxlan::Mode::kL2}) {
    SCOPED_TRACE(vxlan::to_string(mode));
    NetworkConfig net = net16();
    net.mode = mode;
    cni::LogConfig lc;
    lc.file = dir.path() + "/" + vxlan::to_string(mode) + ".log";
    open_log(lc);
    std::mt19937 rng(17);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::vector<std::string> log;
    Registry r(net, "/knet/network", [&](const std::string& m) { log.push_back(m); });
    std::map<std::string, etcd::KeyValue> store;  // what etcd holds
    std::map<std::string, Usable> usable;         // of it, what parses
    std::map<std::string, vxlan::Node> was;       // the membership before the step
    std::set<Tag> logged;  // what the log's lines add up to
    size_t log_read = 0;
    int64_t rev = 1;
    r.reset({});
    open_log({});
    log_membership(r.membership());  // none yet, whatever an earlier test left
    open_log(lc);
    for (int step = 0; step < 1500; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      std::vector<etcd::Event> events(1 + pick(3));
      for (auto& e : events) {
        std::string key = "/knet/network/subnets/10.244." + std::to_string(1 + pick(40)) + ".0-24";
        ++rev;
        if (pick(3) == 0) {
          e.type = etcd::Event::Type::kDelete;
          e.kv.key = key;
          store.erase(key);
          usable.erase(key);
          continue;
        }
        std::string ip = "192.0.2." + std::to_string(1 + pick(12));
        int kind = pick(10);
        std::string mac = kind < 5 ? "02:00:00:00:00:0" + std::to_string(1 + pick(6)) : kind < 8 ? "-" : "";
        std::string value = kind == 8 ? "{broken" : kind == 9 ? lease_json(ip, 1, "vxlan", "01:00:5e:00:00:01")
                                                               : lease_json(ip, 1, "vxlan", mac);
        auto old = store.find(key);
        int64_t created = old == store.end() ? rev : old->second.create_revision;
        e.kv = {key, value, created, rev, 1, 7};
        store[key] = e.kv;
        if (kind >= 8) {
          usable.erase(key);
        } else {
          auto a = *knet::IP::parse(ip);
          usable[key] = {a, mac == "-" ? vxlan::vtep_mac_bits(1, a) : *vxlan::parse_mac(mac), created};
        }
      }
      r.apply(events);
      MembershipDelta d = r.take_delta();
      std::map<std::string, vxlan::Node> want = brute_force(usable, mode);
      vxlan::Membership wm;
      for (const auto& [k, n] : want) {
        if (mode == vxlan::Mode::kL3) {
          wm.nodes.push_back(n);
        } else {
          wm.peers.push_back(n.vtep);
        }
      }
      if (mode == vxlan::Mode::kL3) wm.network = net.network;

      vxlan::Membership got = r.membership();
      ASSERT_EQ(got.nodes, wm.nodes);
      ASSERT_EQ(got.peers, wm.peers);
      ASSERT_EQ(got.network, wm.network);
      ASSERT_EQ(r.size(), want.size());
      ASSERT_EQ(r.peers_file(), peers_file_json(wm, mode));
      for (const auto& [k, n] : want) {
        auto at = r.member_at(n.vtep);
        ASSERT_TRUE(at && *at == n) << k;
      }
      // The same keys listed afresh.
      Registry fresh(net, "/knet/network", [](const std::string&) {});
      std::vector<etcd::KeyValue> list;
      for (const auto& [k, kv] : store) list.push_back(kv);
      fresh.reset(list);
      ASSERT_EQ(fresh.membership().nodes, wm.nodes);
      ASSERT_EQ(fresh.peers_file(), r.peers_file());

      // The delta takes the previous membership to this one, and holds
      // nothing unchanged.
      std::multiset<Tag> rebuilt, now, before, after;
      auto side = [&](const vxlan::Membership& m, auto& into) {
        for (const auto& n : m.nodes) into.insert(tag(n.vtep, n.subnet));
        for (const auto& p : m.peers) into.insert(tag(p, {}));
      };
      auto member = [&](const vxlan::Node& n) {
        return tag(n.vtep, mode == vxlan::Mode::kL3 ? n.subnet : knet::IPNet{});
      };
      for (const auto& [k, n] : was) rebuilt.insert(member(n));
      for (const auto& [k, n] : want) now.insert(member(n));
      side(d.before, before);
      side(d.after, after);
      for (const auto& x : before) {
        auto it = rebuilt.find(x);
        ASSERT_NE(it, rebuilt.end()) << "left, but was no member: " << std::get<0>(x).str();
        rebuilt.erase(it);
      }
      rebuilt.insert(after.begin(), after.end());
      ASSERT_EQ(rebuilt, now);
      for (const auto& n : d.before.nodes) {
        ASSERT_EQ(std::count(d.after.nodes.begin(), d.after.nodes.end(), n), 0) << "unchanged in the delta";
      }
      // (In l2 an address passing from one key to another is in both: no
      // kernel change, no log line, and the file may be rewritten.)
      ASSERT_EQ(d.empty(), was == want);

      // The log's joined / left lines of the change add up to the membership.
      log_membership_change(d.before, d.after);
      std::ifstream in(lc.file);
      std::string line;
      for (size_t i = 0; std::getline(in, line); ++i) {
        if (i < log_read) continue;
        ++log_read;
        std::string msg = cni::json::parse(line).value("msg", "");
        std::istringstream words(msg);
        std::string verb, vtep, subnet;
        words >> verb >> vtep >> subnet;
        Tag m = tag(*knet::IP::parse(vtep), subnet.empty() ? knet::IPNet{} : *knet::IPNet::parse(subnet));
        if (verb == "joined") {
          ASSERT_TRUE(logged.insert(m).second) << msg;
        } else {
          ASSERT_EQ(verb, "left");
          ASSERT_EQ(logged.erase(m), 1u) << msg;
        }
      }
      ASSERT_EQ(logged, std::set<Tag>(now.begin(), now.end())) << "the log adds up to another membership";
      was = want;
    }
  }
}

// What the agent writes is what the vxlan plugin reads.
TEST(PeersFile, ReadBackByThePlugin) {
  TempDir dir;
  std::vector<std::string> log;
  Registry r(net16(), "/knet/network", [&](const std::string& m) { log.push_back(m); });
  r.reset({kv("10.244.1.0-24", lease_json("192.0.2.11"), 5), kv("10.244.7.0-24", lease_json("192.0.2.12"), 6)});
  for (vxlan::Mode mode : {vxlan::Mode::kL3, vxlan::Mode::kL2}) {
    vxlan::Membership m = r.membership();
    if (mode == vxlan::Mode::kL2) {
      for (const auto& n : m.nodes) m.peers.push_back(n.vtep);
      m.nodes.clear();
      m.network.reset();
    }
    vxlan::Config cfg;
    cfg.mode = mode;
    cfg.vni = 1;
    cfg.peers_file = dir.path() + "/peers.json";
    std::ofstream(cfg.peers_file) << peers_file_json(m, mode);
    vxlan::Membership back = vxlan::load_members(cfg);
    EXPECT_EQ(back.nodes, m.nodes);
    EXPECT_EQ(back.peers, m.peers);
    EXPECT_EQ(back.network, m.network);
  }
  EXPECT_EQ(peers_file_json(r.membership(), vxlan::Mode::kL3),
            R"({"network":"10.244.0.0/16","nodes":[{"mac":"02:aa:bb:cc:dd:0b","subnet":"10.244.1.0/24","vtep":"192.0.2.11"},)"
            R"({"mac":"02:aa:bb:cc:dd:0c","subnet":"10.244.7.0/24","vtep":"192.0.2.12"}]})"
            "\n");
}

// The file is built as text, not through a JSON document: the same bytes
// as cni::json's dump() for either mode, with and without MACs, network, nodes.
TEST(PeersFile, SameAsAJsonDump) {
  auto ip = [](const char* s) { return *knet::IP::parse(s); };
  auto net = [](const char* s) { return *knet::IPNet::parse(s); };
  auto dump = [](const vxlan::Membership& m, vxlan::Mode mode) {
    cni::json doc = cni::json::object();
    if (mode == vxlan::Mode::kL3) {
      cni::json nodes = cni::json::array();
      for (const auto& n : m.nodes) {
        cni::json e = {{"vtep", n.vtep.str()}, {"subnet", n.subnet.str()}};
        if (n.mac) e["mac"] = vxlan::mac_str(n.mac);
        nodes.push_back(std::move(e));
      }
      if (m.network) doc["network"] = m.network->str();
      doc["nodes"] = std::move(nodes);
    } else {
      cni::json peers = cni::json::array();
      for (const auto& p : m.peers) peers.push_back(p.str());
      doc["peers"] = std::move(peers);
    }
    return doc.dump() + "\n";
  };
  vxlan::Membership empty, l3, l2;
  l3.nodes = {{ip("192.0.2.1"), net("10.1.0.0/24")}, {ip("fd00::2"), net("fd10::/64"), 0x02aabbccdd01}};
  l3.network = net("10.1.0.0/16");
  l2.peers = {ip("192.0.2.1"), ip("fd00::2")};
  for (vxlan::Mode mode : {vxlan::Mode::kL3, vxlan::Mode::kL2}) {
    EXPECT_EQ(peers_file_json(empty, mode), dump(empty, mode));
    EXPECT_EQ(peers_file_json(l3, mode), dump(l3, mode));
    EXPECT_EQ(peers_file_json(l2, mode), dump(l2, mode));
  }
  l3.network.reset();
  EXPECT_EQ(peers_file_json(l3, vxlan::Mode::kL3), dump(l3, vxlan::Mode::kL3));
}

// Who joined and who left, one line each, nothing when nothing changed.
TEST(MembershipLog, JoinedAndLeft) {
  TempDir dir;
  cni::LogConfig c;
  c.file = dir.path() + "/node.log";
  open_log(c);
  auto node = [](const char* vtep, const char* subnet) {
    return vxlan::Node{*knet::IP::parse(vtep), *knet::IPNet::parse(subnet)};
  };
  vxlan::Membership a, b;
  a.nodes = {node("192.0.2.11", "10.244.1.0/24"), node("192.0.2.12", "10.244.2.0/24")};
  b.nodes = {node("192.0.2.12", "10.244.2.0/24"), node("192.0.2.13", "10.244.3.0/24")};
  log_membership(a);
  log_membership(a);
  log_membership(b);
  open_log({});
  std::ifstream in(c.file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("joined 192.0.2.11 10.244.1.0/24"), 1u) << text;
  EXPECT_EQ(count("joined 192.0.2.12 10.244.2.0/24"), 1u) << text;
  EXPECT_EQ(count("joined 192.0.2.13 10.244.3.0/24"), 1u) << text;
  EXPECT_EQ(count("left 192.0.2.11 10.244.1.0/24"), 1u) << text;
  EXPECT_EQ(count("left "), 1u) << text;
}

TEST(Status, HealthAndMetrics) {
  Status s;
  HttpResponse h = s.healthz();
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.body, "subnet lease not held\nlast sync failed or none yet\n");
  s.synced = true;
  s.lease_expires_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count() +
      30000;
  s.peers = 4;
  EXPECT_EQ(s.healthz().status, 200);
  std::string m = s.metrics().body;
  EXPECT_NE(m.find("\nknet_node_peers 4\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE knet_node_store_errors_total counter"), std::string::npos) << m;
  size_t ttl = m.find("\nknet_node_lease_ttl_seconds ");
  ASSERT_NE(ttl, std::string::npos) << m;
  double left = std::stod(m.substr(ttl + 29));
  EXPECT_GT(left, 29.0);
  EXPECT_LE(left, 30.0);
}

}  // namespace
}  // namespace knet::node
