// bandwidth: limits what a container may send and receive. Chained after the
// plugin that made its interface, it shapes with token buckets (TBF, or HTB
// when only some subnets are shaped) and passes the previous result on.

#include <cni/error.h>
#include <cni/naming.h>
#include <cni/skel.h>
#include <nlw/error.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>
#include <tc/probe.h>
#include <tc/redirect.h>
#include <tc/shaper.h>

#include <optional>

#include "config.h"
#include "shaping.h"

namespace bw = knet::bandwidth;

namespace {

cni::Owner owner_of(const cni::Env& env, const cni::NetConf& conf) {
  return {conf.name, env.container_id, env.ifname};
}

const cni::Result& require_prev(const cni::NetConf& conf) {
  if (!conf.prev_result) cni::config_error("must be called as a chained plugin (no prevResult)");
  return *conf.prev_result;
}

cni::Result add(const cni::Env& env, const cni::NetConf& conf) {
  bw::Config cfg = bw::Config::parse(conf);
  if (!cfg.any()) {
    if (conf.prev_result) return *conf.prev_result;
    return cni::Result{};
  }
  const cni::Result& prev = require_prev(conf);
  nlw::NetNS cont = nlw::NetNS::open(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  nlw::Socket host_sock = nlw::Socket::current();
  bw::Target t = bw::locate(host_sock, cont_sock, env.ifname, &prev);
  bw::apply(t.host_side ? host_sock : cont_sock, t, cfg, owner_of(env, conf));
  return prev;  // passed on unchanged: the ifb is plumbing, not an interface of the result
}

void del(const cni::Env& env, const cni::NetConf& conf) {
  bw::Config::parse(conf);
  cni::Owner owner = owner_of(env, conf);
  nlw::Socket host_sock = nlw::Socket::current();
  bw::delete_ifb(host_sock, owner);
  bw::delete_reference_ifb(host_sock, conf.name, env.container_id);
  if (env.netns.empty()) return;
  std::optional<nlw::NetNS> cont;
  try {
    cont.emplace(nlw::NetNS::open(env.netns));
  } catch (const nlw::NotFound&) {
    return;  // the namespace, and the veth pair with it, is gone
  }
  nlw::Socket cont_sock = nlw::Socket::in(*cont);
  if (!nlw::find_link(cont_sock, env.ifname)) {
    bw::delete_ifb(cont_sock, owner);
    return;
  }
  bw::Target t = bw::locate(host_sock, cont_sock, env.ifname, nullptr);
  bw::remove(t.host_side ? host_sock : cont_sock, t, owner);
}

void check(const cni::Env& env, const cni::NetConf& conf) {
  bw::Config cfg = bw::Config::parse(conf);
  const cni::Result& prev = require_prev(conf);
  if (!cfg.any()) return;
  nlw::NetNS cont = nlw::NetNS::open(env.netns);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  nlw::Socket host_sock = nlw::Socket::current();
  bw::Target t = bw::locate(host_sock, cont_sock, env.ifname, &prev);
  bw::verify(t.host_side ? host_sock : cont_sock, t, cfg, owner_of(env, conf));
}

void gc(const cni::Env&, const cni::NetConf& conf, const std::vector<cni::Attachment>& valid) {
  bw::Config::parse(conf);
  // Host-side ifbs can outlive their container; those in a container's
  // namespace die with it. An untagged knet ifb was left by an ADD that died
  // between creating and tagging it (the exclusive lock rules out one in
  // progress).
  nlw::Socket host_sock = nlw::Socket::current();
  cni::UntaggedLinkLock lock(cni::UntaggedLinkLock::kExclusive);
  std::vector<nlw::LinkInfo> links = nlw::list_links(host_sock);
  for (const auto& l : links) {
    if (l.kind != "ifb") continue;
    auto o = cni::parse_owner_tag(l.alias);
    bool stale = o ? o->network == conf.name &&
                         !cni::contains_attachment(valid, o->container_id, o->ifname)
                   : lock.held() && l.alias.empty() && cni::is_owner_ifname(bw::kIfbPrefix, l.name);
    if (!stale) continue;
    // A host veth still redirecting to it (its container outlived the
    // runtime's list) would drop everything it receives once the ifb is gone:
    // it loses its shaping with the ifb.
    for (const auto& v : links) {
      if (v.kind == "veth" && knet::tc::redirects_to(host_sock, v.index, l.index)) {
        knet::tc::remove_redirect(host_sock, v.index);
        knet::tc::remove_shaper(host_sock, v.index);
      }
    }
    nlw::delete_link_if_exists(host_sock, l.name);
  }
}

void status(const cni::Env&, const cni::NetConf& conf) {
  bw::Config::parse(conf);
  std::string missing = knet::tc::probe_missing_support();
  if (!missing.empty()) {
    throw cni::Error(cni::kPluginNotAvailable, "the kernel cannot shape traffic: " + missing);
  }
}

}  // namespace

int main() {
  return cni::plugin_main(cni::Plugin{"knet bandwidth plugin", add, del, check, gc, status});
}
