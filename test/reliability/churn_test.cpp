// Churn: many ADD/DEL cycles of the bridge + host-local + bandwidth chain in
// one sandbox; afterwards the sandbox host holds exactly what it held after
// the first cycle (the bridge, its address, empty nftables chains), and no
// veth, ifb, qdisc, nftables rule or IP reservation is left.
//
// KNET_CHURN_CYCLES sets the number of cycles (default 300); a longer run by
// hand: KNET_CHURN_CYCLES=3000 ctest -R Churn --timeout 3600.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "rel.h"

namespace knet::test::rel {
namespace {

int cycles() {
  const char* v = std::getenv("KNET_CHURN_CYCLES");
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : 300;
}

// The one rule knet-nat keeps for good: postrouting dispatches on the source
// address through the @masq verdict map, whose per-container elements (and
// the chains they jump to) come and go with the containers.
bool is_masq_dispatch(const std::string& line) {
  return line.find("\"table\":\"knet-nat\"") != std::string::npos &&
         line.find("\"chain\":\"postrouting\"") != std::string::npos &&
         line.find("{\"vmap\":{\"data\":\"@masq\"") != std::string::npos;
}

// Lines the first ADD/DEL may add for good: the bridge (link, addresses,
// routes, qdisc), nftables tables, chains and the masquerade dispatch rule
// (no per-container rule), and host-local's directory and bookkeeping files
// (lock, last_reserved_ip.N, an index), not a reservation.
bool allowed_first_time(const std::string& section, const std::string& line, const Chain& chain) {
  if (section == "nft") return line.rfind("{\"rule\"", 0) != 0 || is_masq_dispatch(line);
  if (section == "file")
    return line == chain.name ||
           (line.rfind(chain.name + "/", 0) == 0 && !is_ip(line.substr(chain.name.size() + 1)));
  return line.find(chain.bridge) != std::string::npos;
}

TEST(Churn, AddDelCyclesLeaveNothingBehind) {
  Sandbox sb;
  TempDir data;
  std::string ctr = sb.add_container();
  Chain chain;
  chain.data_dir = data.path();

  Snapshot empty = snapshot(sb, sb.host(), data.path());
  std::string err;
  json res = chain.add(sb, "churn-warmup", ctr, &err);
  ASSERT_TRUE(err.empty()) << err;
  ASSERT_EQ(chain.del(sb, "churn-warmup", ctr, res), "");
  Snapshot base = snapshot(sb, sb.host(), data.path());
  for (const auto& [section, lines] : base.parts) {
    for (const auto& l : lines) {
      if (!empty.parts[section].count(l)) {
        EXPECT_TRUE(allowed_first_time(section, l, chain))
            << "left behind by the first ADD/DEL: " << section << ": " << l;
      }
    }
  }
  for (const auto& [section, lines] : empty.parts) {
    for (const auto& l : lines)
      EXPECT_TRUE(base.parts[section].count(l)) << "removed by ADD/DEL: " << section << ": " << l;
  }

  const int n = cycles();
  const auto budget = std::chrono::seconds(60) + std::chrono::milliseconds(400) * n;
  const auto start = std::chrono::steady_clock::now();
  int done = 0;
  for (; done < n; ++done) {
    ASSERT_LT(std::chrono::steady_clock::now() - start, budget)
        << "churn exceeded its time budget after " << done << " of " << n << " cycles";
    std::string cid = "churn-" + std::to_string(done);
    json r = chain.add(sb, cid, ctr, &err);
    ASSERT_TRUE(err.empty()) << "cycle " << done << ": " << err;
    std::string del_err = chain.del(sb, cid, ctr, r);
    ASSERT_EQ(del_err, "") << "cycle " << done;
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("cycles", done);
  RecordProperty("seconds", std::to_string(secs));
  std::printf("churn: %d ADD/DEL cycles in %.1f s (%.1f ms per cycle)\n", done, secs,
              1000 * secs / done);

  Snapshot after = snapshot(sb, sb.host(), data.path());
  EXPECT_EQ(diff(base, after), "") << "after " << n << " cycles";
  EXPECT_TRUE(ip_files(data.path()).empty());
  EXPECT_TRUE(links_of_kind(sb, sb.host(), {"veth", "ifb"}).empty());
  EXPECT_TRUE(links_of_kind(sb, ctr, {"veth"}).empty()) << "container interface left behind";
}

}  // namespace
}  // namespace knet::test::rel
