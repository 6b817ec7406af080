#include "node/registry.h"

#include <base/error.h>

#include <algorithm>

namespace knet::node {
namespace {

void quoted(std::string& s, const std::string& v) {
  s += '"';
  s += v;
  s += '"';
}

// One entry of the peersFile's list: an l3 node (keys sorted, as cni::json's
// dump() has them) or an l2 peer. Addresses and MACs need no escaping.
void append_node(std::string& s, const vxlan::Node& n) {
  s += '{';
  if (n.mac) {
    s += "\"mac\":";
    quoted(s, vxlan::mac_str(n.mac));
    s += ',';
  }
  s += "\"subnet\":";
  quoted(s, n.subnet.str());
  s += ",\"vtep\":";
  quoted(s, n.vtep.str());
  s += '}';
}

// The peersFile around its list: `entries(s)` appends them, comma-separated.
template <class Entries>
std::string file_text(vxlan::Mode mode, const std::optional<knet::IPNet>& network, size_t count, Entries entries) {
  std::string s;
  if (mode == vxlan::Mode::kL3) {
    s.reserve(32 + count * 80);
    s += '{';
    if (network) {
      s += "\"network\":";
      quoted(s, network->str());
      s += ',';
    }
    s += "\"nodes\":[";
  } else {
    s.reserve(16 + count * 20);
    s += "{\"peers\":[";
  }
  entries(s);
  s += "]}\n";
  return s;
}

void add_member(vxlan::Membership& m, vxlan::Mode mode, const vxlan::Node& n) {
  if (mode == vxlan::Mode::kL3) {
    m.nodes.push_back(n);
  } else {
    m.peers.push_back(n.vtep);
  }
}

}  // namespace

bool MembershipDelta::touches(const knet::IP& vtep) const {
  for (const auto* m : {&before, &after}) {
    if (std::find(m->peers.begin(), m->peers.end(), vtep) != m->peers.end()) return true;
    for (const auto& n : m->nodes) {
      if (n.vtep == vtep) return true;
    }
  }
  return false;
}

template <class V>
bool Registry::Claims<V>::Less::operator()(const Item& a, const Item& b) const {
  if (a.first != b.first) return a.first < b.first;
  const Lease& x = a.second->second;
  const Lease& y = b.second->second;
  if (x.create_revision != y.create_revision) return x.create_revision < y.create_revision;
  return a.second->first < b.second->first;
}

template <class V>
const Registry::Entry* Registry::Claims<V>::holder(const V& v) const {
  auto it = set_.lower_bound(v);
  return it != set_.end() && it->first == v ? it->second : nullptr;
}

Registry::Registry(NetworkConfig net, std::string prefix, Log log)
    : net_(std::move(net)), prefix_(std::move(prefix)), log_(std::move(log)) {}

void Registry::change(const std::string& key, std::optional<Lease> now) {
  // The keys whose standing may change: this one, and whoever held or now
  // holds an address or MAC it claimed or claims. A handful, whatever N.
  std::vector<std::string> touched{key};
  auto note = [&](const Entry* e) {
    if (e) touched.push_back(e->first);
  };
  // In l3 a MAC leads to one node (the FDB maps it to one VTEP): of the
  // holders of their address, the oldest with a MAC holds it.
  auto claim_mac = [&](const Entry* e, bool add) {
    if (!l3()) return;
    note(by_mac_.holder(e->second.node.mac));
    add ? by_mac_.add(e->second.node.mac, e) : by_mac_.remove(e->second.node.mac, e);
    note(by_mac_.holder(e->second.node.mac));
  };
  auto claim_ip = [&](const Entry* e, bool add) {
    const knet::IP& ip = e->second.node.vtep;
    const Entry* was = by_ip_.holder(ip);
    add ? by_ip_.add(ip, e) : by_ip_.remove(ip, e);
    const Entry* is = by_ip_.holder(ip);
    if (was == is) return;
    if (was) {
      note(was);
      claim_mac(was, false);
    }
    if (is) {
      note(is);
      claim_mac(is, true);
    }
  };
  std::optional<vxlan::Node> was;
  if (auto it = leases_.find(key); it != leases_.end()) {
    if (it->second.member) {
      was = it->second.node;
      --members_;
    }
    claim_ip(&*it, false);
    leases_.erase(it);
  }
  note_change(key, was);
  if (now) {
    now->member = false;
    now->text.clear();
    auto it = leases_.emplace(key, std::move(*now)).first;
    claim_ip(&*it, true);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const auto& k : touched) settle(k);
}

void Registry::note_change(const std::string& key, const std::optional<vxlan::Node>& was) {
  if (listing_) return;  // reset() reports every lease and forgets the change
  changed_.try_emplace(key, was);
  unreported_.insert(key);
}

void Registry::settle(const std::string& key) {
  auto it = leases_.find(key);
  if (it == leases_.end()) return;
  Lease& l = it->second;
  bool member = by_ip_.holder(l.node.vtep) == &*it && (!l3() || by_mac_.holder(l.node.mac) == &*it);
  if (member == l.member) return;
  note_change(key, l.member ? std::optional(l.node) : std::nullopt);
  l.member = member;
  l.text.clear();
  if (member) {
    ++members_;
    if (l3()) {
      append_node(l.text, l.node);
    } else {
      quoted(l.text, l.node.vtep.str());
    }
  } else {
    --members_;
    l.text.shrink_to_fit();
  }
}

void Registry::put(const etcd::KeyValue& kv) {
  try {
    SubnetLease sl = parse_lease(net_, prefix_, kv.key, kv.value);
    auto mac = vxlan::parse_mac(sl.vtep_mac);
    if (!sl.vtep_mac.empty() && !(mac && vxlan::is_unicast_mac(*mac))) {
      throw knet::Error("\"BackendData.VtepMAC\" \"" + sl.vtep_mac + "\" is not a unicast MAC");
    }
    Lease l{{sl.public_ip, sl.subnet, 0}, kv.create_revision};
    if (l3()) l.node.mac = mac ? *mac : vxlan::vtep_mac_bits(net_.vni, sl.public_ip);
    change(kv.key, std::move(l));
  } catch (const knet::Error& e) {
    change(kv.key, std::nullopt);
    log_("skipping " + kv.key + " (revision " + std::to_string(kv.mod_revision) + "): " + e.msg());
  }
}

void Registry::reset(const std::vector<etcd::KeyValue>& kvs) {
  leases_.clear();
  by_ip_.clear();
  by_mac_.clear();
  members_ = 0;
  changed_.clear();
  unreported_.clear();
  listing_ = true;
  for (const auto& kv : kvs) put(kv);
  listing_ = false;
  report_all_ = true;
}

void Registry::apply(const std::vector<etcd::Event>& events) {
  for (const auto& e : events) {
    if (e.type == etcd::Event::Type::kDelete) {
      change(e.kv.key, std::nullopt);
    } else {
      put(e.kv);
    }
  }
}

void Registry::report_skipped() {
  // Of the leases claiming one thing, the oldest holds it; each other one
  // is skipped, and reported once.
  std::vector<std::string> mac_lines;
  auto check = [&](const Entry& e) {
    const std::string& key = e.first;
    const Lease& l = e.second;
    if (l.member || reported_.count({key, l.create_revision})) return;
    const Entry* ip_holder = by_ip_.holder(l.node.vtep);
    const Entry* mac_holder = l3() ? by_mac_.holder(l.node.mac) : nullptr;
    if (ip_holder != &e) {
      log_("skipping " + key + ": PublicIP " + l.node.vtep.str() + " is held by " + ip_holder->first +
           " already");
    } else if (mac_holder) {
      mac_lines.push_back("skipping " + key + ": VtepMAC " + vxlan::mac_str(l.node.mac) + " is held by " +
                          mac_holder->first + " already");
    }
    reported_.insert({key, l.create_revision});
  };
  if (report_all_) {
    for (const auto& e : leases_) check(e);
  } else {
    for (const auto& key : unreported_) {
      if (auto it = leases_.find(key); it != leases_.end()) check(*it);
    }
  }
  for (const auto& line : mac_lines) log_(line);
  unreported_.clear();
  report_all_ = false;
}

vxlan::Membership Registry::membership() {
  report_skipped();
  vxlan::Membership m;
  if (l3()) {
    m.nodes.reserve(members_);
  } else {
    m.peers.reserve(members_);
  }
  for (const auto& [key, l] : leases_) {
    if (l.member) add_member(m, net_.mode, l.node);
  }
  if (l3()) m.network = net_.network;
  return m;
}

MembershipDelta Registry::take_delta() {
  report_skipped();
  MembershipDelta d;
  for (const auto& [key, was] : changed_) {
    auto it = leases_.find(key);
    std::optional<vxlan::Node> is;
    if (it != leases_.end() && it->second.member) is = it->second.node;
    if (was == is) continue;
    if (was) add_member(d.before, net_.mode, *was);
    if (is) add_member(d.after, net_.mode, *is);
  }
  changed_.clear();
  return d;
}

std::string Registry::peers_file() const {
  std::optional<knet::IPNet> network;
  if (l3()) network = net_.network;
  return file_text(net_.mode, network, members_, [&](std::string& s) {
    bool first = true;
    for (const auto& [key, l] : leases_) {
      if (!l.member) continue;
      if (!first) s += ',';
      s += l.text;
      first = false;
    }
  });
}

std::optional<vxlan::Node> Registry::member_at(const knet::IP& vtep) const {
  const Entry* e = by_ip_.holder(vtep);
  if (!e || !e->second.member) return std::nullopt;
  return e->second.node;
}

std::string peers_file_json(const vxlan::Membership& m, vxlan::Mode mode) {
  // Built directly, not through a JSON document: thousands of nodes. The
  // output is what cni::json's dump() gives (keys sorted).
  size_t count = mode == vxlan::Mode::kL3 ? m.nodes.size() : m.peers.size();
  return file_text(mode, m.network, count, [&](std::string& s) {
    for (size_t i = 0; i < count; ++i) {
      if (i) s += ',';
      if (mode == vxlan::Mode::kL3) {
        append_node(s, m.nodes[i]);
      } else {
        quoted(s, m.peers[i].str());
      }
    }
  });
}

}  // namespace knet::node
