#include "daemon.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "exec_args.h"

namespace knet::test {

Daemon::~Daemon() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Daemon::start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                   const std::string& ns_path, const std::string& log) {
  if (pid_ > 0) throw std::logic_error(argv.at(0) + " already runs");
  const ExecArgs exec(argv, env);
  int ns_fd = ns_path.empty() ? -1 : open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if ((!ns_path.empty() && ns_fd < 0) || log_fd < 0) {
    int err = errno;
    if (ns_fd >= 0) close(ns_fd);
    if (log_fd >= 0) close(log_fd);
    throw std::runtime_error("cannot start " + argv[0] + ": cannot open " + ns_path + " or " + log +
                             ": " + std::strerror(err));
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test, whatever happens
    if (getppid() != parent) _exit(127);
    if (ns_fd >= 0 && setns(ns_fd, CLONE_NEWNET) != 0) _exit(126);
    // The test may block signals in its threads; the program must not inherit that.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(exec.argv()[0], exec.argv(), exec.envp());
    _exit(127);
  }
  if (ns_fd >= 0) close(ns_fd);
  close(log_fd);
  if (pid < 0) throw std::runtime_error("cannot start " + argv[0] + ": fork: " + std::strerror(errno));
  pid_ = pid;
}

void Daemon::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> Daemon::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t w = waitpid(pid_, &status, WNOHANG);
    if (w == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int Daemon::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  if (auto code = wait(grace)) return *code;
  kill(pid_, SIGKILL);
  return wait(std::chrono::seconds(10)).value_or(-1);
}

}  // namespace knet::test
