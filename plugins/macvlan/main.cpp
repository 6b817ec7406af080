// macvlan: gives a container its own MAC address on a host interface (the
// "master"), so it sits directly on the master's network: no bridge, no NAT.

#include <base/owner.h>
#include <cni/error.h>
#include <cni/ipam.h>
#include <cni/skel.h>
#include <common/attach.h>
#include <common/check.h>
#include <common/netns.h>
#include <common/owner.h>
#include <nlw/error.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>

#include <optional>

#include "config.h"
#include "macvlan.h"

namespace common = knet::common;
namespace mv = knet::macvlan;

namespace {

cni::Result add(const cni::Env& env, const cni::NetConf& conf) {
  env.args.require_known({"MAC"});
  mv::Config cfg = mv::Config::parse(conf, env.args);
  common::require_owner_tag_fits(common::owner_of(env, conf));
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  nlw::Socket host_sock = nlw::Socket::current();
  nlw::Socket& master_sock = cfg.link_in_container ? cont_sock : host_sock;
  nlw::LinkInfo master = mv::resolve_master(master_sock, cfg);

  nlw::LinkInfo link =
      mv::create_in_container(master_sock, master, cont_sock, cont, cfg, common::owner_of(env, conf));
  common::LinkUndo undo_link(cont_sock, env.ifname);

  cni::Result result;
  cni::Interface iface;
  iface.name = link.name;
  iface.mac = link.mac;
  iface.sandbox = env.netns;
  result.interfaces.push_back(iface);
  result.dns = conf.dns;
  std::optional<cni::IpamReservation> ipam;
  cni::Result ip;  // stays empty for an L2-only interface
  if (cfg.has_ipam) {
    ipam.emplace(env, conf);
    ip = ipam->add();
    for (auto& c : ip.ips) c.interface = 0;
    result.ips = ip.ips;
    result.routes = ip.routes;
    result.dns.merge(ip.dns);  // the reference drops the IPAM plugin's DNS
  }
  mv::configure_ip(cont, cont_sock, link, ip);

  if (ipam) ipam->commit();
  undo_link.release();
  return result;
}

void del(const cni::Env& env, const cni::NetConf& conf) {
  mv::Config cfg = mv::Config::parse(conf, env.args);
  if (cfg.has_ipam) cni::ipam_del(env, conf);
  if (!cfg.link_in_container) {
    nlw::Socket host_sock = nlw::Socket::current();
    mv::delete_leftover(host_sock, common::owner_of(env, conf));
  }
  std::optional<nlw::NetNS> cont = common::open_netns_for_del(env.netns);
  if (!cont) return;  // the namespace, and the link with it, is already gone
  nlw::Socket cont_sock = nlw::Socket::in(*cont);
  // Only a macvlan is ours to delete: another kind under this name belongs to someone else.
  auto link = nlw::find_link(cont_sock, env.ifname);
  if (link && link->kind == "macvlan") nlw::delete_link_if_exists(cont_sock, env.ifname);
}

void check(const cni::Env& env, const cni::NetConf& conf) {
  env.args.require_known({"MAC"});
  mv::Config cfg = mv::Config::parse(conf, env.args);
  const cni::Interface& iface = common::check_prologue(env, conf, cfg.has_ipam);
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  nlw::Socket host_sock = nlw::Socket::current();
  nlw::LinkInfo master = mv::resolve_master(cfg.link_in_container ? cont_sock : host_sock, cfg);
  mv::verify(cont_sock, iface, master, cfg.link_in_container, cfg, *conf.prev_result);
}

void gc(const cni::Env& env, const cni::NetConf& conf, const std::vector<cni::Attachment>& valid) {
  mv::Config cfg = mv::Config::parse(conf, env.args);
  // Container links die with their namespace; what can outlive a crashed ADD
  // is its temporary link in the host namespace (tagged with its owner).
  if (!cfg.link_in_container) {
    nlw::Socket host_sock = nlw::Socket::current();
    for (const auto& l : nlw::list_links(host_sock)) {
      auto o = knet::parse_owner_tag(l.alias);
      if (l.kind != "macvlan" || !o || o->network != conf.name ||
          cni::contains_attachment(valid, o->container_id, o->ifname)) {
        continue;
      }
      mv::delete_leftover(host_sock, *o);
    }
  }
  if (cfg.has_ipam) cni::ipam_gc(env, conf);
}

void status(const cni::Env& env, const cni::NetConf& conf) {
  mv::Config cfg = mv::Config::parse(conf, env.args);
  // With linkInContainer the master lives in namespaces STATUS is not told about.
  if (!cfg.link_in_container) {
    nlw::Socket host_sock = nlw::Socket::current();
    try {
      mv::resolve_master(host_sock, cfg);
    } catch (const knet::Error& e) {
      throw cni::Error(cni::kPluginNotAvailable, e.msg());
    }
  }
  if (cfg.has_ipam) cni::ipam_status(env, conf);
}

}  // namespace

int main() {
  return cni::plugin_main(cni::Plugin{"knet macvlan plugin", add, del, check, gc, status});
}
