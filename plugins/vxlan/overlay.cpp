#include "overlay.h"

#include <base/run_lock.h>
#include <base/step.h>
#include <cni/error.h>
#include <common/attach.h>
#include <common/check.h>
#include <common/tagged_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <nlw/addr.h>
#include <nlw/error.h>
#include <nlw/neigh.h>
#include <nlw/route.h>
#include <nlw/sysctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "hash_index.h"
#include "l3_route.h"

namespace knet::vxlan {
namespace {

const std::string kZeroMac = "00:00:00:00:00:00";

std::string opt_str(const std::optional<knet::IP>& ip) { return ip ? ip->str() : "none"; }

int family_of(const knet::IP& ip) { return ip.is_v4() ? AF_INET : AF_INET6; }

// What about an existing device named cfg.device() contradicts the config,
// or "" when it can serve this network. MTU and MAC are not compared: ADD
// corrects them in place.
std::string device_difference(const nlw::LinkInfo& l, const Config& cfg, const std::string& network,
                              const Underlay& u) {
  std::string name = "link " + l.name;
  if (l.kind != "vxlan" || !l.vxlan) {
    return name + " is a " + (l.kind.empty() ? std::string("plain") : l.kind) +
           " link, not a vxlan device";
  }
  if (l.alias != network_tag(network)) {
    return name + " does not belong to network " + network + " (alias \"" + l.alias + "\")";
  }
  const nlw::VxlanInfo& v = *l.vxlan;
  auto differs = [&](const std::string& what, const std::string& has, const std::string& want) {
    return name + " has " + what + " " + has + ", the config asks for " + want;
  };
  if (v.vni != cfg.vni) return differs("vni", std::to_string(v.vni), std::to_string(cfg.vni));
  if (v.port != cfg.port) return differs("port", std::to_string(v.port), std::to_string(cfg.port));
  if (v.local != u.local) return differs("local address", opt_str(v.local), u.local.str());
  if (v.group != cfg.group) return differs("group", opt_str(v.group), opt_str(cfg.group));
  if (v.underlay != u.link.index) {
    return differs("underlay ifindex", std::to_string(v.underlay),
                   u.link.name + " (" + std::to_string(u.link.index) + ")");
  }
  if (v.learning != cfg.learning) {
    return differs("learning", v.learning ? "on" : "off", cfg.learning ? "on" : "off");
  }
  if (v.ttl != cfg.ttl) return differs("ttl", std::to_string(v.ttl), std::to_string(cfg.ttl));
  return {};
}

// An entry reduced to what tells entries apart (no strings: an ADD
// compares thousands of them). l3 FDB: (vtep, mac); neighbour: (overlay
// address, mac); route: (subnet, gateway); l2 flood entry: (peer).
struct EntryKey {
  knet::IP ip{};
  knet::IP gw{};
  uint64_t mac = 0;
  int prefix = 0;
  bool operator==(const EntryKey&) const = default;

  uint64_t hash() const {
    return hash_ip(gw, hash_ip(ip, hash_mix(mac, static_cast<uint64_t>(prefix))));
  }
};

// Wanted entries by key, in O(1): `key_of(i)` is the key of the i-th.
template <class KeyOf>
class EntryIndex {
 public:
  EntryIndex(size_t n, KeyOf key_of) : index_(n), key_of_(std::move(key_of)) {
    for (size_t i = 0; i < n; ++i) index_.add(key_of_(i).hash(), i);
  }
  std::optional<size_t> find(const EntryKey& k) const {
    return index_.find(k.hash(), [&](size_t i) { return key_of_(i) == k; });
  }

