// Crash: the plugin is killed with SIGKILL (with its IPAM child: the whole
// process group) at spread-out moments of its ADD; then the runtime's
// cleanup runs (DEL without a cached result, and GC with an empty
// cni.dev/valid-attachments list) and must leave the sandbox host as it was
// and the IP free: the network is a /30 with exactly one assignable address,
// so the next ADD succeeds only if the killed ADD's reservation is gone.
// The vxlan victim runs alone (l2, one peer over a veth underlay); its GC
// also removes the network's device and bridge, so its baseline is taken
// after a GC.
//
// KNET_CRASH_ROUNDS (default 20) and KNET_CRASH_SEED (default 9) vary a run.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "rel.h"

namespace knet::test::rel {
namespace {

using std::chrono::milliseconds;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : fallback;
}

struct CrashCase {
  std::string victim;  // the plugin killed: "bridge" or "vxlan" (and its host-local), or "bandwidth"
  bool del;            // DEL before GC (else GC alone must clean up)
};

void PrintTo(const CrashCase& c, std::ostream* os) {
  *os << c.victim << (c.del ? " killed, DEL then GC" : " killed, GC alone");
}

std::string case_name(const ::testing::TestParamInfo<CrashCase>& p) {
  return p.param.victim + (p.param.del ? "_DelThenGc" : "_GcAlone");
}

class Crash : public ::testing::TestWithParam<CrashCase> {
 protected:
  void SetUp() override {
    chain.data_dir = data.path();
    chain.subnet = "10.77.0.0/30";  // .1 is the gateway, .2 the only address to give
    ctr = sb.add_container();
    if (vxlan()) {
      sb.connect(sb.host(), "und0", sb.add_ns("wire"), "far", "192.0.2.1/24", "192.0.2.2/24");
      gc = supports_version(sb, "vxlan", "1.1.0");
    } else {
      gc = supports_version(sb, "bridge", "1.1.0") && supports_version(sb, "bandwidth", "1.1.0");
    }
  }

  bool vxlan() const { return GetParam().victim == "vxlan"; }

  // The vxlan network: l2 over und0 with one peer, the chain's host-local.
  json vxlan_conf() const {
    return {{"cniVersion", chain.version},
            {"name", chain.name},
            {"type", "vxlan"},
            {"vni", 42},
            {"underlay", "und0"},
            {"peers", {"192.0.2.1", "192.0.2.2"}},
            {"ipam", {{"type", "host-local"}, {"dataDir", chain.data_dir}, {"subnet", chain.subnet}}}};
  }

  // A whole ADD of the network under test: the result, or "" and `error` set.
  json add(const std::string& cid, std::string* error) {
    if (!vxlan()) return chain.add(sb, cid, ctr, error);
    RunResult r = run(sb, "vxlan", "ADD", cid, ctr, vxlan_conf());
    if (r.code != 0 || !r.json) *error = "vxlan ADD: " + describe(r);
    return r.json.value_or(json());
  }

  // The runtime's DEL of the network under test (with the cached result, or null).
  std::string del(const std::string& cid, const json& prev) {
    if (!vxlan()) return chain.del(sb, cid, ctr, prev);
    json conf = vxlan_conf();
    if (!prev.is_null()) conf["prevResult"] = prev;
    RunResult r = run(sb, "vxlan", "DEL", cid, ctr, conf);
    return r.code == 0 ? "" : "vxlan DEL: " + describe(r);
  }

  // The runtime's GC for the whole chain: every plugin, no valid attachment.
  std::string run_gc() {
    std::vector<json> confs = {chain.bridge_conf(), chain.bandwidth_conf(nullptr)};
    if (vxlan()) confs = {vxlan_conf()};
    for (json conf : confs) {
      conf["cniVersion"] = "1.1.0";
      conf["cni.dev/valid-attachments"] = json::array();
      RunResult r = sb.run_plugin(plugin(conf["type"]), cni_env("GC", "", ""), conf.dump());
      if (r.code != 0) return conf["type"].get<std::string>() + " GC: " + describe(r);
    }
    return "";
  }

  // ADD of the chain up to the victim, which is killed after `delay`.
  // Returns whether it was actually killed (it may have finished first).
  bool killed_add(const std::string& cid, milliseconds delay) {
    json conf = vxlan() ? vxlan_conf() : chain.bridge_conf();
    if (GetParam().victim == "bandwidth") {
      RunResult r = run(sb, "bridge", "ADD", cid, ctr, conf);
      EXPECT_EQ(r.code, 0) << describe(r);
      conf = chain.bandwidth_conf(r.json.value_or(json()));
    }
    return run(sb, GetParam().victim, "ADD", cid, ctr, conf, delay).timed_out;
  }

