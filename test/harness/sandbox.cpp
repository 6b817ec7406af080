#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <tuple>

#include "exec_args.h"

#ifndef KNET_PLUGIN_DIR
#define KNET_PLUGIN_DIR "bin"
#endif

namespace knet::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kNetnsDir = "/var/run/netns";
constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Every namespace any Sandbox made and has not deleted yet, for the exit and
// signal handlers.
std::mutex registry_mu;
std::set<std::string>& registry() {
  static auto* names = new std::set<std::string>;  // leaked: used from atexit
  return *names;
}

std::string self_prefix() { return "knet-" + std::to_string(getpid()) + "-"; }

void check(const CmdResult& r, const std::string& what) {
  if (!r.ok())
    throw std::runtime_error(what + " failed (" + std::to_string(r.code) + "): " + r.out);
}

CmdResult run_cmd(const std::vector<std::string>& argv,
                  milliseconds timeout = milliseconds(10000)) {
  RunResult r = run_process(argv, {{"PATH", kPath}}, "", "", timeout);
  return {r.code, r.out + r.err};
}

void delete_ns(const std::string& name) {
  run_cmd({"/usr/sbin/ip", "netns", "delete", name});
  std::lock_guard lock(registry_mu);
  registry().erase(name);
}

void delete_all_registered() {
  std::set<std::string> names;
  {
    std::lock_guard lock(registry_mu);
    names = registry();
  }
  for (const auto& n : names) delete_ns(n);
}

void on_signal(int sig) {
  delete_all_registered();
  signal(sig, SIG_DFL);
  raise(sig);
}

// Namespaces left by knet test processes that died (SIGKILL, crash): their
// names carry a pid that no longer exists.
void reap_stale() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kNetnsDir, ec)) {
    std::string n = e.path().filename();
    if (n.rfind("knet-", 0) != 0) continue;
    size_t dash = n.find('-', 5);
    if (dash == std::string::npos) continue;
    std::string pid = n.substr(5, dash - 5);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (fs::exists("/proc/" + pid)) continue;
    run_cmd({"/usr/sbin/ip", "netns", "delete", n});
  }
}

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    reap_stale();
    std::atexit(delete_all_registered);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, on_signal);
  });
}