 private:
  HashIndex index_;
  KeyOf key_of_;
};

enum Kind { kFdb, kNeigh, kRoute, kKinds };

// A dumped entry's 6-byte lladdr as a number; 0 for anything else (no
// entry knet wants has it).
uint64_t mac_bits(const nlw::NeighView& n) {
  if (!n.lladdr || n.lladdr_len != 6) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < 6; ++i) v = v << 8 | n.lladdr[i];
  return v;
}

// Routes are kept in network form by the kernel, node subnets by the parser.
EntryKey route_key(const knet::IPNet& dst, const knet::IP& gw) { return {dst.ip, gw, 0, dst.prefix}; }

// The entries l3 wants for the remote nodes of a view, found by key in
// O(1): which node (index into view.nodes) a listed entry belongs to.
// Reconcile and verify compare alike through it.
struct L3Want {
  // The key of node i's entry of kind K.
  template <Kind K>
  struct KeyOf {
    const L3Want* want;
    EntryKey operator()(size_t i) const {
      const Node& n = want->view.nodes[i];
      if constexpr (K == kFdb) return {n.vtep, {}, want->macs[i], 0};
      if constexpr (K == kNeigh) return {overlay_ip(n), {}, want->macs[i], 0};
      if constexpr (K == kRoute) return route_key(n.subnet, overlay_ip(n));
    }
  };

  const View& view;
  std::vector<uint64_t> macs;  // per node: node_mac
  EntryIndex<KeyOf<kFdb>> fdb;
  EntryIndex<KeyOf<kNeigh>> neigh;
  EntryIndex<KeyOf<kRoute>> route;

  L3Want(const Config& cfg, const View& v)
      : view(v),
        macs(node_macs(cfg, v)),
        fdb(v.nodes.size(), {this}),
        neigh(v.nodes.size(), {this}),
        route(v.nodes.size(), {this}) {}
  L3Want(const L3Want&) = delete;  // the indexes point back to it

  std::optional<size_t> find(Kind kind, const EntryKey& k) const {
    return kind == kFdb ? fdb.find(k) : kind == kNeigh ? neigh.find(k) : route.find(k);
  }

 private:
  static std::vector<uint64_t> node_macs(const Config& cfg, const View& v) {
    std::vector<uint64_t> out;
    out.reserve(v.nodes.size());
    for (const Node& n : v.nodes) out.push_back(node_mac(cfg.vni, n));
    return out;
  }
};

// What the device holds of an L3Want: per node, a bit per Kind.
struct L3Listed {
  std::vector<uint8_t> present;
  bool has(size_t node, Kind kind) const { return present[node] >> kind & 1; }
};

// Lists the device's routes, permanent neighbours and own FDB entries, marks
// those `want` has and passes each of the others to its `unwanted_*` once
// the three dumps are read. Entries are looked at as the kernel sends them,
// never copied (thousands on every ADD); only unwanted ones are kept.
template <class OnRoute, class OnNeigh, class OnFdb>
L3Listed list_l3(nlw::Socket& host, int dev_index, const L3Want& want, size_t nodes,
                 OnRoute&& unwanted_route, OnNeigh&& unwanted_neigh, OnFdb&& unwanted_fdb) {
  L3Listed l{std::vector<uint8_t>(nodes)};
  auto mark = [&](Kind kind, const EntryKey& k) {
    auto i = want.find(kind, k);
    if (i) l.present[*i] |= static_cast<uint8_t>(1u << kind);
    return i.has_value();
  };
  // A dump read again (interrupted by a concurrent change) starts its kind afresh.
  auto forget = [&](Kind kind) {
    for (uint8_t& p : l.present) p &= static_cast<uint8_t>(~(1u << kind));
  };
  std::vector<nlw::RouteSpec> routes;
  nlw::for_each_route(
      host, 0, RT_TABLE_MAIN,
      [&](const nlw::RouteSpec& r) {
        if (r.oif != dev_index || !r.gw) return;
        if (!mark(kRoute, route_key(r.dst, *r.gw))) routes.push_back(r);
      },
      [&] { forget(kRoute), routes.clear(); });
  std::vector<nlw::NeighInfo> neighs;
  nlw::for_each_neigh(
      host, dev_index, 0,
      [&](const nlw::NeighView& n) {
        if (!(n.state & NUD_PERMANENT)) return;
        if (!mark(kNeigh, {*n.ip, {}, mac_bits(n), 0})) neighs.push_back({n.index, *n.ip, n.mac(), n.state});
      },
      [&] { forget(kNeigh), neighs.clear(); });
  std::vector<nlw::FdbEntry> fdb;
  nlw::for_each_fdb(
      host, dev_index,
      [&](const nlw::NeighView& e) {
        if (!(e.flags & NTF_SELF) || !e.ip) return;
        if (!mark(kFdb, {*e.ip, {}, mac_bits(e), 0})) {
          fdb.push_back({e.index, e.mac(), e.ip, true, (e.state & NUD_PERMANENT) != 0});
        }
      },
      [&] { forget(kFdb), fdb.clear(); });
  for (const auto& r : routes) unwanted_route(r);
  for (const auto& n : neighs) unwanted_neigh(n);
  for (const auto& e : fdb) unwanted_fdb(e);
  return l;
}

bool has_address(nlw::Socket& sock, int index, const knet::IPNet& addr) {
  for (const auto& a : nlw::list_addresses(sock, index)) {
    if (a.net == addr) return true;
  }
  return false;
}

void ensure_address(nlw::Socket& sock, int index, const knet::IPNet& addr) {
  if (has_address(sock, index, addr)) return;
  try {
    nlw::add_address(sock, index, addr);
  } catch (const nlw::Exists&) {
    // Another ADD on this node got there first.
  }
}

}  // namespace

