#pragma once
// argv and envp for execve, built before fork: the child of a multi-threaded
// test may only make async-signal-safe calls, so nothing is allocated there.

#include <map>
#include <string>
#include <vector>

namespace knet::test {

class ExecArgs {
 public:
  // `argv[0]` is the program's path; `env` is the whole environment.
  ExecArgs(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);
  ExecArgs(const ExecArgs&) = delete;
  ExecArgs& operator=(const ExecArgs&) = delete;

  char* const* argv() const { return argv_.data(); }
  char* const* envp() const { return envp_.data(); }

 private:
  std::vector<std::string> args_, env_;
  std::vector<char*> argv_, envp_;  // into args_ / env_, null-terminated
};

}  // namespace knet::test
