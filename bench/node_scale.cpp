// knet-node-bench: the scale figures of knet-node (issue 17, "Scale"), by hand.
// A sandbox world: an "underlay" namespace holding the switch (br0) and a real
// etcd on 198.18.0.1 (RFC 2544's benchmarking range, 198.18.0.0/15), node
// namespaces plugged into it, each running a real knet-node. Synthetic nodes
// are leases only: keys under <prefix>/subnets/ with PublicIPs 198.19.x.y, each
// attached to an etcd lease of its own. This process lives in the underlay
// namespace; it watches the nodes' kernels through one rtnetlink socket per
// node namespace (routes, neighbours, FDB entries: what the vxlan plugin's
// reconcile writes), timestamped by a thread of its own.
//
// Usage (as root, see bench/node_scale.sh, which builds and cleans up):
//   knet-node-bench --agent PATH --tag TAG --work DIR [--sizes 100,1000,5000]
//                   [--changes 200] [--agents 50] [--agent-changes 100]
//                   [--idle 60] [--sync-runs 5] [--only sync,change,steady,cluster]
// Everything it makes is named TAG-*; the namespaces are deleted at the end
// (also on an error); its children die with it (PR_SET_PDEATHSIG).

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/ip.h"
#include "shell.h"
#include "config.h"  // the vxlan plugin's vtep_mac
#include "etcd/client.h"
#include "etcd/watch.h"

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

const std::string kPrefix = "/knet/network";
const std::string kEtcdIp = "198.18.0.1";
const std::string kEndpoint = "http://" + kEtcdIp + ":2379";
// 10.0.0.0/8 in /24s: room for 65,535 subnets. Real agents take the lowest
// free ones (10.0.1.0 ...); synthetic leases start at index 4096 (10.16.0.0),
// the changes at 60000 (10.234.96.0).
constexpr const char* kConfig =
    R"({"Network": "10.0.0.0/8", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472, "Mode": "l3"}})";
constexpr int kSynthBase = 4096;
constexpr int kChangeBase = 60000;

struct Opt {
  std::string agent, tag, work, only;
  std::vector<int> sizes{100, 1000, 5000};
  int changes = 200, agents = 50, agent_changes = 100, idle = 60, sync_runs = 5;
} opt;

bool wanted(const std::string& g) {
  if (opt.only.empty()) return true;
  return ("," + opt.only + ",").find("," + g + ",") != std::string::npos;
}

double ms_since(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

using bench::sh;
using bench::sh_out;
void must(const std::string& cmd) {
  if (sh(cmd) != 0) throw std::runtime_error("failed: " + cmd);
}

std::string subnet_of(int index) {  // index-th /24 of 10.0.0.0/8
  return "10." + std::to_string(index >> 8) + "." + std::to_string(index & 255) + ".0";
}
std::string synth_ip(int i) {  // 198.19.0.1 ... 198.19.255.250
  return "198.19." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}
std::string node_ip(int i) { return "198.18.0." + std::to_string(10 + i); }
std::string lease_key(const std::string& subnet) { return kPrefix + "/subnets/" + subnet + "-24"; }
std::string lease_value(const std::string& ip) {
  return R"({"PublicIP": ")" + ip + R"(", "BackendType": "vxlan", "BackendData": {"VNI": 1, "VtepMAC": ")" +
         knet::vxlan::vtep_mac(1, *knet::IP::parse(ip)) + "\"}}";
}

// ---- namespaces and processes --------------------------------------------

std::vector<std::string> made_ns;
std::vector<pid_t> children;
int orig_ns = -1;  // the namespace this process started in
int home_ns = -1;  // the underlay, where this process lives

std::string add_ns(const std::string& role) {
  std::string name = opt.tag + "-" + role;
  must("ip netns add " + name + " && ip -n " + name + " link set lo up");
  made_ns.push_back(name);
  return name;
}

