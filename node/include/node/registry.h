#pragma once
// The cluster's membership as this agent knows it: every usable subnet
// lease under <prefix>/subnets/, kept from a list and the watch events after
// it, and turned into the vxlan plugin's Membership.

#include <etcd/kv.h>
#include <etcd/watch_types.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/network.h"

namespace knet::node {

class Registry {
 public:
  // Where each skipped entry is reported: one line saying which key and why.
  using Log = std::function<void(const std::string&)>;

  Registry(NetworkConfig net, std::string prefix, Log log);

  // Replaces everything with the keys of a fresh list.
  void reset(const std::vector<etcd::KeyValue>& kvs);
  // Applies watch events in order: a put (re)reads its key, a delete drops it.
  void apply(const std::vector<etcd::Event>& events);

  // The usable leases as the vxlan plugin's membership (l3 `nodes`, each
  // with its VtepMAC, or the derived MAC when the lease has none, and the
  // config's Network as `network`; l2 `peers`), in key order. Of leases
  // with one PublicIP, or in l3 one VTEP MAC, the oldest (lowest create
  // revision) wins; the others are skipped and reported once each.
  vxlan::Membership membership() const;
  // The usable leases by key (garbage left out, duplicates still in).
  const std::map<std::string, std::pair<SubnetLease, int64_t>>& leases() const { return leases_; }

 private:
  void put(const etcd::KeyValue& kv);

  NetworkConfig net_;
  std::string prefix_;
  Log log_;
  std::map<std::string, std::pair<SubnetLease, int64_t>> leases_;  // key -> lease, create revision
  mutable std::set<std::pair<std::string, int64_t>> reported_;    // (key, create revision)
};

// The vxlan plugin's peersFile for `m` (docs/vxlan.md): {"network",
// "nodes": [{"vtep", "subnet", "mac"}...]} in l3 ("network" and "mac" when
// `m` has them), {"peers": [...]} in l2.
std::string peers_file_json(const vxlan::Membership& m, vxlan::Mode mode);

}  // namespace knet::node
