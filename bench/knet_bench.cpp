// knet-bench: runs knet's plugins and the reference plugins side by side,
// alternating A/B inside sandbox namespaces, and prints a markdown table.
// Nothing runs in the machine's own network namespace: the benchmark enters a
// sandbox "host" namespace first, and every container is a namespace of its own.
//
// Usage: knet-bench --knet DIR --ref DIR [--runs N] [--only NAME,...] [--raw FILE]

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cni/error.h"
#include "cni/exec.h"
#include "cni/skel.h"
#include "cni/json.h"
#include "base/owner.h"
#include "nlw/addr.h"
#include "nlw/link.h"
#include "nlw/neigh.h"
#include "nlw/netns.h"
#include "nlw/route.h"
#include "nlw/socket.h"
#include "overlay.h"
#include "shell.h"

namespace fs = std::filesystem;
using cni::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string knet_dir, ref_dir, raw_file;
  int runs = 30;
  std::set<std::string> only;
};
Options opt;
std::string tag;                 // unique prefix for namespaces
std::vector<std::string> made;   // namespaces to remove at exit
std::ofstream raw;
int orig_ns = -1;

using bench::sh;
using bench::sh_out;

std::string add_ns(const std::string& role) {
  std::string name = tag + "-" + role;
  if (sh("ip netns add " + name + " && ip -n " + name + " link set lo up") != 0)
    throw std::runtime_error("cannot create namespace " + name);
  made.push_back(name);
  return name;
}

void del_ns(const std::string& name) {
  // Never signal ourselves: this process lives in the sandbox.
  bench::kill_and_delete_netns(name);
  made.erase(std::remove(made.begin(), made.end(), name), made.end());
}

// The kernel tears a deleted network namespace down in a work item
// (cleanup_net) tens of ms after `ip netns del`, with rcu_barrier() calls;
// every RTM_DELLINK ends in an rcu_barrier() of its own, and they all queue
// on one mutex. Deleting each run's namespace right after its DEL made the
// next run's DEL wait for that teardown, and the more so the sooner its ADD
// and CHECK were done, i.e. the faster implementation paid (traced on 6.18,
// see bench/results.md "Reading the DEL rows"). So the groups that time DELs
// retire their runs' namespaces and delete them when the group is done, then
// let the kernel finish (settle) before anything else is timed.
std::vector<std::string> retired;

void settle() { std::this_thread::sleep_for(std::chrono::seconds(1)); }

void retire_ns(const std::string& name) { retired.push_back(name); }

void delete_retired() {
  for (const auto& ns : retired) del_ns(ns);
  retired.clear();
  settle();
}

void cleanup() {
  // Leave the sandbox before removing it, or `ip netns del` of it misbehaves.
  if (orig_ns >= 0) ::setns(orig_ns, CLONE_NEWNET);
  auto copy = made;
  for (auto it = copy.rbegin(); it != copy.rend(); ++it) del_ns(*it);
}

struct Stats {
  double p50 = 0, p95 = 0;
  size_t n = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  s.p50 = v[v.size() / 2];
  s.p95 = v[std::min(v.size() - 1, (v.size() * 95) / 100)];
  return s;
}

// One plugin invocation, as a runtime makes it.
struct Call {
  std::string dir, type, cmd, netns, cid, ifname = "eth0", args;
  json conf;
};

struct Outcome {
  double ms = 0;
  long rss_kb = 0;
  json out;
  int status = 0;
  std::string err;
};