Underlay resolve_underlay(nlw::Socket& host, const Config& cfg) {
  auto link = common::resolve_link_or_default(host, cfg.underlay, "underlay");
  Underlay u{link, {}};
  auto addrs = nlw::list_addresses(host, link.index);
  if (cfg.local) {
    bool found = std::any_of(addrs.begin(), addrs.end(),
                             [&](const auto& a) { return a.net.ip == *cfg.local; });
    if (!found) {
      cni::config_error("invalid \"local\" \"" + cfg.local->str() +
                        "\": not an address of underlay " + link.name);
    }
    u.local = *cfg.local;
    return u;
  }
  for (int family : {AF_INET, AF_INET6}) {
    for (const auto& a : addrs) {
      if (a.scope == RT_SCOPE_UNIVERSE && family_of(a.net.ip) == family &&
          (!cfg.group || cfg.group->family == a.net.ip.family)) {
        u.local = a.net.ip;
        return u;
      }
    }
  }
  cni::config_error("no \"local\" given and underlay " + link.name +
                    " has no global address to use as the VTEP address");
}

unsigned overlay_mtu(const Config& cfg, const Underlay& u) {
  unsigned overhead = encap_overhead(u.local);
  unsigned max = u.link.mtu > overhead ? u.link.mtu - overhead : 0;
  if (cfg.mtu > max) {
    cni::config_error("invalid \"mtu\" " + std::to_string(cfg.mtu) + ": underlay " + u.link.name +
                      " has MTU " + std::to_string(u.link.mtu) + ", which leaves at most " +
                      std::to_string(max) + " after " + std::to_string(overhead) +
                      " bytes of VXLAN encapsulation");
  }
  return cfg.mtu ? cfg.mtu : max;
}

View view_from(const Config& cfg, const Membership& m, const knet::IP& local) {
  View v;
  for (const auto& p : m.peers) {
    if (p.family != local.family) {
      cni::config_error("peer " + p.str() + " and the local VTEP address " + local.str() +
                        " are of different address families");
    }
    if (p != local) v.peers.push_back(p);
  }
  v.all_nodes = m.nodes;
  v.network = m.network;
  for (const auto& n : m.nodes) {
    if (n.vtep.family != local.family) {
      cni::config_error("node vtep " + n.vtep.str() + " and the local VTEP address " + local.str() +
                        " are of different address families");
    }
    if (n.vtep == local) {
      v.self = n;
    } else {
      v.nodes.push_back(n);
    }
  }
  if (cfg.mode == Mode::kL3 && !v.self) {
    cni::config_error("this node (local VTEP address " + local.str() +
                      ") has no entry in \"nodes\"" +
                      (cfg.peers_file.empty() ? "" : " or in peersFile " + cfg.peers_file) +
                      ", so its pod subnet is unknown");
  }
  return v;
}

