// knet through containerd's go-cni (Debian's golang-github-containerd-go-cni-dev),
// the library the CRI plugin uses when kubelet starts a pod: the loopback
// network and a knet bridge + host-local + bandwidth conflist, the bandwidth
// capability as CRI fills it (rate in bit/s, burst math.MaxUint32), in
// sandbox namespaces (root). The CNI bin dir is knet's build/bin alone, so no
// plugin can come from /usr/lib/cni. For cniVersion 1.0.0 and 0.4.0: Setup
// wires the pod (lo up, eth0 addressed, shaped, gateway reachable), Check
// passes, and Remove cleans up both with the netns path and, as kubelet does
// for a pod whose sandbox is already gone, with an empty one.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "interop.h"
#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kClient = KNET_GOCNI_CLIENT;  // "" when Go or go-cni was missing at configure
constexpr const char* kRate = "8000000";        // bit/s, like the annotation "8M"

class GoCniInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (kClient.empty() || !fs::exists(kClient))
      GTEST_SKIP() << "go-cni client not built (needs golang-go and "
                      "golang-github-containerd-go-cni-dev at configure time)";
    fs::create_directories(dir.path() + "/net.d");
    json bridge = {{"type", "bridge"},
                   {"bridge", "kbr0"},
                   {"isGateway", true},
                   {"ipam",
                    {{"type", "host-local"},
                     {"dataDir", data()},
                     {"subnet", "10.98.0.0/24"},
                     {"routes", {{{"dst", "0.0.0.0/0"}}}}}}};
    json bandwidth = {{"type", "bandwidth"}, {"capabilities", {{"bandwidth", true}}}};
    std::ofstream(dir.path() + "/net.d/10-pods.conflist") << json{
        {"cniVersion", GetParam()},
        {"name", "pods"},
        {"plugins", json::array({bridge, bandwidth})}}.dump(2);
  }

  std::string data() const { return dir.path() + "/ipam"; }
  // host-local's reservation file for `ip`.
  std::string reservation(const std::string& ip) const { return data() + "/pods/" + ip; }

  // The client in the sandbox host namespace, where the plugins then run.
  RunResult gocni(const std::string& action, const std::string& netns, const std::string& cid) {
    return run_process({kClient, action, dir.path() + "/net.d", KNET_PLUGIN_DIR, netns, cid},
                       {{"CNI_CACHE_DIR", dir.path() + "/cache"},
                        {"INGRESS_RATE", kRate},
                        {"EGRESS_RATE", kRate},
                        {"KNET_RUN_DIR", sb.run_dir()},
                        {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}},
                       "", sb.host(), std::chrono::seconds(30));
  }

  // Setup of pod `cid` in `netns`, with every assertion on the wired pod;
  // returns its address, or "" after a failed assertion.
  std::string setup_pod(const std::string& netns, const std::string& cid) {
    // The container's lo down, so only the loopback plugin can bring it up.
    EXPECT_TRUE(sb.exec_in(netns, "ip link set lo down").ok());
    RunResult r = gocni("setup", netns, cid);
    EXPECT_EQ(r.code, 0) << r.err << r.out;
    if (r.code != 0 || !r.json) return "";
    const json& ifaces = (*r.json)["interfaces"];
    std::string ip;
    if (ifaces.contains("eth0") && !ifaces["eth0"]["ips"].empty()) {
      EXPECT_EQ(ifaces["eth0"]["sandbox"], netns) << *r.json;
      ip = ifaces["eth0"]["ips"][0]["ip"].get<std::string>();
      EXPECT_EQ(ifaces["eth0"]["ips"][0].value("gateway", ""), "10.98.0.1") << *r.json;
    }
    EXPECT_TRUE(ip.starts_with("10.98.0.")) << *r.json;
    EXPECT_TRUE(fs::exists(reservation(ip))) << ip;

    json lo = sb.link_json(netns, "lo");
    EXPECT_TRUE(lo.is_object() && lo["flags"].dump().find("\"UP\"") != std::string::npos) << lo;
    bool has_ip = false;
    for (const auto& a : sb.addr_json(netns, "eth0")) has_ip |= a.value("local", "") == ip;
    EXPECT_TRUE(has_ip) << "eth0 in the container lacks " << ip;

    // The host veth is in go-cni's result (no sandbox); CRI's rates shape it:
    // tbf on its egress (pod ingress), and its ingress mirred to a tbf'd ifb.
    std::string veth;
    for (const auto& [name, i] : ifaces.items())
      if (i.value("sandbox", "").empty() && name != "kbr0") veth = name;
    EXPECT_TRUE(link_names(sb, sb.host(), "veth").contains(veth)) << *r.json;
    std::set<std::string> on_veth = qdisc_kinds(sb, sb.host(), veth);
    EXPECT_TRUE(on_veth.contains("tbf")) << veth;
    EXPECT_TRUE(on_veth.contains("ingress")) << veth;
    std::set<std::string> ifbs = link_names(sb, sb.host(), "ifb");
    EXPECT_EQ(ifbs.size(), 1u);
    if (!ifbs.empty()) {
      EXPECT_TRUE(qdisc_kinds(sb, sb.host(), *ifbs.begin()).contains("tbf"));
    }
    // The rate arrives in bit/s both ways (8 Mbit/s of TCP payload is
    // 8.3646 Mbit/s of 1514-byte frames); the 2^32-1 bit burst is accepted.
    std::string tc = sb.exec_in(sb.host(), "tc qdisc show").out;
    size_t first = tc.find("rate 8364Kbit");
    EXPECT_TRUE(first != std::string::npos &&
                tc.find("rate 8364Kbit", first + 1) != std::string::npos)
        << tc;

    EXPECT_TRUE(sb.ping(netns, "10.98.0.1", 2)) << "pod -> gateway";
    return ip;
  }

  // Nothing of any pod left in the sandbox host, the store or the cache.
  void expect_all_gone(const std::string& ip) {
    EXPECT_TRUE(link_names(sb, sb.host(), "veth").empty());
    EXPECT_TRUE(link_names(sb, sb.host(), "ifb").empty());
    EXPECT_FALSE(fs::exists(reservation(ip))) << ip;
    std::error_code ec;
    EXPECT_TRUE(fs::is_empty(dir.path() + "/cache/results", ec) || ec) << "cached results left";
  }

  Sandbox sb;
  TempDir dir;
};

