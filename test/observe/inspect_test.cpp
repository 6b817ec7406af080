// `knet inspect` on a sandbox host holding live attachments of bridge (+
// bandwidth and masquerade), macvlan and vxlan, made through cnitool so the
// runtime's cache is real, and planted orphans of each kind: a killed ADD's
// untagged veth, a netns deleted without DEL, an IP file without a
// container, a reference-created ifb. Each is listed as it should be, and
// inspect changes nothing.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "observe.h"

namespace knet::test {
namespace {

using nlohmann::json;

class InspectTest : public ::testing::Test {
 protected:
  Sandbox sb;
  TempDir dir;
  std::string conf_dir = dir.path() + "/net.d";
  std::string data_dir = dir.path() + "/ipam";
  std::string cache_dir = dir.path() + "/cache";

  void SetUp() override {
    ASSERT_EQ(std::system(("mkdir -p " + conf_dir).c_str()), 0);
    other = sb.add_ns("peer");
    sb.connect(sb.host(), "u0", other, "u1", "192.0.2.21/24", "192.0.2.22/24");
    sb.connect(sb.host(), "mv0", other, "mv1");
    auto ipam = [&](const std::string& subnet) {
      return json{{"type", "host-local"}, {"subnet", subnet}, {"dataDir", data_dir}};
    };
    write_list("insp", {{{"type", "bridge"},
                         {"bridge", "insbr0"},
                         {"isGateway", true},
                         {"ipMasq", true},
                         {"ipam", ipam("10.99.0.0/24")}},
                        {{"type", "bandwidth"},
                         {"ingressRate", 8000000},
                         {"ingressBurst", 80000},
                         {"egressRate", 8000000},
                         {"egressBurst", 80000}}});
    write_list("inspmv",
               {{{"type", "macvlan"}, {"master", "mv0"}, {"ipam", ipam("10.99.1.0/24")}}});
    write_list("inspvx", {{{"type", "vxlan"},
                           {"vni", 99},
                           {"underlay", "u0"},
                           {"bridge", "insvx99"},
                           {"peers", {"192.0.2.22"}},
                           {"ipam", ipam("10.99.2.0/24")}}});
  }

  void write_list(const std::string& name, const json& plugins) {
    json list = {{"cniVersion", "1.1.0"}, {"name", name}, {"plugins", plugins}};
    std::ofstream(conf_dir + "/" + name + ".conflist") << list.dump(1);
  }

  RunResult cnitool(const std::string& verb, const std::string& network, const std::string& netns,
                    const std::string& id) {
    std::string bin = plugin_path("knet");
    return run_process({plugin_path("cnitool"), verb, network, netns},
                       {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
                        {"NETCONFPATH", conf_dir},
                        {"CNI_PATH", bin.substr(0, bin.rfind('/'))},
                        {"CNI_CACHE_DIR", cache_dir},
                        {"CNI_CONTAINERID", id},
                        {"CNI_IFNAME", "eth0"},
                        {"KNET_RUN_DIR", sb.run_dir()},
                        {"KNET_LOG_CONFIG", dir.path() + "/none.json"}},
                       "", sb.host(), std::chrono::seconds(30));
  }

  RunResult inspect(std::vector<std::string> args) {
    std::vector<std::string> argv = {plugin_path("knet"), "inspect", "--data-dir", data_dir,
                                     "--cache-dir",       cache_dir, "--run-dir",  sb.run_dir()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}}, "", sb.host(),
                       std::chrono::seconds(30));
  }

  // What the host namespace and the state directories hold, as text (less
  // what the kernel changes by itself: bridge timers, port and operational
  // states, IPv6 DAD).
  std::string snapshot() {
    std::string s;
    for (const char* cmd :
         {"ip -d link show 2>/dev/null | sed -E 's/[a-z_]+_timer +[0-9.]+//g; s/ state "
          "[A-Za-z]+//g'",
          "ip addr show 2>/dev/null | sed -E 's/ (tentative|dadfailed)//; s/ state [A-Za-z]+//g'",
          "tc qdisc show", "nft list ruleset"})
      s += sb.exec_in(sb.host(), std::string(cmd) + " 2>/dev/null")
               .out;  // iproute2's notes on other tests' namespaces
    s += sb.exec_in(sb.host(),
                    "find " + dir.path() + " " + sb.run_dir() + " -printf '%p %s %T@\\n' | sort")
             .out;
    return s;
  }

