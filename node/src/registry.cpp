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
    SubnetLease l = parse_lease(net_, prefix_, kv.key, kv.value);
    auto mac = vxlan::parse_mac(l.vtep_mac);
    if (!l.vtep_mac.empty() && !(mac && vxlan::is_unicast_mac(*mac))) {
      throw knet::Error("\"BackendData.VtepMAC\" \"" + l.vtep_mac + "\" is not a unicast MAC");
    }
    leases_[kv.key] = {std::move(l), kv.create_revision};
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
  using Entry = std::map<std::string, std::pair<SubnetLease, int64_t>>::value_type;
  // Of the leases claiming one thing, the oldest (lowest create revision)
  // holds it; each other one is skipped, and reported once.
  auto skip_all_but_oldest = [this](std::vector<const Entry*>& entries, const char* what,
                                    auto&& claim_of) {
    std::unordered_map<std::string, const Entry*> owner;
    for (const Entry* e : entries) {
      auto [it, fresh] = owner.try_emplace(claim_of(*e), e);
      auto rank = [](const Entry* x) { return std::pair(x->second.second, x->first); };
      if (!fresh && rank(e) < rank(it->second)) it->second = e;
    }
    std::vector<const Entry*> kept;
    for (const Entry* e : entries) {
      std::string claim = claim_of(*e);
      const Entry* o = owner.at(claim);
      if (o == e) {
        kept.push_back(e);
      } else if (reported_.insert({e->first, e->second.second}).second) {
        log_("skipping " + e->first + ": " + what + " " + claim + " is held by " + o->first + " already");
      }
    }
    entries.swap(kept);
  };
  std::vector<const Entry*> entries;
  for (const auto& e : leases_) entries.push_back(&e);
  skip_all_but_oldest(entries, "PublicIP", [](const Entry& e) { return e.second.first.public_ip.str(); });
  vxlan::Membership m;
  if (net_.mode == vxlan::Mode::kL2) {
    for (const Entry* e : entries) m.peers.push_back(e->second.first.public_ip);
    return m;
  }
  // In l3 a MAC leads to one node: the FDB maps it to one VTEP.
  auto mac_of = [this](const Entry& e) {
    const SubnetLease& l = e.second.first;
    return l.vtep_mac.empty() ? vxlan::vtep_mac_bits(net_.vni, l.public_ip) : *vxlan::parse_mac(l.vtep_mac);
  };
  skip_all_but_oldest(entries, "VtepMAC", [&](const Entry& e) { return vxlan::mac_str(mac_of(e)); });
  for (const Entry* e : entries) {
    m.nodes.push_back({e->second.first.public_ip, e->second.first.subnet, mac_of(*e)});
  }
  m.network = net_.network;
  return m;
}

std::string peers_file_json(const vxlan::Membership& m, vxlan::Mode mode) {
  cni::json doc = cni::json::object();
  if (mode == vxlan::Mode::kL3) {
    cni::json nodes = cni::json::array();
    for (const auto& n : m.nodes) {
      cni::json e = {{"vtep", n.vtep.str()}, {"subnet", n.subnet.str()}};
      if (n.mac) e["mac"] = vxlan::mac_str(n.mac);
      nodes.push_back(std::move(e));
    }
    if (m.network) doc["network"] = m.network->str();
    doc["nodes"] = std::move(nodes);
  } else {
    cni::json peers = cni::json::array();
    for (const auto& p : m.peers) peers.push_back(p.str());
    doc["peers"] = std::move(peers);
  }
  return doc.dump() + "\n";
}

}  // namespace knet::node
