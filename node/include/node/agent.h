#pragma once
// knet-node's agent: takes this node's subnet lease, follows the cluster's
// membership in etcd, and keeps the vxlan plugin's peersFile and the
// kernel's VTEP entries equal to it (docs/knet-node.md).

#include <etcd/client.h>
#include <etcd/watch.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "node/flags.h"
#include "node/healthz.h"

namespace knet::node {

// Writes one line to stderr ("knet-node: <msg>"), whole even with threads.
void log_line(const std::string& msg);

// What /healthz and /metrics report; updated by the agent's threads.
struct Status {
  std::atomic<bool> synced{false};  // the last sync reached the kernel and the file
  std::atomic<int64_t> lease_expires_ms{0};  // steady clock; 0 before the first lease
  std::atomic<int64_t> last_sync_unix{0};
  std::atomic<int64_t> peers{0};
  std::atomic<int64_t> syncs{0};
  std::atomic<int64_t> sync_errors{0};
  std::atomic<int64_t> store_errors{0};

  bool lease_held() const;
  // 200 "ok" when synced and the lease is held, else 503 saying which is not.
  HttpResponse healthz() const;
  // Prometheus text format.
  HttpResponse metrics() const;
};

class Agent {
 public:
  explicit Agent(Options options);
  ~Agent();

  // Runs until stop(): reads <prefix>/config, takes the lease, creates or
  // adopts the VTEP, then follows the membership, re-applies it every
  // resync interval, and puts this node's key back if it is deleted.
  // Returns 0 after stop(), non-zero (with the reason logged) when the
  // config is bad, the network is full or the node cannot be set up.
  // Touches nothing (etcd, kernel, file) before the config and the node's
  // underlay check out.
  int run();
  // Asks run() to return; safe from any thread (a signal thread).
  void stop();

  const Status& status() const { return status_; }

 private:
  Options opts_;
  Status status_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<etcd::WatchUpdate> updates_;  // from the watcher's thread
  std::string own_key_;                    // this node's key in etcd; under mu_
  std::atomic<bool> restore_key_{false};   // the watch saw own_key_ deleted
};

}  // namespace knet::node
