#include "nlw/link.h"

#include <base/owner.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "nlw/error.h"
#include "nlw/netns.h"
#include "util.h"

namespace nlw {
namespace {

using detail::LinkPtr;
using detail::request;

struct VethDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_veth_release(l); }
};

LinkPtr alloc_link() {
  LinkPtr l(rtnl_link_alloc());
  if (!l) throw Error("out of memory allocating a link object");
  return l;
}

// A link object carrying only the ifindex: what rtnl_link_change and
// rtnl_link_delete need to address an existing link.
LinkPtr link_ref(int index) {
  LinkPtr l = alloc_link();
  rtnl_link_set_ifindex(l.get(), index);
  return l;
}

constexpr struct {
  MacvlanMode mode;
  uint32_t kernel;
  const char* name;
} kMacvlanModes[] = {
    {MacvlanMode::kPrivate, MACVLAN_MODE_PRIVATE, "private"},
    {MacvlanMode::kVepa, MACVLAN_MODE_VEPA, "vepa"},
    {MacvlanMode::kBridge, MACVLAN_MODE_BRIDGE, "bridge"},
    {MacvlanMode::kPassthru, MACVLAN_MODE_PASSTHRU, "passthru"},
    {MacvlanMode::kSource, MACVLAN_MODE_SOURCE, "source"},
};

LinkInfo to_info(rtnl_link* l) {
  LinkInfo i;
  i.index = rtnl_link_get_ifindex(l);
  if (const char* n = rtnl_link_get_name(l)) i.name = n;
  if (const char* k = rtnl_link_get_type(l)) i.kind = k;
  i.mtu = rtnl_link_get_mtu(l);
  i.mac = detail::mac_str(rtnl_link_get_addr(l));
  i.master = rtnl_link_get_master(l);
  unsigned flags = rtnl_link_get_flags(l);
  i.up = flags & IFF_UP;
  i.promisc = flags & IFF_PROMISC;
  if (const char* a = rtnl_link_get_ifalias(l)) i.alias = a;
  i.link = rtnl_link_get_link(l);
  int32_t nsid;
  if (rtnl_link_get_link_netnsid(l, &nsid) == 0) i.link_netnsid = nsid;
  if (rtnl_link_is_macvlan(l)) {
    uint32_t m = rtnl_link_macvlan_get_mode(l);
    for (const auto& e : kMacvlanModes) {
      if (e.kernel == m) i.macvlan_mode = e.mode;
    }
  }
  if (rtnl_link_is_vxlan(l)) {
    VxlanInfo v;
    uint32_t u32 = 0;
    if (rtnl_link_vxlan_get_id(l, &u32) == 0) v.vni = u32;
    if (rtnl_link_vxlan_get_port(l, &u32) == 0) v.port = static_cast<uint16_t>(u32);
    nl_addr* a = nullptr;
    if (rtnl_link_vxlan_get_local(l, &a) == 0) {
      detail::AddrPtr owned(a);
      v.local = detail::from_nl(a);
    }
    a = nullptr;
    if (rtnl_link_vxlan_get_group(l, &a) == 0) {
      detail::AddrPtr owned(a);
      v.group = detail::from_nl(a);
    }
    if (rtnl_link_vxlan_get_link(l, &u32) == 0) v.underlay = static_cast<int>(u32);
    v.learning = rtnl_link_vxlan_get_learning(l) > 0;
    int ttl = rtnl_link_vxlan_get_ttl(l);
    v.ttl = ttl > 0 ? ttl : 0;
    i.vxlan = v;
  }
  return i;
}

// Fetches one link by ifindex or name; nullopt when the kernel says ENODEV.
std::optional<LinkInfo> get_kernel(Socket& sock, int index, const char* name,
                                   const std::string& label) {
  sock.clear_error();
  rtnl_link* raw = nullptr;
  int rc = rtnl_link_get_kernel(sock.get(), index, name, &raw);
  LinkPtr l(raw);
  if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV || sock.last_errno() == ENODEV) {
    return std::nullopt;
  }
  if (rc < 0) throw_nl(sock, rc, "failed to look up link " + label);
  return to_info(l.get());
}

