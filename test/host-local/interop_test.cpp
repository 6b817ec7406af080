// knet's host-local and the reference (/usr/lib/cni/host-local) on one
// dataDir, in either order and at the same time: same files, same
// round-robin, each releasing the other's reservations, never a duplicate,
// also when the reference writes in the same clock tick as knet.

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "hl.h"

namespace knet::test::host_local {
namespace {

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kRef.c_str(), X_OK) != 0)
      GTEST_SKIP() << "reference host-local not installed at " << kRef;
  }
  TempDir data;
  std::string dir() const { return data.path() + "/hlnet"; }
  // cniVersion 1.0.0: the reference (1.1.1) knows no 1.1.0.
  json c() const {
    return conf(data.path(),
                {{"ranges", {{{{"subnet", "10.12.0.0/24"}}}, {{{"subnet", "fd00:12::/64"}}}}}},
                "hlnet", "1.0.0");
  }
  std::string add(const std::string& bin, const std::string& cid) {
    RunResult r = run(bin, "ADD", c(), cid);
    EXPECT_EQ(r.code, 0) << bin << ": " << describe(r);
    return r.code == 0 ? ip_of(r) : "";
  }
};

TEST_F(Interop, AlternatingBinariesShareOneStore) {
  EXPECT_EQ(add(kRef, "a"), "10.12.0.2");
  EXPECT_EQ(add(knet(), "b"), "10.12.0.3");
  EXPECT_EQ(add(kRef, "c"), "10.12.0.4");
  EXPECT_EQ(add(knet(), "d"), "10.12.0.5");
  // Byte-identical files whoever wrote them.
  EXPECT_EQ(slurp(dir() + "/10.12.0.2"), "a\r\neth0");
  EXPECT_EQ(slurp(dir() + "/10.12.0.3"), "b\r\neth0");
  EXPECT_EQ(slurp(dir() + "/fd00:12::3"), "b\r\neth0");
  EXPECT_EQ(slurp(dir() + "/last_reserved_ip.0"), "10.12.0.5");
  EXPECT_EQ(slurp(dir() + "/last_reserved_ip.1"), "fd00:12::5");

  // Each sees the other's reservations.
  RunResult again = run(kRef, "ADD", c(), "d");
  EXPECT_NE(again.code, 0) << "the reference must see knet's reservation of d";
  RunResult knet_again = run(knet(), "ADD", c(), "c");
  ASSERT_EQ(knet_again.code, 0) << describe(knet_again);
  EXPECT_EQ(ip_of(knet_again), "10.12.0.4");  // the reference's allocation, returned

  // Each releases the other's.
  ASSERT_EQ(run(knet(), "DEL", c(), "a").code, 0);
  ASSERT_EQ(run(kRef, "DEL", c(), "b").code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir() + "/10.12.0.2"));
  EXPECT_FALSE(std::filesystem::exists(dir() + "/10.12.0.3"));
  EXPECT_FALSE(std::filesystem::exists(dir() + "/fd00:12::3"));

  // CHECK by the reference on a knet ADD, and by knet on a reference ADD.
  json prev = c();
  prev["prevResult"] = run(knet(), "ADD", c(), "d").json.value();
  EXPECT_EQ(run(kRef, "CHECK", prev, "d").code, 0);
  prev["prevResult"] = *run(kRef, "ADD", c(), "e").json;
  RunResult ck = run(knet(), "CHECK", prev, "e");
  EXPECT_EQ(ck.code, 0) << describe(ck);

  // Round-robin continues across binaries.
  EXPECT_EQ(add(knet(), "f"), "10.12.0.7");  // e took .6
  EXPECT_EQ(add(kRef, "g"), "10.12.0.8");

  // Everything released by either binary leaves only the reference's files.
  for (const char* cid : {"c", "d", "e"}) ASSERT_EQ(run(kRef, "DEL", c(), cid).code, 0);
  for (const char* cid : {"f", "g"}) ASSERT_EQ(run(knet(), "DEL", c(), cid).code, 0);
  EXPECT_EQ(files(dir()),
            (std::set<std::string>{"last_reserved_ip.0", "last_reserved_ip.1", "lock"}));
}

TEST_F(Interop, KnetReleasesWhatTheReferenceAddedAfterKnetsIndexExists) {
  // knet builds its index, then the reference adds behind it.
  EXPECT_EQ(add(knet(), "k"), "10.12.0.2");
  EXPECT_EQ(add(kRef, "r"), "10.12.0.3");
  ASSERT_EQ(run(knet(), "DEL", c(), "r").code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir() + "/10.12.0.3"));
  EXPECT_FALSE(std::filesystem::exists(dir() + "/fd00:12::3"));
  // The reference deletes behind it; knet's re-ADD does not return the stale address.
  ASSERT_EQ(run(kRef, "DEL", c(), "k").code, 0);
  RunResult r = run(knet(), "ADD", c(), "k");
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(ip_of(r), "10.12.0.4");
}

