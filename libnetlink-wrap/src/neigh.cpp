#include "nlw/neigh.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/neighbour.h>

#include <cstring>
#include <exception>
#include <functional>
#include <vector>

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
  if (!n) throw Error("out of memory allocating a neighbour object");
  rtnl_neigh_set_ifindex(n.get(), index);
  return n;
}

// An FDB entry template. The family is set after the destination, because
// libnl otherwise takes the destination's family (AF_INET) for the entry.
NeighPtr fdb_neigh(int index, const std::string& mac, const std::optional<knet::IP>& dst,
                   bool self) {
  NeighPtr n = alloc_neigh(index);
  rtnl_neigh_set_lladdr(n.get(), detail::mac_to_nl(mac).get());
  if (dst) rtnl_neigh_set_dst(n.get(), detail::to_nl(*dst).get());
  rtnl_neigh_set_family(n.get(), AF_BRIDGE);
  rtnl_neigh_set_flags(n.get(), self ? NTF_SELF : NTF_MASTER);
  return n;
}

std::string fdb_label(const std::string& mac, const std::optional<knet::IP>& dst) {
  return "FDB entry " + mac + (dst ? " dst " + dst->str() : std::string());
}

// A permanent neighbour entry ip -> mac on `index`, and the key a delete needs.
NeighPtr neigh_entry(int index, const knet::IP& ip, const std::string& mac) {
  NeighPtr n = alloc_neigh(index);
  rtnl_neigh_set_dst(n.get(), detail::to_nl(ip).get());
  rtnl_neigh_set_lladdr(n.get(), detail::mac_to_nl(mac).get());
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  return n;
}

NeighPtr neigh_key(int index, const knet::IP& ip) {
  NeighPtr n = alloc_neigh(index);
  rtnl_neigh_set_dst(n.get(), detail::to_nl(ip).get());
  return n;
}

constexpr int kNeighAddFlags = NLM_F_CREATE | NLM_F_REPLACE;

// The FDB entry add_fdb sends, and in `flags` how: vxlan refuses
// NLM_F_REPLACE for the all-zeros and multicast MACs (the flood list), so
// those are only created or appended to.
NeighPtr fdb_entry(int index, const std::string& mac, const std::optional<knet::IP>& dst,
                   const FdbOptions& opts, int& flags) {
  NeighPtr n = fdb_neigh(index, mac, dst, opts.self);
  rtnl_neigh_set_state(n.get(), opts.permanent ? NUD_PERMANENT : NUD_REACHABLE);
  const auto* bytes =
      static_cast<const uint8_t*>(nl_addr_get_binary_addr(rtnl_neigh_get_lladdr(n.get())));
  bool flood = (bytes[0] & 1) || mac == "00:00:00:00:00:00";
  flags = NLM_F_CREATE;
  if (opts.append) {
    flags |= NLM_F_APPEND;
  } else if (!flood) {
    flags |= NLM_F_REPLACE;
  }
  return n;
}

// What a failed request says it failed to do; built only on failure (the
// link's name is a lookup), and by value, as a batch calls it later.
std::function<std::string()> add_neigh_what(Socket& sock, int index, const knet::IP& ip,
                                            const std::string& mac) {
  return [&sock, index, ip, mac] {
    return "failed to add neighbour " + ip.str() + " lladdr " + mac + " on " +
           link_label(sock, index);
  };
}

std::function<std::string()> del_neigh_what(Socket& sock, int index, const knet::IP& ip) {
  return [&sock, index, ip] {
    return "failed to delete neighbour " + ip.str() + " on " + link_label(sock, index);
  };
}

std::function<std::string()> add_fdb_what(Socket& sock, int index, const std::string& mac,
                                          const std::optional<knet::IP>& dst) {
  return [&sock, index, mac, dst] {
    return "failed to add " + fdb_label(mac, dst) + " on " + link_label(sock, index);
  };
}

std::function<std::string()> del_fdb_what(Socket& sock, int index, const std::string& mac,
                                          const std::optional<knet::IP>& dst) {
  return [&sock, index, mac, dst] {
    return "failed to delete " + fdb_label(mac, dst) + " on " + link_label(sock, index);
  };
}

