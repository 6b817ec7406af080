#include "cni/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cni/error.h"

extern char** environ;

namespace cni {
namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

void make_pipe(Fd& r, Fd& w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw Error(kIOFailure, std::string("failed to create pipe: ") + strerror(errno));
  r.fd = p[0];
  w.fd = p[1];
}

}  // namespace

std::vector<std::string> split_path(std::string_view cni_path) {
  std::vector<std::string> out;
  while (!cni_path.empty()) {
    auto c = cni_path.find(':');
    auto part = cni_path.substr(0, c);
    if (!part.empty()) out.emplace_back(part);
    cni_path = c == std::string_view::npos ? std::string_view{} : cni_path.substr(c + 1);
  }
  return out;
}

std::string find_plugin(const std::vector<std::string>& path, std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
    throw Error(kInvalidNetworkConfig, "invalid plugin type \"" + std::string(name) + "\"");
  std::string searched;
  for (const auto& dir : path) {
    std::string p = dir + "/" + std::string(name);
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0) return p;
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  throw Error(kIOFailure, "failed to find plugin \"" + std::string(name) + "\" in path [" + searched + "]");
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

ExecOutput exec_argv(const std::vector<std::string>& args, const std::vector<std::string>& env,
                     std::string_view stdin_data, std::chrono::milliseconds timeout) {
  if (args.empty()) throw Error(kInternal, "exec_argv: no program given");
  const std::string& binary = args[0];
  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  make_pipe(in_r, in_w);
  make_pipe(out_r, out_w);
  make_pipe(err_r, err_w);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.fd, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.fd, 2);
  std::vector<char*> envp;
  for (const auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw Error(kIOFailure, "failed to execute " + binary + ": " + strerror(rc));
  in_r.reset();
  out_w.reset();
  err_w.reset();

  // A broken pipe from a plugin that exits without reading stdin must not kill us.
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old);

  ExecOutput res;
  size_t written = 0;
  if (stdin_data.empty()) in_w.reset();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_w.fd >= 0) fds[n++] = {in_w.fd, POLLOUT, 0};
    if (out_r.fd >= 0) fds[n++] = {out_r.fd, POLLIN, 0};
    if (err_r.fd >= 0) fds[n++] = {err_r.fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    int pr = ::poll(fds, n, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_w.fd) {
        ssize_t w = ::write(in_w.fd, stdin_data.data() + written, stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == stdin_data.size()) in_w.reset();
        continue;
      }
      char buf[65536];
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (fds[i].fd == out_r.fd ? res.out : res.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        (fds[i].fd == out_r.fd ? out_r : err_r).reset();
      }
    }
  }
  in_w.reset();
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  res.max_rss_kb = ru.ru_maxrss;
  sigaction(SIGPIPE, &old, nullptr);
  if (killed) throw Error(kIOFailure, binary + " did not finish within " + std::to_string(timeout.count()) + " ms");
  res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

namespace {

// A plugin's answer: the parsed stdout on exit 0, else its error as cni::Error.
json interpret(const ExecOutput& o, std::string_view plugin_name) {
  json out = o.out.empty() ? json() : json::parse(o.out, nullptr, false);
  std::string who = "plugin " + std::string(plugin_name);
  if (o.status == 0) {
    if (out.is_discarded()) throw Error(kDecodingFailure, who + " printed output that is not JSON: " + o.out.substr(0, 200));
    return out;
  }
  if (out.is_object() && out.contains("code") && out["code"].is_number_integer()) {
    std::string msg = out.value("msg", std::string());
    std::string details = out.value("details", std::string());
    throw Error(out["code"].get<int>(), who + " failed: " + msg, details);
  }
  std::string why = o.err.empty() ? o.out : o.err;
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  throw Error(kInternal, who + " failed with exit status " + std::to_string(o.status) + (why.empty() ? "" : ": " + why.substr(0, 500)));
}

InProcessRunner in_process_runner = nullptr;

bool is_this_executable(const std::string& binary) {
  struct stat self {}, other {};
  return ::stat("/proc/self/exe", &self) == 0 && ::stat(binary.c_str(), &other) == 0 &&
         self.st_dev == other.st_dev && self.st_ino == other.st_ino;
}

}  // namespace

json invoke_plugin(const std::string& binary, std::string_view plugin_name, const std::vector<std::string>& env,
                   std::string_view stdin_data) {
  return interpret(exec_binary(binary, env, stdin_data), plugin_name);
}

void set_in_process_runner(InProcessRunner runner) { in_process_runner = runner; }

json delegate_plugin(const std::string& binary, std::string_view plugin_name, const std::vector<std::string>& env,
                     std::string_view stdin_data) {
  if (in_process_runner && is_this_executable(binary)) {
    std::string_view name = binary;
    if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    if (std::optional<ExecOutput> o = in_process_runner(name, env, stdin_data)) return interpret(*o, plugin_name);
  }
  return invoke_plugin(binary, plugin_name, env, stdin_data);
}

}  // namespace cni