void set_common(rtnl_link* l, const std::string& name, unsigned mtu, const std::string& mac) {
  if (!name.empty()) rtnl_link_set_name(l, name.c_str());
  if (mtu) rtnl_link_set_mtu(l, mtu);
  if (!mac.empty()) rtnl_link_set_addr(l, detail::mac_to_nl(mac).get());
}

// Sets the alias of the link named `name` (found by name: no lookup first).
void set_alias_by_name(Socket& sock, const std::string& name, const std::string& alias) {
  detail::MsgPtr m = detail::alloc_msg(RTM_SETLINK, 0);
  ifinfomsg ifi{};
  if (nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
      nla_put_string(m.get(), IFLA_IFNAME, name.c_str()) < 0 ||
      nla_put_string(m.get(), IFLA_IFALIAS, alias.c_str()) < 0) {
    throw Error("out of memory building an alias request");
  }
  request(sock, "failed to set alias \"" + alias + "\" on " + name,
          [&] { return sock.send_and_ack(m.get()); });
}

// Adds `l` (exclusively: an existing name is an error) and returns the new link.
// The kernel ignores IFLA_IFALIAS when creating a link, so the alias is set
// by a second request; the link is untagged in between (the caller holds
// what tells GC so: plugins/common's create_tagged_link).
LinkInfo add_link(Socket& sock, rtnl_link* l, const std::string& name, const std::string& what,
                  const std::string& alias = {}) {
  request(sock, "failed to create " + what + " " + name,
          [&] { return rtnl_link_add(sock.get(), l, NLM_F_CREATE | NLM_F_EXCL); });
  if (!alias.empty()) {
    try {
      set_alias_by_name(sock, name, alias);
    } catch (...) {
      // An untagged link must not outlive this request: nobody could tell whose it is.
      try {
        delete_link_if_exists(sock, name);
      } catch (...) {
      }
      throw;
    }
  }
  return get_link(sock, name);
}

// Applies `changes` to link `index`; errors read "failed to <verb> <link><rest>".
void change(Socket& sock, int index, rtnl_link* changes, const std::string& verb,
            const std::string& rest = {}) {
  LinkPtr orig = link_ref(index);
  request(sock, [&] { return "failed to " + verb + " " + link_label(sock, index) + rest; },
          [&] { return rtnl_link_change(sock.get(), orig.get(), changes, 0); });
}