  Sandbox sb;
  TempDir data;
  Chain chain;
  std::string ctr;
  bool gc = false;
};

TEST_P(Crash, KilledAddLeavesNothingAfterCleanup) {
  if (!GetParam().del && !gc) GTEST_SKIP() << "the plugins do not support GC (cniVersion 1.1.0)";

  // Whole ADD/DELs first: the first makes what stays for good (the bridge);
  // the next three measure how long the victim's ADD takes (the median), to
  // spread the kills over it.
  std::vector<long> times;
  for (int i = 0; i < 4; ++i) {
    std::string cid = "crash-calibrate-" + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    std::string first = vxlan() ? "vxlan" : "bridge";
    RunResult r = run(sb, first, "ADD", cid, ctr, vxlan() ? vxlan_conf() : chain.bridge_conf());
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_EQ(r.code, 0) << describe(r);
    json last = r.json.value_or(json());
    if (!vxlan()) {
      RunResult rb = run(sb, "bandwidth", "ADD", cid, ctr, chain.bandwidth_conf(last));
      ASSERT_EQ(rb.code, 0) << describe(rb);
      last = rb.json.value_or(json());
    }
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_EQ(del(cid, last), "");
    auto victim = GetParam().victim == "bandwidth" ? t2 - t1 : t1 - t0;
    if (i > 0) times.push_back(std::chrono::duration_cast<milliseconds>(victim).count());
  }
  // vxlan's GC removes the device and bridge its first ADD made: the baseline is without them.
  if (vxlan() && gc) {
    ASSERT_EQ(run_gc(), "");
  }
  std::sort(times.begin(), times.end());
  milliseconds full(times[1]);
  Snapshot base = snapshot(sb, sb.host(), data.path());
  long span = std::max<long>(10, full.count() * 6 / 5);

  const int rounds = env_int("KNET_CRASH_ROUNDS", 20);
  const unsigned seed = env_int("KNET_CRASH_SEED", 9);
  std::mt19937 rng(seed);
  int killed = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10 + 3 * rounds);
  for (int i = 0; i < rounds; ++i) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "time budget exceeded at round " << i;
    // Round i kills in the i-th slice of [0, span): every phase of the ADD gets hit.
    long lo = span * i / rounds, hi = span * (i + 1) / rounds;
    milliseconds delay(std::uniform_int_distribution<long>(lo, std::max(lo, hi - 1))(rng));
    std::string where = "round " + std::to_string(i) + " (seed " + std::to_string(seed) + "), " +
                        GetParam().victim + " killed after " + std::to_string(delay.count()) +
                        " ms of a ~" + std::to_string(full.count()) + " ms ADD";
    SCOPED_TRACE(where);
    std::string cid = "crash-" + std::to_string(i);
    killed += killed_add(cid, delay);

    if (GetParam().del) {
      ASSERT_EQ(del(cid, nullptr), "");
    }
    if (gc) {
      ASSERT_EQ(run_gc(), "");
    }

    Snapshot after = snapshot(sb, sb.host(), data.path());
    ASSERT_EQ(diff(base, after), "") << "left behind in the sandbox host";
    ASSERT_TRUE(ip_files(data.path()).empty()) << "IP reservation left behind";
    ASSERT_TRUE(links_of_kind(sb, ctr, {"veth"}).empty()) << "container interface left behind";

    // The only address of the /30 is free again.
    std::string probe = "probe-" + std::to_string(i);
    std::string err;
    json res = add(probe, &err);
    ASSERT_TRUE(err.empty()) << "ADD after the crash: " << err;
    ASSERT_EQ(del(probe, res), "");
    if (vxlan() && gc) {
      ASSERT_EQ(run_gc(), "");  // back to the baseline without the device
    }
  }
  std::printf("crash: %d of %d ADDs killed before they finished (%s ADD ~%ld ms)\n", killed, rounds,
              GetParam().victim.c_str(), static_cast<long>(full.count()));
  EXPECT_GE(killed, rounds / 4) << "most kills came too late to hit the ADD";
}

INSTANTIATE_TEST_SUITE_P(Reliability, Crash,
                         ::testing::Values(CrashCase{"bridge", true}, CrashCase{"bridge", false},
                                           CrashCase{"bandwidth", true},
                                           CrashCase{"bandwidth", false},
                                           CrashCase{"vxlan", true}, CrashCase{"vxlan", false}),
                         case_name);

}  // namespace
}  // namespace knet::test::rel