void kill_child(pid_t pid, int sig = SIGTERM, int grace_ms = 3000) {
  if (pid <= 0) return;
  ::kill(pid, sig);
  for (int i = 0; i < grace_ms / 10; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) goto gone;
    std::this_thread::sleep_for(milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
gone:
  children.erase(std::remove(children.begin(), children.end(), pid), children.end());
}

void del_ns(const std::string& name) {
  // Never signal ourselves: this process lives in the sandbox.
  bench::kill_and_delete_netns(name);
  made_ns.erase(std::remove(made_ns.begin(), made_ns.end(), name), made_ns.end());
}

void cleanup() {
  for (pid_t p : std::vector<pid_t>(children)) kill_child(p, SIGKILL, 0);
  // Leave the sandbox before removing it.
  if (orig_ns >= 0) ::setns(orig_ns, CLONE_NEWNET);
  for (auto it = made_ns.rbegin(); it != made_ns.rend();) {
    std::string n = *it++;
    del_ns(n);
    it = made_ns.rbegin();
  }
}

int ns_fd(const std::string& name) {
  int fd = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open netns " + name);
  return fd;
}

// Starts argv in namespace `ns` (fork from the main thread: the child's
// PR_SET_PDEATHSIG follows the thread that forked it), output to `log`.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& ns,
            const std::string& log) {
  int fd = ns_fd(ns);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::setns(fd, CLONE_NEWNET) != 0) _exit(126);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    std::vector<char*> a, e;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (auto& s : env) e.push_back(const_cast<char*>(s.c_str()));
    e.push_back(nullptr);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  ::close(fd);
  children.push_back(pid);
  return pid;
}

long status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// CPU time (user + system) the process has used, in ms.
double cpu_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a;
  in >> a;
  return a;
}

// Resident memory by kind from /proc/PID/smaps: the shared libraries'
// pages (file-backed, shared with every process that maps them), the rest,
// and the proportional share (Pss) of everything, in kB.
struct MemSplit {
  long libs = 0, other = 0, pss = 0;
  int lib_files = 0;
};
MemSplit mem_split(pid_t pid) {
  MemSplit m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line, path;
  std::set<std::string> libs;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // A mapping's header: its first word (the address range) has no ':'.
    if (line.substr(0, line.find(' ')).find(':') == std::string::npos) {
      auto p = line.find('/');
      path = p == std::string::npos ? "" : line.substr(p);
      continue;
    }
    bool rss = line.rfind("Rss:", 0) == 0, pss = line.rfind("Pss:", 0) == 0;
    if (!rss && !pss) continue;
    long kb = std::stol(line.substr(4));
    if (pss) {
      m.pss += kb;
    } else if (path.find(".so") != std::string::npos) {
      m.libs += kb;
      libs.insert(path);
    } else {
      m.other += kb;
    }
  }
  m.lib_files = static_cast<int>(libs.size());
  return m;
}

// ---- the kernels, watched -------------------------------------------------

// Every route / neighbour / FDB entry of the overlay seen in each node
// namespace: when it last appeared and disappeared, and counts.
class KernelWatch {
 public:
  struct Seen {
    Clock::time_point added{}, removed{};
    bool present = false;
  };
  struct NodeState {
    std::unordered_map<std::string, Seen> keys;  // "r:10.16.0.0", "n:10.16.0.0", "f:198.19.0.1"
    int routes = 0, neighs = 0, fdbs = 0;
  };

