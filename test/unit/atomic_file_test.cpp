// write_file_atomic and symlink_atomic: what replaces a file or a link ends
// up there with the mode asked, leaves no temporary file, and fails without
// touching what was there.
#include <base/atomic_file.h>
#include <base/error.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/knet-atomic-file-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string path(const std::string& name) const { return dir + "/" + name; }
  static std::string read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // How many entries the directory holds (a temporary file left would add one).
  size_t entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir), {}));
  }

  std::string dir;
};

TEST_F(AtomicFile, WritesWithTheExactModeWhateverTheUmask) {
  mode_t old = ::umask(077);
  knet::write_file_atomic(path("exe"), "#!/bin/sh\n", 0755, knet::Durability::kDurable);
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(path("exe").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(read(path("exe")), "#!/bin/sh\n");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFile, ReplacesAFileAndALinkAlike) {
  knet::write_file_atomic(path("f"), "old");
  fs::create_symlink("elsewhere", path("l"));
  knet::write_file_atomic(path("f"), "new", 0644, knet::Durability::kDurable);
  knet::symlink_atomic("knet", path("l"), knet::Durability::kDurable);
  knet::symlink_atomic("knet", path("f"));  // a file becomes a link
  EXPECT_EQ(fs::read_symlink(path("l")), "knet");
  EXPECT_EQ(fs::read_symlink(path("f")), "knet");
  EXPECT_EQ(entries(), 2u);
}

TEST_F(AtomicFile, ADirectoryInTheWayIsAnErrorAndStaysAsItWas) {
  fs::create_directory(path("d"));
  EXPECT_THROW(knet::symlink_atomic("knet", path("d")), knet::Error);
  EXPECT_THROW(knet::write_file_atomic(path("d"), "x"), knet::Error);
  EXPECT_TRUE(fs::is_directory(path("d")));
  EXPECT_EQ(entries(), 1u);  // no temporary left
}

TEST_F(AtomicFile, ALeftoverLinkOfThisPidIsReplaced) {
  fs::create_symlink("stale", path("l.tmp." + std::to_string(::getpid())));
  knet::symlink_atomic("knet", path("l"));
  EXPECT_EQ(fs::read_symlink(path("l")), "knet");
  EXPECT_EQ(entries(), 1u);
}

}  // namespace
