#include "node/agent.h"

#include <base/atomic_file.h>
#include <base/error.h>
#include <base/run_lock.h>
#include <etcd/backoff.h>
#include <nlw/socket.h>
#include <overlay.h>  // the vxlan plugin's kernel steps (plugins/vxlan)

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>
#include <thread>
#include <utility>

#include "node/lease.h"
#include "node/log.h"
#include "node/network.h"
#include "node/registry.h"

namespace knet::node {
namespace {

using std::chrono::milliseconds;

int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

etcd::ClientConfig client_config(const Options& o) {
  etcd::ClientConfig c;
  c.endpoints = o.etcd_endpoints;
  c.ca_file = o.etcd_cafile;
  c.cert_file = o.etcd_certfile;
  c.key_file = o.etcd_keyfile;
  // A call must not outlast a third of the lease: the keepalive after it
  // still comes in time.
  auto third = std::chrono::duration_cast<milliseconds>(o.lease_ttl) / 3;
  c.request_timeout = std::min(milliseconds(2000), third);
  c.call_deadline = std::clamp(third, milliseconds(1000), milliseconds(10000));
  c.connect_timeout = std::min(milliseconds(1000), c.request_timeout);
  return c;
}

// The vxlan plugin's config this node's VTEP is made with: the network's
// shape from etcd, the underlay from the flags. A conflist with the same
// vni and port (and no underlay/local contradicting them) reuses the device.
vxlan::Config vxlan_config(const NetworkConfig& net, const Options& o) {
  vxlan::Config c;
  c.vni = net.vni;
  c.port = net.port;
  c.underlay = o.iface;
  c.local = o.public_ip;
  c.mode = net.mode;
  c.bridge = "knetbr" + std::to_string(net.vni);
  c.peers_file = o.peers_file;
  c.learning = net.mode == vxlan::Mode::kL2;
  c.has_ipam = true;
  return c;
}

// This node's subnet in the peersFile a previous run wrote, if any: tried
// first when its lease is gone from etcd, so the node's pods keep their
// addresses' subnet.
std::optional<knet::IPNet> previous_subnet(const vxlan::Config& cfg, const knet::IP& local) {
  if (cfg.mode != vxlan::Mode::kL3 || !std::filesystem::exists(cfg.peers_file)) return std::nullopt;
  try {
    for (const auto& n : vxlan::load_members(cfg).nodes) {
      if (n.vtep == local) return n.subnet;
    }
  } catch (const knet::Error&) {
    // Unreadable: start afresh.
  }
  return std::nullopt;
}

// The nodes (l3) or peers (l2) of a MembershipDelta's side as a View for
// apply_delta.
vxlan::View changed_view(const vxlan::Membership& m) {
  vxlan::View v;
  v.peers = m.peers;
  v.nodes = m.nodes;
  return v;
}

}  // namespace

void log_line(const std::string& msg) {
  std::string line = "knet-node: " + msg + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  log_event(cni::LogLevel::kInfo, "agent", msg);
}

bool Status::lease_held() const {
  int64_t exp = lease_expires_ms.load();
  return exp != 0 && now_ms() < exp;
}

HttpResponse Status::healthz() const {
  bool lease = lease_held(), sync = synced.load();
  if (lease && sync) return {200, "text/plain; charset=utf-8", "ok\n"};
  std::string why;
  if (!lease) why += "subnet lease not held\n";
  if (!sync) why += "last sync failed or none yet\n";
  return {503, "text/plain; charset=utf-8", why};
}

HttpResponse Status::metrics() const {
  int64_t exp = lease_expires_ms.load();
  double ttl_left = exp ? std::max<int64_t>(0, exp - now_ms()) / 1000.0 : 0.0;
  std::string b;
  auto metric = [&](const char* name, const char* type, const char* help, const std::string& v) {
    b += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name +
         " " + v + "\n";
  };
  metric("knet_node_peers", "gauge", "Remote nodes programmed in the kernel.", std::to_string(peers.load()));
  metric("knet_node_synced", "gauge", "1 when the last sync reached the kernel and the peers file.",
         synced.load() ? "1" : "0");
  metric("knet_node_last_sync_timestamp_seconds", "gauge", "Unix time of the last successful sync.",
         std::to_string(last_sync_unix.load()));
  metric("knet_node_syncs_total", "counter", "Successful syncs.", std::to_string(syncs.load()));
  metric("knet_node_sync_errors_total", "counter", "Failed syncs (kernel or file).",
         std::to_string(sync_errors.load()));
  metric("knet_node_store_errors_total", "counter", "Failed etcd calls and broken watch streams.",
         std::to_string(store_errors.load()));
  char ttl[32];
  std::snprintf(ttl, sizeof ttl, "%.3f", ttl_left);
  metric("knet_node_lease_ttl_seconds", "gauge", "Seconds until the subnet lease expires unless renewed.", ttl);
  return {200, "text/plain; version=0.0.4; charset=utf-8", b};
}

Agent::Agent(Options options) : opts_(std::move(options)) {}
Agent::~Agent() = default;

void Agent::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

int Agent::run() {
  // Sleeps `d` unless stop() comes first; true when stopping.
  auto pause = [this](milliseconds d) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, d, [this] { return stopping_.load(); });
  };
  const etcd::ClientConfig ccfg = client_config(opts_);
  std::optional<etcd::Client> client;
  try {
    client.emplace(ccfg);
  } catch (const etcd::Error& e) {
    log_line(e.what());
    return 1;
  }
  // Calls `fn` until it returns, retrying while etcd cannot be reached.
  // False when stopped meanwhile; other errors go to the caller.
  auto with_store = [&](const std::string& what, auto&& fn) {
    etcd::Backoff backoff(ccfg.backoff);
    for (;;) {
      if (stopping_) return false;
      try {
        fn();
        return true;
      } catch (const etcd::Error& e) {
        if (e.cause() == etcd::Cause::kRejected || e.cause() == etcd::Cause::kConfig ||
            e.cause() == etcd::Cause::kMalformed) {
          throw;
        }
        ++status_.store_errors;
        log_store_error("cannot " + what + ", retrying: " + e.what());
      }
      if (pause(backoff.next())) return false;
    }
  };

  const std::string key = config_key(opts_.etcd_prefix);
  const std::string subnets = subnets_prefix(opts_.etcd_prefix);
  NetworkConfig net;
  vxlan::Config vcfg;
  std::optional<nlw::Socket> host;
  vxlan::Underlay underlay;
  unsigned mtu = 0;
  std::optional<HealthServer> health;
  try {
    std::optional<etcd::KeyValue> kv;
    if (!with_store("read " + key, [&] { kv = client->get(key); })) return 0;
    if (!kv) throw knet::Error("no network config at " + key + " in etcd (" + etcd::join_endpoints(opts_.etcd_endpoints) + ")");
    net = NetworkConfig::parse(kv->value, key);
    vcfg = vxlan_config(net, opts_);
    host.emplace(nlw::Socket::current());
    underlay = vxlan::resolve_underlay(*host, vcfg);
    net.public_family = underlay.local.family;
    mtu = vxlan::overlay_mtu(vcfg, underlay);
    if (!opts_.healthz_addr.empty()) {
      health.emplace(opts_.healthz_addr, [this](const std::string& path) -> HttpResponse {
        if (path == "/healthz") return status_.healthz();
        if (path == "/metrics") return status_.metrics();
        return {404, "text/plain; charset=utf-8", "not found\n"};
      });
    }
  } catch (const std::exception& e) {
    log_line(e.what());
    return 1;
  }
  log_line("network " + net.describe() + ", vni " + std::to_string(net.vni) + ", port " +
           std::to_string(net.port) + ", mode " + vxlan::to_string(net.mode) + "; this node " +
           underlay.local.str() + " on " + underlay.link.name);

  SubnetLease mine{{}, underlay.local, net.vni, vxlan::vtep_mac(net.vni, underlay.local)};
  SubnetLeaser leaser(*client, net, opts_.etcd_prefix, mine, opts_.lease_ttl.count(), log_line);
  try {
    auto prefer = previous_subnet(vcfg, underlay.local);
    if (!with_store("take a subnet", [&] { leaser.acquire(prefer); })) return 0;
  } catch (const std::exception& e) {
    log_line(e.what());
    return 1;
  }
  status_.lease_expires_ms = now_ms() + leaser.ttl() * 1000;
  auto set_own_key = [&] {
    std::lock_guard<std::mutex> l(mu_);
    own_key_ = subnet_key(opts_.etcd_prefix, leaser.subnet());
  };
  auto own_key = [&] {
    std::lock_guard<std::mutex> l(mu_);
    return own_key_;
  };
  set_own_key();
  log_line("holding " + leaser.subnet().str() + " (lease " + std::to_string(leaser.lease_id()) +
           ", TTL " + std::to_string(leaser.ttl()) + " s)");

  // The only user of `leaser` until it is joined: renews the lease every
  // TTL/3, and puts this node's key back at once when the watch saw it
  // deleted (retried every TTL/3 until it succeeds).
  std::thread keeper([&] {
    const milliseconds period(std::max<int64_t>(500, leaser.ttl() * 1000 / 3));
    bool restore = false;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait_for(l, period, [this] { return stopping_.load() || restore_key_.load(); });
        if (stopping_) return;
      }
      restore |= restore_key_.exchange(false);
      try {
        if (restore) {
          if (leaser.restore()) log_line("put " + subnet_key(opts_.etcd_prefix, leaser.subnet()) + " back");
          restore = false;
        } else {
          leaser.renew();
        }
        status_.lease_expires_ms = now_ms() + leaser.ttl() * 1000;
        set_own_key();
      } catch (const etcd::Error& e) {
        ++status_.store_errors;
        log_store_error("cannot " + std::string(restore ? "restore the key" : "renew the lease") + " of " +
                        leaser.subnet().str() + ", retrying: " + e.what());
      } catch (const std::exception& e) {
        log_line(e.what());
      }
    }
  });

  Registry registry(net, opts_.etcd_prefix, log_line);
  // The kernel and the file hold the registry's membership as of the last
  // take_delta(): the last sync succeeded. False when that is unknown (none
  // yet, or the last one failed).
  bool applied = false;
  bool written = false;  // the file too
  // The next sync is a full one: reconcile lists the device's entries and
  // corrects whatever differs. Set after a list, for the resync, when the
  // watch stream comes back and after a failed sync; otherwise a watch
  // event applies only what changed (vxlan::apply_delta), from the
  // registry's delta: no pass over the N nodes on the way to the kernel.
  bool full_sync = true;
  // Applies the registry to the kernel, then the file. False (nothing done)
  // while this node's own key is missing: it is being put back, and a
  // membership without this node must not reach the kernel.
  auto sync = [&] {
    if (!registry.has(own_key())) return false;
    MembershipDelta delta = registry.take_delta();
    // Unknown from here until the kernel and the file are both done.
    const bool was_applied = std::exchange(applied, false);
    // This node's own entry changed, or a new device: reconcile's job.
    bool full = full_sync || !was_applied || delta.touches(underlay.local);
    std::optional<vxlan::Membership> m;
    vxlan::View view;
    if (net.mode == vxlan::Mode::kL3) {
      view.self = registry.member_at(underlay.local);  // all ensure_device needs
      if (!view.self) full = true;                      // view_from says why
    }
    if (full) {
      m = registry.membership();
      view = vxlan::view_from(vcfg, *m, underlay.local);
    }
    // The plugin's lock: ADDs and GC of this network on the node wait, and
    // see the device, the file and the entries agree (the file is written
    // under it: an ADD between the kernel and the file would reconcile the
    // kernel back to the old file).
    knet::RunDirLock lock(vxlan::network_lock_file(opts_.cni_network));
    bool created = false;
    nlw::LinkInfo dev = vxlan::ensure_device(*host, vcfg, opts_.cni_network, underlay, view, mtu, created);
    if (created) log_line("created VTEP " + dev.name + " (" + dev.mac + ") on " + underlay.link.name);
    if (created && !full) {
      full = true;
      m = registry.membership();
      view = vxlan::view_from(vcfg, *m, underlay.local);
    }
    if (full) {
      vxlan::reconcile(*host, dev, vcfg, view);
      if (net.mode == vxlan::Mode::kL3) vxlan::configure_overlay(*host, dev, view);
    } else {
      // Only the changed nodes (none of them this one): the others are in
      // neither view, so apply_delta leaves them alone.
      vxlan::apply_delta(*host, dev, vcfg, changed_view(delta.before), changed_view(delta.after));
    }
    // Who joined and left, once the kernel has them (the log is not in the
    // path of a change).
    if (full) {
      log_membership(*m);
    } else {
      log_membership_change(delta.before, delta.after);
    }
    // The kernel first (it is what makes traffic flow), then the file,
    // rewritten by every full sync (it may have been removed by hand) and
    // otherwise only when the membership changed.
    if (full || !written || !delta.empty()) {
      written = false;
      std::filesystem::create_directories(std::filesystem::path(opts_.peers_file).parent_path());
      knet::write_file_atomic(opts_.peers_file, registry.peers_file());
      written = true;
    }
    status_.peers = static_cast<int64_t>(registry.size() - (registry.member_at(underlay.local) ? 1 : 0));
    status_.last_sync_unix = std::time(nullptr);
    ++status_.syncs;
    status_.synced = true;
    applied = true;
    full_sync = false;
    return true;
  };

  std::unique_ptr<etcd::Watcher> watcher;
  etcd::Backoff list_backoff(ccfg.backoff);
  bool need_list = true, dirty = false, disconnected = false, own_missing = false;
  int64_t retry_at = 0;
  // The resync: the last known membership applied again even without a
  // change, so an entry removed by hand comes back.
  const int64_t resync_ms = opts_.resync_interval.count() * 1000;
  int64_t next_resync = resync_ms ? now_ms() + resync_ms : INT64_MAX;
  int rc = 0;
  try {
    while (!stopping_) {
      if (need_list) {
        watcher.reset();
        {
          // What the old watcher delivered is older than the list to come.
          std::lock_guard<std::mutex> l(mu_);
          updates_.clear();
        }
        try {
          etcd::RangeResult list = client->list_prefix(subnets);
          registry.reset(list.kvs);
          watcher = std::make_unique<etcd::Watcher>(
              ccfg, etcd::WatchRequest::prefix(subnets, list.revision + 1), [this](const etcd::WatchUpdate& u) {
                {
                  std::lock_guard<std::mutex> l(mu_);
                  updates_.push_back(u);
                }
                cv_.notify_all();
              });
          need_list = false;
          dirty = true;
          full_sync = true;
          list_backoff.reset();
        } catch (const etcd::Error& e) {
          // The kernel and the file keep the last membership meanwhile.
          ++status_.store_errors;
          log_store_error("cannot list " + subnets + ", keeping the last membership: " + e.what());
          pause(list_backoff.next());
          continue;
        }
      }
      if (now_ms() >= next_resync) {
        dirty = true;
        full_sync = true;
        next_resync = now_ms() + resync_ms;
      }
      if (dirty && now_ms() >= retry_at) {
        try {
          if (sync()) {
            dirty = false;
            own_missing = false;
          } else {
            // The keeper puts a deleted key back; its put event ends the wait.
            if (!own_missing) log_line("this node's key is missing or unusable: sync waits for it");
            own_missing = true;
            retry_at = now_ms() + 1000;
          }
        } catch (const std::exception& e) {
          ++status_.sync_errors;
          status_.synced = false;
          full_sync = true;
          log_line("sync failed, retrying in 1 s: " + std::string(e.what()));
          retry_at = now_ms() + 1000;
        }
      }
      std::deque<etcd::WatchUpdate> got;
      {
        std::unique_lock<std::mutex> l(mu_);
        int64_t until = std::min(dirty ? retry_at : now_ms() + 1000, next_resync);
        milliseconds wait(std::max<int64_t>(1, until - now_ms()));
        cv_.wait_for(l, wait, [this] { return stopping_.load() || !updates_.empty(); });
        got.swap(updates_);
      }
      for (const auto& u : got) {
        switch (u.kind) {
          case etcd::WatchUpdate::Kind::kEvents: {
            registry.apply(u.events);
            dirty = true;
            const std::string own = own_key();
            for (const auto& e : u.events) {
              if (e.kv.key != own) continue;
              if (e.type == etcd::Event::Type::kDelete) {
                log_line(own + " was deleted (by hand, or its lease expired): taking it back");
                restore_key_ = true;
                cv_.notify_all();
              } else {
                retry_at = 0;  // back: sync now
              }
            }
            break;
          }
          case etcd::WatchUpdate::Kind::kCompacted:
            log_line("the watch fell behind a compaction (revision " + std::to_string(u.compact_revision) +
                     "): listing again");
            need_list = true;
            break;
          case etcd::WatchUpdate::Kind::kCanceled:
            log_line("etcd canceled the watch (" + u.error + "): listing again");
            need_list = true;
            break;
          case etcd::WatchUpdate::Kind::kDisconnected:
            ++status_.store_errors;
            if (!disconnected) log_store_error("watch stream lost, keeping the last membership: " + u.error);
            disconnected = true;
            break;
          case etcd::WatchUpdate::Kind::kCreated:
            if (disconnected) {
              // Whatever happened meanwhile: apply the membership again.
              log_line("watch stream back");
              dirty = true;
              full_sync = true;
            }
            disconnected = false;
            break;
          case etcd::WatchUpdate::Kind::kProgress:
            break;
        }
      }
    }
  } catch (const std::exception& e) {
    // Nothing above should throw past its own handlers; if it does, stop whole.
    log_line("stopping on an unexpected error: " + std::string(e.what()));
    rc = 1;
    stop();
  }
  watcher.reset();
  keeper.join();
  if (opts_.release_on_exit) {
    try {
      leaser.release();
      log_line("released " + leaser.subnet().str());
    } catch (const std::exception& e) {
      log_line("cannot release " + leaser.subnet().str() + " (it expires with its TTL): " + e.what());
      rc = 1;
    }
  }
  log_line("stopped; the kernel keeps its entries");
  return rc;
}

}  // namespace knet::node
