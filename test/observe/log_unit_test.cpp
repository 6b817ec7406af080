// The log's pieces without privileges: line encoding, the keys and the
// node-wide file, rotation under concurrent writers, step spans.
#include <base/step.h>
#include <cni/error.h>
#include <cni/log.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/knet-log-unit-XXXXXX";
  return ::mkdtemp(tmpl);
}

void write_file(const std::string& path, const std::string& data) { std::ofstream(path) << data; }

TEST(LogLine, EscapesAndReplacesBytesThatAreNotUtf8) {
  std::string line = cni::LogLine(cni::LogLevel::kInfo)
                         .str("msg", "a\"b\\c\n\x01\xff\xc3\xa9")
                         .num("n", -3)
                         .finish();
  auto j = cni::json::parse(line);
  EXPECT_EQ(j["msg"], "a\"b\\c\n\x01\xEF\xBF\xBD\xC3\xA9");
  EXPECT_EQ(j["n"], -3);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line, whatever the message holds
}

TEST(LogConfig, KeysOfTheConfig) {
  auto c = cni::LogConfig::from_config(
      cni::json{{"logFile", "/x/y.log"}, {"logLevel", "DEBUG"}, {"logMaxSize", 8192}}, "");
  EXPECT_EQ(c.file, "/x/y.log");
  EXPECT_EQ(c.level, cni::LogLevel::kDebug);
  EXPECT_EQ(c.max_size, 8192u);
  EXPECT_TRUE(
      cni::LogConfig::from_config(cni::json::object(), "/nonexistent/log.json").file.empty());
}

TEST(LogConfig, BadKeysAreConfigErrorsNamingTheKey) {
  for (const auto& [conf, key] :
       std::vector<std::pair<cni::json, std::string>>{{{{"logFile", "relative.log"}}, "logFile"},
                                                      {{{"logFile", 3}}, "logFile"},
                                                      {{{"logLevel", "loud"}}, "logLevel"},
                                                      {{{"logMaxSize", 10}}, "logMaxSize"}}) {
    try {
      cni::LogConfig::from_config(conf, "");
      ADD_FAILURE() << conf.dump();
    } catch (const cni::Error& e) {
      EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
      EXPECT_NE(e.msg().find(key), std::string::npos) << e.msg();
    }
  }
}

TEST(LogConfig, NodeFileIsTheDefaultAndConfigKeysWin) {
  std::string dir = temp_dir();
  write_file(dir + "/log.json", R"({"logFile": ")" + dir + R"(/node.log", "logLevel": "error"})");
  auto c = cni::LogConfig::from_config(cni::json::object(), (dir + "/log.json").c_str());
  EXPECT_EQ(c.file, dir + "/node.log");
  EXPECT_EQ(c.level, cni::LogLevel::kError);
  c = cni::LogConfig::from_config(cni::json{{"logLevel", "debug"}}, (dir + "/log.json").c_str());
  EXPECT_EQ(c.file, dir + "/node.log");
  EXPECT_EQ(c.level, cni::LogLevel::kDebug);
  c = cni::LogConfig::from_config(cni::json{{"logFile", "/a.log"}}, (dir + "/log.json").c_str());
  EXPECT_EQ(c.file, "/a.log");
  EXPECT_EQ(c.level, cni::LogLevel::kInfo);
  // A broken node file means no log, never a failure.
  write_file(dir + "/log.json", R"({"logFile": "relative"})");
  EXPECT_TRUE(
      cni::LogConfig::from_config(cni::json::object(), (dir + "/log.json").c_str()).file.empty());
  write_file(dir + "/log.json", "not json");
  EXPECT_TRUE(
      cni::LogConfig::from_config(cni::json::object(), (dir + "/log.json").c_str()).file.empty());
  ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
}

// Four processes append 300 lines each to a file bounded at 16 KiB: every
// line of the two files is whole, and the live file stays near the bound.
TEST(Logger, RotationUnderConcurrentWritersKeepsLinesWhole) {
  std::string dir = temp_dir();
  cni::LogConfig c;
  c.file = dir + "/k.log";
  c.max_size = 16384;
  std::vector<pid_t> kids;
  for (int p = 0; p < 4; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      cni::Logger log(c);
      for (int i = 0; i < 300; ++i)
        log.write(cni::LogLine(cni::LogLevel::kInfo)
                      .num("p", p)
                      .num("i", i)
                      .str("pad", std::string(60, 'x'))
                      .finish());
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) ::waitpid(k, nullptr, 0);
  size_t lines = 0;
  for (const std::string& f : {c.file, c.file + ".1"}) {
    std::ifstream in(f);
    ASSERT_TRUE(in) << f << " missing: no rotation happened";
    std::string line;
    while (std::getline(in, line)) {
      auto j = cni::json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << "broken line in " << f << ": " << line;
      ++lines;
    }
  }
  struct stat st {};
  ASSERT_EQ(::stat(c.file.c_str(), &st), 0);
  EXPECT_LE(st.st_size, 16384 + 4 * 200);  // the bound, plus at most one line per racing writer
  EXPECT_GT(lines, 0u);
  ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
}

TEST(Logger, UnwritableFileIsSkipped) {
  cni::LogConfig c;
  c.file = "/nonexistent-dir/k.log";
  cni::Logger log(c);
  log.write("{}\n");     // no throw, no crash
  c.file = "/dev/null";  // not a regular file: never written
  cni::Logger dev(c);
  dev.write("{}\n");
}

struct Recorder final : knet::StepSink {
  std::vector<std::pair<std::string, unsigned>> got;
  void step_done(const char* name, unsigned depth, uint64_t) noexcept override {
    got.emplace_back(name, depth);
  }
};

TEST(Step, ReportsNestedStepsOnlyWhileASinkIsInstalled) {
  { knet::Step s("unseen"); }
  Recorder r;
  {
    knet::StepSinkScope scope(&r);
    knet::Step outer("outer");
    { knet::Step inner("inner"); }
  }
  { knet::Step s("unseen either"); }
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[0], std::make_pair(std::string("inner"), 1u));
  EXPECT_EQ(r.got[1], std::make_pair(std::string("outer"), 0u));
}

}  // namespace