// Starts an AF_BRIDGE link request for `index`; bridge port and VLAN settings
// live in that family and libnl has no complete API for them.
detail::MsgPtr bridge_msg(int type, int index) {
  detail::MsgPtr m = detail::alloc_msg(type, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = index;
  if (nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) {
    throw Error("out of memory building a bridge request");
  }
  return m;
}

// Sets one kind-specific attribute (IFLA_INFO_DATA) of a link just created;
// on failure the link is deleted again, so a create never leaves a link
// without the configuration that was asked for.
void set_info_data(Socket& sock, const LinkInfo& link, const char* kind, int attr, uint32_t value,
                   size_t size, const std::string& what) {
  detail::MsgPtr m = detail::alloc_msg(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_index = link.index;
  nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO);
  nlattr* linkinfo = nla_nest_start(m.get(), IFLA_LINKINFO);
  nla_put_string(m.get(), IFLA_INFO_KIND, kind);
  nlattr* data = nla_nest_start(m.get(), IFLA_INFO_DATA);
  if (size == sizeof(uint8_t)) {
    nla_put_u8(m.get(), attr, static_cast<uint8_t>(value));
  } else {
    nla_put_u32(m.get(), attr, value);
  }
  nla_nest_end(m.get(), data);
  nla_nest_end(m.get(), linkinfo);
  sock.clear_error();
  int rc = sock.send_and_ack(m.get());
  if (rc >= 0) return;
  std::string msg =
      "failed to " + what + " " + link.name + " in " + sock.ns_name() + ": " + sock.reason(rc);
  LinkPtr ref = link_ref(link.index);
  rtnl_link_delete(sock.get(), ref.get());
  throw Error(msg);
}

void bridge_vlan(Socket& sock, int type, int index, uint16_t vid, uint16_t flags, bool self,
                 const std::string& what) {
  detail::MsgPtr m = bridge_msg(type, index);
  nlattr* spec = nla_nest_start(m.get(), IFLA_AF_SPEC);
  nla_put_u16(m.get(), IFLA_BRIDGE_FLAGS, self ? BRIDGE_FLAGS_SELF : BRIDGE_FLAGS_MASTER);
  bridge_vlan_info info{flags, vid};
  nla_put(m.get(), IFLA_BRIDGE_VLAN_INFO, sizeof info, &info);
  nla_nest_end(m.get(), spec);
  std::string full = what + " " + std::to_string(vid) + " on " + link_label(sock, index);
  sock.clear_error();
  int rc = sock.send_and_ack(m.get());
  if (rc >= 0) return;
  if (sock.last_errno() == EOPNOTSUPP) {
    throw Error(full + " in " + sock.ns_name() + ": " + sock.reason(rc) +
                                         " (the kernel lacks bridge VLAN filtering)");
  }
  throw_nl(sock, rc, full);
}

}  // namespace

std::optional<MacvlanMode> parse_macvlan_mode(const std::string& s) {
  for (const auto& e : kMacvlanModes) {
    if (s == e.name) return e.mode;
  }
  return std::nullopt;
}

const char* to_string(MacvlanMode m) {
  for (const auto& e : kMacvlanModes) {
    if (e.mode == m) return e.name;
  }
  return "unknown";
}

std::optional<LinkInfo> find_link(Socket& sock, const std::string& name) {
  return get_kernel(sock, 0, name.c_str(), name);
}

std::optional<LinkInfo> find_link(Socket& sock, int index) {
  return get_kernel(sock, index, nullptr, "ifindex " + std::to_string(index));
}

LinkInfo get_link(Socket& sock, const std::string& name) {
  auto l = find_link(sock, name);
  if (!l) throw NotFound("link " + name + " not found in " + sock.ns_name());
  return *l;
}

std::vector<LinkInfo> list_links(Socket& sock) {
  nl_cache* raw = nullptr;
  request(sock, "failed to list links",
          [&] { return rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw); });
  detail::CachePtr cache(raw);
  std::vector<LinkInfo> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    out.push_back(to_info(reinterpret_cast<rtnl_link*>(o)));
  }
  return out;
}

std::string link_label(Socket& sock, int index) {
  try {
    if (auto l = find_link(sock, index)) return l->name;
  } catch (const Error&) {
    // Only a label for an error message; fall back to the number.
  }
  return "ifindex " + std::to_string(index);
}

LinkInfo create_veth(Socket& sock, const std::string& name, const std::string& peer_name,
                     const NetNS& peer_ns, const VethOptions& opts) {
  std::unique_ptr<rtnl_link, VethDeleter> l(rtnl_link_veth_alloc());
  if (!l) throw Error("out of memory allocating a veth object");
  LinkPtr peer(rtnl_link_veth_get_peer(l.get()));
  set_common(l.get(), name, opts.mtu, opts.mac);
  set_common(peer.get(), peer_name, opts.mtu, opts.peer_mac);
  // The peer is born in peer_ns: nothing ever sees it in sock's namespace.
  rtnl_link_set_ns_fd(peer.get(), peer_ns.fd());
  if (opts.master) rtnl_link_set_master(l.get(), opts.master);
  if (opts.up) rtnl_link_set_flags(l.get(), IFF_UP);
  LinkInfo info =
      add_link(sock, l.get(), name,
               "veth pair (peer " + peer_name + " in " + peer_ns.describe() + ")", opts.alias);
  if (!opts.peer_alias.empty()) {
    Socket there = Socket::in(peer_ns);
    set_alias(there, get_link(there, peer_name).index, opts.peer_alias);
  }
  return info;
}

