#include "node/lease.h"

#include <base/error.h>

#include <random>
#include <unordered_set>

namespace knet::node {
namespace {

constexpr int kMaxAttempts = 32;
// A new subnet is picked among this many free ones.
constexpr size_t kSpread = 16;

}  // namespace

SubnetLeaser::SubnetLeaser(etcd::Client& client, NetworkConfig net, std::string prefix,
                           SubnetLease mine, int64_t ttl_seconds, Log log)
    : client_(client),
      net_(std::move(net)),
      prefix_(std::move(prefix)),
      mine_(std::move(mine)),
      ttl_(ttl_seconds),
      log_(std::move(log)) {}

bool SubnetLeaser::try_take(const std::optional<knet::IPNet>& preferred, int64_t lease) {
  etcd::RangeResult list = client_.list_prefix(subnets_prefix(prefix_));
  std::optional<etcd::KeyValue> own;
  std::unordered_set<std::string> taken;
  for (const auto& kv : list.kvs) {
    taken.insert(kv.key);
    if (own) continue;
    try {
      if (parse_lease(net_, prefix_, kv.key, kv.value).public_ip == mine_.public_ip) own = kv;
    } catch (const knet::Error&) {
      // Garbage occupies its key but is nobody's lease.
    }
  }
  etcd::TxnRequest txn;
  std::string key;
  if (own) {
    key = own->key;
    mine_.subnet = parse_lease(net_, prefix_, key, own->value).subnet;
    txn.compare = {etcd::Compare::mod_revision(key, etcd::Compare::Op::kEqual, own->mod_revision)};
  } else {
    std::vector<knet::IPNet> free;
    if (preferred && net_.holds(*preferred) && !taken.count(subnet_key(prefix_, *preferred))) {
      free.push_back(*preferred);
    }
    for (uint64_t i = 0; free.size() < kSpread && i < net_.subnet_count(); ++i) {
      if (!taken.count(subnet_key(prefix_, net_.subnet(i)))) free.push_back(net_.subnet(i));
    }
    if (free.empty()) {
      throw knet::Error("no free subnet for " + mine_.public_ip.str() + ": all " +
                        std::to_string(net_.subnet_count()) + " subnets of " + net_.describe() +
                        " (" + config_key(prefix_) + ") are leased");
    }
    size_t pick = 0;
    if (!(preferred && free.front() == *preferred)) {
      static thread_local std::minstd_rand rng{std::random_device{}()};
      pick = std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng);
    }
    mine_.subnet = free[pick];
    key = subnet_key(prefix_, mine_.subnet);
    txn.compare = {etcd::Compare::version(key, etcd::Compare::Op::kEqual, 0)};
  }
  std::string value = mine_.to_json();
  txn.success = {etcd::PutRequest{.key = key, .value = value, .lease = lease}};
  bool won = put_txn(txn, key, value, lease);
  if (won) {
    subnet_ = mine_.subnet;
    lease_id_ = lease;
  }
  return won;
}

bool SubnetLeaser::put_txn(const etcd::TxnRequest& txn, const std::string& key, const std::string& value,
                           int64_t lease) {
  try {
    return client_.txn(txn).succeeded;
  } catch (const etcd::Error& e) {
    if (e.cause() != etcd::Cause::kIndeterminate) throw;
    // It may have been applied: the key tells.
    auto kv = client_.get(key);
    return kv && kv->value == value && kv->lease == lease;
  }
}

knet::IPNet SubnetLeaser::acquire(const std::optional<knet::IPNet>& preferred) {
  etcd::LeaseGrant grant = client_.lease_grant(ttl_);
  try {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (try_take(preferred, grant.id)) {
        ttl_ = grant.ttl;
        return subnet_;
      }
    }
  } catch (...) {
    try {
      client_.lease_revoke(grant.id);
    } catch (const etcd::Error&) {
      // It expires with its TTL.
    }
    throw;
  }
  client_.lease_revoke(grant.id);
  throw knet::Error("could not take a subnet for " + mine_.public_ip.str() + " in " + net_.describe() +
                    ": other agents won " + std::to_string(kMaxAttempts) + " races in a row");
}

void SubnetLeaser::renew() {
  if (lease_id_ != 0 && !client_.lease_keepalive(lease_id_).expired()) return;
  if (lease_id_ != 0) {
    log_("lease " + std::to_string(lease_id_) + " of " + subnet_.str() +
         " expired (etcd was away longer than its TTL); taking the subnet again");
  }
  std::optional<knet::IPNet> prefer;
  if (lease_id_ != 0) prefer = subnet_;
  acquire(prefer);
}

bool SubnetLeaser::restore() {
  int64_t before = lease_id_;
  renew();  // a lease gone with its key is taken again, key and all
  if (lease_id_ != before) return true;
  SubnetLease again = mine_;
  again.subnet = subnet_;
  std::string key = subnet_key(prefix_, subnet_), value = again.to_json();
  etcd::TxnRequest txn;
  txn.compare = {etcd::Compare::version(key, etcd::Compare::Op::kEqual, 0)};
  txn.success = {etcd::PutRequest{.key = key, .value = value, .lease = lease_id_}};
  return put_txn(txn, key, value, lease_id_);
}

void SubnetLeaser::release() {
  if (lease_id_ != 0) client_.lease_revoke(lease_id_);
  lease_id_ = 0;
}

}  // namespace knet::node