Outcome run(const Call& c) {
  std::vector<std::string> env = {"CNI_COMMAND=" + c.cmd, "CNI_CONTAINERID=" + c.cid,
                                  "CNI_NETNS=" + (c.netns.empty() ? "" : "/var/run/netns/" + c.netns),
                                  "CNI_IFNAME=" + c.ifname, "CNI_PATH=" + c.dir,
                                  "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  if (!c.args.empty()) env.push_back("CNI_ARGS=" + c.args);
  std::string in = c.conf.dump();
  auto t0 = Clock::now();
  knet::ExecOutput o = knet::exec_binary(c.dir + "/" + c.type, env, in);
  Outcome r;
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  r.rss_kb = o.max_rss_kb;
  r.status = o.status;
  r.out = json::parse(o.out, nullptr, false);
  r.err = o.out + o.err;
  return r;
}

struct Impl {
  std::string label, dir;
};

// A figure measured for both implementations.
struct Row {
  std::string figure, unit;
  Stats knet, ref;
  bool higher_is_better = false;
};
std::vector<Row> rows;

void record(const std::string& figure, const std::string& impl, const std::vector<double>& v) {
  for (double x : v) raw << figure << "," << impl << "," << x << "\n";
}

void add_row(const std::string& figure, const std::string& unit, const std::vector<double>& k,
             const std::vector<double>& r, bool higher_is_better = false) {
  record(figure, "knet", k);
  record(figure, "ref", r);
  rows.push_back({figure, unit, stats(k), stats(r), higher_is_better});
  const Row& row = rows.back();
  std::fprintf(stderr, "  %-48s knet p50 %9.2f  ref p50 %9.2f %s\n", figure.c_str(), row.knet.p50, row.ref.p50,
               unit.c_str());
}

json bridge_conf(const std::string& name, const std::string& datadir, bool masq, const std::string& subnet) {
  return json{{"cniVersion", "1.0.0"},
              {"name", name},
              {"type", "bridge"},
              {"bridge", "kb-" + name.substr(0, 10)},
              {"isGateway", true},
              {"ipMasq", masq},
              {"ipam", {{"type", "host-local"}, {"dataDir", datadir}, {"ranges", {{{{"subnet", subnet}}}}}}}};
}

json bandwidth_conf(const std::string& name, const json& prev, uint64_t rate) {
  return json{{"cniVersion", "1.0.0"},  {"name", name},          {"type", "bandwidth"},
              {"ingressRate", rate},    {"ingressBurst", rate / 50}, {"egressRate", rate},
              {"egressBurst", rate / 50}, {"prevResult", prev}};
}

bool wanted(const std::string& name) { return opt.only.empty() || opt.only.count(name); }

void check_ok(const Outcome& o, const std::string& what) {
  if (o.status != 0) throw std::runtime_error(what + " failed: " + o.err.substr(0, 400));
}

// ADD, CHECK and DEL of bridge+host-local (+bandwidth), by direct exec.
void bench_bridge_chain(bool with_bw, bool masq) {
  std::string label = std::string("bridge+host-local") + (with_bw ? "+bandwidth" : "") + (masq ? " ipMasq" : "");
  std::map<std::string, std::vector<double>> add, check, del, bw_del;
  Impl impls[2] = {{"knet", opt.knet_dir}, {"ref", opt.ref_dir}};
  std::string datadir = "/tmp/" + tag + "-ipam";
  settle();  // what earlier groups deleted
  for (int i = 0; i < opt.runs; ++i) {
    for (int k = 0; k < 2; ++k) {
      const Impl& im = impls[(i + k) % 2];
      std::string ns = add_ns("c" + std::to_string(2 * i + k));
      std::string cid = "bench" + std::to_string(i) + im.label;
      json bc = bridge_conf("bench-" + im.label, datadir, masq, im.label == "knet" ? "10.77.0.0/16" : "10.78.0.0/16");
      Call c{im.dir, "bridge", "ADD", ns, cid, "eth0", "", bc};
      Outcome a = run(c);
      check_ok(a, im.label + " bridge ADD");
      double t_add = a.ms, t_check = 0, t_del = 0;
      json prev = a.out;
      if (with_bw) {
        Call b{im.dir, "bandwidth", "ADD", ns, cid, "eth0", "", bandwidth_conf(bc["name"], prev, 100000000)};
        Outcome ba = run(b);
        check_ok(ba, im.label + " bandwidth ADD");
        t_add += ba.ms;
        b.cmd = "CHECK";
        Outcome bc2 = run(b);
        check_ok(bc2, im.label + " bandwidth CHECK");
        t_check += bc2.ms;
      }
      json withprev = bc;
      withprev["prevResult"] = prev;
      Call chk{im.dir, "bridge", "CHECK", ns, cid, "eth0", "", withprev};
      Outcome co = run(chk);
      check_ok(co, im.label + " bridge CHECK");
      t_check += co.ms;
      if (with_bw) {
        Call b{im.dir, "bandwidth", "DEL", ns, cid, "eth0", "", bandwidth_conf(bc["name"], prev, 100000000)};
        Outcome bd = run(b);
        check_ok(bd, im.label + " bandwidth DEL");
        t_del += bd.ms;
        bw_del[im.label].push_back(bd.ms);
      }
      chk.cmd = "DEL";
      Outcome d = run(chk);
      check_ok(d, im.label + " bridge DEL");
      t_del += d.ms;
      add[im.label].push_back(t_add);
      check[im.label].push_back(t_check);
      del[im.label].push_back(t_del);
      retire_ns(ns);
    }
  }
  delete_retired();
  add_row("ADD " + label, "ms", add["knet"], add["ref"]);
  add_row("CHECK " + label, "ms", check["knet"], check["ref"]);
  add_row("DEL " + label, "ms", del["knet"], del["ref"]);
  // Where a chain DEL's time goes: the bandwidth plugin's own part of it.
  if (with_bw) add_row("  of which bandwidth DEL", "ms", bw_del["knet"], bw_del["ref"]);
  sh("rm -rf " + datadir);
}

// What the log costs an exec (knet only: the right-hand columns hold the same
// plugin without a log): a loopback ADD and a bridge+host-local ADD with
// `logFile` at info against none, alternating, and a VERSION exec (no config
// read, so no log code runs) as the exec floor.
void bench_log() {
  std::string dir = "/tmp/" + tag + "-log";
  sh("mkdir -p " + dir);
  std::map<std::string, std::vector<double>> lo, br, version;
  for (int i = 0; i < opt.runs; ++i) {
    for (int k = 0; k < 2; ++k) {
      bool logged = (i + k) % 2 == 0;
      std::string which = logged ? "log" : "none";
      std::string ns = add_ns("c");
      std::string cid = "benchlog" + std::to_string(i) + which;
      json lc = {{"cniVersion", "1.0.0"}, {"name", "bench-log"}, {"type", "loopback"}};
      json bc = bridge_conf("bench-log", dir + "/ipam", false, "10.79.0.0/16");
      if (logged) lc["logFile"] = bc["logFile"] = dir + "/knet.log";
      Call l{opt.knet_dir, "loopback", "ADD", ns, cid, "lo", "", lc};
      Outcome a = run(l);
      check_ok(a, "loopback ADD");
      lo[which].push_back(a.ms);
      Call b{opt.knet_dir, "bridge", "ADD", ns, cid, "eth0", "", bc};
      Outcome ba = run(b);
      check_ok(ba, "bridge ADD");
      br[which].push_back(ba.ms);
      b.cmd = "DEL";
      check_ok(run(b), "bridge DEL");
      Call v{opt.knet_dir, "loopback", "VERSION", "", cid, "lo", "", json::object()};
      version[which].push_back(run(v).ms);
      del_ns(ns);
    }
  }
  add_row("log: loopback ADD with logFile at info (right: no log)", "ms", lo["log"], lo["none"]);
  add_row("log: bridge+host-local ADD with logFile at info (right: no log)", "ms", br["log"], br["none"]);
  add_row("log: knet VERSION exec, the exec floor (both columns)", "ms", version["log"], version["none"]);
  // The log's own cost, free of exec noise: the skeleton run in-process on a
  // no-op ADD, 1000 calls per sample, with and without logFile (µs per call).
  cni::Plugin noop{"", [](const cni::Env&, const cni::NetConf&) {
                     cni::Result r;
                     r.ips.push_back({*knet::IPNet::parse("10.79.0.2/16"), std::nullopt, std::nullopt});
                     return r;
                   }, nullptr, nullptr, nullptr, nullptr};
  std::map<std::string, std::vector<double>> inproc;
  for (int i = 0; i < opt.runs; ++i) {
    for (int k = 0; k < 2; ++k) {
      bool logged = (i + k) % 2 == 0;
      json conf = {{"cniVersion", "1.0.0"}, {"name", "bench-log"}, {"type", "noop"}};
      if (logged) conf["logFile"] = dir + "/inproc.log";
      std::string in = conf.dump();
      auto env = [](const char* key) -> const char* {
        std::string_view k(key);
        if (k == "CNI_COMMAND") return "ADD";
        if (k == "CNI_CONTAINERID") return "benchlog";
        if (k == "CNI_NETNS") return "/var/run/netns/none";
        if (k == "CNI_IFNAME") return "eth0";
        if (k == "CNI_PATH") return "/nonexistent";
        if (k == "KNET_LOG_CONFIG") return "/nonexistent/log.json";
        return nullptr;
      };
      auto t0 = Clock::now();
      for (int n = 0; n < 1000; ++n) {
        std::string out, err;
        cni::run_plugin(noop, env, [&] { return in; }, out, err);
      }
      inproc[logged ? "log" : "none"].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / 1000);
    }
  }
  add_row("log: skeleton in-process, no-op ADD, logFile at info (right: no log), per call", "us", inproc["log"], inproc["none"]);
  sh("rm -rf " + dir);
}