TEST_F(Interop, ParallelAddsOfBothBinariesNeverCollide) {
  json cf = conf(data.path(), {{"subnet", "10.12.0.0/16"}}, "hlnet", "1.0.0");
  auto res = parallel(
      50, [&](int i) { return run(i % 2 ? kRef : knet(), "ADD", cf, "p" + std::to_string(i)); });
  std::set<std::string> ips;
  for (const auto& r : res) {
    ASSERT_EQ(r.code, 0) << describe(r);
    ips.insert(ip_of(r));
  }
  EXPECT_EQ(ips.size(), 50u);
  // And in parallel DELs, alternating again.
  res = parallel(
      50, [&](int i) { return run(i % 2 ? knet() : kRef, "DEL", cf, "p" + std::to_string(i)); });
  for (const auto& r : res) EXPECT_EQ(r.code, 0) << describe(r);
  for (const auto& f : files(dir())) EXPECT_FALSE(knet::IP::parse(f)) << "left behind: " << f;
}

// The reservations in `dir`: address -> file content.
std::map<std::string, std::string> held(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& f : files(dir))
    if (knet::IP::parse(f)) out[f] = slurp(dir + "/" + f);
  return out;
}

// A ramfs mounted in a private mount namespace of this test process (it
// vanishes with the process; nothing is mounted where others see it). Unlike
// ext4 and tmpfs since Linux 6.13, ramfs has no fine-grained timestamps: a
// directory changed twice in one kernel tick keeps one mtime, the case knet's
// owner index must not be fooled by.
class CoarseClockDir {
 public:
  explicit CoarseClockDir(const std::string& path) : path_(path) {
    std::filesystem::create_directories(path_);
    if (unshare(CLONE_NEWNS) != 0)
      error_ = "unshare(CLONE_NEWNS)";
    else if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      error_ = "making / private";
    else if (mount("ramfs", path_.c_str(), "ramfs", 0, nullptr) != 0)
      error_ = "mount ramfs";
    else
      mounted_ = true;
    if (!mounted_) error_ += std::string(": ") + std::strerror(errno);
  }
  ~CoarseClockDir() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  std::string error_;
  bool mounted_ = false;
};

// The two binaries, as fast as they can: each round both ADD at once (the one
// that waits for the lock writes right after the other, in the same tick),
// then knet re-ADDs (odd rounds skip it) and DELs the reference's container
// and the reference DELs knet's. After every step the reservations are
// exactly those both plugins think exist: no second address, nothing leaked.
TEST_F(Interop, SameTickWritesOfTheReferenceAreSeen) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a ramfs in a private mount namespace needs root";
  std::string root = data.path() + "/ramfs";
  CoarseClockDir coarse(root);
  ASSERT_EQ(coarse.error(), "");
  json cf = conf(root, {{"subnet", "10.12.0.0/24"}}, "hlnet", "1.0.0");
  std::string d = root + "/hlnet";
  auto start = std::chrono::steady_clock::now();
  int rounds = 0;
  for (; rounds < 300 && std::chrono::steady_clock::now() - start < std::chrono::seconds(60);
       ++rounds) {
    SCOPED_TRACE("round " + std::to_string(rounds));
    std::string k = "k" + std::to_string(rounds), r = "r" + std::to_string(rounds);
    auto both =
        parallel(2, [&](int i) { return i ? run(kRef, "ADD", cf, r) : run(knet(), "ADD", cf, k); });
    ASSERT_EQ(both[0].code, 0) << describe(both[0]);
    ASSERT_EQ(both[1].code, 0) << describe(both[1]);
    std::string ik = ip_of(both[0]), ir = ip_of(both[1]);
    ASSERT_EQ(held(d),
              (std::map<std::string, std::string>{{ik, k + "\r\neth0"}, {ir, r + "\r\neth0"}}));
    if (rounds % 2 == 0) {
      RunResult again = run(knet(), "ADD", cf, r);
      ASSERT_EQ(again.code, 0) << describe(again);
      EXPECT_EQ(ip_of(again), ir) << "knet gave the reference's container a second address";
      ASSERT_EQ(held(d),
                (std::map<std::string, std::string>{{ik, k + "\r\neth0"}, {ir, r + "\r\neth0"}}));
    }
    ASSERT_EQ(run(knet(), "DEL", cf, r).code, 0);
    ASSERT_EQ(held(d), (std::map<std::string, std::string>{{ik, k + "\r\neth0"}}))
        << "knet's DEL left the reference's reservation";
    ASSERT_EQ(run(kRef, "DEL", cf, k).code, 0);
    ASSERT_TRUE(held(d).empty());
  }
  EXPECT_GE(rounds, 20) << "too few rounds to meet the race";
}

}  // namespace
}  // namespace knet::test::host_local
