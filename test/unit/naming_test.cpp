#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "base/owner.h"
#include "base/run_lock.h"

namespace {

TEST(Naming, IfnamesAreStableShortAndDistinct) {
  knet::Owner a{"net", "c1", "eth0"}, b{"net", "c1", "eth1"}, c{"net2", "c1", "eth0"};
  std::string na = knet::owner_ifname("veth", a);
  EXPECT_EQ(na.size(), 15u);
  EXPECT_EQ(na.rfind("veth", 0), 0u);
  EXPECT_EQ(na, knet::owner_ifname("veth", a));
  EXPECT_NE(na, knet::owner_ifname("veth", b));
  EXPECT_NE(na, knet::owner_ifname("veth", c));
  // Moving a character between fields must change the name.
  EXPECT_NE(knet::owner_hash({"ab", "c", "x"}), knet::owner_hash({"a", "bc", "x"}));
}

TEST(Naming, TagsRoundTrip) {
  knet::Owner o{"mynet", "0123abcd", "eth0"};
  EXPECT_EQ(knet::owner_tag(o), "knet:mynet:0123abcd:eth0");
  EXPECT_EQ(knet::parse_owner_tag(knet::owner_tag(o)), o);
  EXPECT_FALSE(knet::parse_owner_tag("other:a:b:c"));
  EXPECT_FALSE(knet::parse_owner_tag("knet:a:b"));
  EXPECT_FALSE(knet::parse_owner_tag("knet:a:b:c:d"));
  EXPECT_FALSE(knet::parse_owner_tag("knet::b:c"));
}

TEST(Naming, OwnerIfnamesAreRecognised) {
  std::string n = knet::owner_ifname("kbw", {"net", "c1", "eth0"});
  EXPECT_TRUE(knet::is_owner_ifname("kbw", n));
  EXPECT_FALSE(knet::is_owner_ifname("veth", n));
  EXPECT_FALSE(knet::is_owner_ifname("kbw", n.substr(0, 14)));
  EXPECT_FALSE(knet::is_owner_ifname("kbw", "kbw0123456789ag"));  // not hex
  EXPECT_FALSE(knet::is_owner_ifname("veth", "vethA123456789a"));  // upper case
}

// Tries an flock(2) on the lock file without waiting, through a file
// description of its own (as another process would).
bool can_lock(const std::string& path, int op) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = flock(fd, op | LOCK_NB) == 0;
  close(fd);
  return ok;
}

TEST(UntaggedLinkLock, SharedHoldersExcludeGcAndGcExcludesThem) {
  char tmpl[] = "/tmp/knet-lock-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, file = dir + "/untagged.lock";
  ASSERT_EQ(setenv("KNET_RUN_DIR", dir.c_str(), 1), 0);
  {
    knet::UntaggedLinkLock a(knet::UntaggedLinkLock::kShared);
    ASSERT_TRUE(a.held());
    EXPECT_TRUE(can_lock(file, LOCK_SH)) << "two ADDs must not wait for each other";
    EXPECT_FALSE(can_lock(file, LOCK_EX)) << "GC must wait for an ADD in its window";
  }
  {
    knet::UntaggedLinkLock gc(knet::UntaggedLinkLock::kExclusive);
    ASSERT_TRUE(gc.held());
    EXPECT_FALSE(can_lock(file, LOCK_SH)) << "an ADD must wait for GC";
  }
  EXPECT_TRUE(can_lock(file, LOCK_EX)) << "released when the holder goes";
  // A directory that cannot be made: not held, so GC leaves untagged links alone.
  ASSERT_EQ(setenv("KNET_RUN_DIR", (file + "/sub").c_str(), 1), 0);
  EXPECT_FALSE(knet::UntaggedLinkLock(knet::UntaggedLinkLock::kExclusive).held());
  unsetenv("KNET_RUN_DIR");
  std::filesystem::remove_all(dir);
}

}  // namespace