// ADD, CHECK and DEL of macvlan+host-local by direct exec, on a veth end
// standing in for the NIC.
void bench_macvlan_chain() {
  std::map<std::string, std::vector<double>> add, check, del;
  Impl impls[2] = {{"knet", opt.knet_dir}, {"ref", opt.ref_dir}};
  std::string datadir = "/tmp/" + tag + "-ipam-mv";
  sh("ip link add kbm-nic type veth peer name kbm-nicp && ip link set kbm-nic up && ip link set kbm-nicp up");
  settle();  // what earlier groups deleted
  for (int i = 0; i < opt.runs; ++i) {
    for (int k = 0; k < 2; ++k) {
      const Impl& im = impls[(i + k) % 2];
      std::string ns = add_ns("c" + std::to_string(2 * i + k));
      std::string cid = "benchmv" + std::to_string(i) + im.label;
      json conf = {{"cniVersion", "1.0.0"},
                   {"name", "benchmv-" + im.label},
                   {"type", "macvlan"},
                   {"master", "kbm-nic"},
                   {"ipam",
                    {{"type", "host-local"},
                     {"dataDir", datadir},
                     {"ranges", {{{{"subnet", im.label == "knet" ? "10.83.0.0/16" : "10.84.0.0/16"}}}}}}}};
      Call c{im.dir, "macvlan", "ADD", ns, cid, "eth0", "", conf};
      Outcome a = run(c);
      check_ok(a, im.label + " macvlan ADD");
      conf["prevResult"] = a.out;
      Call chk{im.dir, "macvlan", "CHECK", ns, cid, "eth0", "", conf};
      Outcome co = run(chk);
      check_ok(co, im.label + " macvlan CHECK");
      chk.cmd = "DEL";
      Outcome d = run(chk);
      check_ok(d, im.label + " macvlan DEL");
      add[im.label].push_back(a.ms);
      check[im.label].push_back(co.ms);
      del[im.label].push_back(d.ms);
      retire_ns(ns);
    }
  }
  delete_retired();
  add_row("ADD macvlan+host-local", "ms", add["knet"], add["ref"]);
  add_row("CHECK macvlan+host-local", "ms", check["knet"], check["ref"]);
  add_row("DEL macvlan+host-local", "ms", del["knet"], del["ref"]);
  sh("ip link del kbm-nic; rm -rf " + datadir);
}

// A network configuration list written to a file, for runtimes that read one.
std::string write_conflist(const std::string& name, const json& plugins) {
  std::string file = "/tmp/" + tag + "-" + name + ".conflist";
  std::ofstream(file) << json{{"cniVersion", "1.0.0"}, {"name", name}, {"plugins", plugins}}.dump(2);
  return file;
}

