#include "node/registry.h"

#include <base/error.h>
#include <cni/json.h>

#include <algorithm>
#include <unordered_map>

namespace knet::node {

Registry::Registry(NetworkConfig net, std::string prefix, Log log)
    : net_(std::move(net)), prefix_(std::move(prefix)), log_(std::move(log)) {}

void Registry::put(const etcd::KeyValue& kv) {
  try {
    leases_[kv.key] = {parse_lease(net_, prefix_, kv.key, kv.value), kv.create_revision};
  } catch (const knet::Error& e) {
    leases_.erase(kv.key);
    log_("skipping " + kv.key + " (revision " + std::to_string(kv.mod_revision) + "): " + e.msg());
  }
}

void Registry::reset(const std::vector<etcd::KeyValue>& kvs) {
  leases_.clear();
  for (const auto& kv : kvs) put(kv);
}

void Registry::apply(const std::vector<etcd::Event>& events) {
  for (const auto& e : events) {
    if (e.type == etcd::Event::Type::kDelete) {
      leases_.erase(e.kv.key);
    } else {
      put(e.kv);
    }
  }
}

vxlan::Membership Registry::membership() const {
  // The owner of each PublicIP: its oldest lease.
  std::unordered_map<std::string, std::pair<int64_t, const std::string*>> owner;
  for (const auto& [key, entry] : leases_) {
    auto [it, fresh] = owner.try_emplace(entry.first.public_ip.str(), entry.second, &key);
    if (!fresh && std::pair(entry.second, key) < std::pair(it->second.first, *it->second.second)) {
      it->second = {entry.second, &key};
    }
  }
  vxlan::Membership m;
  for (const auto& [key, entry] : leases_) {
    const auto& o = owner.at(entry.first.public_ip.str());
    if (o.second != &key) {
      if (reported_.insert({key, entry.second}).second) {
        log_("skipping " + key + ": PublicIP " + entry.first.public_ip.str() + " is held by " +
             *o.second + " already");
      }
      continue;
    }
    if (net_.mode == vxlan::Mode::kL3) {
      m.nodes.push_back({entry.first.public_ip, entry.first.subnet});
    } else {
      m.peers.push_back(entry.first.public_ip);
    }
  }
  return m;
}

std::string peers_file_json(const vxlan::Membership& m, vxlan::Mode mode) {
  cni::json doc = cni::json::object();
  if (mode == vxlan::Mode::kL3) {
    cni::json nodes = cni::json::array();
    for (const auto& n : m.nodes) nodes.push_back({{"vtep", n.vtep.str()}, {"subnet", n.subnet.str()}});
    doc["nodes"] = std::move(nodes);
  } else {
    cni::json peers = cni::json::array();
    for (const auto& p : m.peers) peers.push_back(p.str());
    doc["peers"] = std::move(peers);
  }
  return doc.dump() + "\n";
}

}  // namespace knet::node