  KernelWatch() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = UINT32_MAX;
    epoll_ctl(ep_, EPOLL_CTL_ADD, wake_[0], &ev);
    thread_ = std::thread([this] { loop(); });
  }
  ~KernelWatch() {
    stop_ = true;
    (void)!write(wake_[1], "x", 1);
    thread_.join();
    for (int fd : fds_) ::close(fd);
    ::close(ep_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  // Starts watching namespace `ns` (before its agent starts); its index.
  int add(const std::string& ns) {
    int fd = ns_fd(ns);
    if (::setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("setns " + ns);
    int s = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    ::setns(home_ns, CLONE_NEWNET);
    ::close(fd);
    if (s < 0) throw std::runtime_error("netlink socket");
    int big = 64 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_NEIGH;
    if (bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw std::runtime_error("netlink bind");
    std::lock_guard<std::mutex> l(mu_);
    int idx = static_cast<int>(fds_.size());
    fds_.push_back(s);
    state_.push_back(std::make_unique<NodeState>());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(idx);
    epoll_ctl(ep_, EPOLL_CTL_ADD, s, &ev);
    return idx;
  }

  // Waits until pred(states) holds or `timeout` passes; false on timeout.
  bool wait(const std::function<bool(const std::vector<std::unique_ptr<NodeState>>&)>& pred,
            milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return pred(state_); });
  }
  template <class F>
  auto with(F f) {
    std::lock_guard<std::mutex> l(mu_);
    return f(state_);
  }
  bool overflowed() const { return overflow_; }

 private:
  void loop() {
    std::vector<char> buf(1 << 20);
    epoll_event evs[64];
    while (!stop_) {
      int n = epoll_wait(ep_, evs, 64, 500);
      for (int i = 0; i < n; ++i) {
        uint32_t idx = evs[i].data.u32;
        if (idx == UINT32_MAX) continue;
        int fd;
        {
          std::lock_guard<std::mutex> l(mu_);
          fd = fds_[idx];
        }
        for (;;) {
          ssize_t got = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (got < 0) {
            if (errno == ENOBUFS) {
              overflow_ = true;
              continue;
            }
            break;
          }
          auto now = Clock::now();
          std::lock_guard<std::mutex> l(mu_);
          parse(*state_[idx], buf.data(), static_cast<size_t>(got), now);
        }
        cv_.notify_all();
      }
    }
  }

  static void mark(NodeState& st, const std::string& key, bool add, Clock::time_point now) {
    Seen& s = st.keys[key];
    int* counter = key[0] == 'r' ? &st.routes : key[0] == 'n' ? &st.neighs : &st.fdbs;
    if (add) {
      if (!s.present) ++*counter, s.added = now;
      s.present = true;
    } else {
      if (s.present) --*counter, s.removed = now;
      s.present = false;
    }
  }

  static std::string v4(const void* p) {
    char out[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, p, out, sizeof out);
    return out;
  }

  void parse(NodeState& st, const char* data, size_t len, Clock::time_point now) {
    for (auto* h = reinterpret_cast<const nlmsghdr*>(data); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      bool add = h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_NEWNEIGH;
      if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) {
        auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(h));
        if (rt->rtm_family != AF_INET || rt->rtm_table != RT_TABLE_MAIN || rt->rtm_dst_len != 24) continue;
        int alen = static_cast<int>(RTM_PAYLOAD(h));
        for (auto* a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
          if (a->rta_type == RTA_DST) {
            std::string dst = v4(RTA_DATA(a));
            if (dst.rfind("10.", 0) == 0) mark(st, "r:" + dst, add, now);
          }
        }
      } else if (h->nlmsg_type == RTM_NEWNEIGH || h->nlmsg_type == RTM_DELNEIGH) {
        auto* nd = static_cast<const ndmsg*>(NLMSG_DATA(h));
        int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(ndmsg)));
        auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(nd) + NLMSG_ALIGN(sizeof(ndmsg)));
        for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
          if (a->rta_type != NDA_DST || RTA_PAYLOAD(a) != 4) continue;
          std::string dst = v4(RTA_DATA(a));
          if (nd->ndm_family == AF_INET && dst.rfind("10.", 0) == 0) mark(st, "n:" + dst, add, now);
          if (nd->ndm_family == AF_BRIDGE && dst.rfind("198.1", 0) == 0) mark(st, "f:" + dst, add, now);
        }
      }
    }
  }

  int ep_ = -1, wake_[2]{-1, -1};
  std::vector<int> fds_;
  std::vector<std::unique_ptr<NodeState>> state_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false}, overflow_{false};
  std::thread thread_;
};

// ---- etcd ----------------------------------------------------------------

etcd::ClientConfig client_config() {
  etcd::ClientConfig c;
  c.endpoints = {kEndpoint};
  return c;
}

// What this process's own watcher on the prefix saw: when each key's last
// put / delete arrived (the watch-delivery part of a change).
struct WatchLog {
  std::mutex mu;
  std::map<std::string, Clock::time_point> put, del;
};

// N synthetic leases, each with its own etcd lease (TTL `ttl`), written by
// 4 clients in parallel; returns the seconds it took.
double write_synthetic(int from, int to, int ttl) {
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  std::atomic<int> next{from};
  std::string err;
  std::mutex emu;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      try {
        etcd::Client c(client_config());
        for (int i; (i = next++) < to;) {
          int64_t id = c.lease_grant(ttl).id;
          c.put({.key = lease_key(subnet_of(kSynthBase + i)), .value = lease_value(synth_ip(i)), .lease = id});
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> l(emu);
        err = e.what();
      }
    });
  }
  for (auto& t : ts) t.join();
  if (!err.empty()) throw std::runtime_error("writing synthetic leases: " + err);
  return ms_since(t0, Clock::now()) / 1000;
}

// etcd's gRPC counters (the JSON gateway is a gRPC client of the server):
// method -> requests started and messages received.
std::map<std::string, std::pair<double, double>> etcd_counters() {
  std::map<std::string, std::pair<double, double>> out;
  std::istringstream in(sh_out("curl -s -m 5 " + kEndpoint + "/metrics"));
  std::string line;
  auto method_of = [](const std::string& l) {
    auto p = l.find("grpc_method=\"");
    if (p == std::string::npos) return std::string();
    p += 13;
    return l.substr(p, l.find('"', p) - p);
  };
  while (std::getline(in, line)) {
    bool started = line.rfind("grpc_server_started_total{", 0) == 0;
    bool recv = line.rfind("grpc_server_msg_received_total{", 0) == 0;
    if (!started && !recv) continue;
    double v = std::stod(line.substr(line.rfind(' ') + 1));
    auto& e = out[method_of(line)];
    (started ? e.first : e.second) += v;
  }
  return out;
}