std::string network_tag(const std::string& network) { return "knet-vxlan:" + network; }

cni::NetConf ipam_conf(const cni::NetConf& conf, const Config& cfg,
                       const std::optional<knet::IPNet>& subnet) {
  if (cfg.mode != Mode::kL3 || conf.ipam_type != "host-local" ||
      cni::find_key(conf.ipam, "subnet") || cni::find_key(conf.ipam, "ranges")) {
    return conf;
  }
  cni::NetConf c = conf;
  std::string range = subnet ? subnet->str() : "192.0.2.0/24";  // stand-in: see the header
  c.ipam["ranges"] = cni::json::array({cni::json::array({{{"subnet", range}}})});
  c.raw["ipam"] = c.ipam;
  return c;
}

knet::IP node_gateway(const View& view, const cni::Result& ip) {
  const knet::IPNet& subnet = view.self->subnet;
  return common::gateway_of_family(ip, family_of(subnet.ip)).value_or(subnet.first().next());
}

void add_cluster_route(cni::Result& ip, const View& view) {
  const knet::IPNet& subnet = view.self->subnet;
  auto cluster = view.network ? view.network : cluster_cidr(view.all_nodes, family_of(subnet.ip));
  if (!cluster || *cluster == subnet) return;
  for (const auto& r : ip.routes) {
    if (!r.table && r.dst.ip.family == cluster->ip.family && r.dst.prefix <= cluster->prefix &&
        r.dst.contains(cluster->ip)) {
      return;
    }
  }
  cni::Route route;
  route.dst = *cluster;
  route.gw = node_gateway(view, ip);
  ip.routes.push_back(route);
}

std::string network_lock_file(const std::string& network) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(knet::owner_hash({network, "", ""})));
  return "vxlan-" + std::string(hex) + ".lock";
}

nlw::LinkInfo ensure_device(nlw::Socket& host, const Config& cfg, const std::string& network,
                            const Underlay& u, const View& view, unsigned mtu, bool& created) {
  knet::Step step("ensure vxlan device");
  created = false;
  std::string mac = mac_str(view.self ? node_mac(cfg.vni, *view.self) : vtep_mac_bits(cfg.vni, u.local));
  if (auto l = nlw::find_link(host, cfg.device())) {
    if (l->kind == "vxlan" && l->alias.empty()) {
      nlw::set_alias(host, l->index, network_tag(network));  // see the contract
      l->alias = network_tag(network);
    }
    std::string diff = device_difference(*l, cfg, network, u);
    if (!diff.empty()) {
      throw cni::Error(cni::kInvalidNetworkConfig, "cannot use the VXLAN device of vni " +
                                                       std::to_string(cfg.vni) + ": " + diff +
                                                       " (delete it or choose another vni)");
    }
    if (l->mtu != mtu) nlw::set_mtu(host, l->index, mtu);
    if (l->mac != mac) nlw::set_mac(host, l->index, mac);
    nlw::set_up(host, l->index);
    return nlw::get_link(host, l->name);
  }
  nlw::VxlanOptions o;
  o.vni = cfg.vni;
  o.port = cfg.port;
  o.local = u.local;
  o.group = cfg.group;
  o.underlay = u.link.index;
  o.learning = cfg.learning;
  o.ttl = cfg.ttl;
  o.mtu = mtu;
  o.mac = mac;
  nlw::LinkInfo l;
  {
    // Untagged until set_alias: GC looks for such a device only when no ADD is in here.
    knet::UntaggedLinkLock window(knet::UntaggedLinkLock::kShared);
    l = nlw::create_vxlan(host, cfg.device(), o);
    common::LinkUndo undo(host, l.name);
    nlw::set_alias(host, l.index, network_tag(network));
    undo.release();
  }
  common::LinkUndo undo(host, l.name);
  nlw::set_up(host, l.index);
  undo.release();
  created = true;
  return nlw::get_link(host, l.name);
}

