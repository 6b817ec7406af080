// bridge: plugs each container into a Linux bridge on the host through a
// veth pair; the bridge can be the containers' gateway and masquerade their
// traffic to the outside.

#include <base/owner.h>
#include <cni/error.h>
#include <cni/ipam.h>
#include <cni/skel.h>
#include <common/attach.h>
#include <common/check.h>
#include <common/netns.h>
#include <common/owner.h>
#include <common/undo.h>
#include <nlw/error.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>

#include <optional>

#include "bridge.h"
#include "config.h"
#include "masquerade.h"

namespace common = knet::common;
namespace br = knet::bridge;

namespace {

cni::Interface iface_of(const nlw::LinkInfo& l, const std::string& sandbox = {}) {
  cni::Interface i;
  i.name = l.name;
  i.mac = l.mac;
  i.sandbox = sandbox;
  return i;
}

cni::Result add(const cni::Env& env, const cni::NetConf& conf) {
  env.args.require_known({"MAC"});
  br::Config cfg = br::Config::parse(conf, env.args);
  knet::Owner owner = common::owner_of(env, conf);
  common::require_owner_tag_fits(owner);
  nlw::NetNS host_ns = nlw::NetNS::current();
  nlw::Socket host = nlw::Socket::in(host_ns);
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);

  bool created_bridge = false;
  nlw::LinkInfo bridge = br::ensure_bridge(host, cfg, created_bridge);
  // Declared before the port's undo, so it runs after it: a bridge this ADD
  // made goes when the ADD fails, unless another container joined it.
  common::Undo undo_bridge([&] {
    if (created_bridge) br::delete_bridge_if_unused(host, cfg.bridge);
  });
  br::Port port = br::create_port(host, cont_sock, cont, bridge, cfg, owner);
  common::LinkUndo undo_port(host, port.host.name);  // the container end goes with it

  cni::Result result;
  std::optional<cni::IpamReservation> ipam;
  std::optional<common::Undo> undo_masq, undo_spoof;
  if (cfg.has_ipam) {
    ipam.emplace(env, conf);
    cni::Result ip = ipam->add();
    if (ip.ips.empty()) throw cni::Error(cni::kInternal, "IPAM plugin returned missing IP config");
    br::complete_ip_result(ip, cfg);
    br::configure_container(cont, cont_sock, port.container, ip, cfg);
    br::configure_gateway(host_ns, host, bridge, ip, cfg, conf.name);
    if (cfg.ip_masq) {
      undo_masq.emplace([&] {
        br::NftSession nft;
        br::del_masquerade(cfg, owner, nft);
      });
      br::add_masquerade(cfg, owner, ip.ips);
    }
    result.ips = ip.ips;
    result.routes = ip.routes;
    // The config's DNS when it has any, else what IPAM returned (as newer references do).
    result.dns = conf.dns.empty() ? ip.dns : conf.dns;
  } else {
    result.dns = conf.dns;
    if (!cfg.disable_container_interface) nlw::set_up(cont_sock, port.container.index);
  }
  if (cfg.macspoofchk) {
    undo_spoof.emplace([&] {
      br::NftSession nft;
      br::del_macspoof(owner, nft);
    });
    br::add_macspoof(port.host.name, port.container.mac, owner);
  }

  // The bridge's MAC can change when its first port joins: report it as it is now.
  bridge = nlw::get_link(host, cfg.bridge);
  result.interfaces = {iface_of(bridge), iface_of(port.host), iface_of(port.container, env.netns)};

  if (ipam) ipam->commit();
  if (undo_masq) undo_masq->release();
  if (undo_spoof) undo_spoof->release();
  undo_port.release();
  undo_bridge.release();
  return result;
}

void del(const cni::Env& env, const cni::NetConf& conf) {
  br::Config cfg = br::Config::parse(conf, env.args);
  knet::Owner owner = common::owner_of(env, conf);
  if (cfg.has_ipam) cni::ipam_del(env, conf);
  br::NftSession nft;  // closed after the veth delete: see NftSession
  if (cfg.ip_masq) br::del_masquerade(cfg, owner, nft);
  if (cfg.macspoofchk) br::del_macspoof(owner, nft);
  nlw::Socket host = nlw::Socket::current();
  br::delete_port(host, env.netns, owner);  // never the bridge: other containers use it
}

void check(const cni::Env& env, const cni::NetConf& conf) {
  env.args.require_known({"MAC"});
  br::Config cfg = br::Config::parse(conf, env.args);
  const cni::Interface& iface = common::check_prologue(env, conf, cfg.has_ipam);
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  nlw::Socket host = nlw::Socket::current();
  br::verify(host, cont_sock, *conf.prev_result, iface, cfg);
}

void gc(const cni::Env& env, const cni::NetConf& conf, const std::vector<cni::Attachment>& valid) {
  br::Config cfg = br::Config::parse(conf, env.args);
  auto keep = [&](const knet::Owner& o) {
    // The "<bridge>.<vlan>" gateway port belongs to the network, not a container.
    if (o.ifname == "gw" && o.container_id.rfind(cfg.bridge + ".", 0) == 0) return true;
    return cni::contains_attachment(valid, o.container_id, o.ifname);
  };
  auto keep_container = [&](const std::string& id) { return cni::contains_container(valid, id); };
  nlw::Socket host = nlw::Socket::current();
  auto bridge = nlw::find_link(host, cfg.bridge);
  br::delete_stale_ports(host, conf.name, bridge && bridge->kind == "bridge" ? bridge->index : 0,
                         keep);
  br::gc_rules(cfg, conf.name, keep, keep_container);
  if (cfg.has_ipam) cni::ipam_gc(env, conf);
}

void status(const cni::Env& env, const cni::NetConf& conf) {
  br::Config cfg = br::Config::parse(conf, env.args);
  if (cfg.has_ipam) cni::ipam_status(env, conf);
}

}  // namespace

int main() {
  return cni::plugin_main(cni::Plugin{"knet bridge plugin", add, del, check, gc, status});
}
