// knet plugins and the reference plugins (Debian's containernetworking-plugins
// in /usr/lib/cni) in one chain, run by knet's cnitool in sandbox namespaces
// (root): each must accept the other's prevResult and leave nothing behind.
//   KnetBridgeThenReferenceMeta: knet bridge + host-local, then the reference
//     tuning, portmap and firewall (iptables): a sysctl and the MTU applied in
//     the pod, a DNAT rule that carries TCP from a client namespace through
//     the sandbox host to the pod, the firewall's CNI-FORWARD rules; DEL in
//     reverse order removes them all.
//   ReferenceBridgeThenKnetBandwidth: reference bridge + host-local, then knet
//     bandwidth from the capability: shaping present, CHECK passes, DEL clears.
//   HostLocalBothWaysOnOneDataDir: reference and knet host-local allocating in
//     turn from one dataDir, each releasing what the other allocated.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "hl.h"
#include "interop.h"
#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kRef = "/usr/lib/cni";

class MixedChain : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int pid : listeners) ::kill(pid, SIGKILL);
  }

  // A CNI_PATH where each plugin of the chain comes from where `from` says:
  // "knet" (build/bin) or "ref" (/usr/lib/cni). False if one is missing.
  bool stage(const std::map<std::string, std::string>& from) {
    fs::create_directories(bin());
    for (const auto& [plugin, origin] : from) {
      std::string target = origin == "knet" ? plugin_path(plugin) : kRef + "/" + plugin;
      if (!fs::exists(target)) {
        missing = target;
        return false;
      }
      fs::create_symlink(target, bin() + "/" + plugin);
    }
    return true;
  }
  void write_conflist(const json& plugins) {
    fs::create_directories(dir.path() + "/net.d");
    std::ofstream(dir.path() + "/net.d/10-mixed.conflist")
        << json{{"cniVersion", "1.0.0"}, {"name", "mixed"}, {"plugins", plugins}}.dump(2);
  }
  RunResult cnitool(const std::string& cmd, const std::string& netns, const json& cap_args) {
    return run_process({plugin_path("cnitool"), cmd, "mixed", netns},
                       {{"NETCONFPATH", dir.path() + "/net.d"},
                        {"CNI_PATH", bin()},
                        {"CNI_CACHE_DIR", dir.path() + "/cache"},
                        {"CNI_CONTAINERID", "mixed-pod"},
                        {"CAP_ARGS", cap_args.dump()},
                        {"KNET_RUN_DIR", sb.run_dir()},
                        {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}},
                       "", sb.host(), std::chrono::seconds(30));
  }
  json host_local(const std::string& subnet) const {
    return {{"type", "host-local"},
            {"dataDir", data()},
            {"subnet", subnet},
            {"routes", {{{"dst", "0.0.0.0/0"}}}}};
  }
  std::string bin() const { return dir.path() + "/bin"; }
  std::string data() const { return dir.path() + "/ipam"; }
  std::string reservation(const std::string& ip) const { return data() + "/mixed/" + ip; }
  std::string host_iptables(const std::string& args) const {
    return sb.exec_in(sb.host(), "iptables -w 5 " + args + " 2>&1").out;
  }

  // The address of the first IP in an ADD result, without the prefix length.
  static std::string first_ip(const json& result) {
    std::string a = result["ips"][0]["address"];
    return a.substr(0, a.find('/'));
  }

  Sandbox sb;
  TempDir dir;
  std::string missing;
  std::vector<int> listeners;
};