LinkInfo create_bridge(Socket& sock, const std::string& name, const BridgeOptions& opts) {
  LinkPtr l = alloc_link();
  rtnl_link_set_type(l.get(), "bridge");
  set_common(l.get(), name, opts.mtu, opts.mac);
  LinkInfo info = add_link(sock, l.get(), name, "bridge");
  if (opts.vlan_filtering) {
    // libnl has no setter for IFLA_BR_VLAN_FILTERING.
    set_info_data(sock, info, "bridge", IFLA_BR_VLAN_FILTERING, 1, sizeof(uint8_t),
                  "enable VLAN filtering on bridge");
  }
  return get_link(sock, name);
}

LinkInfo create_macvlan(Socket& sock, const std::string& name, int master_index,
                        const MacvlanOptions& opts, const NetNS* target, Socket* target_sock) {
  LinkPtr l(rtnl_link_macvlan_alloc());
  if (!l) throw Error("out of memory allocating a macvlan object");
  set_common(l.get(), name, opts.mtu, opts.mac);
  rtnl_link_set_link(l.get(), master_index);
  for (const auto& e : kMacvlanModes) {
    if (e.mode == opts.mode) rtnl_link_macvlan_set_mode(l.get(), e.kernel);
  }
  std::string what = "macvlan on " + (opts.master_name.empty() ? link_label(sock, master_index)
                                                                : opts.master_name);
  std::optional<Socket> there;
  LinkInfo info;
  if (target) {
    rtnl_link_set_ns_fd(l.get(), target->fd());
    request(sock, "failed to create " + what + " " + name + " (in " + target->describe() + ")",
            [&] { return rtnl_link_add(sock.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); });
    if (!target_sock) target_sock = &there.emplace(Socket::in(*target));
    info = get_link(*target_sock, name);
  } else {
    info = add_link(sock, l.get(), name, what);
  }
  if (!opts.bcqueuelen) return info;
  // libnl 3.7 has no setter for IFLA_MACVLAN_BC_QUEUE_LEN.
  Socket& owner = target_sock ? *target_sock : sock;
  set_info_data(owner, info, "macvlan", IFLA_MACVLAN_BC_QUEUE_LEN, *opts.bcqueuelen,
                sizeof(uint32_t), "set the broadcast queue length on macvlan");
  return get_link(owner, name);
}

LinkInfo create_vxlan(Socket& sock, const std::string& name, const VxlanOptions& opts) {
  LinkPtr l(rtnl_link_vxlan_alloc());
  if (!l) throw Error("out of memory allocating a vxlan object");
  set_common(l.get(), name, opts.mtu, opts.mac);
  rtnl_link_vxlan_set_id(l.get(), opts.vni);
  rtnl_link_vxlan_set_port(l.get(), opts.port);
  if (opts.local) rtnl_link_vxlan_set_local(l.get(), detail::to_nl(*opts.local).get());
  if (opts.group) rtnl_link_vxlan_set_group(l.get(), detail::to_nl(*opts.group).get());
  if (opts.underlay) rtnl_link_vxlan_set_link(l.get(), opts.underlay);
  rtnl_link_vxlan_set_learning(l.get(), opts.learning ? 1 : 0);
  if (opts.ttl) rtnl_link_vxlan_set_ttl(l.get(), static_cast<uint8_t>(opts.ttl));
  return add_link(sock, l.get(), name, "vxlan (vni " + std::to_string(opts.vni) + ")");
}

