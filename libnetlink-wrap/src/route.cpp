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

int family_of(const knet::IP& ip) { return ip.is_v4() ? AF_INET : AF_INET6; }

// Builds the libnl route for `r`. Deletes leave scope and protocol unset
// where the caller did, so they match routes whatever those are.
RoutePtr build(const RouteSpec& r, bool for_delete) {
  RoutePtr route(rtnl_route_alloc());
  if (!route) throw Error("out of memory allocating a route object");
  knet::IPNet dst = r.dst.network();
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
    if (!nh) throw Error("out of memory allocating a nexthop");
    if (r.oif) rtnl_route_nh_set_ifindex(nh.get(), r.oif);
    // to_nl throws when out of memory: nh is still ours then, and freed.
    if (r.gw) rtnl_route_nh_set_gateway(nh.get(), detail::to_nl(*r.gw).get());
    if (r.onlink) rtnl_route_nh_set_flags(nh.get(), RTNH_F_ONLINK);
    rtnl_route_add_nexthop(route.get(), nh.release());  // the route owns it from here
  }
  return route;
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
  if (rc < 0) throw Error(what + ": cannot build the request: " + nl_geterror(rc));
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

namespace {

// One RTM_NEWROUTE message of a dump as a RouteSpec, read as libnl reads a
// route object: the table from RTA_TABLE, else the header's; the
// first nexthop from RTA_MULTIPATH, else RTA_OIF / RTA_GATEWAY and the
// header's flags.
std::optional<RouteSpec> parse_route(const nlmsghdr* hdr) {
  if (hdr->nlmsg_type != RTM_NEWROUTE) return std::nullopt;
  nlattr* tb[RTA_MAX + 1];
  if (nlmsg_parse(const_cast<nlmsghdr*>(hdr), sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0) {
    return std::nullopt;
  }
  const auto* rtm = static_cast<const rtmsg*>(nlmsg_data(hdr));
  // A dump of every family also brings multicast-routing and MPLS entries.
  if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return std::nullopt;
  RouteSpec s;
  if (auto ip = detail::ip_of(tb[RTA_DST])) {
    s.dst = {*ip, rtm->rtm_dst_len};
  } else {
    s.dst.ip.family = rtm->rtm_family;  // the default route has no RTA_DST
    s.dst.prefix = 0;
  }
  s.table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
  s.scope = rtm->rtm_scope;
  s.protocol = rtm->rtm_protocol;
  s.type = rtm->rtm_type;
  s.priority = tb[RTA_PRIORITY] ? nla_get_u32(tb[RTA_PRIORITY]) : 0;
  if (tb[RTA_METRICS]) {
    nlattr* mx[RTAX_MAX + 1];
    if (nla_parse_nested(mx, RTAX_MAX, tb[RTA_METRICS], nullptr) == 0) {
      if (mx[RTAX_MTU] && nla_get_u32(mx[RTAX_MTU])) s.mtu = nla_get_u32(mx[RTAX_MTU]);
      if (mx[RTAX_ADVMSS] && nla_get_u32(mx[RTAX_ADVMSS])) s.advmss = nla_get_u32(mx[RTAX_ADVMSS]);
    }
  }
  s.src = detail::ip_of(tb[RTA_PREFSRC]);
  if (tb[RTA_MULTIPATH] && nla_len(tb[RTA_MULTIPATH]) >= static_cast<int>(sizeof(rtnexthop))) {
    const auto* nh = static_cast<const rtnexthop*>(nla_data(tb[RTA_MULTIPATH]));
    if (nh->rtnh_len >= sizeof(rtnexthop) && nh->rtnh_len <= nla_len(tb[RTA_MULTIPATH])) {
      s.oif = nh->rtnh_ifindex;
      s.onlink = nh->rtnh_flags & RTNH_F_ONLINK;
      nlattr* nt[RTA_MAX + 1];
      if (nla_parse(nt, RTA_MAX, reinterpret_cast<nlattr*>(RTNH_DATA(const_cast<rtnexthop*>(nh))),
                    static_cast<int>(nh->rtnh_len - sizeof(rtnexthop)), nullptr) == 0) {
        s.gw = detail::ip_of(nt[RTA_GATEWAY]);
      }
    }
  } else if (tb[RTA_OIF] || tb[RTA_GATEWAY]) {
    s.oif = tb[RTA_OIF] ? static_cast<int>(nla_get_u32(tb[RTA_OIF])) : 0;
    s.gw = detail::ip_of(tb[RTA_GATEWAY]);
    s.onlink = rtm->rtm_flags & RTNH_F_ONLINK;
  }
  return s;
}

}  // namespace

void for_each_route(Socket& sock, int family, uint32_t table,
                    const std::function<void(const RouteSpec&)>& fn,
                    const std::function<void()>& restart) {
  rtmsg req{};
  req.rtm_family = static_cast<unsigned char>(family);
  auto parse = [&](const nlmsghdr* hdr) {
    auto r = parse_route(hdr);
    if (r && (!table || r->table == table)) fn(*r);
  };
  detail::dump(
      sock, RTM_GETROUTE, &req, sizeof req, [](nl_msg*) { return 0; }, parse, restart,
      [] { return std::string("failed to list routes"); });
}

std::vector<RouteSpec> list_routes(Socket& sock, int family, uint32_t table) {
  std::vector<RouteSpec> out;
  for_each_route(
      sock, family, table, [&](const RouteSpec& r) { out.push_back(r); }, [&] { out.clear(); });
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