// One verb of a chain through a runtime: the Go libcni timer (returns the time
// libcni itself took) or knet's cnitool (returns the whole process's time).
double runtime_verb(const Impl& im, bool libcni, const std::string& verb, const std::string& netconf,
                    const std::string& ns, const std::string& cid, const std::string& cache) {
  std::string netns = "/var/run/netns/" + ns;
  std::vector<std::string> env = {"CNI_PATH=" + im.dir, "CNI_CACHE_DIR=" + cache,
                                  "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<std::string> argv;
  if (libcni) {
#ifdef KNET_LIBCNI_TIMER
    argv = {KNET_LIBCNI_TIMER, verb, netconf, netns, cid, "eth0"};
#endif
  } else {
    // cnitool reads NETCONFPATH (a directory) and takes the network's name.
    fs::path f(netconf);
    env.push_back("NETCONFPATH=" + f.parent_path().string());
    env.push_back("CNI_CONTAINERID=" + cid);
    argv = {opt.knet_dir + "/cnitool", verb, f.stem().string(), netns};
  }
  auto t0 = Clock::now();
  knet::ExecOutput o = knet::exec_argv(argv, env, "");
  double wall = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (o.status != 0)
    throw std::runtime_error(im.label + " " + verb + " through " + (libcni ? "libcni" : "cnitool") +
                             " failed: " + (o.out + o.err).substr(0, 400));
  return libcni ? std::atof(o.out.c_str()) : wall;
}

// ADD, CHECK and DEL of whole chains as a runtime runs them: inside the Go
// libcni (the time libcni reports, as containerd/CRI-O/podman see it) and
// through knet's cnitool driving either implementation's plugins.
void bench_runtime_chains() {
  Impl impls[2] = {{"knet", opt.knet_dir}, {"ref", opt.ref_dir}};
  std::string datadir = "/tmp/" + tag + "-ipam-rt";
  // macvlan needs a master: a veth end in the sandbox host namespace.
  sh("ip link add kbm-master type veth peer name kbm-peer && ip link set kbm-master up && ip link set kbm-peer up");
  json ipam = {{"type", "host-local"}, {"dataDir", datadir}, {"ranges", {{{{"subnet", "10.81.0.0/16"}}}}}};
  json bridge = {{"type", "bridge"}, {"bridge", "kb-rt"}, {"isGateway", true}, {"ipam", ipam}};
  json bw = {{"type", "bandwidth"}, {"ingressRate", 100000000}, {"ingressBurst", 2000000},
             {"egressRate", 100000000}, {"egressBurst", 2000000}};
  json mv = {{"type", "macvlan"}, {"master", "kbm-master"}, {"ipam", ipam}};
  mv["ipam"]["ranges"] = json::array({json::array({{{"subnet", "10.82.0.0/16"}}})});
  struct Chain {
    std::string label, name;
    json plugins;
    bool libcni;
  };
  std::vector<Chain> chains;
  for (bool libcni : {true, false}) {
#ifndef KNET_LIBCNI_TIMER
    if (libcni) continue;
#endif
    std::string via = libcni ? "in Go libcni" : "via knet cnitool";
    chains.push_back({"bridge+host-local " + via, "rt-br", json::array({bridge}), libcni});
    chains.push_back({"bridge+host-local+bandwidth " + via, "rt-brbw", json::array({bridge, bw}), libcni});
    if (libcni) chains.push_back({"macvlan+host-local " + via, "rt-mv", json::array({mv}), libcni});
  }
  for (const Chain& ch : chains) {
    std::map<std::string, std::vector<double>> add, check, del;
    std::string netconf = write_conflist(ch.name, ch.plugins);
    // cnitool wants a directory holding only this network's file.
    std::string dir = "/tmp/" + tag + "-netconf-" + ch.name;
    fs::create_directories(dir);
    fs::copy_file(netconf, dir + "/" + ch.name + ".conflist", fs::copy_options::overwrite_existing);
    std::string file = ch.libcni ? netconf : dir + "/" + ch.name + ".conflist";
    std::string cache = "/tmp/" + tag + "-cache";
    settle();  // what earlier groups deleted
    for (int i = 0; i < opt.runs; ++i) {
      for (int k = 0; k < 2; ++k) {
        const Impl& im = impls[(i + k) % 2];
        std::string ns = add_ns("rt" + std::to_string(2 * i + k));
        std::string cid = "rt" + std::to_string(i) + im.label;
        add[im.label].push_back(runtime_verb(im, ch.libcni, "add", file, ns, cid, cache));
        check[im.label].push_back(runtime_verb(im, ch.libcni, "check", file, ns, cid, cache));
        del[im.label].push_back(runtime_verb(im, ch.libcni, "del", file, ns, cid, cache));
        retire_ns(ns);
      }
    }
    delete_retired();
    add_row("ADD " + ch.label, "ms", add["knet"], add["ref"]);
    add_row("CHECK " + ch.label, "ms", check["knet"], check["ref"]);
    add_row("DEL " + ch.label, "ms", del["knet"], del["ref"]);
    sh("rm -rf " + dir + " " + netconf + " " + cache);
  }
  sh("ip link del kbm-master 2>/dev/null; rm -rf " + datadir);
}

// The kernel floor: the netlink operations of a bridge ADD and DEL (veth with
// its peer in the container, attach to the bridge, addresses, routes, links up)
// done in this process with no JSON, no exec and no IPAM. Reported next to
// both implementations' DEL/ADD so the table shows what the kernel costs.
void bench_kernel_floor() {
  std::vector<double> add, del;
  nlw::Socket host = nlw::Socket::current();
  std::string br = "kb-floor";
  auto bridge = nlw::find_link(host, br);
  if (!bridge) {
    bridge = nlw::create_bridge(host, br);
    nlw::add_address(host, bridge->index, *knet::IPNet::parse("10.76.0.1/16"));
    nlw::set_up(host, bridge->index);
  }
  for (int i = 0; i < opt.runs; ++i) {
    std::string ns = add_ns("f" + std::to_string(i));
    auto t0 = Clock::now();
    nlw::NetNS cns = nlw::NetNS::open("/var/run/netns/" + ns);
    nlw::Socket csock = nlw::Socket::in(cns);
    std::string hname = knet::owner_ifname("veth", {"floor", std::to_string(i), "eth0"});
    nlw::VethOptions vo;
    vo.alias = knet::owner_tag({"floor", std::to_string(i), "eth0"});
    auto veth = nlw::create_veth(host, hname, "eth0", cns, vo);
    nlw::set_master(host, veth.index, bridge->index);
    nlw::set_up(host, veth.index);
    auto c = nlw::get_link(csock, "eth0");
    knet::IP ip = knet::IP::parse("10.76.1.0")->add(i + 2);
    nlw::add_address(csock, c.index, knet::IPNet{ip, 16});
    nlw::set_up(csock, c.index);
    nlw::RouteSpec r;
    r.dst = *knet::IPNet::parse("0.0.0.0/0");
    r.gw = knet::IP::parse("10.76.0.1");
    r.oif = c.index;
    nlw::add_route(csock, r);
    add.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    auto t1 = Clock::now();
    nlw::delete_link_if_exists(csock, "eth0");
    del.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
    retire_ns(ns);
  }
  delete_retired();
  nlw::delete_link_if_exists(host, br);
  record("kernel floor ADD", "floor", add);
  record("kernel floor DEL", "floor", del);
  rows.push_back({"kernel floor: bridge ADD netlink ops, one process", "ms", stats(add), stats(add), false});
  rows.push_back({"kernel floor: bridge DEL netlink ops, one process", "ms", stats(del), stats(del), false});
  std::fprintf(stderr, "  kernel floor ADD p50 %.2f ms, DEL p50 %.2f ms\n", stats(add).p50, stats(del).p50);
}

void bench_rss_and_size() {
  std::map<std::string, std::vector<double>> rss;
  Impl impls[2] = {{"knet", opt.knet_dir}, {"ref", opt.ref_dir}};
  std::string datadir = "/tmp/" + tag + "-ipam-rss";
  for (int i = 0; i < std::min(opt.runs, 10); ++i) {
    for (const Impl& im : impls) {
      std::string ns = add_ns("r");
      json bc = bridge_conf("rss-" + im.label, datadir, false, "10.79.0.0/16");
      Call c{im.dir, "bridge", "ADD", ns, "rss" + std::to_string(i), "eth0", "", bc};
      Outcome a = run(c);
      check_ok(a, im.label + " bridge ADD");
      rss[im.label].push_back(a.rss_kb / 1024.0);
      bc["prevResult"] = a.out;
      c.cmd = "DEL";
      c.conf = bc;
      run(c);
      del_ns(ns);
    }
  }
  add_row("peak RSS of one bridge ADD", "MB", rss["knet"], rss["ref"]);
  sh("rm -rf " + datadir);
  for (const Impl& im : impls) {
    double total = 0;
    std::set<std::pair<dev_t, ino_t>> seen;  // hard links count once
    for (const char* p : {"bridge", "host-local", "bandwidth", "macvlan", "vxlan", "loopback"}) {
      struct stat st;
      std::string path = im.dir + "/" + p;
      if (::stat(path.c_str(), &st) == 0 && seen.insert({st.st_dev, st.st_ino}).second) total += st.st_size;
    }
    rss["size-" + im.label].push_back(total / 1e6);
  }
  add_row("size of the plugin binaries on disk", "MB", rss["size-knet"], rss["size-ref"]);
}

// Prefills a host-local store with `held` addresses of 10.60.0.0/16 in the on-disk format.
void prefill(const std::string& dir, int held) {
  fs::create_directories(dir);
  for (int i = 0; i < held; ++i) {
    int a = 2 + i;
    std::string ip = "10.60." + std::to_string(a / 256) + "." + std::to_string(a % 256);
    std::ofstream(dir + "/" + ip) << "prefill" << i << "\r\neth0";
  }
}

void bench_host_local_scale() {
  for (int held : {0, 1000, 10000, 50000}) {
    std::map<std::string, std::vector<double>> add, del;
    Impl impls[2] = {{"knet", opt.knet_dir}, {"ref", opt.ref_dir}};
    for (const Impl& im : impls) {
      std::string datadir = "/tmp/" + tag + "-scale-" + im.label;
      prefill(datadir + "/scale", held);
      json conf = {{"cniVersion", "1.0.0"},
                   {"name", "scale"},
                   {"type", "host-local"},
                   {"ipam", {{"type", "host-local"}, {"dataDir", datadir}, {"subnet", "10.60.0.0/16"}}}};
      int n = std::max(5, opt.runs / (held >= 10000 ? 3 : 1));
      for (int i = 0; i < n; ++i) {
        // IPAM plugins ignore the namespace, but the skeleton requires CNI_NETNS on ADD.
        Call c{im.dir, "host-local", "ADD", tag + "-host", "scale" + std::to_string(i), "eth0", "", conf};
        Outcome a = run(c);
        check_ok(a, im.label + " host-local ADD");
        add[im.label].push_back(a.ms);
        c.cmd = "DEL";
        Outcome d = run(c);
        check_ok(d, im.label + " host-local DEL");
        del[im.label].push_back(d.ms);
      }
      sh("rm -rf " + datadir);
    }
    add_row("host-local ADD with " + std::to_string(held) + " held", "ms", add["knet"], add["ref"]);
    add_row("host-local DEL with " + std::to_string(held) + " held", "ms", del["knet"], del["ref"]);
  }
}

// `total` bridge+host-local ADDs, `width` at a time; returns ADDs per second and checks for duplicate IPs.
void bench_parallel(int width, int total) {
  std::map<std::string, std::vector<double>> rate;
  Impl impls[2] = {{"knet", opt.knet_dir}, {"ref", opt.ref_dir}};
  for (const Impl& im : impls) {
    std::string datadir = "/tmp/" + tag + "-par-" + im.label;
    std::vector<std::string> nss;
    for (int i = 0; i < total; ++i) nss.push_back(add_ns("p" + std::to_string(i)));
    json bc = bridge_conf("par-" + im.label, datadir, false, "10.61.0.0/16");
    std::vector<Outcome> outs(total);
    auto t0 = Clock::now();
    std::atomic<int> next{0};
    std::vector<std::thread> ts;
    for (int w = 0; w < width; ++w)
      ts.emplace_back([&] {
        for (int i; (i = next++) < total;)
          outs[i] = run(Call{im.dir, "bridge", "ADD", nss[i], "par" + std::to_string(i), "eth0", "", bc});
      });
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::set<std::string> ips;
    int failed = 0;
    for (auto& o : outs) {
      if (o.status != 0) ++failed;
      else ips.insert(o.out["ips"][0]["address"].get<std::string>());
    }
    if (failed || static_cast<int>(ips.size()) != total)
      std::fprintf(stderr, "  %s: %d failed ADDs, %zu distinct IPs of %d\n", im.label.c_str(), failed, ips.size(), total);
    rate[im.label].push_back(total / secs);
    for (int i = 0; i < total; ++i) {
      json d = bc;
      if (outs[i].status == 0) d["prevResult"] = outs[i].out;
      run(Call{im.dir, "bridge", "DEL", nss[i], "par" + std::to_string(i), "eth0", "", d});
      del_ns(nss[i]);
    }
    sh("rm -rf " + datadir);
  }
  add_row(std::to_string(width) + "-way parallel bridge ADD, " + std::to_string(total) + " total", "ADD/s",
          rate["knet"], rate["ref"], true);
}

// A container on bridge+host-local+bandwidth with the given bandwidth config
// keys (merged into the bandwidth plugin's config); removed by the destructor.
struct ShapedContainer {
  Impl im;
  std::string ns, cid, datadir, net;
  json bconf, bwconf, prev;
  ShapedContainer(const Impl& i, const json& bw_keys, int n) : im(i) {
    ns = add_ns("bw" + std::to_string(n));
    cid = "bw" + std::to_string(n);
    datadir = "/tmp/" + tag + "-bw-" + im.label;
    net = im.label == "knet" ? "10.62.0" : "10.63.0";
    bconf = bridge_conf("bw-" + im.label, datadir, false, net + ".0/24");
    Outcome a = run(Call{im.dir, "bridge", "ADD", ns, cid, "eth0", "", bconf});
    check_ok(a, im.label + " bridge ADD");
    prev = a.out;
    bwconf = json{{"cniVersion", "1.0.0"}, {"name", bconf["name"]}, {"type", "bandwidth"}, {"prevResult", prev}};
    for (auto& [k, v] : bw_keys.items()) bwconf[k] = v;
    Outcome b = run(Call{im.dir, "bandwidth", "ADD", ns, cid, "eth0", "", bwconf});
    check_ok(b, im.label + " bandwidth ADD");
  }
  ~ShapedContainer() {
    run(Call{im.dir, "bandwidth", "DEL", ns, cid, "eth0", "", bwconf});
    json d = bconf;
    d["prevResult"] = prev;
    run(Call{im.dir, "bridge", "DEL", ns, cid, "eth0", "", d});
    del_ns(ns);
    sh("rm -rf " + datadir);
  }
  std::string gateway() const { return net + ".1"; }
  // iperf3 between the container and the sandbox host; `reverse` measures what the container receives.
  json iperf(bool reverse, double secs, const std::string& extra = "") const {
    sh("timeout " + std::to_string(int(secs) + 10) + " iperf3 -s -1 -p 5301 >/dev/null 2>&1 &");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::string out = sh_out("ip netns exec " + ns + " timeout " + std::to_string(int(secs) + 10) + " iperf3 -c " +
                             gateway() + " -p 5301 -J -t " + std::to_string(secs) + (reverse ? " -R" : "") + " " + extra);
    sh("pkill -f 'iperf3 -s -1 -p 5301' 2>/dev/null");
    return json::parse(out, nullptr, false);
  }
};

double received_bps(const json& j) {
  if (j.is_discarded() || !j.contains("end")) return 0;
  const json& e = j["end"];
  if (e.contains("sum_received")) return e["sum_received"].value("bits_per_second", 0.0);
  return e.contains("sum") ? e["sum"].value("bits_per_second", 0.0) : 0;
}

// Shaping accuracy, both directions; the first second with the burst CRI
// sends; UDP loss at the configured rate; ping latency through a saturated link.
void bench_bandwidth() {
  Impl impls[2] = {{"knet", opt.knet_dir}, {"ref", opt.ref_dir}};
  int n = 0;
  for (uint64_t mbit : {1, 10, 100, 1000}) {
    uint64_t rate = mbit * 1000000;
    std::map<std::string, std::vector<double>> in, out;
    for (const Impl& im : impls) {
      // The burst the reference docs suggest for a rate: enough for ~20 ms, at least 64 KiB.
      uint64_t burst = std::max<uint64_t>(rate / 50, 64 * 1024 * 8);
      ShapedContainer c(im, {{"ingressRate", rate}, {"ingressBurst", burst}, {"egressRate", rate}, {"egressBurst", burst}}, n++);
      double secs = mbit <= 1 ? 5 : 4;
      in[im.label].push_back(received_bps(c.iperf(true, secs)) / rate);
      out[im.label].push_back(received_bps(c.iperf(false, secs)) / rate);
    }
    add_row("TCP goodput/rate into the container at " + std::to_string(mbit) + " Mbit/s", "ratio", in["knet"], in["ref"]);
    add_row("TCP goodput/rate out of the container at " + std::to_string(mbit) + " Mbit/s", "ratio", out["knet"], out["ref"]);
  }
  {
    // containerd's CRI: capitalised keys, burst 4294967295 bits when the pod sets only a rate.
    uint64_t rate = 10000000;
    std::map<std::string, std::vector<double>> first, udp, rtt;
    for (const Impl& im : impls) {
      json rc = {{"bandwidth", {{"IngressRate", rate}, {"IngressBurst", 4294967295ull}, {"EgressRate", rate}, {"EgressBurst", 4294967295ull}}}};
      ShapedContainer c(im, {{"runtimeConfig", rc}}, n++);
      json j = c.iperf(true, 3, "-i 1");
      double f = 0;
      if (!j.is_discarded() && j.contains("intervals") && !j["intervals"].empty())
        f = j["intervals"][0]["sum"].value("bits_per_second", 0.0) / rate;
      first[im.label].push_back(f);
      json u = c.iperf(false, 3, "-u -b " + std::to_string(rate));
      double loss = 0;
      if (!u.is_discarded() && u.contains("end")) loss = u["end"]["sum"].value("lost_percent", 0.0);
      udp[im.label].push_back(loss);
      // Ping the container from the host while a TCP stream fills its shaped ingress.
      sh("timeout 12 iperf3 -s -1 -p 5302 >/dev/null 2>&1 &");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      sh("ip netns exec " + c.ns + " timeout 10 iperf3 -c " + c.gateway() + " -p 5302 -R -t 5 >/dev/null 2>&1 &");
      std::this_thread::sleep_for(std::chrono::seconds(1));
      std::string ip = c.prev["ips"][0]["address"].get<std::string>();
      ip = ip.substr(0, ip.find('/'));
      std::string p = sh_out("ping -c 10 -i 0.2 -W 1 " + ip + " | tail -1");
      auto slash = p.find('/', p.find('='));
      rtt[im.label].push_back(slash == std::string::npos ? 0 : std::atof(p.substr(slash + 1).c_str()));
      std::this_thread::sleep_for(std::chrono::seconds(3));
      sh("pkill -f 'iperf3 -s -1 -p 5302' 2>/dev/null");
    }
    add_row("first second at 10 Mbit/s with CRI burst 4294967295 / rate", "ratio", first["knet"], first["ref"]);
    add_row("UDP loss sending at the 10 Mbit/s egress rate", "%", udp["knet"], udp["ref"]);
    add_row("ping RTT through a saturated 10 Mbit/s shaped ingress", "ms", rtt["knet"], rtt["ref"]);
  }
}

// ---- vxlan (knet's own plugin: there is no reference to compare with, so
// the right-hand columns of these rows hold knet's baseline named in the figure).

// The i-th of `n` distinct IPv4 addresses in 198.18.0.0/15 (benchmark range).
std::string bench_peer(int i) {
  return "198." + std::to_string(18 + i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
         std::to_string(i % 256);
}

// The i-th of `n` node subnets (/24s from 10.100.0.0 on).
std::string bench_subnet(int i) {
  return "10." + std::to_string(100 + i / 256) + "." + std::to_string(i % 256) + ".0/24";
}

// A peersFile listing this node (192.0.2.1; in l3 with subnet 10.99.0.0/24)
// and `n` others: "peers" for l2, "nodes" for l3.
std::string write_peers_file(int n, bool l3 = false) {
  std::string path = "/tmp/" + tag + "-peers-" + std::to_string(n) + (l3 ? "-l3" : "") + ".json";
  json list = json::array();
  if (l3) {
    list.push_back({{"vtep", "192.0.2.1"}, {"subnet", "10.99.0.0/24"}});
    for (int i = 0; i < n; ++i) list.push_back({{"vtep", bench_peer(i)}, {"subnet", bench_subnet(i)}});
  } else {
    list.push_back("192.0.2.1");
    for (int i = 0; i < n; ++i) list.push_back(bench_peer(i));
  }
  std::ofstream(path) << json{{l3 ? "nodes" : "peers", list}}.dump();
  return path;
}

json vxlan_conf(const std::string& version, const std::string& peers_file, const std::string& datadir) {
  bool l3 = peers_file.find("-l3") != std::string::npos;
  json ipam = {{"type", "host-local"}, {"dataDir", datadir}};
  if (!l3) ipam["subnet"] = "10.98.0.0/16";  // l3: this node's subnet from the membership
  return json{{"cniVersion", version},
              {"name", "vxbench"},
              {"type", "vxlan"},
              {"mode", l3 ? "l3" : "l2"},
              {"vni", 77},
              {"underlay", "kb-ul0"},
              {"peersFile", peers_file},
              {"ipam", ipam}};
}

// The network's GC with no valid attachment: removes the device and bridge.
void vxlan_gc(const std::string& peers_file, const std::string& datadir) {
  json gc = vxlan_conf("1.1.0", peers_file, datadir);
  gc["cni.dev/valid-attachments"] = json::array();
  check_ok(run(Call{opt.knet_dir, "vxlan", "GC", "", "", "eth0", "", gc}), "vxlan GC");
}

// Whole-process ADD times (each followed by an untimed DEL) of `runs`
// containers on a network whose device already reconciled `peers_file`.
std::vector<double> vxlan_adds(const std::string& peers_file, int runs) {
  std::string datadir = "/tmp/" + tag + "-vxipam";
  json conf = vxlan_conf("1.0.0", peers_file, datadir);
  std::vector<double> out;
  for (int i = -1; i < runs; ++i) {  // run -1 creates the device and its entries
    std::string ns = add_ns("vx");
    Call c{opt.knet_dir, "vxlan", "ADD", ns, "vx" + std::to_string(i + 1), "eth0", "", conf};
    Outcome a = run(c);
    check_ok(a, "vxlan ADD");
    if (i >= 0) out.push_back(a.ms);
    c.cmd = "DEL";
    check_ok(run(c), "vxlan DEL");
    del_ns(ns);
  }
  vxlan_gc(peers_file, datadir);
  sh("rm -rf " + datadir);
  return out;
}

// In-process reconcile of a new device with `n` remote members (l2 peers or
// l3 nodes), nothing present yet: what the first ADD on a node, or an agent
// after a restart, pays.
std::vector<double> vxlan_reconcile_from_scratch(knet::vxlan::Mode mode, int n, int runs) {
  namespace vx = knet::vxlan;
  nlw::Socket host = nlw::Socket::current();
  vx::Config cfg;
  cfg.vni = 79;
  cfg.mode = mode;
  vx::View view;
  for (int i = 0; i < n; ++i) {
    knet::IP ip = *knet::IP::parse(bench_peer(i));
    if (mode == vx::Mode::kL2) {
      view.peers.push_back(ip);
    } else {
      view.nodes.push_back({ip, *knet::IPNet::parse(bench_subnet(i))});
    }
  }
  std::vector<double> out;
  for (int r = 0; r < runs; ++r) {
    nlw::LinkInfo dev = nlw::create_vxlan(host, "kb-vx79", {.vni = 79, .local = knet::IP::parse("192.0.2.1")});
    nlw::set_up(host, dev.index);
    auto t0 = Clock::now();
    vx::reconcile(host, dev, cfg, view);
    out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    nlw::delete_link_if_exists(host, "kb-vx79");
  }
  return out;
}

void bench_vxlan_reconcile() {
  int rr = std::min(opt.runs, 10);
  add_row("vxlan l2 reconcile from scratch, 5,000 peers (right: none)", "ms",
          vxlan_reconcile_from_scratch(knet::vxlan::Mode::kL2, 5000, rr),
          vxlan_reconcile_from_scratch(knet::vxlan::Mode::kL2, 0, rr));
  add_row("vxlan l3 reconcile from scratch, 5,000 nodes (right: none)", "ms",
          vxlan_reconcile_from_scratch(knet::vxlan::Mode::kL3, 5000, rr),
          vxlan_reconcile_from_scratch(knet::vxlan::Mode::kL3, 0, rr));
}

void bench_vxlan() {
  // The underlay: a veth end (no dummy driver on every kernel) with this node's address.
  sh("ip link add kb-ul0 type veth peer name kb-ul1 && ip addr add 192.0.2.1/24 dev kb-ul0 && "
     "ip link set kb-ul1 up && ip link set kb-ul0 up");
  std::string none = write_peers_file(0), many = write_peers_file(5000);
  int runs = opt.runs;
  std::vector<double> add0 = vxlan_adds(none, runs), add5k = vxlan_adds(many, runs);
  add_row("vxlan l2 ADD, 5,000 peers (right: no peers)", "ms", add5k, add0);
  std::string l3_none = write_peers_file(0, true), l3_many = write_peers_file(5000, true);
  add_row("vxlan l3 ADD, 5,000 other nodes (right: none)", "ms", vxlan_adds(l3_many, runs),
          vxlan_adds(l3_none, runs));

  bench_vxlan_reconcile();

  // 10,000 all-zeros flood entries on another vxlan device of the node.
  nlw::Socket host = nlw::Socket::current();
  nlw::LinkInfo other =
      nlw::create_vxlan(host, "kb-vx78", {.vni = 78, .local = knet::IP::parse("192.0.2.1")});
  for (int i = 0; i < 10000; ++i) {
    nlw::add_fdb(host, other.index, "00:00:00:00:00:00", knet::IP::parse(bench_peer(i)),
                 {.append = true});
  }
  add_row("vxlan l2 ADD, no peers, 10,000 flood entries on another device (right: none)", "ms",
          vxlan_adds(none, std::min(runs, 5)), add0);
  nlw::delete_link_if_exists(host, "kb-vx78");
  sh("ip link del kb-ul0; rm -f " + none + " " + many + " " + l3_none + " " + l3_many);
}

void print_table(std::ostream& out) {
  out << "| figure | knet p50 | knet p95 | reference p50 | reference p95 | knet/reference |\n";
  out << "|---|---|---|---|---|---|\n";
  char buf[512];
  for (const auto& r : rows) {
    double ratio = r.ref.p50 > 0 ? r.knet.p50 / r.ref.p50 : 0;
    std::snprintf(buf, sizeof buf, "| %s (%s) | %.2f | %.2f | %.2f | %.2f | %.2f× |\n", r.figure.c_str(),
                  r.unit.c_str(), r.knet.p50, r.knet.p95, r.ref.p50, r.ref.p95, ratio);
    out << buf;
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--knet") opt.knet_dir = next();
    else if (a == "--ref") opt.ref_dir = next();
    else if (a == "--runs") opt.runs = std::max(3, std::atoi(next().c_str()));
    else if (a == "--raw") opt.raw_file = next();
    else if (a == "--only") {
      std::stringstream ss(next());
      for (std::string s; std::getline(ss, s, ',');) opt.only.insert(s);
    } else {
      std::cerr << "usage: knet-bench --knet DIR --ref DIR [--runs N] [--only a,b] [--raw FILE]\n";
      return 2;
    }
  }
  if (opt.knet_dir.empty() || opt.ref_dir.empty()) {
    std::cerr << "knet-bench: --knet and --ref are required\n";
    return 2;
  }
  tag = "knet-bench-" + std::to_string(getpid());
  raw.open(opt.raw_file.empty() ? "/dev/null" : opt.raw_file);
  raw << "figure,impl,value\n";
  int rc = 0;
  try {
    // A private mount namespace with its own /run: the plugins' lock files
    // (/run/knet), the namespaces' mounts (/run/netns) and anything else a
    // plugin keeps under /run stay in the bench's own tmpfs, gone with it.
    if (::unshare(CLONE_NEWNS) != 0 || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("knet-bench", "/run", "tmpfs", 0, "mode=0755") != 0) {
      throw std::runtime_error(std::string("cannot make a private /run: ") + std::strerror(errno));
    }
    // Enter the sandbox host namespace for good: every plugin runs there.
    orig_ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    std::string host = add_ns("host");
    int fd = ::open(("/var/run/netns/" + host).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("cannot enter " + host);
    ::close(fd);
    if (wanted("floor")) bench_kernel_floor();
    if (wanted("chain")) {
      bench_bridge_chain(false, false);
      bench_bridge_chain(true, false);
    }
    if (wanted("macvlan")) bench_macvlan_chain();
    if (wanted("log")) bench_log();
    if (wanted("runtime")) bench_runtime_chains();
    if (wanted("masq")) bench_bridge_chain(false, true);
    if (wanted("rss")) bench_rss_and_size();
    if (wanted("scale")) bench_host_local_scale();
    if (wanted("bandwidth")) bench_bandwidth();
    if (wanted("vxlan")) bench_vxlan();
    // The reconcile rows alone (they are part of "vxlan" too): seconds, not minutes.
    if (!wanted("vxlan") && opt.only.count("vxlan-reconcile")) bench_vxlan_reconcile();
    if (wanted("parallel")) {
      bench_parallel(10, 10);
      bench_parallel(20, 100);
      bench_parallel(50, 50);
    }
  } catch (const std::exception& e) {
    std::cerr << "knet-bench: " << e.what() << "\n";
    rc = 1;
  }
  print_table(std::cout);
  cleanup();
  return rc;
}
