// Hostile input for cnitool: what sits in NETCONFPATH and what CAP_ARGS
// holds. A FIFO or a device among the configuration files used to hang
// cnitool or throw bad_alloc; a deep CAP_ARGS overflowed the stack.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "hostile.h"

namespace knet::test::rel {
namespace {

class HostileCnitool : public ::testing::Test {
 protected:
  void SetUp() override {
    netns = sb.add_container();
    conflist = {{"cniVersion", "1.0.0"},
                {"name", "good"},
                {"plugins", {{{"type", "loopback"}}}}};
    std::ofstream(confdir.path() + "/50-good.conflist") << conflist.dump();
  }

  // cnitool <cmd> <network> <netns> in the sandbox host, at most 20 s.
  RunResult cnitool(const std::string& cmd, const std::string& network,
                    std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env = {{"NETCONFPATH", confdir.path()},
                                              {"CNI_PATH", plugin_dir()},
                                              {"CNI_CACHE_DIR", cache.path()},
                                              {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
                                              {"KNET_RUN_DIR", sb.run_dir()}};
    for (auto& [k, v] : extra) env[k] = v;
    return run_process({rel::plugin("cnitool"), cmd, network, netns}, env, "", sb.host(),
                       std::chrono::seconds(20));
  }

  Sandbox sb;
  TempDir confdir, cache;
  std::string netns;
  json conflist;
};

// Special files next to a good conflist: the good network still loads, and
// asking for a bad one names the file and what it is, at once.
TEST_F(HostileCnitool, SpecialFilesInNetconfpathNeitherHangNorGrow) {
  std::string dir = confdir.path();
  ASSERT_EQ(::mkfifo((dir + "/10-fifo.conflist").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("/dev/zero", (dir + "/20-zero.conflist").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir + "/30-fifo.conf").c_str(), 0600), 0);
  {
    std::ofstream big(dir + "/40-big.conflist");
    big << std::string(5u << 20, ' ') << conflist.dump();  // 5 MiB: over the 4 MiB cap
  }
  RunResult ok = cnitool("add", "good");
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_FALSE(ok.timed_out);
  EXPECT_EQ(cnitool("del", "good").code, 0);

  RunResult bad = cnitool("add", "missing");
  EXPECT_FALSE(bad.timed_out) << "cnitool hung on a special file";
  EXPECT_NE(bad.code, 0);
  EXPECT_LT(bad.code, 128) << "died of a signal: " << bad.err;
  for (const char* why : {"10-fifo.conflist: is a FIFO", "20-zero.conflist: is a character device",
                          "30-fifo.conf: is a FIFO", "40-big.conflist: is 5"})
    EXPECT_NE(bad.err.find(why), std::string::npos) << why << " not in: " << bad.err;
}

TEST_F(HostileCnitool, DeepOrBrokenCapArgsIsAnError) {
  for (const std::string& cap :
       {"{\"bandwidth\":" + std::string(20000, '[') + std::string(20000, ']') + "}",
        std::string("{\"bandwidth\":\"\xff\"}"), std::string("[1]"), std::string("{")}) {
    RunResult r = cnitool("add", "good", {{"CAP_ARGS", cap}});
    EXPECT_NE(r.code, 0) << cap.substr(0, 40);
    EXPECT_LT(r.code, 128) << "died of a signal: " << r.err;
    EXPECT_NE(r.err.find("CAP_ARGS"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("[CNI error code 6]"), std::string::npos) << r.err;
  }
  // Nothing was added: the cache is empty.
  std::ifstream none(cache.path() + "/results");
  EXPECT_FALSE(none.good());
}

}  // namespace
}  // namespace knet::test::rel
