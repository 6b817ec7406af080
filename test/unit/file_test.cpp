// cni::read_user_file: what a plugin does with a path a user named.

#include "cni/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cni/error.h"

namespace {

class UserFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/knet-file-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir + "'").c_str()); }

  // The error read_user_file throws for `path`, with a cap of `max`.
  cni::Error error_for(const std::string& path, size_t max = 1024) {
    try {
      cni::read_user_file(path, max, "\"someKey\"", cni::kInvalidNetworkConfig);
    } catch (const cni::Error& e) {
      return e;
    }
    ADD_FAILURE() << path << " was read";
    return cni::Error(0, "");
  }

  std::string dir;
};

TEST_F(UserFile, ReadsARegularFileWhole) {
  std::string p = dir + "/f";
  std::ofstream(p) << "nameserver 192.0.2.1\n";
  EXPECT_EQ(cni::read_user_file(p, 1024, "f", 7), "nameserver 192.0.2.1\n");
  std::ofstream(dir + "/empty");
  EXPECT_EQ(cni::read_user_file(dir + "/empty", 1024, "f", 7), "");
}

TEST_F(UserFile, AFifoIsRefusedAtOnce) {
  std::string p = dir + "/fifo";
  ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0);
  auto start = std::chrono::steady_clock::now();
  cni::Error e = error_for(p);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
  EXPECT_NE(e.msg().find("\"someKey\" " + p), std::string::npos) << e.msg();
  EXPECT_NE(e.msg().find("FIFO"), std::string::npos) << e.msg();
}

TEST_F(UserFile, DevicesAndDirectoriesAreRefused) {
  EXPECT_NE(error_for("/dev/zero").msg().find("character device"), std::string::npos);
  EXPECT_NE(error_for("/dev/null").msg().find("not a regular file"), std::string::npos);
  EXPECT_NE(error_for(dir).msg().find("directory"), std::string::npos);
}

TEST_F(UserFile, AFileOverTheCapIsRefused) {
  std::string p = dir + "/big";
  std::ofstream(p) << std::string(1025, 'x');
  cni::Error e = error_for(p, 1024);
  EXPECT_NE(e.msg().find("limit of 1024"), std::string::npos) << e.msg();
  EXPECT_EQ(cni::read_user_file(p, 1025, "f", 7).size(), 1025u);
}

TEST_F(UserFile, AMissingFileNamesTheReason) {
  cni::Error e = error_for(dir + "/nope");
  EXPECT_NE(e.msg().find("No such file"), std::string::npos) << e.msg();
}

}  // namespace