nlw::LinkInfo ensure_bridge(nlw::Socket& host, const Config& cfg, const std::string& network,
                            unsigned mtu, bool& created) {
  knet::Step step("ensure bridge");
  created = false;
  auto br = nlw::find_link(host, cfg.bridge);
  if (br && br->kind != "bridge") {
    cni::config_error("invalid \"bridge\" \"" + cfg.bridge + "\": " + cfg.bridge + " is a " +
                      (br->kind.empty() ? std::string("plain") : br->kind) + " link, not a bridge");
  }
  if (!br) {
    // Untagged until set_alias: GC looks for such a bridge only when no ADD is in here.
    knet::UntaggedLinkLock window(knet::UntaggedLinkLock::kShared);
    br = nlw::create_bridge(host, cfg.bridge, {mtu, {}, false});
    created = true;
    common::LinkUndo undo(host, br->name);
    nlw::set_alias(host, br->index, network_tag(network));
    undo.release();
  }
  common::LinkUndo undo(host, created ? br->name : std::string());
  if (!br->up) nlw::set_up(host, br->index);
  undo.release();
  return nlw::get_link(host, br->name);
}

void reconcile(nlw::Socket& host, const nlw::LinkInfo& dev, const Config& cfg, const View& view) {
  knet::Step step("reconcile peers");
  // One batch of requests, not one request and ack at a time: thousands of
  // peers are thousands of requests. Every change is attempted; the first
  // failure is thrown after the others are applied (see nlw::Batch).
  nlw::Batch batch(host);
  if (cfg.mode == Mode::kL2) {
    if (cfg.group) return;  // the group is the device's own default remote
    // An index and a flag per peer, not sets: thousands of peers on every
    // ADD (view.peers has no duplicates).
    auto key_of = [&](size_t i) { return EntryKey{view.peers[i], {}, 0, 0}; };
    EntryIndex want(view.peers.size(), key_of);
    std::vector<bool> have(view.peers.size());
    std::vector<nlw::FdbEntry> unwanted;  // flood entries or MACs learned behind them
    nlw::for_each_fdb(
        host, dev.index,
        [&](const nlw::NeighView& e) {
          if (!(e.flags & NTF_SELF) || !e.ip) return;
          auto i = want.find({*e.ip, {}, 0, 0});
          if (!i) {
            unwanted.push_back({e.index, e.mac(), e.ip, true, (e.state & NUD_PERMANENT) != 0});
          } else if (mac_bits(e) == 0 && e.lladdr_len == 6) {
            have[*i] = true;
          }
        },
        [&] { have.assign(have.size(), false), unwanted.clear(); });
    for (const auto& e : unwanted) nlw::del_fdb(batch, dev.index, e.mac, e.dst);
    for (size_t i = 0; i < view.peers.size(); ++i) {
      // Exists: a concurrent ADD on this node added it.
      if (!have[i]) {
        nlw::add_fdb(batch, dev.index, kZeroMac, view.peers[i], {true, true, true},
                     nlw::Batch::kAcceptExists);
      }
    }
    batch.finish();
    return;
  }
  // Set difference both ways: entries nobody wants go, missing ones are
  // added, present ones cost nothing (thousands of nodes, one ADD each).
  L3Want want(cfg, view);
  L3Listed have = list_l3(
      host, dev.index, want, view.nodes.size(), [&](const nlw::RouteSpec& r) { nlw::del_route(batch, r); },
      [&](const nlw::NeighInfo& n) { nlw::del_neigh(batch, dev.index, n.ip); },
      [&](const nlw::FdbEntry& e) { nlw::del_fdb(batch, dev.index, e.mac, e.dst); });
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    const Node& n = view.nodes[i];
    if (!have.has(i, kFdb)) nlw::add_fdb(batch, dev.index, mac_str(want.macs[i]), n.vtep);
    if (!have.has(i, kNeigh)) nlw::add_neigh(batch, dev.index, overlay_ip(n), mac_str(want.macs[i]));
    if (!have.has(i, kRoute)) nlw::add_route(batch, l3_route(n, dev.index), true);
  }
  batch.finish();
}