LinkInfo create_ifb(Socket& sock, const std::string& name, unsigned mtu, const std::string& alias) {
  LinkPtr l = alloc_link();
  rtnl_link_set_type(l.get(), "ifb");
  set_common(l.get(), name, mtu, {});
  return add_link(sock, l.get(), name, "ifb", alias);
}

void set_up(Socket& sock, int index) {
  LinkPtr c = alloc_link();
  rtnl_link_set_flags(c.get(), IFF_UP);
  change(sock, index, c.get(), "set up");
}

void set_down(Socket& sock, int index) {
  LinkPtr c = alloc_link();
  rtnl_link_unset_flags(c.get(), IFF_UP);
  change(sock, index, c.get(), "set down");
}

void set_mtu(Socket& sock, int index, unsigned mtu) {
  LinkPtr c = alloc_link();
  rtnl_link_set_mtu(c.get(), mtu);
  change(sock, index, c.get(), "set MTU " + std::to_string(mtu) + " on");
}

void set_mac(Socket& sock, int index, const std::string& mac) {
  LinkPtr c = alloc_link();
  rtnl_link_set_addr(c.get(), detail::mac_to_nl(mac).get());
  change(sock, index, c.get(), "set MAC address " + mac + " on");
}

void set_master(Socket& sock, int index, int master_index) {
  LinkPtr c = alloc_link();
  rtnl_link_set_master(c.get(), master_index);
  if (master_index == 0) return change(sock, index, c.get(), "release", " from its master");
  LinkPtr orig = link_ref(index);
  request(sock,
          [&] {
            return "failed to attach " + link_label(sock, index) + " to " +
                   link_label(sock, master_index);
          },
          [&] { return rtnl_link_change(sock.get(), orig.get(), c.get(), 0); });
}

void set_alias(Socket& sock, int index, const std::string& alias) {
  LinkPtr c = alloc_link();
  rtnl_link_set_ifalias(c.get(), alias.c_str());
  change(sock, index, c.get(), "set alias \"" + alias + "\" on");
}

void set_promisc(Socket& sock, int index, bool on) {
  LinkPtr c = alloc_link();
  if (on) {
    rtnl_link_set_flags(c.get(), IFF_PROMISC);
  } else {
    rtnl_link_unset_flags(c.get(), IFF_PROMISC);
  }
  change(sock, index, c.get(), on ? "enable promiscuous mode on" : "disable promiscuous mode on");
}

void rename(Socket& sock, int index, const std::string& new_name) {
  LinkPtr c = alloc_link();
  rtnl_link_set_name(c.get(), new_name.c_str());
  change(sock, index, c.get(), "rename", " to " + new_name);
}

void move_to_netns(Socket& sock, int index, const NetNS& ns,
                   const std::optional<std::string>& new_name) {
  LinkPtr c = alloc_link();
  rtnl_link_set_ns_fd(c.get(), ns.fd());
  if (new_name) rtnl_link_set_name(c.get(), new_name->c_str());
  change(sock, index, c.get(), "move",
         " to " + ns.describe() + (new_name ? " as " + *new_name : std::string()));
}

void delete_link(Socket& sock, int index) {
  LinkPtr l = link_ref(index);
  request(sock, [&] { return "failed to delete link " + link_label(sock, index); },
          [&] { return rtnl_link_delete(sock.get(), l.get()); });
}

bool delete_link_if_exists(Socket& sock, const std::string& name) {
  auto l = find_link(sock, name);
  if (!l) return false;
  try {
    delete_link(sock, l->index);
  } catch (const NotFound&) {
    return false;  // raced with someone else deleting it: the outcome we wanted
  }
  return true;
}