  std::string other;
};

const json* find_attachment(const json& report, const std::string& network, const std::string& id) {
  for (const auto& a : report["attachments"])
    if (a["network"] == network && a["containerID"] == id) return &a;
  return nullptr;
}

bool has_object(const json& list, const std::string& kind, const std::string& creator = {}) {
  for (const auto& o : list)
    if (o["kind"] == kind && (creator.empty() || o["creator"] == creator)) return true;
  return false;
}

bool has_text(const json& list, const std::string& text) {
  for (const auto& s : list)
    if (s.get<std::string>().find(text) != std::string::npos) return true;
  return false;
}

TEST_F(InspectTest, ListsAttachmentsOrphansAndInconsistenciesAndChangesNothing) {
  std::string ca = sb.add_container("a"), cb = sb.add_container("b"), cc = sb.add_container("c"),
              cd = sb.add_container("d");
  for (auto [net, ns, id] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"insp", ca, "ctr-a"},
                                                                      {"insp", cb, "ctr-b"},
                                                                      {"inspmv", cc, "ctr-c"},
                                                                      {"inspvx", cd, "ctr-d"}}) {
    RunResult r = cnitool("add", net, ns, id);
    ASSERT_EQ(r.code, 0) << net << " " << id << ": " << r.out << r.err;
  }
  // A netns deleted without DEL: its veth goes with it; the ifb, the
  // masquerade rules, the reservation and the cache entry stay.
  ASSERT_TRUE(sb.exec_in(sb.host(), "ip netns del " + Sandbox::name_of(cb)).ok());
  // An ADD killed between creating its veth and tagging it.
  ASSERT_TRUE(
      sb.exec_in(sb.host(),
                 "ip link add veth0123456789a master insbr0 type veth peer name kp0 netns " +
                     Sandbox::name_of(other))
          .ok());
  // An IP file without a container, and an ifb the reference bandwidth plugin made.
  std::ofstream(data_dir + "/insp/10.99.0.200") << "ghost-ctr\r\neth0";
  ASSERT_TRUE(sb.exec_in(sb.host(), "ip link add bwp0123456789ab type ifb").ok());

  std::string before = snapshot();
  RunResult r = inspect({"--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  ASSERT_TRUE(r.json) << r.out;
  const json& rep = *r.json;
  SCOPED_TRACE(rep.dump(1));

  const json* a = find_attachment(rep, "insp", "ctr-a");
  ASSERT_TRUE(a);
  EXPECT_TRUE((*a)["live"].get<bool>());
  EXPECT_EQ((*a)["netns"]["path"], ca);
  EXPECT_EQ((*a)["netns"]["state"], "exists");
  ASSERT_TRUE(a->contains("containerInterface"));
  EXPECT_EQ((*a)["containerInterface"]["name"], "eth0");
  EXPECT_EQ((*a)["containerInterface"]["addresses"].size(), 1u);
  for (const char* kind : {"veth", "ifb", "nft chain", "ip reservation", "cache entry"})
    EXPECT_TRUE(has_object((*a)["objects"], kind)) << kind;
  EXPECT_TRUE((*a)["problems"].empty());

  const json* b = find_attachment(rep, "insp", "ctr-b");
  ASSERT_TRUE(b);
  EXPECT_FALSE((*b)["live"].get<bool>());
  EXPECT_EQ((*b)["netns"]["state"], "gone");
  EXPECT_FALSE(has_object((*b)["objects"], "veth"));
  EXPECT_TRUE(has_text((*b)["problems"], "reserved with no veth"));
  EXPECT_TRUE(has_text((*b)["problems"], "whose veth is gone"));
  EXPECT_TRUE(has_text((*b)["problems"], "cache entry whose netns"));

  const json* ghost = find_attachment(rep, "insp", "ghost-ctr");
  ASSERT_TRUE(ghost);
  EXPECT_FALSE((*ghost)["live"].get<bool>());
  EXPECT_TRUE(has_text((*ghost)["problems"], "IP 10.99.0.200 reserved with no veth"));

  const json* c = find_attachment(rep, "inspmv", "ctr-c");
  ASSERT_TRUE(c);
  EXPECT_TRUE((*c)["live"].get<bool>());
  EXPECT_EQ((*c)["netns"]["path"], cc);
  ASSERT_TRUE(c->contains("containerInterface"));
  EXPECT_EQ((*c)["containerInterface"]["addresses"].size(), 1u);

  const json* d = find_attachment(rep, "inspvx", "ctr-d");
  ASSERT_TRUE(d);
  EXPECT_TRUE((*d)["live"].get<bool>());
  EXPECT_TRUE(has_object((*d)["objects"], "veth", "knet"));

  // Orphans: everything of ctr-b and the ghost, and the untagged veth.
  auto orphan = [&](const std::string& kind, const std::string& name_or_id) {
    for (const auto& o : rep["orphans"])
      if (o["kind"] == kind &&
          (o["name"] == name_or_id || o.value("containerID", "") == name_or_id))
        return true;
    return false;
  };
  EXPECT_TRUE(orphan("veth", "veth0123456789a"));
  EXPECT_TRUE(orphan("ifb", "ctr-b"));
  EXPECT_TRUE(orphan("nft chain", "ctr-b"));
  EXPECT_TRUE(orphan("ip reservation", "ctr-b"));
  EXPECT_TRUE(orphan("cache entry", "ctr-b"));
  EXPECT_TRUE(orphan("ip reservation", "ghost-ctr"));
  EXPECT_FALSE(orphan("ip reservation", "ctr-a"));
  EXPECT_FALSE(orphan("ip reservation", "ctr-c"));
  // The reference's ifb, recognised by its name, owner unknown.
  bool bwp = false;
  for (const auto& o : rep["unowned"])
    bwp |= o["name"] == "bwp0123456789ab" && o["creator"] == "reference";
  EXPECT_TRUE(bwp);
  EXPECT_TRUE(has_text(rep["inconsistencies"], "insp/ctr-b/eth0: IP"));

  // Filters, and the human table.
  RunResult only = inspect({"--json", "--network", "inspmv"});
  ASSERT_TRUE(only.json) << only.out;
  ASSERT_EQ((*only.json)["attachments"].size(), 1u);
  EXPECT_EQ((*only.json)["attachments"][0]["containerID"], "ctr-c");
  RunResult one = inspect({"--json", "--container", "ctr-b"});
  ASSERT_TRUE(one.json) << one.out;
  ASSERT_EQ((*one.json)["attachments"].size(), 1u);
  RunResult table = inspect({});
  ASSERT_EQ(table.code, 0);
  if (std::getenv("KNET_INSPECT_SHOW")) std::fputs(table.out.c_str(), stdout);
  EXPECT_NE(table.out.find("ORPHANS"), std::string::npos);
  EXPECT_NE(table.out.find("insp/ctr-b/eth0  DEAD"), std::string::npos) << table.out;

  EXPECT_EQ(snapshot(), before) << "inspect changed the host";

  // Clean up what the sandbox's namespaces do not take with them.
  for (auto [net, ns, id] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"insp", ca, "ctr-a"},
                                                                      {"insp", cb, "ctr-b"},
                                                                      {"inspmv", cc, "ctr-c"},
                                                                      {"inspvx", cd, "ctr-d"}})
    cnitool("del", net, ns, id);
}

TEST_F(InspectTest, BadArgumentsAreRefused) {
  EXPECT_EQ(inspect({"--bogus"}).code, 2);
  EXPECT_EQ(inspect({"--network"}).code, 2);
}

}  // namespace
}  // namespace knet::test