TEST_F(MixedChain, KnetBridgeThenReferenceMeta) {
  if (!stage({{"bridge", "knet"},
              {"host-local", "knet"},
              {"tuning", "ref"},
              {"portmap", "ref"},
              {"firewall", "ref"}}))
    GTEST_SKIP() << missing << " missing (containernetworking-plugins)";
  if (!sb.exec_in(sb.host(), "iptables -w 5 -t nat -L -n >/dev/null").ok())
    GTEST_SKIP() << "iptables (nat table) unusable in a network namespace";
  write_conflist(json::array({{{"type", "bridge"},
                               {"bridge", "kbr0"},
                               {"isGateway", true},
                               {"ipam", host_local("10.97.0.0/24")}},
                              {{"type", "tuning"},
                               {"mtu", 1400},
                               {"sysctl", {{"net.ipv4.conf.eth0.rp_filter", "2"}}},
                               {"dataDir", dir.path() + "/tuning"}},  // not /run/cni/tuning
                              {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}},
                              {{"type", "firewall"}, {"backend", "iptables"}}}));
  json caps = {{"portMappings",
                json::array({{{"hostPort", 8080}, {"containerPort", 80}, {"protocol", "tcp"}}})}};
  std::string pod = sb.add_container("pod");
  std::string client = sb.add_ns("client");
  sb.connect(sb.host(), "cl0", client, "eth0", "192.0.2.1/24", "192.0.2.2/24");

  RunResult add = cnitool("add", pod, caps);
  ASSERT_EQ(add.code, 0) << add.err << add.out;
  ASSERT_TRUE(add.json) << add.out;
  std::string ip = first_ip(*add.json);
  EXPECT_TRUE(ip.starts_with("10.97.0.")) << *add.json;

  // tuning, in the pod.
  EXPECT_EQ(sb.exec_in(pod, "cat /proc/sys/net/ipv4/conf/eth0/rp_filter").out, "2\n");
  EXPECT_EQ(sb.link_json(pod, "eth0").value("mtu", 0), 1400);
  // portmap, in the sandbox host: the rule, then a TCP connection through it.
  EXPECT_NE(host_iptables("-t nat -S").find("--to-destination " + ip + ":80"), std::string::npos)
      << host_iptables("-t nat -S");
  CmdResult srv = sb.exec_in(
      pod,
      "timeout 10 perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => 80, "
      "Listen => 1, ReuseAddr => 1) or die; $c = $s->accept; print $c \"hello from the pod\\n\"' "
      ">/dev/null 2>&1 & echo $!");
  ASSERT_TRUE(srv.ok()) << srv.out;
  listeners.push_back(std::stoi(srv.out));
  std::string got;
  for (int i = 0; i < 30 && got.empty(); ++i) {
    got = sb.exec_in(client,
                     "perl -MIO::Socket::INET -e '$c = IO::Socket::INET->new(PeerAddr => "
                     "\"192.0.2.1:8080\", Timeout => 2) or exit 1; print scalar <$c>'",
                     std::chrono::seconds(4))
              .out;
    if (got.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got, "hello from the pod\n") << "client -> 192.0.2.1:8080 -> " << ip << ":80";
  // firewall: the pod's address is let through in CNI-FORWARD.
  EXPECT_NE(host_iptables("-S CNI-FORWARD").find(ip + "/32"), std::string::npos)
      << host_iptables("-S CNI-FORWARD");

  // No CHECK: the reference portmap (1.1.1) fails it on an IPv4-only pod by
  // looking for ip6tables rules it never made (containernetworking/plugins#819).

  RunResult del = cnitool("del", pod, caps);
  EXPECT_EQ(del.code, 0) << del.err << del.out;
  EXPECT_EQ(host_iptables("-t nat -S").find(ip), std::string::npos) << host_iptables("-t nat -S");
  EXPECT_EQ(host_iptables("-t nat -S").find("CNI-DN-"), std::string::npos);
  EXPECT_EQ(host_iptables("-S").find(ip), std::string::npos) << host_iptables("-S");
  EXPECT_EQ(link_names(sb, sb.host(), "veth"), std::set<std::string>{"cl0"});  // the client's
  EXPECT_FALSE(sb.link_json(pod, "eth0").is_object());
  EXPECT_FALSE(fs::exists(reservation(ip)));
}

