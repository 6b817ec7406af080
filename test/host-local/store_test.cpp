// The disk store: the reference's file format, the owner index staying right
// when other writers change the directory behind it, and the index itself.

#include <cni/error.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ipam/owner_index.h>
#include <ipam/store.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <random>

#include "hl.h"

namespace knet::ipam {
namespace {

using test::host_local::files;
using test::host_local::slurp;

knet::IP ip(const std::string& s) { return *knet::IP::parse(s); }

TEST(Store, WritesTheReferenceFormat) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  OwnerKey a{"ctr-a", "eth0"};
  {
    Store s(dir, true);
    EXPECT_TRUE(s.reserve(ip("10.1.0.2"), a, 0));
    EXPECT_FALSE(s.reserve(ip("10.1.0.2"), OwnerKey{"other", "eth0"}, 0));
    EXPECT_TRUE(s.reserve(ip("fd00::2"), a, 1));
  }
  EXPECT_EQ(slurp(dir + "/10.1.0.2"), "ctr-a\r\neth0");
  EXPECT_EQ(slurp(dir + "/fd00::2"), "ctr-a\r\neth0");
  EXPECT_EQ(slurp(dir + "/last_reserved_ip.0"), "10.1.0.2");
  EXPECT_EQ(slurp(dir + "/last_reserved_ip.1"), "fd00::2");
  EXPECT_EQ(files(dir),
            (std::set<std::string>{"10.1.0.2", "fd00::2", "knet.index", "last_reserved_ip.0",
                                   "last_reserved_ip.1", "lock"}));
  {
    Store s(dir, false);
    EXPECT_EQ(s.find(a).size(), 2u);
    EXPECT_EQ(s.last_reserved(1)->str(), "fd00::2");
    EXPECT_EQ(s.release(a).size(), 2u);
    EXPECT_TRUE(s.find(a).empty());
  }
  // Nothing held: the index is gone too.
  EXPECT_EQ(files(dir),
            (std::set<std::string>{"last_reserved_ip.0", "last_reserved_ip.1", "lock"}));
}

TEST(Store, MissingDirectoryIsEmptyAndNotCreated) {
  test::TempDir data;
  {
    Store s(data.path() + "/none", false);
    EXPECT_FALSE(s.exists());
    EXPECT_TRUE(s.release(OwnerKey{"a", "eth0"}).empty());
    EXPECT_TRUE(s.reserved_names().empty());
  }
  EXPECT_FALSE(std::filesystem::exists(data.path() + "/none"));
}

TEST(Store, SeesFilesWrittenBehindItsBack) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  OwnerKey a{"a", "eth0"}, b{"b", "eth0"};
  {
    Store s(dir, true);
    ASSERT_TRUE(s.reserve(ip("10.1.0.2"), a, 0));
  }
  // Another writer (the reference plugin) adds and removes reservations.
  std::ofstream(dir + "/10.1.0.3") << "b\r\neth0";
  std::ofstream(dir + "/10.1.0.4") << "a\r\neth0";
  std::filesystem::remove(dir + "/10.1.0.2");
  {
    Store s(dir, false);
    auto held = s.find(a);
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0].str(), "10.1.0.4");
    EXPECT_EQ(s.find(b).size(), 1u);
  }
  // The address was released and taken by someone else: the stale entry is
  // dropped, not returned.
  std::filesystem::remove(dir + "/10.1.0.4");
  std::ofstream(dir + "/10.1.0.4") << "c\r\neth0";
  {
    Store s(dir, false);
    EXPECT_TRUE(s.find(a).empty());
    EXPECT_EQ(s.find(OwnerKey{"c", "eth0"}).size(), 1u);
  }
}

TEST(Store, DirtyIndexIsRebuilt) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  OwnerKey a{"a", "eth0"};
  {
    Store s(dir, true);
    ASSERT_TRUE(s.reserve(ip("10.1.0.2"), a, 0));
  }
  // A writer died mid-update: its index says nothing useful.
  {
    int fd = open((dir + "/knet.index").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    uint32_t dirty = 1;
    ASSERT_EQ(pwrite(fd, &dirty, sizeof dirty, 12), 4);
    ASSERT_EQ(ftruncate(fd, 4096 + 1024 * 32), 0);
    close(fd);
    // Wipe the slots so only a rebuild can find the owner.
    std::vector<char> zero(1024 * 32);
    fd = open((dir + "/knet.index").c_str(), O_WRONLY);
    ASSERT_EQ(pwrite(fd, zero.data(), zero.size(), 4096), static_cast<ssize_t>(zero.size()));
    close(fd);
  }
  Store s(dir, false);
  EXPECT_EQ(s.find(a).size(), 1u);
}

TEST(Store, LegacyOwnerIsReleasedByContainerId) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/10.1.0.7") << "old-ctr\n";
  Store s(dir, false);
  EXPECT_TRUE(s.find(OwnerKey{"old-ctr", "eth0"}).empty());
  auto freed = s.release(OwnerKey{"old-ctr", "eth0"});
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir + "/10.1.0.7"));
}

