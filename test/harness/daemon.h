#pragma once
// A long-running program a test starts in a sandbox namespace (an etcd
// member, a knet-node agent) and must never outlive the test.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace knet::test {

class Daemon {
 public:
  Daemon() = default;
  // Kills the program (SIGKILL) if it still runs, and reaps it.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts argv[0] (a path) with exactly `env`, stdout and stderr appended
  // to `log`, inside the network namespace at `ns_path` (the caller's own
  // when empty). It gets SIGKILL when the test process dies, whatever
  // happens (PR_SET_PDEATHSIG). Throws std::runtime_error if it runs already
  // or cannot be started.
  void start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
             const std::string& ns_path, const std::string& log);
  // Sends `sig` if it runs.
  void signal(int sig);
  // Waits at most `timeout` for it to exit: its exit code (128+signal when
  // killed), or nullopt while it still runs (or never ran).
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; returns the exit code (-1 if it
  // was not running).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

}  // namespace knet::test
