#include "nlw/neigh.h"

#include <linux/neighbour.h>
#include <netlink/route/neighbour.h>

#include "nlw/error.h"
#include "nlw/link.h"
#include "util.h"

namespace nlw {
namespace {

struct NeighDeleter {
  void operator()(rtnl_neigh* n) const { rtnl_neigh_put(n); }
};
using NeighPtr = std::unique_ptr<rtnl_neigh, NeighDeleter>;

NeighPtr alloc_neigh(int index) {
  NeighPtr n(rtnl_neigh_alloc());
  if (!n) throw cni::Error(cni::kInternal, "out of memory allocating a neighbour object");
  rtnl_neigh_set_ifindex(n.get(), index);
  return n;
}

// An FDB entry template. The family is set after the destination, because
// libnl otherwise takes the destination's family (AF_INET) for the entry.
NeighPtr fdb_neigh(int index, const std::string& mac, const std::optional<cni::IP>& dst,
                   bool self) {
  NeighPtr n = alloc_neigh(index);
  rtnl_neigh_set_lladdr(n.get(), detail::mac_to_nl(mac).get());
  if (dst) rtnl_neigh_set_dst(n.get(), detail::to_nl(*dst).get());
  rtnl_neigh_set_family(n.get(), AF_BRIDGE);
  rtnl_neigh_set_flags(n.get(), self ? NTF_SELF : NTF_MASTER);
  return n;
}

std::string fdb_label(const std::string& mac, const std::optional<cni::IP>& dst) {
  return "FDB entry " + mac + (dst ? " dst " + dst->str() : std::string());
}

// Runs a delete and turns "it was not there" into false.
template <class W, class F>
bool delete_quietly(Socket& sock, W&& what, F&& f) {
  try {
    detail::request(sock, what, f);
  } catch (const NotFound&) {
    return false;
  }
  return true;
}

// Every neighbour and FDB entry: libnl's cache asks once per family
// (AF_UNSPEC, AF_BRIDGE) since the kernel dumps the FDB only on AF_BRIDGE.
detail::CachePtr dump(Socket& sock, const char* what) {
  nl_cache* raw = nullptr;
  detail::request(sock, std::string("failed to list ") + what,
                  [&] { return rtnl_neigh_alloc_cache_flags(sock.get(), &raw, NL_CACHE_AF_ITER); });
  return detail::CachePtr(raw);
}

}  // namespace

bool NeighInfo::permanent() const { return state & NUD_PERMANENT; }

void add_neigh(Socket& sock, int index, const cni::IP& ip, const std::string& mac) {
  NeighPtr n = alloc_neigh(index);
  rtnl_neigh_set_dst(n.get(), detail::to_nl(ip).get());
  rtnl_neigh_set_lladdr(n.get(), detail::mac_to_nl(mac).get());
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  detail::request(
      sock,
      [&] {
        return "failed to add neighbour " + ip.str() + " lladdr " + mac + " on " +
               link_label(sock, index);
      },
      [&] { return rtnl_neigh_add(sock.get(), n.get(), NLM_F_CREATE | NLM_F_REPLACE); });
}

bool del_neigh(Socket& sock, int index, const cni::IP& ip) {
  NeighPtr n = alloc_neigh(index);
  rtnl_neigh_set_dst(n.get(), detail::to_nl(ip).get());
  return delete_quietly(sock,
                        [&] {
                          return "failed to delete neighbour " + ip.str() + " on " +
                                 link_label(sock, index);
                        },
                        [&] { return rtnl_neigh_delete(sock.get(), n.get(), 0); });
}

std::vector<NeighInfo> list_neighs(Socket& sock, int index, int family) {
  detail::CachePtr cache = dump(sock, "neighbours");
  std::vector<NeighInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* n = reinterpret_cast<rtnl_neigh*>(o);
    int f = rtnl_neigh_get_family(n);
    if ((f != AF_INET && f != AF_INET6) || (family && f != family)) continue;
    if (index && rtnl_neigh_get_ifindex(n) != index) continue;
    auto ip = detail::from_nl(rtnl_neigh_get_dst(n));
    if (!ip) continue;
    out.push_back({rtnl_neigh_get_ifindex(n), *ip, detail::mac_str(rtnl_neigh_get_lladdr(n)),
                   rtnl_neigh_get_state(n)});
  }
  return out;
}

void add_fdb(Socket& sock, int index, const std::string& mac, const std::optional<cni::IP>& dst,
             const FdbOptions& opts) {
  NeighPtr n = fdb_neigh(index, mac, dst, opts.self);
  rtnl_neigh_set_state(n.get(), opts.permanent ? NUD_PERMANENT : NUD_REACHABLE);
  // vxlan refuses NLM_F_REPLACE for the all-zeros and multicast MACs (the
  // flood list), so those are only created or appended to.
  const auto* bytes =
      static_cast<const uint8_t*>(nl_addr_get_binary_addr(rtnl_neigh_get_lladdr(n.get())));
  bool flood = (bytes[0] & 1) || mac == "00:00:00:00:00:00";
  int flags = NLM_F_CREATE;
  if (opts.append) {
    flags |= NLM_F_APPEND;
  } else if (!flood) {
    flags |= NLM_F_REPLACE;
  }
  detail::request(
      sock, [&] { return "failed to add " + fdb_label(mac, dst) + " on " + link_label(sock, index); },
      [&] { return rtnl_neigh_add(sock.get(), n.get(), flags); });
}

bool del_fdb(Socket& sock, int index, const std::string& mac, const std::optional<cni::IP>& dst,
             bool self) {
  NeighPtr n = fdb_neigh(index, mac, dst, self);
  return delete_quietly(
      sock, [&] { return "failed to delete " + fdb_label(mac, dst) + " on " + link_label(sock, index); },
      [&] { return rtnl_neigh_delete(sock.get(), n.get(), 0); });
}

std::vector<FdbEntry> list_fdb(Socket& sock, int index) {
  detail::CachePtr cache = dump(sock, "FDB entries");
  std::vector<FdbEntry> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* n = reinterpret_cast<rtnl_neigh*>(o);
    if (rtnl_neigh_get_family(n) != AF_BRIDGE || rtnl_neigh_get_ifindex(n) != index) continue;
    FdbEntry e;
    e.index = index;
    e.mac = detail::mac_str(rtnl_neigh_get_lladdr(n));
    e.dst = detail::from_nl(rtnl_neigh_get_dst(n));
    e.self = rtnl_neigh_get_flags(n) & NTF_SELF;
    e.permanent = rtnl_neigh_get_state(n) & NUD_PERMANENT;
    out.push_back(e);
  }
  return out;
}

}  // namespace nlw
