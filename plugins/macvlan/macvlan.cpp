#include "macvlan.h"
#include <base/step.h>

#include <base/owner.h>
#include <cni/error.h>
#include <common/attach.h>
#include <common/check.h>
#include <nlw/addr.h>
#include <nlw/error.h>
#include <nlw/route.h>
#include <nlw/sysctl.h>
#include <sys/socket.h>

#include <cerrno>

namespace knet::macvlan {
namespace {

// Creates the macvlan in `sock`'s namespace, or with `target` directly in
// that one (`target_sock` its socket), turning the kernel's bare EINVAL for
// passthru conflicts into a message that says what is wrong.
nlw::LinkInfo create(nlw::Socket& sock, const std::string& name, const nlw::LinkInfo& master,
                     const Config& cfg, const std::string& alias, const nlw::NetNS* target = nullptr,
                     nlw::Socket* target_sock = nullptr) {
  nlw::MacvlanOptions opts{cfg.mode, cfg.mtu, cfg.mac, cfg.bcqueuelen, master.name};
  try {
    nlw::LinkInfo link = nlw::create_macvlan(sock, name, master.index, opts, target, target_sock);
    if (!alias.empty()) nlw::set_alias(sock, link.index, alias);
    return link;
  } catch (const knet::Error& e) {
    int err = sock.last_errno();
    // Gone already unless bcqueuelen or the alias failed after the create;
    // with EEXIST the name belongs to someone else.
    if (err != EEXIST) nlw::delete_link_if_exists(target_sock ? *target_sock : sock, name);
    if (err != EINVAL) throw;
    throw cni::Error(cni::kInternal, e.msg() + " (a passthru macvlan takes master " + master.name +
                                   " for itself: it cannot join a master that already has "
                                   "macvlan links, and no macvlan can join it afterwards)");
  }
}

}  // namespace

nlw::LinkInfo resolve_master(nlw::Socket& sock, const Config& cfg) {
  knet::Step step("find master link");
  nlw::LinkInfo master = common::resolve_link_or_default(sock, cfg.master, "master");
  if (cfg.mtu > master.mtu) {
    cni::config_error("invalid \"mtu\" " + std::to_string(cfg.mtu) + ": larger than the MTU of " +
                      "master " + master.name + " (" + std::to_string(master.mtu) + ")");
  }
  return master;
}

std::string temp_name(const knet::Owner& owner) { return knet::owner_ifname("mv", owner); }

bool delete_leftover(nlw::Socket& master_sock, const knet::Owner& owner) {
  knet::Step step("delete leftover macvlan");
  auto l = nlw::find_link(master_sock, temp_name(owner));
  // The name is a hash: only delete what carries this owner's tag.
  if (!l || l->kind != "macvlan" || l->alias != knet::owner_tag(owner)) return false;
  return nlw::delete_link_if_exists(master_sock, l->name);
}

nlw::LinkInfo create_in_container(nlw::Socket& master_sock, const nlw::LinkInfo& master,
                                  nlw::Socket& cont_sock, const nlw::NetNS& cont, const Config& cfg,
                                  const knet::Owner& owner) {
  knet::Step step("create macvlan");
  if (nlw::find_link(cont_sock, owner.ifname)) {
    throw cni::Error(cni::kInternal, "cannot create macvlan " + owner.ifname + ": a link named " +
                                         owner.ifname + " already exists in " + cont.describe());
  }
  if (cfg.link_in_container) return create(cont_sock, owner.ifname, master, cfg, {});
  try {
    return create(master_sock, owner.ifname, master, cfg, {}, &cont, &cont_sock);
  } catch (const knet::Error&) {
    // EEXIST although the container has no such link: this kernel checks the
    // name in the master's namespace, where it is taken.
    if (master_sock.last_errno() != EEXIST || nlw::find_link(cont_sock, owner.ifname)) throw;
  }
  delete_leftover(master_sock, owner);
  std::string tmp = temp_name(owner);
  nlw::LinkInfo link = create(master_sock, tmp, master, cfg, knet::owner_tag(owner));
  common::LinkUndo undo(master_sock, tmp);
  nlw::move_to_netns(master_sock, link.index, cont, owner.ifname);
  undo.release();
  common::LinkUndo undo_moved(cont_sock, owner.ifname);
  nlw::LinkInfo moved = nlw::get_link(cont_sock, owner.ifname);
  undo_moved.release();
  return moved;
}

void configure_ip(const nlw::NetNS& cont, nlw::Socket& cont_sock, const nlw::LinkInfo& link,
                  const cni::Result& ip) {
  knet::Step step("configure container interface");
  if (!ip.ips.empty()) {
    // Make the kernel announce again whenever the link comes up or its
    // address changes, as the reference does; not every kernel has both keys.
    for (const char* key : {"net/ipv4/conf/%/arp_notify", "net/ipv6/conf/%/ndisc_notify"}) {
      std::string k = key;
      k.replace(k.find('%'), 1, link.name);
      try {
        nlw::write_sysctl(cont, k, "1");
      } catch (const knet::Error&) {
      }
    }
  }
  common::apply_ip_config(cont_sock, link.index, ip);
}

void verify(nlw::Socket& cont_sock, const cni::Interface& iface, const nlw::LinkInfo& master,
            bool master_in_container, const Config& cfg, const cni::Result& prev) {
  knet::Step step("verify macvlan");
  const std::string& name = iface.name;
  nlw::LinkInfo link = common::require_container_link(cont_sock, name, "macvlan");
  if (link.macvlan_mode != cfg.mode) {
    common::check_failed("container interface " + name + " is in macvlan mode " +
                 (link.macvlan_mode ? nlw::to_string(*link.macvlan_mode) : "unknown") +
                 ", the config says " + nlw::to_string(cfg.mode));
  }
  // IFLA_LINK_NETNSID is reported exactly when the master is in another namespace.
  if (link.link != master.index || link.link_netnsid.has_value() == master_in_container) {
    common::check_failed("container interface " + name + " is not a macvlan of master " + master.name);
  }
  common::verify_mac(iface, link);
  if (cfg.mtu && link.mtu != cfg.mtu) {
    common::check_failed("container interface " + name + " has MTU " + std::to_string(link.mtu) +
                 ", the config says " + std::to_string(cfg.mtu));
  }

  common::verify_ip_config(cont_sock, link, prev);
}

}  // namespace knet::macvlan
