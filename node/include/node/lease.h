#pragma once
// This node's subnet lease in etcd: <prefix>/subnets/<subnet> attached to an
// etcd lease of the agent's TTL, taken once and renewed by keepalives.

#include <etcd/client.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "node/network.h"

namespace knet::node {

class SubnetLeaser {
 public:
  using Log = std::function<void(const std::string&)>;

  // `mine` is what this node publishes (PublicIP, VNI, VTEP MAC); its subnet
  // is chosen by acquire(). Touches nothing yet.
  SubnetLeaser(etcd::Client& client, NetworkConfig net, std::string prefix, SubnetLease mine,
               int64_t ttl_seconds, Log log);

  // Takes this node's subnet: the key that already holds this node's
  // PublicIP if there is one (a restart keeps its subnet), else `preferred`
  // when it is free, else a free subnet picked at random among the first
  // free ones (so agents starting together rarely collide), written with
  // If(Version(key) == 0) Then(Put(key, value, lease)); a lost race lists
  // again and retries (at most 32 times). Each call grants a fresh etcd
  // lease and attaches the key to it. Throws knet::Error naming the config
  // when no subnet is free, etcd::Error when etcd cannot be reached.
  knet::IPNet acquire(const std::optional<knet::IPNet>& preferred = std::nullopt);

  // One keepalive of the lease. When etcd says it expired (a partition
  // longer than the TTL), acquires again preferring the same subnet. Throws
  // etcd::Error when etcd cannot be reached, knet::Error as acquire().
  void renew();

  // Puts this node's key back (same value, same lease) when someone deleted
  // it while the lease lives: If(Version(key) == 0) Then(Put(...)). When
  // the lease itself is gone, acquires again as renew() does. True when the
  // key was written (by either path). Throws as renew().
  bool restore();

  // Revokes the lease: the key goes at once. Errors are the caller's.
  void release();

  const knet::IPNet& subnet() const { return subnet_; }
  int64_t lease_id() const { return lease_id_; }
  int64_t ttl() const { return ttl_; }

 private:
  // One attempt; false when another agent won the race.
  bool try_take(const std::optional<knet::IPNet>& preferred, int64_t lease);
  // Runs `txn`, which puts `value` under `key` with `lease`; true when it
  // was applied (an indeterminate outcome is read back).
  bool put_txn(const etcd::TxnRequest& txn, const std::string& key, const std::string& value,
               int64_t lease);

  etcd::Client& client_;
  NetworkConfig net_;
  std::string prefix_;
  SubnetLease mine_;
  int64_t ttl_;
  Log log_;
  knet::IPNet subnet_{};
  int64_t lease_id_ = 0;
};

}  // namespace knet::node