TEST_F(MixedChain, ReferenceBridgeThenKnetBandwidth) {
  if (!stage({{"bridge", "ref"}, {"host-local", "ref"}, {"bandwidth", "knet"}}))
    GTEST_SKIP() << missing << " missing (containernetworking-plugins)";
  write_conflist(json::array({{{"type", "bridge"},
                               {"bridge", "rbr0"},
                               {"isGateway", true},
                               {"ipam", host_local("10.95.0.0/24")}},
                              {{"type", "bandwidth"}, {"capabilities", {{"bandwidth", true}}}}}));
  json caps = {{"bandwidth",
                {{"ingressRate", 8000000},
                 {"ingressBurst", 160000},
                 {"egressRate", 8000000},
                 {"egressBurst", 160000}}}};
  std::string pod = sb.add_container("pod");

  RunResult add = cnitool("add", pod, caps);
  ASSERT_EQ(add.code, 0) << add.err << add.out;
  ASSERT_TRUE(add.json) << add.out;
  std::string ip = first_ip(*add.json);
  std::string veth;
  for (const auto& i : (*add.json)["interfaces"])
    if (!i.contains("sandbox") && i["name"] != "rbr0") veth = i["name"];
  ASSERT_TRUE(link_names(sb, sb.host(), "veth").contains(veth)) << *add.json;
  std::set<std::string> on_veth = qdisc_kinds(sb, sb.host(), veth);
  EXPECT_TRUE(on_veth.contains("tbf") && on_veth.contains("ingress")) << veth;
  std::set<std::string> ifbs = link_names(sb, sb.host(), "ifb");
  ASSERT_EQ(ifbs.size(), 1u);
  EXPECT_TRUE(qdisc_kinds(sb, sb.host(), *ifbs.begin()).contains("tbf"));
  EXPECT_TRUE(sb.ping(pod, "10.95.0.1", 2));

  RunResult chk = cnitool("check", pod, caps);
  EXPECT_EQ(chk.code, 0) << chk.err << chk.out;

  RunResult del = cnitool("del", pod, caps);
  EXPECT_EQ(del.code, 0) << del.err << del.out;
  EXPECT_TRUE(link_names(sb, sb.host(), "ifb").empty());
  EXPECT_TRUE(link_names(sb, sb.host(), "veth").empty());
  EXPECT_FALSE(fs::exists(reservation(ip)));
}

TEST_F(MixedChain, HostLocalBothWaysOnOneDataDir) {
  if (!fs::exists(host_local::kRef)) GTEST_SKIP() << host_local::kRef << " missing (containernetworking-plugins)";
  json conf = host_local::conf(data(), {{"subnet", "10.94.0.0/24"}}, "mixed", "1.0.0");
  auto impl = [](int i) { return i % 2 == 0 ? host_local::kRef : host_local::knet(); };
  std::vector<std::string> ips;
  for (int i = 0; i < 8; ++i) {  // 4 each, alternating
    RunResult r = host_local::run(impl(i), "ADD", conf, "c" + std::to_string(i));
    ASSERT_EQ(r.code, 0) << impl(i) << ": " << host_local::describe(r);
    ips.push_back(host_local::ip_of(r));
    EXPECT_TRUE(fs::exists(reservation(ips.back()))) << ips.back();
  }
  EXPECT_EQ(std::set<std::string>(ips.begin(), ips.end()).size(), ips.size());
  for (int i = 0; i < 8; ++i) {  // each released by the other implementation
    RunResult r = host_local::run(impl(i + 1), "DEL", conf, "c" + std::to_string(i));
    EXPECT_EQ(r.code, 0) << impl(i + 1) << ": " << host_local::describe(r);
    EXPECT_FALSE(fs::exists(reservation(ips[i]))) << ips[i] << " after DEL by " << impl(i + 1);
  }
  for (const auto& f : host_local::files(data() + "/mixed"))
    EXPECT_TRUE(f == "lock" || f == "knet.index" || f.starts_with("last_reserved_ip"))
        << f << " left";
}

}  // namespace
}  // namespace knet::test