// Queues the add (or delete) request of `n` on `batch`.
void queue(Batch& batch, rtnl_neigh* n, int add_flags, bool del,
           std::function<std::string()> what, unsigned accept) {
  nl_msg* raw = nullptr;
  int rc = del ? rtnl_neigh_build_delete_request(n, 0, &raw)
               : rtnl_neigh_build_add_request(n, add_flags, &raw);
  if (rc < 0) throw Error(what() + ": cannot build the request: " + nl_geterror(rc));
  detail::MsgPtr msg(raw);
  batch.add(msg.get(), std::move(what), accept);
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

// The entries of one RTM_GETNEIGH dump whose request carries `header`
// (ifinfomsg for the FDB, ndmsg for the neighbour tables) and `filter_index`
// as NDA_IFINDEX when non-zero, each passed to `fn` as the kernel sent it.
// The kernel filters by device, so only that device's entries cross the
// socket; no libnl cache is built (its insert compares each new all-zeros
// flood entry with all others: quadratic), and nothing is copied per entry.
template <class Header>
void dump_neigh(Socket& sock, const Header& header, int filter_index,
                const std::function<void(const NeighView&)>& fn,
                const std::function<void()>& restart, const std::function<std::string()>& what) {
  auto parse = [&](const nlmsghdr* hdr) {
    if (hdr->nlmsg_type != RTM_NEWNEIGH) return;
    nlattr* tb[NDA_MAX + 1];
    if (nlmsg_parse(const_cast<nlmsghdr*>(hdr), sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0) return;
    const auto* nd = static_cast<const ndmsg*>(nlmsg_data(hdr));
    NeighView n;
    n.family = nd->ndm_family;
    n.index = nd->ndm_ifindex;
    n.state = nd->ndm_state;
    n.flags = nd->ndm_flags;
    n.ip = detail::ip_of(tb[NDA_DST]);
    if (tb[NDA_LLADDR]) {
      n.lladdr = static_cast<const unsigned char*>(nla_data(tb[NDA_LLADDR]));
      n.lladdr_len = static_cast<size_t>(nla_len(tb[NDA_LLADDR]));
    }
    fn(n);
  };
  auto attrs = [&](nl_msg* msg) {
    return filter_index ? nla_put_u32(msg, NDA_IFINDEX, filter_index) : 0;
  };
  detail::dump(sock, RTM_GETNEIGH, &header, sizeof header, attrs, parse, restart, what);
}

}  // namespace

bool NeighInfo::permanent() const { return state & NUD_PERMANENT; }

std::string NeighView::mac() const { return lladdr ? detail::mac_str(lladdr, lladdr_len) : std::string(); }

void add_neigh(Socket& sock, int index, const knet::IP& ip, const std::string& mac) {
  NeighPtr n = neigh_entry(index, ip, mac);
  detail::request(sock, add_neigh_what(sock, index, ip, mac),
                  [&] { return rtnl_neigh_add(sock.get(), n.get(), kNeighAddFlags); });
}

bool del_neigh(Socket& sock, int index, const knet::IP& ip) {
  NeighPtr n = neigh_key(index, ip);
  return delete_quietly(sock, del_neigh_what(sock, index, ip),
                        [&] { return rtnl_neigh_delete(sock.get(), n.get(), 0); });
}

void for_each_neigh(Socket& sock, int index, int family,
                    const std::function<void(const NeighView&)>& fn,
                    const std::function<void()>& restart) {
  // One dump: the kernel's AF_UNSPEC dump walks the ARP and NDP tables both.
  ndmsg req{};
  req.ndm_family = static_cast<unsigned char>(family);
  auto what = [&] {
    return "failed to list neighbours" + (index ? " on " + link_label(sock, index) : "");
  };
  auto keep = [&](const NeighView& n) {
    bool ip_family = family ? n.family == family : n.family == AF_INET || n.family == AF_INET6;
    if (ip_family && (!index || n.index == index) && n.ip) fn(n);
  };
  dump_neigh(sock, req, index, keep, restart, what);
}

std::vector<NeighInfo> list_neighs(Socket& sock, int index, int family) {
  std::vector<NeighInfo> out;
  for_each_neigh(
      sock, index, family,
      [&](const NeighView& n) { out.push_back({n.index, *n.ip, n.mac(), n.state}); },
      [&] { out.clear(); });
  return out;
}

void add_fdb(Socket& sock, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             const FdbOptions& opts) {
  int flags = 0;
  NeighPtr n = fdb_entry(index, mac, dst, opts, flags);
  detail::request(sock, add_fdb_what(sock, index, mac, dst),
                  [&] { return rtnl_neigh_add(sock.get(), n.get(), flags); });
}

bool del_fdb(Socket& sock, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             bool self) {
  NeighPtr n = fdb_neigh(index, mac, dst, self);
  return delete_quietly(sock, del_fdb_what(sock, index, mac, dst),
                        [&] { return rtnl_neigh_delete(sock.get(), n.get(), 0); });
}

void for_each_fdb(Socket& sock, int index, const std::function<void(const NeighView&)>& fn,
                  const std::function<void()>& restart) {
  // The bridge FDB dump takes an ifinfomsg: ifi_index restricts it to one
  // device (a bridge port's master entries and the device's own).
  ifinfomsg req{};
  req.ifi_family = AF_BRIDGE;
  req.ifi_index = index;
  auto what = [&] { return "failed to list FDB entries of " + link_label(sock, index); };
  auto keep = [&](const NeighView& n) {
    if (n.family == AF_BRIDGE && n.index == index) fn(n);
  };
  dump_neigh(sock, req, 0, keep, restart, what);
}

std::vector<FdbEntry> list_fdb(Socket& sock, int index) {
  std::vector<FdbEntry> out;
  for_each_fdb(
      sock, index,
      [&](const NeighView& n) {
        out.push_back({index, n.mac(), n.ip, (n.flags & NTF_SELF) != 0,
                       (n.state & NUD_PERMANENT) != 0});
      },
      [&] { out.clear(); });
  return out;
}

void add_neigh(Batch& batch, int index, const knet::IP& ip, const std::string& mac) {
  NeighPtr n = neigh_entry(index, ip, mac);
  queue(batch, n.get(), kNeighAddFlags, false, add_neigh_what(batch.socket(), index, ip, mac),
        Batch::kAcceptNone);
}

void del_neigh(Batch& batch, int index, const knet::IP& ip) {
  NeighPtr n = neigh_key(index, ip);
  queue(batch, n.get(), 0, true, del_neigh_what(batch.socket(), index, ip), Batch::kAcceptNotFound);
}

void add_fdb(Batch& batch, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             const FdbOptions& opts, unsigned accept) {
  int flags = 0;
  NeighPtr n = fdb_entry(index, mac, dst, opts, flags);
  queue(batch, n.get(), flags, false, add_fdb_what(batch.socket(), index, mac, dst), accept);
}

void del_fdb(Batch& batch, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             bool self) {
  NeighPtr n = fdb_neigh(index, mac, dst, self);
  queue(batch, n.get(), 0, true, del_fdb_what(batch.socket(), index, mac, dst),
        Batch::kAcceptNotFound);
}

}  // namespace nlw
