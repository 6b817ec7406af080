#include "nlw/addr.h"

#include <linux/if_addr.h>
#include <netlink/route/addr.h>

#include <cerrno>
#include <thread>

#include "nlw/error.h"
#include "nlw/link.h"
#include "util.h"

namespace nlw {
namespace {

using RtAddrPtr = knet::CPtr<rtnl_addr, rtnl_addr_put>;

RtAddrPtr make_addr(int index, const knet::IPNet& net) {
  RtAddrPtr a(rtnl_addr_alloc());
  if (!a) throw Error("out of memory allocating an address object");
  rtnl_addr_set_ifindex(a.get(), index);
  rtnl_addr_set_local(a.get(), detail::to_nl(net.ip, net.prefix).get());
  rtnl_addr_set_prefixlen(a.get(), net.prefix);
  return a;
}

}  // namespace

void add_address(Socket& sock, int index, const knet::IPNet& addr, const AddrOptions& opts) {
  RtAddrPtr a = make_addr(index, addr);
  unsigned flags = (opts.nodad ? IFA_F_NODAD : 0) | (opts.noprefixroute ? IFA_F_NOPREFIXROUTE : 0);
  if (flags) rtnl_addr_set_flags(a.get(), flags);
  if (opts.broadcast) {
    rtnl_addr_set_broadcast(a.get(), detail::to_nl(*opts.broadcast).get());
  } else if (addr.ip.is_v4() && addr.prefix < 31) {
    // What `ip addr add ... brd +` and Go's netlink.AddrAdd do.
    rtnl_addr_set_broadcast(a.get(), detail::to_nl(addr.last()).get());
  }
  if (opts.scope) rtnl_addr_set_scope(a.get(), *opts.scope);
  detail::request(
      sock, [&] { return "failed to add address " + addr.str() + " to " + link_label(sock, index); },
      [&] { return rtnl_addr_add(sock.get(), a.get(), NLM_F_EXCL); });
}

bool del_address(Socket& sock, int index, const knet::IPNet& addr) {
  RtAddrPtr a = make_addr(index, addr);
  try {
    detail::request(
        sock,
        [&] { return "failed to remove address " + addr.str() + " from " + link_label(sock, index); },
        [&] { return rtnl_addr_delete(sock.get(), a.get(), 0); });
  } catch (const NotFound&) {
    return false;
  }
  return true;
}

std::vector<AddrInfo> list_addresses(Socket& sock, int index, int family) {
  nl_cache* raw = nullptr;
  detail::request(sock, "failed to list addresses",
                  [&] { return rtnl_addr_alloc_cache(sock.get(), &raw); });
  detail::CachePtr cache(raw);
  std::vector<AddrInfo> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (index && rtnl_addr_get_ifindex(a) != index) continue;
    if (family && rtnl_addr_get_family(a) != family) continue;
    auto ip = detail::from_nl(rtnl_addr_get_local(a));
    if (!ip) continue;
    AddrInfo i;
    i.net = {*ip, rtnl_addr_get_prefixlen(a)};
    i.index = rtnl_addr_get_ifindex(a);
    i.scope = rtnl_addr_get_scope(a);
    unsigned flags = rtnl_addr_get_flags(a);
    i.tentative = flags & IFA_F_TENTATIVE;
    i.dadfailed = flags & IFA_F_DADFAILED;
    i.permanent = flags & IFA_F_PERMANENT;
    out.push_back(i);
  }
  return out;
}

void wait_ipv6_usable(Socket& sock, int index, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const AddrInfo* pending = nullptr;
    auto addrs = list_addresses(sock, index, AF_INET6);
    for (const auto& a : addrs) {
      if (a.dadfailed) {
        throw Error("duplicate address detection failed for " + a.net.str() +
                                             " on " + link_label(sock, index) + " in " +
                                             sock.ns_name());
      }
      if (a.tentative) pending = &a;
    }
    if (!pending) return;
    if (Clock::now() >= deadline) {
      throw Error("address " + pending->net.str() + " on " +
                                           link_label(sock, index) + " in " + sock.ns_name() +
                                           " still tentative after " +
                                           std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace nlw
