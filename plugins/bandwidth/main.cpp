// bandwidth: limits what a container may send and receive. Chained after the
// plugin that made its interface, it shapes with token buckets (TBF, or HTB
// when only some subnets are shaped) and passes the previous result on.

#include <base/owner.h>
#include <base/run_lock.h>
#include <cni/error.h>
#include <cni/skel.h>
#include <common/netns.h>
#include <common/owner.h>
#include <nlw/error.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>
#include <tc/probe.h>
#include <tc/redirect.h>
#include <tc/shaper.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>

#include "config.h"
#include "shaping.h"

namespace common = knet::common;
namespace bw = knet::bandwidth;

namespace {

const cni::Result& require_prev(const cni::NetConf& conf) {
  if (!conf.prev_result) cni::config_error("must be called as a chained plugin (no prevResult)");
  return *conf.prev_result;
}

// The reference skeleton's code for a bad CNI_NETNS (libcni's ErrInvalidNetNS).
constexpr int kInvalidNetNS = 8;

// Refuses CNI_NETNS naming the plugin's own namespace, as the reference's
// skeleton does for ADD and DEL (same code and message, and the same
// CNI_NETNS_OVERRIDE=true|1 escape): the "container" interface would be a host link.
void refuse_own_netns(const nlw::NetNS& cont) {
  const char* o = std::getenv("CNI_NETNS_OVERRIDE");
  std::string override_value = o ? o : "";
  for (char& c : override_value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (override_value == "TRUE" || override_value == "1") return;
  if (cont.same_as(nlw::NetNS::current())) {
    throw cni::Error(
        kInvalidNetNS,
        "plugin's netns and netns from CNI_NETNS should not be the same (" + cont.path() + ")");
  }
}

// ADD and CHECK: finds the link to shape for this attachment (CNI_NETNS must
// not be the plugin's own namespace) and runs `step` on it with a socket in
// that link's namespace.
template <class Step>
void on_target(const cni::Env& env, const cni::NetConf& conf, const cni::Result& prev, Step step) {
  nlw::NetNS cont = common::open_container_netns(env.netns);
  refuse_own_netns(cont);
  nlw::Socket cont_sock = nlw::Socket::in(cont);
  nlw::Socket host_sock = nlw::Socket::current();
  knet::Owner owner = common::owner_of(env, conf);
  bw::Target t = bw::locate(host_sock, cont_sock, cont, owner, &prev);
  step(t.host_side ? host_sock : cont_sock, t, owner);
}

cni::Result add(const cni::Env& env, const cni::NetConf& conf) {
  bw::Config cfg = bw::Config::parse(conf);
  if (!cfg.any()) {
    if (conf.prev_result) return *conf.prev_result;
    return cni::Result{};
  }
  const cni::Result& prev = require_prev(conf);
  common::require_owner_tag_fits(common::owner_of(env, conf));  // the ifb's alias
  on_target(env, conf, prev, [&](nlw::Socket& sock, const bw::Target& t, const knet::Owner& owner) {
    bw::apply(sock, t, cfg, owner);
  });
  return prev;  // passed on unchanged: the ifb is plumbing, not an interface of the result
}

void del(const cni::Env& env, const cni::NetConf& conf) {
  bw::Config::parse(conf);
  knet::Owner owner = common::owner_of(env, conf);
  nlw::Socket host_sock = nlw::Socket::current();
  // Nothing when the namespace is gone: the veth pair went with it.
  std::optional<nlw::NetNS> cont = common::open_netns_for_del(env.netns);
  std::optional<bw::Target> t;
  if (cont) {
    try {
      refuse_own_netns(*cont);
    } catch (const cni::Error&) {
      // As the reference: what DEL removes by the owner's name goes, the
      // "container" interface (a host link) is left alone, and DEL fails.
      bw::remove(host_sock, nullptr, owner);
      bw::remove_reference(host_sock, nullptr, conf.name, env.container_id);
      throw;
    }
    nlw::Socket cont_sock = nlw::Socket::in(*cont);
    if (nlw::find_link(cont_sock, env.ifname)) {
      t = bw::locate(host_sock, cont_sock, *cont, owner, nullptr);
      if (!t->host_side) bw::remove(cont_sock, &t->link, owner);
    } else {
      bw::remove(cont_sock, nullptr, owner);
    }
  }
  const nlw::LinkInfo* host_link = t && t->host_side ? &t->link : nullptr;
  bw::remove(host_sock, host_link, owner);
  bw::remove_reference(host_sock, host_link, conf.name, env.container_id);
}

void check(const cni::Env& env, const cni::NetConf& conf) {
  bw::Config cfg = bw::Config::parse(conf);
  const cni::Result& prev = require_prev(conf);
  if (!cfg.any()) return;
  on_target(env, conf, prev, [&](nlw::Socket& sock, const bw::Target& t, const knet::Owner& owner) {
    bw::verify(sock, t, cfg, owner);
  });
}

// True if ifb `l` is one GC removes: tagged for this network and an
// attachment not in `valid`, or (when `untagged_too`) a knet-named ifb with no tag.
bool stale_ifb(const nlw::LinkInfo& l, const std::string& network,
               const std::vector<cni::Attachment>& valid, bool untagged_too) {
  if (l.kind != "ifb") return false;
  auto o = knet::parse_owner_tag(l.alias);
  if (o)
    return o->network == network && !cni::contains_attachment(valid, o->container_id, o->ifname);
  return untagged_too && l.alias.empty() && knet::is_owner_ifname(bw::kIfbPrefix, l.name);
}

void gc(const cni::Env&, const cni::NetConf& conf, const std::vector<cni::Attachment>& valid) {
  bw::Config::parse(conf);
  // Host-side ifbs can outlive their container; those in a container's
  // namespace die with it. An untagged knet ifb was left by an ADD that died
  // between creating and tagging it: the exclusive lock rules out one in
  // progress while the links are listed, and only then (ADDs wait meanwhile).
  nlw::Socket host_sock = nlw::Socket::current();
  std::vector<nlw::LinkInfo> stale;
  {
    knet::UntaggedLinkLock lock(knet::UntaggedLinkLock::kExclusive);
    for (auto& l : nlw::list_links(host_sock)) {
      if (stale_ifb(l, conf.name, valid, lock.held())) stale.push_back(std::move(l));
    }
  }
  if (stale.empty()) return;
  // A host veth still redirecting to a stale ifb (its container outlived the
  // runtime's list) would drop everything it receives once the ifb is gone:
  // it loses its shaping with the ifb. Links are deleted by ifindex, so one
  // that a new ADD made under the same name since the scan is not touched.
  std::map<int, std::vector<int>> redirecting = knet::tc::redirects_by_target(host_sock);
  for (const auto& l : stale) {
    for (int v : redirecting[l.index]) {
      knet::tc::remove_redirect(host_sock, v, l.index);
      knet::tc::remove_shaper(host_sock, v);
    }
    bw::delete_if_present(host_sock, l.index);
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
