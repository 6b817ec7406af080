#include "nlw/route.h"

#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include "nlw/error.h"
#include "util.h"

namespace nlw {
namespace {

struct RouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
using RoutePtr = std::unique_ptr<rtnl_route, RouteDeleter>;
struct NexthopDeleter {
  void operator()(rtnl_nexthop* nh) const { rtnl_route_nh_free(nh); }
};
using NexthopPtr = std::unique_ptr<rtnl_nexthop, NexthopDeleter>;

int family_of(const cni::IP& ip) { return ip.is_v4() ? AF_INET : AF_INET6; }

// Builds the libnl route for `r`. Deletes leave scope and protocol unset
// where the caller did, so they match routes whatever those are.
RoutePtr build(const RouteSpec& r, bool for_delete) {
  RoutePtr route(rtnl_route_alloc());
  if (!route) throw cni::Error(cni::kInternal, "out of memory allocating a route object");
  cni::IPNet dst = r.dst.network();
  rtnl_route_set_family(route.get(), family_of(dst.ip));
  rtnl_route_set_dst(route.get(), detail::to_nl(dst.ip, dst.prefix).get());
  rtnl_route_set_table(route.get(), r.table.value_or(RT_TABLE_MAIN));
  rtnl_route_set_type(route.get(), r.type);
  if (r.scope) {
    rtnl_route_set_scope(route.get(), *r.scope);
  } else if (for_delete) {
    rtnl_route_set_scope(route.get(), RT_SCOPE_NOWHERE);  // matches any scope
  } else {
    rtnl_route_set_scope(route.get(), r.gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  }
  if (r.protocol) {
    rtnl_route_set_protocol(route.get(), *r.protocol);
  } else {
    // libnl defaults to RTPROT_STATIC, which a delete would then have to match.
    rtnl_route_set_protocol(route.get(), for_delete ? RTPROT_UNSPEC : RTPROT_BOOT);
  }
  if (r.priority) rtnl_route_set_priority(route.get(), *r.priority);
  if (r.src) rtnl_route_set_pref_src(route.get(), detail::to_nl(*r.src).get());
  if (r.mtu) rtnl_route_set_metric(route.get(), RTAX_MTU, *r.mtu);
  if (r.advmss) rtnl_route_set_metric(route.get(), RTAX_ADVMSS, *r.advmss);
  if (r.gw || r.oif) {
    NexthopPtr nh(rtnl_route_nh_alloc());
    if (!nh) throw cni::Error(cni::kInternal, "out of memory allocating a nexthop");
    if (r.oif) rtnl_route_nh_set_ifindex(nh.get(), r.oif);
    // to_nl throws when out of memory: nh is still ours then, and freed.
    if (r.gw) rtnl_route_nh_set_gateway(nh.get(), detail::to_nl(*r.gw).get());
    if (r.onlink) rtnl_route_nh_set_flags(nh.get(), RTNH_F_ONLINK);
    rtnl_route_add_nexthop(route.get(), nh.release());  // the route owns it from here
  }
  return route;
}

RouteSpec to_spec(rtnl_route* route) {
  RouteSpec s;
  nl_addr* dst = rtnl_route_get_dst(route);
  if (auto ip = detail::from_nl(dst)) {
    s.dst = {*ip, static_cast<int>(nl_addr_get_prefixlen(dst))};
  } else {
    // libnl reports the default route as an empty address of the family.
    s.dst.ip.family = rtnl_route_get_family(route);
    s.dst.prefix = 0;
  }
  s.table = rtnl_route_get_table(route);
  s.scope = rtnl_route_get_scope(route);
  s.protocol = rtnl_route_get_protocol(route);
  s.type = rtnl_route_get_type(route);
  s.priority = rtnl_route_get_priority(route);
  uint32_t v = 0;
  if (rtnl_route_get_metric(route, RTAX_MTU, &v) == 0 && v) s.mtu = v;
  if (rtnl_route_get_metric(route, RTAX_ADVMSS, &v) == 0 && v) s.advmss = v;
  if (auto src = detail::from_nl(rtnl_route_get_pref_src(route))) s.src = src;
  if (rtnl_route_get_nnexthops(route) > 0) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(route, 0);
    s.oif = rtnl_route_nh_get_ifindex(nh);
    s.gw = detail::from_nl(rtnl_route_nh_get_gateway(nh));
    s.onlink = rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK;
  }
  return s;
}

}  // namespace

std::string RouteSpec::describe() const {
  std::string s = dst.network().str();
  if (gw) s += " via " + gw->str();
  if (oif) s += " dev " + std::to_string(oif);
  if (onlink) s += " onlink";
  if (table && *table != RT_TABLE_MAIN) s += " table " + std::to_string(*table);
  if (priority) s += " metric " + std::to_string(*priority);
  return s;
}

void add_route(Socket& sock, const RouteSpec& r, bool replace) {
  RoutePtr route = build(r, false);
  detail::request(sock, "failed to add route " + r.describe(), [&] {
    return rtnl_route_add(sock.get(), route.get(), replace ? NLM_F_REPLACE : NLM_F_EXCL);
  });
}

bool del_route(Socket& sock, const RouteSpec& r) {
  RoutePtr route = build(r, true);
  try {
    detail::request(sock, "failed to delete route " + r.describe(),
                    [&] { return rtnl_route_delete(sock.get(), route.get(), 0); });
  } catch (const NotFound&) {
    return false;
  }
  return true;
}

namespace {

// Queues the add (or delete) request of `r` on `batch`.
void queue(Batch& batch, const RouteSpec& r, bool del, int flags, unsigned accept) {
  RoutePtr route = build(r, del);
  std::string what = (del ? "failed to delete route " : "failed to add route ") + r.describe();
  nl_msg* raw = nullptr;
  int rc = del ? rtnl_route_build_del_request(route.get(), flags, &raw)
               : rtnl_route_build_add_request(route.get(), flags, &raw);
  if (rc < 0) throw cni::Error(cni::kInternal, what + ": cannot build the request: " + nl_geterror(rc));
  detail::MsgPtr msg(raw);
  batch.add(msg.get(), [what] { return what; }, accept);
}

}  // namespace

void add_route(Batch& batch, const RouteSpec& r, bool replace, unsigned accept) {
  queue(batch, r, false, replace ? NLM_F_REPLACE : NLM_F_EXCL, accept);
}

void del_route(Batch& batch, const RouteSpec& r) {
  queue(batch, r, true, 0, Batch::kAcceptNotFound);
}

std::vector<RouteSpec> list_routes(Socket& sock, int family, uint32_t table) {
  nl_cache* raw = nullptr;
  detail::request(sock, "failed to list routes",
                  [&] { return rtnl_route_alloc_cache(sock.get(), family, 0, &raw); });
  detail::CachePtr cache(raw);
  std::vector<RouteSpec> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* route = reinterpret_cast<rtnl_route*>(o);
    if (table && rtnl_route_get_table(route) != table) continue;
    out.push_back(to_spec(route));
  }
  return out;
}

std::optional<int> default_route_link(Socket& sock, int family) {
  std::optional<int> best;
  uint32_t best_metric = 0;
  for (const auto& r : list_routes(sock, family, RT_TABLE_MAIN)) {
    if (r.dst.prefix != 0 || r.oif == 0 || r.type != RTN_UNICAST) continue;
    uint32_t metric = r.priority.value_or(0);
    if (!best || metric < best_metric) {
      best = r.oif;
      best_metric = metric;
    }
  }
  return best;
}

}  // namespace nlw