TEST_P(GoCniInterop, SetupCheckRemoveWithAndWithoutNetns) {
  std::string pod = sb.add_container("pod");
  std::string ip = setup_pod(pod, "pod-a");
  ASSERT_FALSE(ip.empty());

  RunResult chk = gocni("check", pod, "pod-a");
  EXPECT_EQ(chk.code, 0) << chk.err;

  RunResult rm = gocni("remove", pod, "pod-a");
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_FALSE(sb.link_json(pod, "eth0").is_object());
  expect_all_gone(ip);
  // kubelet retries StopPodSandbox; the second Remove finds nothing to do.
  rm = gocni("remove", "", "pod-a");
  EXPECT_EQ(rm.code, 0) << rm.err;
  expect_all_gone(ip);
}

// The sandbox died first: Remove gets no netns, and the host-side ifb and the
// address must still go (the veth pair went with the namespace).
TEST_P(GoCniInterop, RemoveAfterTheSandboxIsGone) {
  std::string pod = sb.add_container("pod");
  std::string ip = setup_pod(pod, "pod-b");
  ASSERT_FALSE(ip.empty());
  ASSERT_TRUE(sb.exec_in(sb.host(), "ip netns delete " + Sandbox::name_of(pod)).ok());
  // The kernel tears the namespace down asynchronously, the veth pair with it.
  for (int i = 0; i < 100 && !link_names(sb, sb.host(), "veth").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

  RunResult rm = gocni("remove", "", "pod-b");
  EXPECT_EQ(rm.code, 0) << rm.err;
  expect_all_gone(ip);
}

INSTANTIATE_TEST_SUITE_P(Versions, GoCniInterop, ::testing::Values("1.0.0", "0.4.0"), version_name);

}  // namespace
}  // namespace knet::test