std::string host_veth_name(const knet::Owner& owner) { return knet::owner_ifname("veth", owner); }

bool delete_veth(nlw::Socket& host, const knet::Owner& owner) {
  knet::Step step("delete veth");
  auto l = nlw::find_link(host, host_veth_name(owner));
  // The name is a hash: only delete what carries this owner's tag.
  if (!l || l->kind != "veth" || l->alias != knet::owner_tag(owner)) return false;
  return nlw::delete_link_if_exists(host, l->name);
}

nlw::LinkInfo create_veth(nlw::Socket& host, const nlw::LinkInfo& bridge, nlw::Socket& cont_sock,
                          const nlw::NetNS& cont, const knet::Owner& owner, unsigned mtu) {
  knet::Step step("create veth");
  if (nlw::find_link(cont_sock, owner.ifname)) {
    throw cni::Error(cni::kInternal, "cannot create veth " + owner.ifname + ": a link named " +
                                         owner.ifname + " already exists in " + cont.describe());
  }
  std::string name = host_veth_name(owner);
  // What a crashed ADD of this owner left: its host end, tagged or (killed
  // between the two requests of nlw::create_veth) untagged.
  if (auto old = nlw::find_link(host, name);
      old && old->kind == "veth" && (old->alias.empty() || old->alias == knet::owner_tag(owner))) {
    nlw::delete_link_if_exists(host, name);
  }
  nlw::VethOptions opts;
  opts.mtu = mtu;
  opts.alias = knet::owner_tag(owner);
  opts.master = bridge.index;
  opts.up = true;
  common::create_tagged_link([&] { return nlw::create_veth(host, name, owner.ifname, cont, opts); });
  common::LinkUndo undo(host, name);
  nlw::LinkInfo cv = nlw::get_link(cont_sock, owner.ifname);
  undo.release();
  return cv;
}

void configure_overlay(nlw::Socket& host, const nlw::LinkInfo& dev, const View& view) {
  knet::Step step("configure overlay");
  const knet::IPNet& subnet = view.self->subnet;
  ensure_address(host, dev.index, knet::IPNet{overlay_ip(*view.self), subnet.ip.bits()});
  nlw::NetNS here = nlw::NetNS::current();
  nlw::ensure_sysctl(
      here, family_of(subnet.ip) == AF_INET ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding", "1");
}

void configure_router(nlw::Socket& host, const nlw::LinkInfo& bridge, const nlw::LinkInfo& dev,
                      const View& view, const cni::Result& ip) {
  knet::Step step("configure router");
  const knet::IPNet& subnet = view.self->subnet;
  ensure_address(host, bridge.index, knet::IPNet{node_gateway(view, ip), subnet.prefix});
  configure_overlay(host, dev, view);
}

void verify_host(nlw::Socket& host, const Config& cfg, const std::string& network,
                 const Underlay& u, unsigned mtu, const View& view) {
  auto dev = nlw::find_link(host, cfg.device());
  if (!dev) common::check_failed("VXLAN device " + cfg.device() + " not found in " + host.ns_name());
  if (std::string diff = device_difference(*dev, cfg, network, u); !diff.empty()) {
    common::check_failed(diff);
  }
  if (dev->mtu != mtu) {
    common::check_failed("link " + dev->name + " has MTU " + std::to_string(dev->mtu) + ", expected " +
                 std::to_string(mtu));
  }
  if (cfg.mode == Mode::kL2) {
    auto br = nlw::find_link(host, cfg.bridge);
    if (!br || dev->master != br->index) {
      common::check_failed("link " + dev->name + " is not a port of bridge " + cfg.bridge);
    }
    if (cfg.group) return;
    std::set<knet::IP> flooded;
    for (const auto& e : nlw::list_fdb(host, dev->index)) {
      if (e.self && e.dst && e.mac == kZeroMac) flooded.insert(*e.dst);
    }
    for (const auto& p : view.peers) {
      if (!flooded.count(p)) {
        common::check_failed("link " + dev->name + " has no flood entry for peer " + p.str());
      }
    }
    return;
  }
  L3Want want(cfg, view);
  auto ignore = [](const auto&) {};
  L3Listed have = list_l3(host, dev->index, want, view.nodes.size(), ignore, ignore, ignore);
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    const Node& n = view.nodes[i];
    auto mac = [&] { return mac_str(want.macs[i]); };
    auto node = [&] { return " for node " + n.vtep.str() + " on " + dev->name; };
    if (!have.has(i, kFdb)) common::check_failed("no FDB entry " + mac() + " dst " + n.vtep.str() + node());
    if (!have.has(i, kNeigh)) {
      common::check_failed("no neighbour entry " + overlay_ip(n).str() + " lladdr " + mac() + node());
    }
    if (!have.has(i, kRoute)) {
      common::check_failed("no route " + n.subnet.str() + " via " + overlay_ip(n).str() + node());
    }
  }
}

