#include "bridge.h"
#include <base/step.h>

#include <cni/error.h>
#include <common/attach.h>
#include <common/check.h>
#include <common/netns.h>
#include <common/tagged_link.h>
#include <nlw/addr.h>
#include <nlw/error.h>
#include <nlw/route.h>
#include <nlw/sysctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

namespace knet::bridge {
namespace {

// Sets a sysctl the kernel may not have (IPv6 disabled, older kernels): a
// missing key is not an error, as in the reference.
void try_sysctl(const nlw::NetNS& ns, const std::string& key, const std::string& value) {
  try {
    nlw::write_sysctl(ns, key, value);
  } catch (const knet::Error&) {
  }
}

// Adds VLAN membership to a bridge port: `vlan` as PVID untagged, or every
// trunk ID tagged; drops VLAN 1 unless preserveDefaultVlan.
void set_port_vlans(nlw::Socket& host, int index, uint16_t vlan, const std::vector<uint16_t>& trunk,
                    bool preserve_default) {
  if (!vlan && trunk.empty()) return;
  if (!preserve_default) nlw::bridge_vlan_del(host, index, 1);
  if (vlan) nlw::bridge_vlan_add(host, index, vlan, true, true);
  for (uint16_t v : trunk) nlw::bridge_vlan_add(host, index, v, false, false);
}

// The link the gateway addresses go on: the bridge itself, or with a VLAN
// the reference's "<bridge>.<vlan>" veth, whose peer is an untagged port of
// that VLAN (created on first use).
nlw::LinkInfo gateway_link(const nlw::NetNS& host_ns, nlw::Socket& host, const nlw::LinkInfo& br,
                           const Config& cfg, const std::string& network) {
  if (!cfg.vlan) return br;
  std::string name = cfg.bridge + "." + std::to_string(cfg.vlan);
  if (auto l = nlw::find_link(host, name)) return *l;
  knet::Owner gw{network, name, "gw"};
  std::string port = host_veth_name(gw);
  nlw::VethOptions opts;
  opts.mtu = br.mtu;
  opts.alias = knet::owner_tag(gw);
  opts.master = br.index;  // a port from birth, as create_port's veths
  opts.up = true;
  nlw::LinkInfo p =
      common::create_tagged_link([&] { return nlw::create_veth(host, port, name, host_ns, opts); });
  common::LinkUndo undo(host, port);
  set_port_vlans(host, p.index, cfg.vlan, {}, cfg.preserve_default_vlan);
  nlw::LinkInfo l = nlw::get_link(host, name);
  nlw::set_up(host, l.index);
  undo.release();
  return l;
}

// The reference's ensureAddr: `gw` on link `l`, replacing a different
// address of the same subnet only when `force`.
void ensure_address(nlw::Socket& host, const nlw::LinkInfo& l, const knet::IPNet& gw, bool force) {
  for (const auto& a : nlw::list_addresses(host, l.index, gw.ip.is_v4() ? AF_INET : AF_INET6)) {
    if (a.net == gw) return;
    // IPv4: one gateway address per bridge; IPv6: one per subnet (link-local ones are the kernel's).
    if (!gw.ip.is_v4() && !a.net.contains(gw.ip) && !gw.contains(a.net.ip)) continue;
    if (!force) {
      throw cni::Error(cni::kInternal, "\"" + l.name + "\" already has an IP address " +
                                           a.net.str() + " different from " + gw.str() +
                                           " (set \"forceAddress\" to replace it)");
    }
    nlw::del_address(host, l.index, a.net);
  }
  nlw::AddrOptions opts;
  // The gateway is IPAM's to hand out, so DAD could only delay it: usable at once.
  opts.nodad = !gw.ip.is_v4();
  try {
    nlw::add_address(host, l.index, gw, opts);
  } catch (const nlw::Exists&) {
    // A concurrent ADD of the same network added it first.
  }
}

// A random locally administered unicast MAC. A bridge created without one
// takes the lowest MAC of its ports and changes it as ports come and go,
// which leaves containers with a stale gateway neighbour entry.
std::string random_mac() {
  uint8_t b[6];
  if (getrandom(b, sizeof b, 0) != sizeof b) {
    throw cni::Error(cni::kInternal, std::string("getrandom failed: ") + std::strerror(errno));
  }
  b[0] = static_cast<uint8_t>((b[0] & 0xfe) | 0x02);
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return out;
}

}  // namespace

nlw::LinkInfo ensure_bridge(nlw::Socket& host, const Config& cfg, bool& created) {
  knet::Step step("ensure bridge");
  created = false;
  std::optional<nlw::LinkInfo> br = nlw::find_link(host, cfg.bridge);
  if (!br) {
    try {
      br = nlw::create_bridge(host, cfg.bridge, {cfg.mtu, random_mac(), cfg.vlan_filtering()});
      created = true;
    } catch (const nlw::Exists&) {
      br = nlw::find_link(host, cfg.bridge);  // a concurrent ADD created it
    } catch (const knet::Error& e) {
      if (!cfg.vlan_filtering() || host.last_errno() != EOPNOTSUPP) throw;
      nlw::delete_link_if_exists(host, cfg.bridge);
      throw cni::Error(cni::kInternal, e.msg() +
                                     " (this kernel has no bridge VLAN filtering, "
                                     "CONFIG_BRIDGE_VLAN_FILTERING, which \"vlan\" and "
                                     "\"vlanTrunk\" need)");
    }
  }
  if (!br || br->kind != "bridge") {
    throw cni::Error(cni::kInternal, "\"" + cfg.bridge + "\" already exists but is not a bridge");
  }
  if (cfg.promisc && !br->promisc) nlw::set_promisc(host, br->index, true);
  if (!br->up) nlw::set_up(host, br->index);
  return *br;
}

void delete_bridge_if_unused(nlw::Socket& host, const std::string& name) {
  auto br = nlw::find_link(host, name);
  if (!br || br->kind != "bridge") return;
  for (const auto& l : nlw::list_links(host)) {
    if (l.master == br->index) return;
  }
  try {
    nlw::delete_link(host, br->index);
  } catch (const nlw::NotFound&) {
  }
}

std::string host_veth_name(const knet::Owner& owner) { return knet::owner_ifname("veth", owner); }

Port create_port(nlw::Socket& host, nlw::Socket& cont_sock, const nlw::NetNS& cont,
                 const nlw::LinkInfo& br, const Config& cfg, const knet::Owner& owner) {
  knet::Step step("create veth");
  std::string name = host_veth_name(owner);
  std::string tag = knet::owner_tag(owner);
  nlw::VethOptions opts;
  opts.mtu = cfg.mtu;
  opts.peer_mac = cfg.mac;
  opts.alias = tag;
  opts.master = br.index;  // a port from birth: GC finds an untagged one by its bridge
  opts.up = true;
  Port p;
  try {
    p.host = common::create_tagged_link(
        [&] { return nlw::create_veth(host, name, owner.ifname, cont, opts); });
  } catch (const nlw::Exists&) {
    // The reference's message: a second ADD of a container must not touch
    // the first one's interface.
    if (nlw::find_link(cont_sock, owner.ifname)) {
      throw cni::Error(cni::kInternal,
                       "container veth name provided (" + owner.ifname + ") already exists");
    }
    // A crashed ADD of this owner may have left its host end (tagged, or
    // untagged if it died between the two requests of create_veth); anything
    // else under this name is not ours to remove.
    auto old = nlw::find_link(host, name);
    if (!old || old->kind != "veth" || (old->alias != tag && !old->alias.empty())) throw;
    nlw::delete_link_if_exists(host, name);
    p.host = common::create_tagged_link(
        [&] { return nlw::create_veth(host, name, owner.ifname, cont, opts); });
  }
  common::LinkUndo undo(host, name);
  nlw::BridgePortOptions port;
  if (cfg.hairpin) port.hairpin = true;
  if (cfg.port_isolation) port.isolated = true;
  if (port.hairpin || port.isolated) nlw::set_bridge_port(host, p.host.index, port);
  set_port_vlans(host, p.host.index, cfg.vlan, cfg.vlan_trunk, cfg.preserve_default_vlan);
  p.container = nlw::get_link(cont_sock, owner.ifname);
  undo.release();
  return p;
}

void complete_ip_result(cni::Result& ip, const Config& cfg) {
  for (auto& c : ip.ips) {
    if (c.address.prefix == 0) {
      cni::config_error("invalid IPAM address " + c.address.str() +
                        ": its subnet is a /0, which would route every destination into the bridge");
    }
    c.interface = 2;
    if (cfg.is_gateway && !c.gateway) c.gateway = c.address.network().ip.next();
  }
  if (!cfg.is_default_gateway) return;
  for (int family : {AF_INET, AF_INET6}) {
    auto gw = common::gateway_of_family(ip, family);
    if (!gw) continue;
    bool found = false;
    for (const auto& r : ip.routes) {
      found = found || (r.gw && r.dst.prefix == 0 && r.dst.ip.family == family);
    }
    if (!found) {
      cni::Route def;
      def.dst = *knet::IPNet::parse(family == AF_INET ? "0.0.0.0/0" : "::/0");
      def.gw = gw;
      ip.routes.push_back(def);
    }
  }
}

void configure_container(const nlw::NetNS& cont, nlw::Socket& cont_sock, const nlw::LinkInfo& link,
                         const cni::Result& ip, const Config& cfg) {
  knet::Step step("configure container interface");
  const std::string& ifname = link.name;
  if (!cfg.enable_dad) {
    try_sysctl(cont, "net/ipv6/conf/" + ifname + "/enhanced_dad", "0");
    try_sysctl(cont, "net/ipv6/conf/" + ifname + "/accept_dad", "0");
  }
  try_sysctl(cont, "net/ipv4/conf/" + ifname + "/arp_notify", "1");
  common::apply_ip_config(cont_sock, link.index, ip);
}

void configure_gateway(const nlw::NetNS& host_ns, nlw::Socket& host, const nlw::LinkInfo& br,
                       const cni::Result& ip, const Config& cfg, const std::string& network) {
  knet::Step step("configure bridge gateway");
  if (!cfg.is_gateway) return;
  nlw::LinkInfo l = gateway_link(host_ns, host, br, cfg, network);
  bool v4 = false, v6 = false;
  for (const auto& c : ip.ips) {
    if (!c.gateway) continue;
    ensure_address(host, l, knet::IPNet{*c.gateway, c.address.prefix}, cfg.force_address);
    (c.gateway->is_v4() ? v4 : v6) = true;
  }
  if (v4) nlw::write_sysctl(host_ns, "net/ipv4/ip_forward", "1");
  if (v6) nlw::write_sysctl(host_ns, "net/ipv6/conf/all/forwarding", "1");
}

void delete_port(nlw::Socket& host, const std::string& netns, const knet::Owner& owner) {
  knet::Step step("delete veth");
  std::string name = host_veth_name(owner);
  auto l = nlw::find_link(host, name);
  // Untagged: an ADD of this owner died between creating the pair and tagging it.
  if (l && l->kind == "veth" && (l->alias == knet::owner_tag(owner) || l->alias.empty())) {
    try {
      nlw::delete_link(host, l->index);  // takes the container end with it
    } catch (const nlw::NotFound&) {
      // A concurrent DEL took it: gone is what DEL wants.
    }
    return;
  }
  // A pair knet did not name (the reference plugin made it): go by the
  // container's interface name, if its namespace is still there.
  std::optional<nlw::NetNS> cont = common::open_netns_for_del(netns);
  if (!cont) return;
  nlw::Socket cont_sock = nlw::Socket::in(*cont);
  auto c = nlw::find_link(cont_sock, owner.ifname);
  if (c && c->kind == "veth") nlw::delete_link_if_exists(cont_sock, owner.ifname);
}

void verify(nlw::Socket& host, nlw::Socket& cont_sock, const cni::Result& prev,
            const cni::Interface& iface, const Config& cfg) {
  knet::Step step("verify bridge and veth");
  const std::string& name = iface.name;
  nlw::LinkInfo link = common::require_container_link(cont_sock, name, "veth");
  common::verify_mac(iface, link);
  auto br = nlw::find_link(host, cfg.bridge);
  if (!br || br->kind != "bridge") common::check_failed("bridge " + cfg.bridge + " not found");
  auto peer = nlw::find_link(host, link.link);
  if (!peer || peer->master != br->index) {
    common::check_failed("the host end of container interface " + name +
                         " is not a port of bridge " + cfg.bridge);
  }
  common::verify_ip_config(cont_sock, link, prev);
}

}  // namespace knet::bridge
