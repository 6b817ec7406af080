#include "shaping.h"
#include <base/step.h>

#include <base/hash.h>
#include <cni/error.h>
#include <common/tagged_link.h>
#include <nlw/error.h>
#include <nlw/socket.h>
#include <tc/redirect.h>
#include <tc/shaper.h>

namespace knet::bandwidth {
namespace {

// The limit shaped on the link's own egress and the one shaped on the ifb,
// with the address that identifies the remote end in each.
struct Plan {
  Limit direct;
  tc::Match direct_match;
  Limit redirected;
  tc::Match redirected_match;
};

Plan plan(const Target& t, const Config& cfg) {
  if (t.host_side) {
    return {cfg.ingress, tc::Match::kSource, cfg.egress, tc::Match::kDestination};
  }
  return {cfg.egress, tc::Match::kDestination, cfg.ingress, tc::Match::kSource};
}

tc::ShaperSpec spec(const Limit& l, tc::Match m, const Config& cfg, unsigned mtu) {
  return tc::ShaperSpec{tc::plan_bucket(l.rate, l.burst, mtu), cfg.subnets, cfg.only_subnets, m};
}

std::string ifb_name(const knet::Owner& o) { return knet::owner_ifname(kIfbPrefix, o); }

// True if host link `peer` is the other end of container veth `link`: each
// names the other's ifindex, and `peer`'s other end is in `cont_ns`.
bool is_peer_of(nlw::Socket& host, const nlw::NetNS& cont_ns, const nlw::LinkInfo& peer,
                const nlw::LinkInfo& link) {
  if (peer.kind != "veth" || peer.link != link.index || !peer.link_netnsid) return false;
  return nlw::netnsid_of(host, cont_ns) == peer.link_netnsid;
}

// A knet tag naming an attachment other than `owner` (an untagged link, or one
// tagged by another tool, is not proof of another owner).
bool other_owners(const nlw::LinkInfo& l, const knet::Owner& owner) {
  auto o = knet::parse_owner_tag(l.alias);
  return o && *o != owner;
}

bool listed_on_host(const cni::Result& prev, const std::string& name) {
  for (const auto& i : prev.interfaces) {
    if (i.sandbox.empty() && i.name == name) return true;
  }
  return false;
}

}  // namespace

Target locate(nlw::Socket& host, nlw::Socket& cont, const nlw::NetNS& cont_ns,
              const knet::Owner& owner, const cni::Result* prev) {
  knet::Step step("locate host veth");
  nlw::LinkInfo link = nlw::get_link(cont, owner.ifname);
  if (link.kind == "veth" && link.link_netnsid && link.link > 0) {
    auto peer = nlw::find_link(host, link.link);
    if (peer && (!prev || listed_on_host(*prev, peer->name)) && !other_owners(*peer, owner) &&
        is_peer_of(host, cont_ns, *peer, link)) {
      return Target{true, *peer};
    }
  }
  return Target{false, link};
}

void apply(nlw::Socket& sock, const Target& t, const Config& cfg, const knet::Owner& owner) {
  knet::Step step("tc apply shaping");
  Plan p = plan(t, cfg);
  remove(sock, &t.link, owner);  // a retried ADD starts from a clean link
  try {
    if (p.direct.enabled()) {
      tc::install_shaper(sock, t.link.index, spec(p.direct, p.direct_match, cfg, t.link.mtu));
    }
    if (p.redirected.enabled()) {
      nlw::LinkInfo ifb = common::create_tagged_link(
          [&] { return nlw::create_ifb(sock, ifb_name(owner), t.link.mtu, knet::owner_tag(owner)); });
      tc::install_shaper(sock, ifb.index, spec(p.redirected, p.redirected_match, cfg, t.link.mtu));
      nlw::set_up(sock, ifb.index);
      tc::redirect_ingress(sock, t.link.index, ifb.index);
    }
  } catch (...) {
    try {
      remove(sock, &t.link, owner);
    } catch (const knet::Error&) {  // the original error is the one to report
    }
    throw;
  }
}

void verify(nlw::Socket& sock, const Target& t, const Config& cfg, const knet::Owner& owner) {
  knet::Step step("tc verify shaping");
  Plan p = plan(t, cfg);
  if (p.direct.enabled()) {
    tc::verify_shaper(sock, t.link.index, spec(p.direct, p.direct_match, cfg, t.link.mtu),
                      t.link.name);
  }
  if (!p.redirected.enabled()) return;
  std::string name = ifb_name(owner);
  auto ifb = nlw::find_link(sock, name);
  if (!ifb || ifb->kind != "ifb") {
    throw cni::Error(cni::kInternal, "ifb " + name + " not found in " + sock.ns_name());
  }
  if (ifb->alias != knet::owner_tag(owner)) {
    throw cni::Error(cni::kInternal, "ifb " + name + " belongs to \"" + ifb->alias + "\", not " +
                                         knet::owner_tag(owner));
  }
  if (!ifb->up) throw cni::Error(cni::kInternal, "ifb " + name + " is down");
  tc::verify_shaper(sock, ifb->index, spec(p.redirected, p.redirected_match, cfg, t.link.mtu),
                    name);
  tc::verify_redirect(sock, t.link.index, ifb->index, t.link.name);
}

void remove(nlw::Socket& sock, const nlw::LinkInfo* link, const knet::Owner& owner) {
  knet::Step step("tc remove shaping");
  auto ifb = find_ifb(sock, owner);
  // What this costs is the ifb's RTM_DELLINK: it ends in rcu_barrier(), one
  // full RCU grace period (~15 ms on 6.18, the reference pays the same).
  // The filter and root qdisc removals take ~0.1 ms each (the qdisc's graft
  // waits for an expedited grace period). The order does not matter: the
  // filter's mirred action drops its hold on the ifb in its unregister
  // notifier either way (no netdev_wait_allrefs sleep traced in either);
  // filter and qdisc first measured 0.99-1.01x of this order
  // (bench/results.md, "Reading the DEL rows"). Packets the veth
  // receives between the ifb's deletion and the filter's are dropped; its
  // container is going.
  auto delete_ifb = [&] {
    if (ifb) delete_if_present(sock, ifb->index);
  };
  if (link && ifb) {
    tc::remove_redirect(sock, link->index, ifb->index, delete_ifb);
  } else {
    delete_ifb();
  }
  if (link) tc::remove_shaper(sock, link->index);
}

std::optional<nlw::LinkInfo> find_ifb(nlw::Socket& sock, const knet::Owner& owner) {
  auto ifb = nlw::find_link(sock, ifb_name(owner));
  if (!ifb || ifb->kind != "ifb" || (ifb->alias != knet::owner_tag(owner) && !ifb->alias.empty())) {
    return std::nullopt;
  }
  return ifb;
}

bool delete_if_present(nlw::Socket& sock, int index) {
  try {
    nlw::delete_link(sock, index);
  } catch (const nlw::NotFound&) {
    return false;  // deleted concurrently: gone is what DEL wants
  }
  return true;
}

std::string reference_ifb_name(const std::string& network, const std::string& container_id) {
  return "bwp" + knet::sha512_hex(network + container_id, 6);
}

bool remove_reference(nlw::Socket& sock, const nlw::LinkInfo* link, const std::string& network,
                      const std::string& container_id) {
  auto ifb = nlw::find_link(sock, reference_ifb_name(network, container_id));
  if (!ifb || ifb->kind != "ifb") return false;
  if (link && tc::remove_redirect(sock, link->index, ifb->index)) {
    tc::remove_shaper(sock, link->index, tc::kReferenceRootHandle);
  }
  return delete_if_present(sock, ifb->index);
}

}  // namespace knet::bandwidth
