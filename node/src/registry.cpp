#include "node/registry.h"

#include <base/error.h>

#include <hash_index.h>  // the vxlan plugin's hashes (plugins/vxlan)

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
  // An entry and its VTEP MAC (parsed once: thousands of leases at every
  // watch event).
  struct Item {
    const Entry* e;
    uint64_t mac;
  };
  struct ClaimHash {
    size_t operator()(const knet::IP& ip) const { return vxlan::hash_ip(ip); }
    size_t operator()(uint64_t mac) const { return vxlan::hash_mix(mac, 0); }
  };
  // Of the leases claiming one thing (an address or a MAC: no strings), the
  // oldest (lowest create revision) holds it; each other one is skipped,
  // and reported once.
  auto skip_all_but_oldest = [this](std::vector<Item>& items, const char* what, auto&& claim_of,
                                    auto&& claim_str) {
    using Claim = std::decay_t<decltype(claim_of(items.front()))>;
    std::unordered_map<Claim, const Entry*, ClaimHash> owner(items.size());
    auto older = [](const Entry* a, const Entry* b) {
      return a->second.second != b->second.second ? a->second.second < b->second.second : a->first < b->first;
    };
    for (const Item& i : items) {
      auto [it, fresh] = owner.try_emplace(claim_of(i), i.e);
      if (!fresh && older(i.e, it->second)) it->second = i.e;
    }
    if (owner.size() == items.size()) return;  // no claim is shared
    std::vector<Item> kept;
    for (const Item& i : items) {
      const Entry* o = owner.at(claim_of(i));
      if (o == i.e) {
        kept.push_back(i);
      } else if (reported_.insert({i.e->first, i.e->second.second}).second) {
        log_("skipping " + i.e->first + ": " + what + " " + claim_str(i) + " is held by " + o->first +
             " already");
      }
    }
    items.swap(kept);
  };
  std::vector<Item> items;
  items.reserve(leases_.size());
  for (const auto& e : leases_) {
    const SubnetLease& l = e.second.first;
    // In l3 a MAC leads to one node: the FDB maps it to one VTEP.
    uint64_t mac = net_.mode == vxlan::Mode::kL2 ? 0
                   : l.vtep_mac.empty()          ? vxlan::vtep_mac_bits(net_.vni, l.public_ip)
                                                 : *vxlan::parse_mac(l.vtep_mac);
    items.push_back({&e, mac});
  }
  auto ip_of = [](const Item& i) { return i.e->second.first.public_ip; };
  skip_all_but_oldest(items, "PublicIP", ip_of, [&](const Item& i) { return ip_of(i).str(); });
  vxlan::Membership m;
  if (net_.mode == vxlan::Mode::kL2) {
    m.peers.reserve(items.size());
    for (const Item& i : items) m.peers.push_back(ip_of(i));
    return m;
  }
  skip_all_but_oldest(items, "VtepMAC", [](const Item& i) { return i.mac; },
                      [](const Item& i) { return vxlan::mac_str(i.mac); });
  m.nodes.reserve(items.size());
  for (const Item& i : items) m.nodes.push_back({ip_of(i), i.e->second.first.subnet, i.mac});
  m.network = net_.network;
  return m;
}

std::string peers_file_json(const vxlan::Membership& m, vxlan::Mode mode) {
  // Built directly, not through a JSON document: thousands of nodes at
  // every membership change. The values are addresses and MACs, which need
  // no escaping; the output is what cni::json's dump() gives (keys sorted).
  std::string s;
  auto quoted = [&s](const std::string& v) {
    s += '"';
    s += v;
    s += '"';
  };
  if (mode == vxlan::Mode::kL3) {
    s.reserve(32 + m.nodes.size() * 80);
    s += '{';
    if (m.network) {
      s += "\"network\":";
      quoted(m.network->str());
      s += ',';
    }
    s += "\"nodes\":[";
    for (size_t i = 0; i < m.nodes.size(); ++i) {
      const vxlan::Node& n = m.nodes[i];
      s += i ? ",{" : "{";
      if (n.mac) {
        s += "\"mac\":";
        quoted(vxlan::mac_str(n.mac));
        s += ',';
      }
      s += "\"subnet\":";
      quoted(n.subnet.str());
      s += ",\"vtep\":";
      quoted(n.vtep.str());
      s += '}';
    }
    s += "]}\n";
    return s;
  }
  s.reserve(16 + m.peers.size() * 20);
  s += "{\"peers\":[";
  for (size_t i = 0; i < m.peers.size(); ++i) {
    if (i) s += ',';
    quoted(m.peers[i].str());
  }
  s += "]}\n";
  return s;
}

}  // namespace knet::node
