#include "tc/redirect.h"

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/cls/u32.h>
#include <nlw/link.h>

#include <set>
#include <tuple>

#include "handles.h"

namespace knet::tc {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): a .cpp of the same library

constexpr uint32_t kIngressHandle = TC_H_MAKE(TC_H_INGRESS, 0);                // ffff:
constexpr uint32_t kClsactIngress = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);  // ffff:fff2
constexpr uint16_t kRedirectPrio = 1;

std::string kind_of(void* tc) {
  const char* k = rtnl_tc_get_kind(TC_CAST(tc));
  return k ? k : "";
}

// The qdisc on link `ifindex`'s ingress hook (kind ingress or clsact), or null.
QdiscPtr ingress_qdisc(nlw::Socket& sock, int ifindex) {
  CachePtr cache = qdisc_cache(sock);
  return QdiscPtr(rtnl_qdisc_get_by_parent(cache.get(), ifindex, TC_H_INGRESS));
}

// Where filters on the ingress hook hang under qdisc `q`.
uint32_t filter_parent(rtnl_qdisc* q) {
  return kind_of(q) == "clsact" ? kClsactIngress : kIngressHandle;
}

// True if filter `c` is a match-all u32 redirecting to the egress of `ifb_index`.
bool is_redirect_to(rtnl_cls* c, int ifb_index) {
  if (kind_of(c) != "u32" || rtnl_cls_get_protocol(c) != ETH_P_ALL) return false;
  for (rtnl_act* a = rtnl_u32_get_action(c); a; a = rtnl_act_next(a)) {
    if (kind_of(a) == "mirred" && rtnl_mirred_get_action(a) == TCA_EGRESS_REDIR &&
        rtnl_mirred_get_ifindex(a) == static_cast<uint32_t>(ifb_index)) {
      return true;
    }
  }
  return false;
}

// The ifindexes filter `c` redirects to (mirred egress redirect actions).
std::vector<int> redirect_targets(rtnl_cls* c) {
  std::vector<int> out;
  if (kind_of(c) != "u32") return out;
  for (rtnl_act* a = rtnl_u32_get_action(c); a; a = rtnl_act_next(a)) {
    if (kind_of(a) == "mirred" && rtnl_mirred_get_action(a) == TCA_EGRESS_REDIR) {
      out.push_back(static_cast<int>(rtnl_mirred_get_ifindex(a)));
    }
  }
  return out;
}

// A u32 entry that only structures the classifier (its hash table), with no
// key and no action: it goes with the last real filter of its priority.
bool is_u32_node(rtnl_cls* c) {
  if (kind_of(c) != "u32" || rtnl_u32_get_action(c)) return false;
  uint32_t val, mask, classid;
  int off, offmask;
  return rtnl_u32_get_key(c, 0, &val, &mask, &off, &offmask) < 0 &&
         rtnl_u32_get_classid(c, &classid) < 0;
}

void add_redirect_filter(nlw::Socket& sock, int ifindex, uint32_t parent, int ifb_index,
                         bool beside_others, const LinkLabel& label) {
  ActPtr act = new_action("mirred");
  rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
  rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
  rtnl_mirred_set_ifindex(act.get(), static_cast<uint32_t>(ifb_index));
  ClsPtr f = new_filter(ifindex, parent, kRedirectPrio, ETH_P_ALL, "u32");
  rtnl_u32_add_key_uint32(f.get(), 0, 0, 0, 0);  // matches every packet
  rtnl_u32_set_cls_terminal(f.get());
  rtnl_u32_add_action(f.get(), act.get());  // takes its own reference
  request(sock,
          [&] {
            std::string what = "add mirred redirect to " + nlw::link_label(sock, ifb_index) +
                               " on " + label.str();
            if (beside_others) {
              what +=
                  " beside the ingress filters already there (another tool's filter may hold "
                  "priority " +
                  std::to_string(kRedirectPrio) + " with another kind or protocol)";
            }
            return what;
          },
          [&] { return rtnl_cls_add(sock.get(), f.get(), NLM_F_CREATE); });
}

void delete_qdisc(nlw::Socket& sock, int ifindex, rtnl_qdisc* q) {
  request(sock,
          [&] {
            return "delete " + kind_of(q) + " qdisc from " + nlw::link_label(sock, ifindex);
          },
          [&] { return rtnl_qdisc_delete(sock.get(), q); });
}