// ---- figures -------------------------------------------------------------

struct Stats {
  double p50 = 0, p99 = 0, max = 0;
  size_t n = 0;
};
Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  s.p50 = v[(v.size() - 1) / 2];
  s.p99 = v[std::min(v.size() - 1, (v.size() * 99 + 99) / 100 - 1)];
  s.max = v.back();
  return s;
}

std::vector<std::string> table;  // markdown rows
void row(const std::string& figure, const std::string& n, const std::string& value, const std::string& target = "",
         const std::string& verdict = "") {
  table.push_back("| " + figure + " | " + n + " | " + value + " | " + target + " | " + verdict + " |");
  std::fprintf(stderr, "  %s | %s | %s | %s %s\n", figure.c_str(), n.c_str(), value.c_str(), target.c_str(),
               verdict.c_str());
}
std::string f1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v < 10 ? "%.2f" : "%.1f", v);
  return b;
}
std::string pp(const Stats& s, const char* unit = " ms") {
  return f1(s.p50) + " / " + f1(s.p99) + " / " + f1(s.max) + unit + " (" + std::to_string(s.n) + ")";
}
std::vector<std::string> raw;  // figure,N,sample
void keep(const std::string& fig, int n, const std::vector<double>& v) {
  for (double x : v) raw.push_back(fig + "," + std::to_string(n) + "," + std::to_string(x));
}

// One real node: its namespace on the underlay, its directories, its agent.
struct Node {
  std::string ns, dir;
  int index = 0, watch = -1;
  pid_t pid = -1;
};

int next_port = 0;
Node make_node(KernelWatch& kw, const std::string& role, int index) {
  Node n;
  n.index = index;
  n.ns = add_ns(role);
  n.dir = opt.work + "/" + role;
  must("mkdir -p " + n.dir + "/run");
  std::string port = "p" + std::to_string(next_port++);
  must("ip link add " + port + " type veth peer name ul0 netns " + n.ns + " && ip link set " + port +
       " master br0 up && ip -n " + n.ns + " addr add " + node_ip(index) + "/15 dev ul0 && ip -n " + n.ns +
       " link set ul0 up");
  n.watch = kw.add(n.ns);
  return n;
}

