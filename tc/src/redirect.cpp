#include "tc/redirect.h"

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/cls/u32.h>
#include <nlw/link.h>

#include "handles.h"

namespace knet::tc {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): a .cpp of the same library

constexpr uint32_t kIngressHandle = TC_H_MAKE(TC_H_INGRESS, 0);  // ffff:
constexpr uint16_t kRedirectPrio = 1;

QdiscPtr ingress_qdisc(nlw::Socket& sock, int ifindex) {
  CachePtr cache = qdisc_cache(sock);
  return QdiscPtr(rtnl_qdisc_get_by_parent(cache.get(), ifindex, TC_H_INGRESS));
}

void add_redirect_filter(nlw::Socket& sock, int ifindex, int ifb_index, const LinkLabel& label) {
  ActPtr act = new_action("mirred");
  rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
  rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
  rtnl_mirred_set_ifindex(act.get(), static_cast<uint32_t>(ifb_index));
  ClsPtr f = new_filter(ifindex, kIngressHandle, kRedirectPrio, ETH_P_ALL, "u32");
  rtnl_u32_add_key_uint32(f.get(), 0, 0, 0, 0);  // matches every packet
  rtnl_u32_set_cls_terminal(f.get());
  rtnl_u32_add_action(f.get(), act.get());  // takes its own reference
  request(sock,
          [&] {
            return "add mirred redirect to " + nlw::link_label(sock, ifb_index) + " on " +
                   label.str();
          },
          [&] { return rtnl_cls_add(sock.get(), f.get(), NLM_F_CREATE); });
}

}  // namespace

void redirect_ingress(nlw::Socket& sock, int ifindex, int ifb_index) {
  LinkLabel label(sock, ifindex);
  QdiscPtr q = new_qdisc(ifindex, TC_H_INGRESS, kIngressHandle, "ingress");
  request(sock, [&] { return "add ingress qdisc to " + label.str(); },
          [&] { return rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE | NLM_F_EXCL); });
  or_undo([&] { add_redirect_filter(sock, ifindex, ifb_index, label); },
          [&] { remove_redirect(sock, ifindex); });
}

bool remove_redirect(nlw::Socket& sock, int ifindex) {
  QdiscPtr q = ingress_qdisc(sock, ifindex);
  if (!q) return false;
  request(sock, [&] { return "delete ingress qdisc from " + nlw::link_label(sock, ifindex); },
          [&] { return rtnl_qdisc_delete(sock.get(), q.get()); });
  return true;
}

bool redirects_to(nlw::Socket& sock, int ifindex, int ifb_index) {
  if (!ingress_qdisc(sock, ifindex)) return false;
  CachePtr cache = filter_cache(sock, ifindex, kIngressHandle);
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* c = reinterpret_cast<rtnl_cls*>(o);
    const char* kind = rtnl_tc_get_kind(TC_CAST(c));
    if (!kind || std::string(kind) != "u32" || rtnl_cls_get_protocol(c) != ETH_P_ALL) continue;
    for (rtnl_act* a = rtnl_u32_get_action(c); a; a = rtnl_act_next(a)) {
      const char* akind = rtnl_tc_get_kind(TC_CAST(a));
      if (akind && std::string(akind) == "mirred" &&
          rtnl_mirred_get_action(a) == TCA_EGRESS_REDIR &&
          rtnl_mirred_get_ifindex(a) == static_cast<uint32_t>(ifb_index)) {
        return true;
      }
    }
  }
  return false;
}

void verify_redirect(nlw::Socket& sock, int ifindex, int ifb_index, const std::string& label) {
  if (!ingress_qdisc(sock, ifindex)) mismatch(label, "no ingress qdisc");
  if (!redirects_to(sock, ifindex, ifb_index)) {
    mismatch(label, "no filter redirecting its ingress to " + nlw::link_label(sock, ifb_index));
  }
}

}  // namespace knet::tc