void delete_filter(nlw::Socket& sock, int ifindex, rtnl_cls* c) {
  request(sock, [&] { return "delete ingress filter from " + nlw::link_label(sock, ifindex); },
          [&] { return rtnl_cls_delete(sock.get(), c, 0); });
}

}  // namespace

void redirect_ingress(nlw::Socket& sock, int ifindex, int ifb_index) {
  LinkLabel label(sock, ifindex);
  QdiscPtr q = ingress_qdisc(sock, ifindex);
  bool made = !q;
  if (made) {
    q = new_qdisc(ifindex, TC_H_INGRESS, kIngressHandle, "ingress");
    request(sock, [&] { return "add ingress qdisc to " + label.str(); },
            [&] { return rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE | NLM_F_EXCL); });
  }
  or_undo(
      [&] { add_redirect_filter(sock, ifindex, filter_parent(q.get()), ifb_index, !made, label); },
      [&] {
        if (made) delete_qdisc(sock, ifindex, q.get());
      });
}

bool remove_redirect(nlw::Socket& sock, int ifindex, int ifb_index,
                     const std::function<void()>& before_deleting) {
  QdiscPtr q = ingress_qdisc(sock, ifindex);
  CachePtr cache;
  // Filters grouped by (priority, protocol): a group whose every filter is
  // knet's goes whole (u32 leaves its hash table behind otherwise).
  using Group = std::tuple<uint16_t, uint16_t>;
  std::map<Group, std::vector<rtnl_cls*>> ours;
  std::set<Group> shared;
  if (q) {
    cache = filter_cache(sock, ifindex, filter_parent(q.get()));
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
      auto* c = reinterpret_cast<rtnl_cls*>(o);
      Group g{rtnl_cls_get_prio(c), rtnl_cls_get_protocol(c)};
      if (is_redirect_to(c, ifb_index)) {
        ours[g].push_back(c);
      } else if (!is_u32_node(c)) {
        shared.insert(g);
      }
    }
  }
  // The filters are known by now: the redirect target may go first.
  if (before_deleting) before_deleting();
  if (ours.empty()) return false;
  for (auto& [g, filters] : ours) {
    if (shared.count(g)) {
      for (rtnl_cls* c : filters) delete_filter(sock, ifindex, c);
      continue;
    }
    ClsPtr whole =
        new_filter(ifindex, filter_parent(q.get()), std::get<0>(g), std::get<1>(g), "u32");
    delete_filter(sock, ifindex, whole.get());
  }
  return true;
}

bool redirects_to(nlw::Socket& sock, int ifindex, int ifb_index) {
  QdiscPtr q = ingress_qdisc(sock, ifindex);
  if (!q) return false;
  CachePtr cache = filter_cache(sock, ifindex, filter_parent(q.get()));
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    if (is_redirect_to(reinterpret_cast<rtnl_cls*>(o), ifb_index)) return true;
  }
  return false;
}

std::map<int, std::vector<int>> redirects_by_target(nlw::Socket& sock) {
  std::map<int, std::vector<int>> out;
  CachePtr qdiscs = qdisc_cache(sock);
  for (nl_object* o = nl_cache_get_first(qdiscs.get()); o; o = nl_cache_get_next(o)) {
    auto* q = reinterpret_cast<rtnl_qdisc*>(o);
    if (rtnl_tc_get_parent(TC_CAST(q)) != TC_H_INGRESS) continue;
    int ifindex = rtnl_tc_get_ifindex(TC_CAST(q));
    CachePtr filters = filter_cache(sock, ifindex, filter_parent(q));
    std::set<int> targets;
    for (nl_object* f = nl_cache_get_first(filters.get()); f; f = nl_cache_get_next(f)) {
      for (int t : redirect_targets(reinterpret_cast<rtnl_cls*>(f))) targets.insert(t);
    }
    for (int t : targets) out[t].push_back(ifindex);
  }
  return out;
}

void verify_redirect(nlw::Socket& sock, int ifindex, int ifb_index, const std::string& label) {
  if (!ingress_qdisc(sock, ifindex)) mismatch(label, "no ingress qdisc");
  if (!redirects_to(sock, ifindex, ifb_index)) {
    mismatch(label, "no filter redirecting its ingress to " + nlw::link_label(sock, ifb_index));
  }
}

}  // namespace knet::tc
