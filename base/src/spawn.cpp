#include "base/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"

extern char** environ;

namespace knet {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    auto c = path.find(':');
    auto part = path.substr(0, c);
    if (!part.empty()) out.emplace_back(part);
    path = c == std::string_view::npos ? std::string_view{} : path.substr(c + 1);
  }
  return out;
}

std::optional<std::string> find_executable(const std::vector<std::string>& dirs,
                                           std::string_view name) {
  for (const auto& dir : dirs) {
    std::string p = dir + "/" + std::string(name);
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0)
      return p;
  }
  return std::nullopt;
}

std::vector<std::string> environ_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    if (overrides.count(key)) continue;
    out.emplace_back(kv);
  }
  for (const auto& [k, v] : overrides)
    if (!v.empty()) out.push_back(k + "=" + v);
  return out;
}

ExecOutput exec_binary(const std::string& binary, const std::vector<std::string>& env,
                       std::string_view stdin_data, std::chrono::milliseconds timeout) {
  return exec_argv({binary}, env, stdin_data, timeout);
}

namespace {

// Blocks SIGPIPE in the calling thread only, for its lifetime: a write to a
// pipe whose reader is gone then fails with EPIPE instead of killing the
// process, and no other thread's signal handling changes (a process-wide
// SIG_IGN toggled around each exec raced between threads). A SIGPIPE this
// thread raised meanwhile is consumed before the mask is restored.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{}, old_{};
  bool was_pending_ = false;
};

// A started child process. Until try_reap or kill_and_reap has reaped it,
// destruction kills and reaps it, so no path (a throw included) leaves it
// running or a zombie.
class Child {
 public:
  explicit Child(pid_t pid)
      : pid_(pid), pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  ~Child() {
    if (reaped_) return;
    kill();
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Readable once the child has exited; -1 where the kernel has no pidfd
  // (before 5.3): the caller then polls with try_reap.
  int pidfd() const { return pidfd_.get(); }
  // Reaps the child if it has exited; true once it is reaped.
  bool try_reap(int& status, rusage& ru) {
    if (reaped_) return true;
    pid_t r;
    do {
      r = ::wait4(pid_, &status, WNOHANG, &ru);
    } while (r < 0 && errno == EINTR);
    reaped_ = r == pid_ || (r < 0 && errno == ECHILD);
    return reaped_;
  }
  // SIGKILL, through the pidfd when there is one (no pid reuse possible).
  void kill() {
    if (reaped_) return;
    if (!pidfd_ || ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0) != 0) {
      ::kill(pid_, SIGKILL);  // an unreaped child keeps its pid: still ours
    }
  }
  // Kills the child and waits until it is gone.
  void kill_and_reap(int& status, rusage& ru) {
    kill();
    pid_t r;
    do {
      r = ::wait4(pid_, &status, 0, &ru);
    } while (r < 0 && errno == EINTR);
    reaped_ = true;
  }

 private:
  pid_t pid_;
  Fd pidfd_;
  bool reaped_ = false;
};

void make_pipe(Fd& r, Fd& w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    throw Error(std::string("failed to create a pipe: ") + strerror(errno));
  }
  r.reset(p[0]);
  w.reset(p[1]);
}

// Starts args[0] with stdin/stdout/stderr on the given pipe ends; the child
// gets SIGPIPE at its default action even when this process ignores it.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const Fd& in,
            const Fd& out, const Fd& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> envp;
  for (const auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0].c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw Error("failed to execute " + args[0] + ": " + strerror(rc));
  return pid;
}

}  // namespace

ExecOutput exec_argv(const std::vector<std::string>& args, const std::vector<std::string>& env,
                     std::string_view stdin_data, std::chrono::milliseconds timeout) {
  if (args.empty()) throw Error("exec_argv: no program given");
  const std::string& binary = args[0];
  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  make_pipe(in_r, in_w);
  make_pipe(out_r, out_w);
  make_pipe(err_r, err_w);
  Child child(spawn(args, env, in_r, out_w, err_w));
  in_r.reset();
  out_w.reset();
  err_w.reset();

  SigpipeBlock no_sigpipe;  // a plugin that exits without reading stdin must not kill us
  ExecOutput res;
  size_t written = 0;
  if (stdin_data.empty()) in_w.reset();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  rusage ru{};
  bool exited = false;
  // Until the child has exited and closed both outputs, or the deadline.
  while (!exited || out_r || err_r) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[4];
    int n = 0;
    if (in_w) fds[n++] = {in_w.get(), POLLOUT, 0};
    if (out_r) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_r) fds[n++] = {err_r.get(), POLLIN, 0};
    if (!exited && child.pidfd() >= 0) fds[n++] = {child.pidfd(), POLLIN, 0};
    // Without a pidfd, look at the child every 50 ms.
    long wait_ms = child.pidfd() >= 0 ? left.count() : std::min<long>(left.count(), 50);
    int pr = ::poll(fds, n, static_cast<int>(wait_ms));
    if (pr < 0 && errno != EINTR) {
      throw Error("failed to wait for " + binary + ": " + strerror(errno));
    }
    for (int i = 0; pr > 0 && i < n; ++i) {
      if (!fds[i].revents || fds[i].fd == child.pidfd()) continue;
      if (fds[i].fd == in_w.get()) {
        ssize_t w = ::write(in_w.get(), stdin_data.data() + written, stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EINTR && errno != EAGAIN) || written == stdin_data.size()) {
          in_w.reset();  // done, or the child stopped reading (EPIPE)
        }
        continue;
      }
      char buf[65536];
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (fds[i].fd == out_r.get() ? res.out : res.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        (fds[i].fd == out_r.get() ? out_r : err_r).reset();
      }
    }
    if (!exited) exited = child.try_reap(status, ru);
  }
  if (!exited) {
    child.kill_and_reap(status, ru);
    throw Error(binary + " did not finish within " + std::to_string(timeout.count()) +
                                " ms and was killed");
  }
  if (out_r || err_r) {
    throw Error(binary + " exited, but its output was still open after " +
                                std::to_string(timeout.count()) +
                                " ms (a process it started holds it)");
  }
  res.max_rss_kb = ru.ru_maxrss;
  res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

}  // namespace knet
