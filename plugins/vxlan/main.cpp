// vxlan: connects containers on different nodes over a VXLAN overlay built
// from configuration alone, with no agent (docs/vxlan.md). l2 stretches one
// subnet over a bridge per node; l3 routes a subnet per node.

#include <base/owner.h>
#include <base/run_lock.h>
#include <cni/error.h>
#include <cni/ipam.h>
#include <cni/skel.h>
#include <common/attach.h>
#include <common/check.h>
#include <common/netns.h>
#include <common/owner.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>

#include <optional>

#include "config.h"
#include "overlay.h"

namespace common = knet::common;
namespace vx = knet::vxlan;

namespace {

// This node's side of the network, resolved from the config and the kernel:
// the underlay, the MTU and who the other nodes are.
struct ThisNode {
  vx::Underlay underlay;
  unsigned mtu;
  vx::View view;
};

ThisNode resolve(nlw::Socket& host, const vx::Config& cfg) {
  vx::Underlay u = vx::resolve_underlay(host, cfg);
  unsigned mtu = vx::overlay_mtu(cfg, u);
  vx::View view = vx::view_from(cfg, vx::load_members(cfg), u.local);
  return {u, mtu, view};
}

// This node's subnet in l3 (what host-local's range defaults to).
std::optional<knet::IPNet> self_subnet(const vx::View& view) {
  if (!view.self) return std::nullopt;
  return view.self->subnet;
}

cni::Result add(const cni::Env& env, const cni::NetConf& conf) {
  vx::Config cfg = vx::Config::parse(conf);
  common::require_owner_tag_fits(common::owner_of(env, conf));
  // The whole ADD holds the network's lock: a GC cannot delete the device
  // between its creation and this ADD's veth, and ADDs apply the membership
  // in the order they read it (host-local serialises them anyway).
  knet::RunDirLock lock(vx::network_lock_file(conf.name));
  nlw::Socket host = nlw::Socket::current();
  ThisNode node = resolve(host, cfg);
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  knet::Owner owner = common::owner_of(env, conf);

  cni::NetConf ipam_conf = vx::ipam_conf(conf, cfg, self_subnet(node.view));
  std::optional<cni::IpamReservation> ipam;  // refers to ipam_conf
  cni::Result ip;  // stays empty for an L2-only interface
  if (cfg.has_ipam) {
    ipam.emplace(env, ipam_conf);
    ip = ipam->add();
  }
  if (cfg.mode == vx::Mode::kL3) vx::add_cluster_route(ip, node.view);

  // The network's shared objects outlive this ADD, unless this ADD made them and fails.
  bool new_dev = false, new_br = false;
  nlw::LinkInfo dev = vx::ensure_device(host, cfg, conf.name, node.underlay, node.view, node.mtu, new_dev);
  common::LinkUndo undo_dev(host, new_dev ? dev.name : "");
  nlw::LinkInfo br = vx::ensure_bridge(host, cfg, conf.name, node.mtu, new_br);
  common::LinkUndo undo_br(host, new_br ? br.name : "");
  if (cfg.mode == vx::Mode::kL2 && dev.master != br.index) {
    nlw::set_master(host, dev.index, br.index);
  }
  vx::reconcile(host, dev, cfg, node.view);

  nlw::LinkInfo link = vx::create_veth(host, br, cont_sock, cont, owner, node.mtu);
  common::LinkUndo undo_veth(host, vx::host_veth_name(owner));
  if (cfg.mode == vx::Mode::kL3) vx::configure_router(host, br, dev, node.view, ip);
  common::apply_ip_config(cont_sock, link.index, ip);

  cni::Result result;
  nlw::LinkInfo hv = nlw::get_link(host, vx::host_veth_name(owner));
  auto iface = [](const nlw::LinkInfo& l, const std::string& sandbox) {
    cni::Interface i;
    i.name = l.name;
    i.mac = l.mac;
    i.sandbox = sandbox;
    return i;
  };
  result.interfaces = {iface(br, ""), iface(hv, ""), iface(link, env.netns)};
  result.interfaces[2].mtu = static_cast<int>(node.mtu);
  for (auto& c : ip.ips) c.interface = 2;
  result.ips = ip.ips;
  result.routes = ip.routes;
  result.dns = conf.dns;
  result.dns.merge(ip.dns);

  if (ipam) ipam->commit();
  undo_veth.release();
  undo_br.release();
  undo_dev.release();
  return result;
}

// DEL and GC never read the membership (peersFile may be gone or broken):
// what they remove is found by owner.
void del(const cni::Env& env, const cni::NetConf& conf) {
  vx::Config cfg = vx::Config::parse(conf);
  nlw::Socket host = nlw::Socket::current();
  if (cfg.has_ipam) cni::ipam_del(env, vx::ipam_conf(conf, cfg, std::nullopt));
  // Deleting the host end takes the container end with it.
  vx::delete_veth(host, common::owner_of(env, conf));
}

void check(const cni::Env& env, const cni::NetConf& conf) {
  vx::Config cfg = vx::Config::parse(conf);
  const cni::Result& prev = common::require_prev_result(conf);
  nlw::Socket host = nlw::Socket::current();
  ThisNode node = resolve(host, cfg);
  if (cfg.has_ipam) cni::ipam_check(env, vx::ipam_conf(conf, cfg, self_subnet(node.view)));
  vx::verify_host(host, cfg, conf.name, node.underlay, node.mtu, node.view);
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  vx::verify_container(host, cont_sock, cfg, common::owner_of(env, conf), node.mtu, prev);
}

void gc(const cni::Env& env, const cni::NetConf& conf, const std::vector<cni::Attachment>& valid) {
  vx::Config cfg = vx::Config::parse(conf);
  nlw::Socket host = nlw::Socket::current();
  {
    knet::RunDirLock lock(vx::network_lock_file(conf.name));
    vx::remove_stale(host, cfg, conf.name, valid, lock.held());
  }
  if (cfg.has_ipam) cni::ipam_gc(env, vx::ipam_conf(conf, cfg, std::nullopt));
}

void status(const cni::Env& env, const cni::NetConf& conf) {
  vx::Config cfg = vx::Config::parse(conf);
  nlw::Socket host = nlw::Socket::current();
  std::optional<ThisNode> node;
  try {
    node.emplace(resolve(host, cfg));
  } catch (const knet::Error& e) {
    throw cni::Error(cni::kPluginNotAvailable, e.msg());
  }
  if (cfg.has_ipam) cni::ipam_status(env, vx::ipam_conf(conf, cfg, self_subnet(node->view)));
}

}  // namespace

int main() {
  return cni::plugin_main(cni::Plugin{"knet vxlan plugin", add, del, check, gc, status});
}