void set_bridge_port(Socket& sock, int index, const BridgePortOptions& opts) {
  // Raw attributes: libnl's bridge flags have no IFLA_BRPORT_ISOLATED.
  detail::MsgPtr m = bridge_msg(RTM_SETLINK, index);
  nlattr* pi = nla_nest_start(m.get(), IFLA_PROTINFO | NLA_F_NESTED);
  if (opts.hairpin) nla_put_u8(m.get(), IFLA_BRPORT_MODE, *opts.hairpin);
  if (opts.isolated) nla_put_u8(m.get(), IFLA_BRPORT_ISOLATED, *opts.isolated);
  if (opts.learning) nla_put_u8(m.get(), IFLA_BRPORT_LEARNING, *opts.learning);
  nla_nest_end(m.get(), pi);
  request(
      sock, [&] { return "failed to change bridge port settings of " + link_label(sock, index); },
      [&] { return sock.send_and_ack(m.get()); });
}

void bridge_vlan_add(Socket& sock, int index, uint16_t vid, bool pvid, bool untagged, bool self) {
  uint16_t flags = (pvid ? BRIDGE_VLAN_INFO_PVID : 0) | (untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0);
  bridge_vlan(sock, RTM_SETLINK, index, vid, flags, self, "failed to add VLAN");
}

void bridge_vlan_del(Socket& sock, int index, uint16_t vid, bool self) {
  bridge_vlan(sock, RTM_DELLINK, index, vid, 0, self, "failed to remove VLAN");
}

std::optional<int> netnsid_of(Socket& sock, const NetNS& ns) {
  // Raw request: libnl has no API for RTM_GETNSID.
  detail::MsgPtr m = detail::alloc_msg(RTM_GETNSID, NLM_F_REQUEST);
  rtgenmsg g{};
  g.rtgen_family = AF_UNSPEC;
  if (nlmsg_append(m.get(), &g, sizeof g, NLMSG_ALIGNTO) < 0 ||
      nla_put_u32(m.get(), NETNSA_FD, static_cast<uint32_t>(ns.fd())) < 0) {
    throw Error("out of memory building a netnsid request");
  }
  const std::string what = "failed to read the id of " + ns.describe();
  sock.clear_error();
  int rc = nl_send_auto(sock.get(), m.get());
  if (rc < 0) throw_nl(sock, rc, what);
  // The reply (RTM_NEWNSID), then libnl's automatic ack, read through libnl
  // (its sequence numbers stay in step) with a callback for the reply.
  struct Reply {
    std::optional<int> id;
    bool acked = false;
  } reply;
  using CbPtr = std::unique_ptr<nl_cb, void (*)(nl_cb*)>;
  CbPtr own(nl_socket_get_cb(sock.get()), nl_cb_put);  // a new reference
  CbPtr cb(own ? nl_cb_clone(own.get()) : nullptr, nl_cb_put);
  if (!cb) throw Error("out of memory reading the id of " + ns.describe());
  nl_cb_set(
      cb.get(), NL_CB_VALID, NL_CB_CUSTOM,
      [](nl_msg* msg, void* arg) -> int {
        nlattr* tb[NETNSA_MAX + 1];
        nlmsghdr* h = nlmsg_hdr(msg);
        if (h->nlmsg_type == RTM_NEWNSID &&
            nlmsg_parse(h, sizeof(rtgenmsg), tb, NETNSA_MAX, nullptr) == 0 && tb[NETNSA_NSID]) {
          int32_t v = static_cast<int32_t>(nla_get_u32(tb[NETNSA_NSID]));
          if (v >= 0) static_cast<Reply*>(arg)->id = v;
        }
        return NL_OK;
      },
      &reply);
  nl_cb_set(
      cb.get(), NL_CB_ACK, NL_CB_CUSTOM,
      [](nl_msg*, void* arg) -> int {
        static_cast<Reply*>(arg)->acked = true;
        return NL_STOP;
      },
      &reply);
  for (int tries = 0; tries < 8 && !reply.acked; ++tries) {
    rc = nl_recvmsgs(sock.get(), cb.get());
    if (rc < 0) throw_nl(sock, rc, what);
  }
  if (reply.acked) return reply.id;
  throw Error(what + ": no reply from the kernel");
}

}  // namespace nlw