// Writes what is left of `input` and reads stdout/stderr until both close or
// the deadline passes. Returns false on timeout.
bool pump(int in_fd, int out_fd, int err_fd, const std::string& input, std::string& out,
          std::string& err, std::chrono::steady_clock::time_point deadline) {
  size_t written = 0;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  char buf[8192];
  while (out_fd >= 0 || err_fd >= 0) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (in_fd >= 0) close(in_fd);
      if (out_fd >= 0) close(out_fd);
      if (err_fd >= 0) close(err_fd);
      return false;
    }
    pollfd fds[3] = {{in_fd, POLLOUT, 0}, {out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int n = poll(fds, 3, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (in_fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in_fd, input.data() + written, input.size() - written);
      if (w > 0) written += w;
      if (w < 0 || written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    int* rfds[2] = {&out_fd, &err_fd};
    std::string* sinks[2] = {&out, &err};
    for (int i = 0; i < 2; i++) {
      if (*rfds[i] >= 0 && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = read(*rfds[i], buf, sizeof buf);
        if (r > 0) {
          sinks[i]->append(buf, r);
        } else if (r == 0 || errno != EINTR) {
          close(*rfds[i]);
          *rfds[i] = -1;
        }
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  return true;
}

}  // namespace

std::string plugin_path(const std::string& name) {
  return std::string(KNET_PLUGIN_DIR) + "/" + name;
}

RunResult run_process(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env, const std::string& input,
                      const std::string& ns_path, milliseconds timeout) {
  RunResult res;
  int ns_fd = -1;
  if (!ns_path.empty()) {
    ns_fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0) {
      res.err = "cannot open " + ns_path + ": " + std::strerror(errno);
      return res;
    }
  }
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  const ExecArgs exec(argv, env);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so a timeout kills grandchildren too
    if (ns_fd >= 0 && setns(ns_fd, CLONE_NEWNET) != 0) _exit(126);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    signal(SIGPIPE, SIG_DFL);
    execve(exec.argv()[0], exec.argv(), exec.envp());
    _exit(127);
  }
  if (ns_fd >= 0) close(ns_fd);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // A child that does not read its stdin must not kill the harness: SIGPIPE
  // is ignored once for the whole test process (never toggled: tests start
  // processes from several threads), and the write fails with EPIPE instead.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { signal(SIGPIPE, SIG_IGN); });
  bool finished = pump(in[1], out[0], err[0], input, res.out, res.err, deadline);
  int status = 0;
  for (;;) {
    // Past the deadline (or stuck with its output closed): kill the whole group.
    if (!finished || std::chrono::steady_clock::now() >= deadline) {
      finished = false;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    usleep(2000);
  }
  res.timed_out = !finished;
  res.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto j = nlohmann::json::parse(res.out, nullptr, false);
  if (!j.is_discarded()) res.json = std::move(j);
  return res;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "knet-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Sandbox::Sandbox() {
  install_handlers();
  host_ = make_ns("host");
}

Sandbox::~Sandbox() {
  // Reverse order: containers before the host they may hang off.
  for (auto it = names_.rbegin(); it != names_.rend(); ++it) delete_ns(*it);
}

std::string Sandbox::make_ns(const std::string& role) {
  static std::atomic<int> counter{0};
  std::string name = self_prefix() + std::to_string(counter++) + "-" + role;
  {
    std::lock_guard lock(registry_mu);
    registry().insert(name);  // before creating, so a signal in between cleans up too
  }
  names_.push_back(name);
  check(run_cmd({"/usr/sbin/ip", "netns", "add", name}), "ip netns add " + name);
  check(run_cmd({"/usr/sbin/ip", "-n", name, "link", "set", "lo", "up"}), "lo up in " + name);
  return std::string(kNetnsDir) + "/" + name;
}

std::string Sandbox::add_container(const std::string& role) { return make_ns(role); }
std::string Sandbox::add_ns(const std::string& role) { return make_ns(role); }

std::string Sandbox::name_of(const std::string& ns) {
  size_t slash = ns.rfind('/');
  return slash == std::string::npos ? ns : ns.substr(slash + 1);
}

RunResult Sandbox::run_plugin(const std::string& binary,
                              const std::map<std::string, std::string>& env,
                              const std::string& config, const std::string& ns,
                              milliseconds timeout) const {
  auto full_env = env;
  full_env.emplace("PATH", kPath);
  // knet's lock files go to this sandbox's own run dir, never the machine's /run/knet.
  full_env.emplace("KNET_RUN_DIR", run_dir_.path());
  std::string where = ns.empty() ? host_ : std::string(kNetnsDir) + "/" + name_of(ns);
  return run_process({binary}, full_env, config, where, timeout);
}

CmdResult Sandbox::exec_in(const std::string& ns, const std::string& cmd,
                           milliseconds timeout) const {
  // timeout(1) as well as our own deadline: it also kills what sh started.
  long secs = std::max<long>(1, static_cast<long>((timeout.count() + 999) / 1000));
  return run_cmd({"/usr/bin/timeout", "-s", "KILL", std::to_string(secs), "/usr/sbin/ip", "netns",
                  "exec", name_of(ns), "/bin/sh", "-c", cmd},
                 timeout + milliseconds(2000));
}

nlohmann::json Sandbox::link_json(const std::string& ns, const std::string& ifname) const {
  CmdResult r = exec_in(ns, "ip -j -d link show dev '" + ifname + "' 2>/dev/null");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!r.ok() || j.is_discarded() || !j.is_array() || j.empty()) return nullptr;
  return j[0];
}

nlohmann::json Sandbox::addr_json(const std::string& ns, const std::string& ifname) const {
  CmdResult r = exec_in(ns, "ip -j addr show dev '" + ifname + "' 2>/dev/null");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!r.ok() || j.is_discarded() || !j.is_array() || j.empty()) return nlohmann::json::array();
  return j[0].value("addr_info", nlohmann::json::array());
}

bool Sandbox::ping(const std::string& ns, const std::string& ip, int wait_s) const {
  return exec_in(ns, "ping -c1 -W" + std::to_string(wait_s) + " " + ip + " >/dev/null 2>&1",
                 std::chrono::seconds(wait_s + 2))
      .ok();
}

void Sandbox::connect(const std::string& nsA, const std::string& ifA, const std::string& nsB,
                      const std::string& ifB, const std::string& cidrA, const std::string& cidrB) {
  std::string a = name_of(nsA), b = name_of(nsB);
  check(run_cmd({"/usr/sbin/ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB,
                 "netns", b}),
        "veth " + ifA + "@" + a + " <-> " + ifB + "@" + b);
  for (const auto& [ns, ifname, cidr] : {std::tuple{a, ifA, cidrA}, std::tuple{b, ifB, cidrB}}) {
    if (!cidr.empty()) {
      check(run_cmd({"/usr/sbin/ip", "-n", ns, "addr", "add", cidr, "dev", ifname}),
            "address " + cidr + " on " + ifname);
    }
    check(run_cmd({"/usr/sbin/ip", "-n", ns, "link", "set", ifname, "up"}), ifname + " up");
  }
}

std::string Sandbox::add_underlay() {
  std::string u = make_ns("underlay");
  check(run_cmd({"/usr/sbin/ip", "-n", name_of(u), "link", "add", "br0", "type", "bridge"}),
        "underlay bridge");
  check(run_cmd({"/usr/sbin/ip", "-n", name_of(u), "link", "set", "br0", "up"}), "br0 up");
  return u;
}

void Sandbox::attach(const std::string& underlay, const std::string& node,
                     const std::string& ifname, const std::string& cidr) {
  std::string port = "u" + std::to_string(ports_++);
  connect(node, ifname, underlay, port, cidr, {});
  check(run_cmd({"/usr/sbin/ip", "-n", name_of(underlay), "link", "set", port, "master", "br0"}),
        port + " into br0");
}

}  // namespace knet::test