void start_agent(Node& n) {
  n.pid = spawn({opt.agent, "--etcd-endpoints=" + kEndpoint, "--iface=ul0", "--peers-file=" + n.dir + "/peers.json",
                 "--healthz-addr=127.0.0.1:9090", "--cni-network=ov", "--release-on-exit"},
                {"KNET_RUN_DIR=" + n.dir + "/run", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, n.ns, n.dir + "/agent.log");
}

std::string log_tail(const Node& n) { return sh_out("tail -n 5 " + n.dir + "/agent.log"); }

bool has_peer(const KernelWatch::NodeState& st, const std::string& subnet, const std::string& ip,
              Clock::time_point after) {
  for (const std::string& k : {"r:" + subnet, "n:" + subnet, "f:" + ip}) {
    auto it = st.keys.find(k);
    if (it == st.keys.end() || !it->second.present || it->second.added < after) return false;
  }
  return true;
}
bool lacks_peer(const KernelWatch::NodeState& st, const std::string& subnet, const std::string& ip) {
  for (const std::string& k : {"r:" + subnet, "n:" + subnet, "f:" + ip}) {
    auto it = st.keys.find(k);
    if (it != st.keys.end() && it->second.present) return false;
  }
  return true;
}
Clock::time_point last_of(const KernelWatch::NodeState& st, const std::string& subnet, const std::string& ip,
                          bool added) {
  Clock::time_point t{};
  for (const std::string& k : {"r:" + subnet, "n:" + subnet, "f:" + ip}) {
    const auto& s = st.keys.at(k);
    t = std::max(t, added ? s.added : s.removed);
  }
  return t;
}

// When this process's watcher delivered `key`'s event of the change made at
// t0 (it may come after the agent applied it: waits up to 2 s); t0 if never.
Clock::time_point watch_time(WatchLog& wl, std::map<std::string, Clock::time_point>& m, const std::string& key,
                             Clock::time_point t0) {
  for (int i = 0; i < 2000; ++i) {
    {
      std::lock_guard<std::mutex> l(wl.mu);
      auto it = m.find(key);
      if (it != m.end() && it->second >= t0) return it->second;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  return t0;
}

// `count` changes (a put of a new lease, then its delete, alternating) seen
// by the nodes in `nodes`; per change: put -> this process's watch event ->
// the last of the three kernel entries on each node. Returns per-change
// samples: end-to-end on every node, watch delivery, and (for one node)
// watch event -> kernel.
struct Side {
  std::vector<double> e2e, watch, after_watch, slowest;
};
struct ChangeSamples {
  Side add, del;
  int timeouts = 0;
};
ChangeSamples run_changes(KernelWatch& kw, const std::vector<Node>& nodes, WatchLog& wl, int count, int64_t lease) {
  etcd::Client c(client_config());
  ChangeSamples out;
  for (int j = 0; j < count; ++j) {
    std::string subnet = subnet_of(kChangeBase + j % 1000), ip = synth_ip(10000 + j % 1000);
    std::string key = lease_key(subnet);
    for (bool add : {true, false}) {
      auto t0 = Clock::now();
      if (add) {
        c.put({.key = key, .value = lease_value(ip), .lease = lease});
      } else {
        c.remove(etcd::DeleteRequest::single(key));
      }
      bool ok = kw.wait(
          [&](const auto& st) {
            for (const auto& n : nodes)
              if (add ? !has_peer(*st[n.watch], subnet, ip, t0) : !lacks_peer(*st[n.watch], subnet, ip)) return false;
            return true;
          },
          milliseconds(10000));
      if (!ok) {
        ++out.timeouts;
      } else {
        Side& side = add ? out.add : out.del;
        Clock::time_point tw = watch_time(wl, add ? wl.put : wl.del, key, t0);
        double slowest = 0;
        kw.with([&](const auto& st) {
          for (const auto& n : nodes) {
            double e = ms_since(t0, last_of(*st[n.watch], subnet, ip, add));
            side.e2e.push_back(e);
            slowest = std::max(slowest, e);
          }
          side.after_watch.push_back(ms_since(tw, last_of(*st[nodes[0].watch], subnet, ip, add)));
          return 0;
        });
        side.watch.push_back(ms_since(t0, tw));
        side.slowest.push_back(slowest);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  return out;
}

std::string verdict(double v, double target) { return v <= target ? "met" : "**missed**"; }

void one_node(KernelWatch& kw, WatchLog& wl, int64_t change_lease) {
  int have = 0;
  for (size_t si = 0; si < opt.sizes.size(); ++si) {
    int n = opt.sizes[si];
    double wrote = write_synthetic(have, n, 3600);
    have = n;
    std::fprintf(stderr, "N=%d: %d synthetic leases in etcd (%.1f s to write)\n", n, n, wrote);
    // Full sync, `sync_runs` times, each in a fresh node namespace (the
    // kernel keeps what an agent wrote): exec -> own lease in etcd -> first
    // entry -> N peers' entries. The last node goes on to the changes.
    std::vector<double> full, to_lease, to_first, batch, hwm;
    Node node;
    for (int r = 0; r < opt.sync_runs; ++r) {
      if (r > 0) {
        kill_child(node.pid);
        del_ns(node.ns);
      }
      node = make_node(kw, "nodeN" + std::to_string(n) + "r" + std::to_string(r), 0);
      auto t0 = Clock::now();
      start_agent(node);
      bool ok = kw.wait(
          [&](const auto& st) {
            const auto& s = *st[node.watch];
            return s.routes >= n && s.neighs >= n && s.fdbs >= n;
          },
          milliseconds(120000));
      auto t_done = Clock::now();
      if (!ok) throw std::runtime_error("N=" + std::to_string(n) + ": the kernel did not get N peers in 120 s:\n" +
                                        log_tail(node));
      Clock::time_point t_first = t_done, t_last{};
      kw.with([&](const auto& st) {
        for (const auto& [k, s] : st[node.watch]->keys) {
          if (s.present) t_first = std::min(t_first, s.added), t_last = std::max(t_last, s.added);
        }
        return 0;
      });
      Clock::time_point t_lease = t0;
      {
        std::lock_guard<std::mutex> l(wl.mu);
        for (auto& [k, t] : wl.put)
          if (t > t0 && k.find("/subnets/10.0.") != std::string::npos) t_lease = std::max(t_lease, t);
      }
      full.push_back(ms_since(t0, t_last));
      to_lease.push_back(ms_since(t0, t_lease));
      to_first.push_back(ms_since(t_lease, t_first));
      batch.push_back(ms_since(t_first, t_last));
      hwm.push_back(status_kb(node.pid, "VmHWM") / 1024.0);
    }
    keep("full_sync", n, full);
    std::string N = std::to_string(n);
    auto med = [](const std::vector<double>& v) {
      Stats s = stats(v);
      auto mm = std::minmax_element(v.begin(), v.end());
      return std::pair(s.p50, f1(s.p50) + " ms (" + f1(*mm.first) + " - " + f1(*mm.second) + ", " +
                                  std::to_string(v.size()) + " runs)");
    };
    if (wanted("sync")) {
      auto [fm, ftext] = med(full);
      row("full sync: agent exec -> N peers' route+neighbour+FDB in the kernel, p50 (min - max)", N, ftext,
          n == 1000 ? "≤ 200 ms" : "", n == 1000 ? verdict(fm, 200) : "");
      row("  of which exec -> own lease written (libraries loaded, config read, subnet taken)", N, med(to_lease).second);
      row("  of which own lease -> first kernel entry (list, parse, peersFile, VTEP)", N, med(to_first).second);
      row("  of which first -> last kernel entry (reconcile's batch)", N, med(batch).second);
      double h = *std::max_element(hwm.begin(), hwm.end());
      row("agent peak RSS after full sync (VmHWM, largest of the runs)", N, f1(h) + " MB", "≤ 10 MB", verdict(h, 10));
    }
    std::this_thread::sleep_for(milliseconds(500));
    if (wanted("change")) {
      double cpu0 = cpu_ms(node.pid);
      std::string load0 = loadavg();
      ChangeSamples cs = run_changes(kw, {node}, wl, opt.changes / 2, change_lease);
      double cpu_per = (cpu_ms(node.pid) - cpu0) / std::max<size_t>(1, cs.add.e2e.size() + cs.del.e2e.size());
      keep("add_e2e", n, cs.add.e2e);
      keep("del_e2e", n, cs.del.e2e);
      keep("add_after_watch", n, cs.add.after_watch);
      keep("del_after_watch", n, cs.del.after_watch);
      std::vector<double> all_after = cs.add.after_watch, all_e2e = cs.add.e2e, all_watch = cs.add.watch;
      all_after.insert(all_after.end(), cs.del.after_watch.begin(), cs.del.after_watch.end());
      all_e2e.insert(all_e2e.end(), cs.del.e2e.begin(), cs.del.e2e.end());
      all_watch.insert(all_watch.end(), cs.del.watch.begin(), cs.del.watch.end());
      Stats sa = stats(all_after);
      row("one change, put/delete -> kernel, end to end: p50 / p99 / max (changes)", N, pp(stats(all_e2e)));
      row("  of which put/delete -> watch event (bench's own watcher)", N, pp(stats(all_watch)));
      row("  watch event -> kernel applied, all changes", N, pp(sa), "p99 ≤ 5 ms", verdict(sa.p99, 5));
      row("  agent CPU time per change (user + system, all threads; load average " + load0 + " before)", N,
          f1(cpu_per) + " ms");
      row("  watch event -> kernel applied, adds only", N, pp(stats(cs.add.after_watch)));
      row("  watch event -> kernel applied, deletes only", N, pp(stats(cs.del.after_watch)));
      if (cs.timeouts) row("  changes not applied within 10 s", N, std::to_string(cs.timeouts), "0", "**missed**");
    }
    if (wanted("steady")) {
      auto before = etcd_counters();
      long rss_min = LONG_MAX, rss_max = 0;
      auto t_start = Clock::now();
      for (int s = 0; s < opt.idle; ++s) {
        std::this_thread::sleep_for(milliseconds(1000));
        long r = status_kb(node.pid, "VmRSS");
        rss_min = std::min(rss_min, r), rss_max = std::max(rss_max, r);
      }
      double secs = ms_since(t_start, Clock::now()) / 1000;
      auto after = etcd_counters();
      std::string by;
      double total = 0;
      for (auto& [m, v] : after) {
        double d = v.first - before[m].first, msgs = v.second - before[m].second;
        if (d <= 0 && msgs <= 0) continue;
        total += std::max(d, msgs);
        by += (by.empty() ? "" : ", ") + m + " " + f1(std::max(d, msgs));
      }
      row("steady state: etcd requests during " + std::to_string(opt.idle) + " s idle (per method)", N,
          f1(total) + " = " + f1(total / secs) + "/s" + (by.empty() ? "" : " (" + by + ")"), "keepalives only",
          by.find_first_of(",") == std::string::npos && (by.empty() || by.find("LeaseKeepAlive") == 0)
              ? "met"
              : "**missed**");
      double steady = rss_max / 1024.0;
      row("agent steady RSS (VmRSS, min-max over the idle period)", N,
          f1(rss_min / 1024.0) + " - " + f1(steady) + " MB (anon " + f1(status_kb(node.pid, "RssAnon") / 1024.0) +
              ", file " + f1(status_kb(node.pid, "RssFile") / 1024.0) + ")",
          "≤ 10 MB", verdict(steady, 10));
      MemSplit ms = mem_split(node.pid);
      row("  of which shared libraries' pages (" + std::to_string(ms.lib_files) + " .so files) / the rest; Pss", N,
          f1(ms.libs / 1024.0) + " / " + f1(ms.other / 1024.0) + " MB; Pss " + f1(ms.pss / 1024.0) + " MB");
      row("agent peak RSS over the run (VmHWM)", N, f1(status_kb(node.pid, "VmHWM") / 1024.0) + " MB");
    }
    kill_child(node.pid);
    del_ns(node.ns);
    if (kw.overflowed()) throw std::runtime_error("a netlink monitor socket overflowed: figures unreliable");
  }
}

void cluster(KernelWatch& kw, WatchLog& wl, int64_t change_lease) {
  // No synthetic leases in the way: remove them (they live on their leases).
  etcd::Client c(client_config());
  c.remove(etcd::DeleteRequest::prefix(kPrefix + "/subnets/"));
  std::vector<Node> nodes;
  for (int i = 0; i < opt.agents; ++i) nodes.push_back(make_node(kw, "a" + std::to_string(i), i));
  auto t0 = Clock::now();
  // Ten at a time, as a rollout would; each takes a subnet by transaction.
  for (int i = 0; i < opt.agents; ++i) {
    start_agent(nodes[i]);
    if (i % 10 == 9) std::this_thread::sleep_for(milliseconds(200));
  }
  int want = opt.agents - 1;
  bool ok = kw.wait(
      [&](const auto& st) {
        for (const auto& n : nodes) {
          const auto& s = *st[n.watch];
          if (s.routes < want || s.neighs < want || s.fdbs < want) return false;
        }
        return true;
      },
      milliseconds(120000));
  if (!ok) throw std::runtime_error("the " + std::to_string(opt.agents) + " agents did not converge in 120 s:\n" +
                                    log_tail(nodes[0]));
  std::string A = std::to_string(opt.agents) + " agents";
  row("cluster start: " + std::to_string(opt.agents) + " agents exec -> every kernel holds the others", A,
      f1(ms_since(t0, Clock::now())) + " ms");
  std::this_thread::sleep_for(milliseconds(1000));
  double cpu0 = 0;
  for (const auto& n : nodes) cpu0 += cpu_ms(n.pid);
  std::string load0 = loadavg();
  ChangeSamples cs = run_changes(kw, nodes, wl, opt.agent_changes, change_lease);
  double cpu1 = 0;
  for (const auto& n : nodes) cpu1 += cpu_ms(n.pid);
  keep("cluster_slowest_add", opt.agents, cs.add.slowest);
  keep("cluster_slowest_del", opt.agents, cs.del.slowest);
  Stats s = stats(cs.add.slowest);
  row("new lease -> all agents' kernels (slowest of " + std::to_string(opt.agents) + "), p50 / p99 / max", A,
      pp(s), "p99 ≤ 500 ms", verdict(s.p99, 500));
  row("deleted lease -> gone from all agents' kernels (slowest), p50 / p99 / max", A, pp(stats(cs.del.slowest)));
  row("  per agent: new lease -> its kernel, p50 / p99 / max (samples)", A, pp(stats(cs.add.e2e)));
  row("  put -> watch event (bench's own watcher)", A, pp(stats(cs.add.watch)));
  row("  CPU time of all agents together per change (load average " + load0 + " before)", A,
      f1((cpu1 - cpu0) / std::max<size_t>(1, cs.add.slowest.size() + cs.del.slowest.size())) + " ms");
  if (cs.timeouts) row("  changes not applied everywhere within 10 s", A, std::to_string(cs.timeouts), "0", "**missed**");
  double rss = 0, hwm = 0;
  for (const auto& n : nodes) rss = std::max(rss, status_kb(n.pid, "VmRSS") / 1024.0), hwm = std::max(hwm, status_kb(n.pid, "VmHWM") / 1024.0);
  row("largest agent RSS / peak RSS among the " + std::to_string(opt.agents), A, f1(rss) + " / " + f1(hwm) + " MB",
      "≤ 10 MB", verdict(hwm, 10));
  MemSplit ms = mem_split(nodes[0].pid);
  row("  one agent: shared libraries' pages / the rest; Pss (libraries' pages shared by the agents)", A,
      f1(ms.libs / 1024.0) + " / " + f1(ms.other / 1024.0) + " MB; Pss " + f1(ms.pss / 1024.0) + " MB");
  for (auto& n : nodes) kill_child(n.pid, SIGTERM, 3000);
  for (auto& n : nodes) del_ns(n.ns);
}

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) v.push_back(std::stoi(x));
  return v;
}

void on_signal(int) {
  cleanup();
  _exit(130);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--agent") opt.agent = v;
    else if (k == "--tag") opt.tag = v;
    else if (k == "--work") opt.work = v;
    else if (k == "--sizes") opt.sizes = parse_ints(v);
    else if (k == "--changes") opt.changes = std::stoi(v);
    else if (k == "--agents") opt.agents = std::stoi(v);
    else if (k == "--agent-changes") opt.agent_changes = std::stoi(v);
    else if (k == "--idle") opt.idle = std::stoi(v);
    else if (k == "--sync-runs") opt.sync_runs = std::max(1, std::stoi(v));
    else if (k == "--only") opt.only = v;
    else {
      std::cerr << "unknown flag " << k << "\n";
      return 2;
    }
  }
  if (opt.agent.empty() || opt.tag.empty() || opt.work.empty()) {
    std::cerr << "usage: knet-node-bench --agent PATH --tag TAG --work DIR [--sizes 100,1000,5000] [--changes 200]\n"
                 "       [--agents 50] [--agent-changes 100] [--idle 60] [--sync-runs 5] [--only sync,change,steady,cluster]\n";
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int rc = 0;
  try {
    orig_ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    std::string ul = add_ns("ul");
    must("ip -n " + ul + " link add br0 type bridge && ip -n " + ul + " link set br0 up && ip -n " + ul +
         " addr add " + kEtcdIp + "/15 dev br0");
    // This process (and what it starts) lives in the underlay from here on.
    int fd = ns_fd(ul);
    if (::setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("setns underlay");
    ::close(fd);
    home_ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    must("mkdir -p " + opt.work + "/etcd");
    pid_t etcd_pid =
        spawn({"/usr/bin/etcd", "--name", "b", "--data-dir", opt.work + "/etcd/data", "--listen-client-urls",
               kEndpoint, "--advertise-client-urls", kEndpoint, "--listen-peer-urls", "http://127.0.0.1:2380",
               "--initial-advertise-peer-urls", "http://127.0.0.1:2380", "--initial-cluster",
               "b=http://127.0.0.1:2380", "--logger", "zap", "--log-outputs", "stderr"},
              {"PATH=/usr/bin:/bin"}, ul, opt.work + "/etcd/etcd.log");
    etcd::Client c(client_config());
    for (int i = 0;; ++i) {
      try {
        c.put({.key = kPrefix + "/config", .value = kConfig});
        break;
      } catch (const std::exception& e) {
        if (i > 100) throw std::runtime_error(std::string("etcd did not come up: ") + e.what());
        std::this_thread::sleep_for(milliseconds(200));
      }
    }
    std::fprintf(stderr, "etcd %d up on %s\n", etcd_pid, kEndpoint.c_str());
    int64_t change_lease = c.lease_grant(3600).id;
    WatchLog wl;
    etcd::Watcher watcher(client_config(), etcd::WatchRequest::prefix(kPrefix + "/subnets/"),
                          [&wl](const etcd::WatchUpdate& u) {
                            if (u.kind != etcd::WatchUpdate::Kind::kEvents) return;
                            auto now = Clock::now();
                            std::lock_guard<std::mutex> l(wl.mu);
                            for (const auto& e : u.events)
                              (e.type == etcd::Event::Type::kDelete ? wl.del : wl.put)[e.kv.key] = now;
                          });
    KernelWatch kw;
    if (wanted("sync") || wanted("change") || wanted("steady")) one_node(kw, wl, change_lease);
    if (wanted("cluster")) cluster(kw, wl, change_lease);
    watcher.stop();
    std::cout << "| figure | N | value | target | |\n|---|---|---|---|---|\n";
    for (auto& r : table) std::cout << r << "\n";
    std::ofstream rawf(opt.work + "/raw.csv");
    rawf << "figure,N,ms\n";
    for (auto& r : raw) rawf << r << "\n";
  } catch (const std::exception& e) {
    std::cerr << "knet-node-bench: " << e.what() << "\n";
    rc = 1;
  }
  cleanup();
  return rc;
}
