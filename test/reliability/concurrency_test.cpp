// Concurrency: 50 ADDs on one bridge + host-local network at once (each
// into its own container) get 50 distinct addresses; 50 DELs at once then
// leave no reservation and no veth behind.

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rel.h"

namespace knet::test::rel {
namespace {

constexpr int kParallel = 50;

// Runs fn(i) for i in [0, n) on n threads at once and waits for all.
template <class F>
void all_at_once(int n, F fn) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (auto& t : threads) t.join();
}

TEST(Concurrency, ParallelAddsGetDistinctIpsAndParallelDelsFreeThem) {
  Sandbox sb;
  TempDir data;
  Chain chain;
  chain.data_dir = data.path();
  chain.bandwidth = false;
  std::vector<std::string> ctrs;
  for (int i = 0; i < kParallel; ++i) ctrs.push_back(sb.add_container());

  std::vector<RunResult> adds(kParallel);
  auto t0 = std::chrono::steady_clock::now();
  all_at_once(kParallel, [&](int i) {
    adds[i] = run(sb, "bridge", "ADD", "par-" + std::to_string(i), ctrs[i], chain.bridge_conf(),
                  std::chrono::seconds(60));
  });
  auto add_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::set<std::string> ips;
  for (int i = 0; i < kParallel; ++i) {
    const RunResult& r = adds[i];
    ASSERT_EQ(r.code, 0) << "ADD " << i << ": " << describe(r);
    ASSERT_TRUE(r.json && (*r.json)["ips"].size() == 1) << "ADD " << i << ": " << r.out;
    std::string ip = (*r.json)["ips"][0]["address"];
    EXPECT_TRUE(ips.insert(ip).second) << ip << " given twice";
  }
  EXPECT_EQ(ips.size(), static_cast<size_t>(kParallel));
  EXPECT_EQ(ip_files(data.path()).size(), static_cast<size_t>(kParallel));
  EXPECT_EQ(links_of_kind(sb, sb.host(), {"veth"}).size(), static_cast<size_t>(kParallel));

  std::vector<RunResult> dels(kParallel);
  t0 = std::chrono::steady_clock::now();
  all_at_once(kParallel, [&](int i) {
    json conf = chain.bridge_conf();
    conf["prevResult"] = adds[i].json.value_or(json());
    dels[i] = run(sb, "bridge", "DEL", "par-" + std::to_string(i), ctrs[i], conf,
                  std::chrono::seconds(60));
  });
  auto del_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < kParallel; ++i)
    EXPECT_EQ(dels[i].code, 0) << "DEL " << i << ": " << describe(dels[i]);
  std::printf("concurrency: %d parallel ADDs in %.2f s, DELs in %.2f s\n", kParallel, add_s, del_s);

  EXPECT_TRUE(ip_files(data.path()).empty());
  EXPECT_TRUE(links_of_kind(sb, sb.host(), {"veth"}).empty());
  for (const auto& c : ctrs) EXPECT_TRUE(links_of_kind(sb, c, {"veth"}).empty()) << c;
}

}  // namespace
}  // namespace knet::test::rel