TEST(Store, StagingFileOfADeadWriterIsRemoved) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/knet.staging") << "x\r\neth0";
  { Store s(dir, false); }
  EXPECT_EQ(files(dir), (std::set<std::string>{"lock"}));
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// A constructor that fails after opening the directory closes what it opened.
TEST(Store, FailedOpenLeaksNoDescriptor) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  std::filesystem::create_directories(dir + "/lock");  // the lock file cannot be opened
  size_t before = open_fds();
  for (int i = 0; i < 3; ++i) {
    try {
      Store s(dir, false);
      ADD_FAILURE() << "a directory named lock was taken for the lock file";
    } catch (const cni::Error& e) {
      EXPECT_NE(std::string(e.what()).find(dir + "/lock"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(open_fds(), before);
}

// An owner file is read whole, whatever its length: the index is rebuilt
// from full contents, so long owners are found, kept and released.
TEST(Store, LongOwnersAreReadWhole) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  OwnerKey big{"c" + std::string(200 << 10, 'b'), "eth0"};
  OwnerKey prefix{big.container_id.substr(0, 1000), "eth0"};
  {
    Store s(dir, true);
    ASSERT_TRUE(s.reserve(ip("10.1.0.2"), big, 0));
  }
  std::filesystem::remove(dir + "/knet.index");  // rebuilt from the files
  {
    Store s(dir, false);
    EXPECT_EQ(s.find(big), std::vector<knet::IP>{ip("10.1.0.2")});
    EXPECT_TRUE(s.find(prefix).empty());
    auto all = s.scan();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].owner, big);
    EXPECT_EQ(s.release(big), std::vector<knet::IP>{ip("10.1.0.2")});
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/10.1.0.2"));
}

// A change in the same tick as knet's last one leaves the directory's mtime
// unchanged on a file system with coarse timestamps; knet leaves the
// directory's mtime out of the current tick, so such a change is still seen.
TEST(Store, ClosingLeavesNoRacyStamp) {
  test::TempDir data;
  std::string dir = data.path() + "/net";
  {
    Store s(dir, true);
    ASSERT_TRUE(s.reserve(ip("10.1.0.2"), OwnerKey{"a", "eth0"}, 0));
  }
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  int64_t mtime = st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
  int64_t taken = now.tv_sec * 1000000000ll + now.tv_nsec;
  EXPECT_GE(taken - mtime, timestamp_tick_ns(mtime));
  // The index is trusted again: a file it does not know is not found...
  std::ofstream(dir + "/10.1.0.9") << "b\r\neth0";
  timespec back[2] = {{0, UTIME_OMIT}, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, dir.c_str(), back, 0), 0);  // hide the change, as a tick would
  {
    Store s(dir, false);
    EXPECT_TRUE(s.find(OwnerKey{"b", "eth0"}).empty());
  }
  // ...until the directory's mtime differs from the stamp.
  std::filesystem::remove(dir + "/10.1.0.9");
  std::ofstream(dir + "/10.1.0.9") << "b\r\neth0";
  Store s(dir, false);
  EXPECT_EQ(s.find(OwnerKey{"b", "eth0"}).size(), 1u);
}

TEST(OwnerKey, ParsesLikeTheReferenceMatches) {
  EXPECT_EQ(OwnerKey::parse("abc\r\neth0\n"), (OwnerKey{"abc", "eth0"}));
  EXPECT_EQ(OwnerKey::parse("  abc \n"), (OwnerKey{"abc", ""}));
  EXPECT_FALSE(OwnerKey::parse(" \r\n"));
  EXPECT_EQ((OwnerKey{"abc", "eth0"}).content(), "abc\r\neth0");
}

// The index against a std::multimap under random inserts and erases, with
// many colliding owners and growth past its initial size.
TEST(OwnerIndex, MatchesAModel) {
  test::TempDir data;
  int dirfd = open(data.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dirfd, 0);
  auto idx = OwnerIndex::create(dirfd, "idx", {});
  std::multimap<uint64_t, uint32_t> model;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    uint64_t owner = (rng() % 3000) * 1024 + 1 + (rng() % 2);  // many owners share a home slot
    uint32_t host = rng() % 4;
    knet::IP a = knet::IP::from_v4(0x0a000000 + host);
    auto range = model.equal_range(owner);
    auto it = std::find_if(range.first, range.second, [&](auto& p) { return p.second == host; });
    if (rng() % 3) {
      idx->insert(owner, a);
      if (it == range.second) model.emplace(owner, host);
    } else {
      idx->erase(owner, a);
      if (it != range.second) model.erase(it);
    }
  }
  EXPECT_EQ(idx->size(), model.size());
  for (uint64_t owner = 0; owner < 3000 * 1024; owner += 1024) {
    for (uint64_t o : {owner + 1, owner + 2}) {
      std::multiset<uint32_t> want, got;
      for (auto [b, e] = model.equal_range(o); b != e; ++b) want.insert(b->second);
      for (const knet::IP& a : idx->lookup(o)) got.insert(a.bytes[3]);
      ASSERT_EQ(want, got) << "owner " << o;
    }
  }
  Stamp st;
  st.dir.ino = 42;
  st.dir.mtime_ns = 1700000000123456789;
  st.taken_ns = st.dir.mtime_ns + 1000000000;
  idx->finish(st);
  idx.reset();
  EXPECT_NE(OwnerIndex::open(dirfd, "idx", st), nullptr);
  Stamp later = st;
  later.taken_ns += 5;  // when it was taken is no part of the comparison
  EXPECT_NE(OwnerIndex::open(dirfd, "idx", later), nullptr);
  Stamp other = st;
  other.dir.mtime_ns += 1;
  EXPECT_EQ(OwnerIndex::open(dirfd, "idx", other), nullptr);
  // Taken in the directory's mtime tick: another writer may have changed it since.
  Stamp racy = st;
  racy.taken_ns = racy.dir.mtime_ns + 1000;
  ASSERT_TRUE(racy.racy());
  idx = OwnerIndex::open(dirfd, "idx", st);
  idx->finish(racy);
  idx.reset();
  EXPECT_EQ(OwnerIndex::open(dirfd, "idx", racy), nullptr);
  close(dirfd);
}

}  // namespace
}  // namespace knet::ipam