void verify_container(nlw::Socket& host, nlw::Socket& cont_sock, const Config& cfg,
                      const knet::Owner& owner, unsigned mtu, const cni::Result& prev) {
  std::string hname = host_veth_name(owner);
  auto hv = nlw::find_link(host, hname);
  if (!hv || hv->alias != knet::owner_tag(owner)) {
    common::check_failed("host veth " + hname + " of " + owner.ifname + " not found in " + host.ns_name());
  }
  auto br = nlw::find_link(host, cfg.bridge);
  if (!br || hv->master != br->index) {
    common::check_failed("host veth " + hname + " is not a port of bridge " + cfg.bridge);
  }
  const std::string& name = owner.ifname;
  nlw::LinkInfo link = common::require_container_link(cont_sock, name, "veth");
  if (link.mtu != mtu) {
    common::check_failed("container interface " + name + " has MTU " + std::to_string(link.mtu) +
                 ", expected " + std::to_string(mtu));
  }
  common::verify_ip_config(cont_sock, link, prev);
}

void remove_stale(nlw::Socket& host, const Config& cfg, const std::string& network,
             const std::vector<cni::Attachment>& valid, bool locked) {
  knet::Step step("remove stale peers");
  auto br = nlw::find_link(host, cfg.bridge);
  std::string tag = network_tag(network);
  int remaining = 0;
  // knet's own names of the shared objects, untagged: an ADD died in their window.
  bool untagged_dev = false, untagged_br = false;
  {
    knet::UntaggedLinkLock untagged(knet::UntaggedLinkLock::kExclusive);
    for (const auto& l : nlw::list_links(host)) {
      if (l.kind != "veth") continue;
      auto o = knet::parse_owner_tag(l.alias);
      if (!o) {
        if (untagged.held() && br && l.master == br->index && l.alias.empty() &&
            knet::is_owner_ifname("veth", l.name)) {
          nlw::delete_link_if_exists(host, l.name);  // its ADD died before tagging it
        }
      } else if (o->network != network) {
        continue;
      } else if (cni::contains_attachment(valid, o->container_id, o->ifname)) {
        ++remaining;
      } else {
        delete_veth(host, *o);
      }
    }
    auto dev = nlw::find_link(host, cfg.device());
    untagged_dev = untagged.held() && dev && dev->kind == "vxlan" && dev->alias.empty();
    untagged_br = untagged.held() && br && br->alias.empty() &&
                  cfg.bridge == "knetbr" + std::to_string(cfg.vni);
  }
  if (remaining || !locked) return;
  auto dev = nlw::find_link(host, cfg.device());
  if (dev && (dev->alias == tag || untagged_dev)) nlw::delete_link_if_exists(host, dev->name);
  if (!br || (br->alias != tag && !untagged_br)) return;
  for (const auto& l : nlw::list_links(host)) {
    if (l.master == br->index) return;  // someone else's port still uses it
  }
  nlw::delete_link_if_exists(host, br->name);
}

}  // namespace knet::vxlan
