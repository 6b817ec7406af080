#pragma once
// The kernel-side steps of the macvlan plugin, each named after what the
// plugin's verbs do with them. All netlink goes through nlw.

#include <base/owner.h>
#include <cni/result.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>

#include <string>

#include "config.h"

namespace knet::macvlan {

// The master link: cfg.master, or the interface of the default route (IPv4
// first, then IPv6) of `sock`'s namespace. Throws cni::Error(kInvalidNetworkConfig)
// naming "master" when there is no such link or no default route, and when
// cfg.mtu exceeds the master's MTU.
nlw::LinkInfo resolve_master(nlw::Socket& sock, const Config& cfg);

// The name under which an older knet (or a kernel that checks the new name
// in the creating namespace) made the macvlan in the master's namespace before
// moving it: derived from the owner, so a crash leaves a name DEL can find.
std::string temp_name(const knet::Owner& owner);

// Creates the macvlan on `master` and gives it to the container as `ifname`.
// It is born in the container namespace under its final name (IFLA_NET_NS_FD
// in the create request), the master staying where it is: no move, which
// would wait for an RCU grace period (~20 ms). A kernel that refuses the
// name because the master's namespace has a link of that name gets the
// older way: created under temp_name(owner), tagged with owner_tag(owner),
// moved and renamed in one request. On any failure nothing is left in either
// namespace. The link is down on return. Kernel refusals that have a known
// cause (passthru on a shared master) get a message that says so.
nlw::LinkInfo create_in_container(nlw::Socket& master_sock, const nlw::LinkInfo& master,
                                  nlw::Socket& cont_sock, const nlw::NetNS& cont, const Config& cfg,
                                  const knet::Owner& owner);

// Deletes a link `owner`'s ADD left in the master's namespace under its
// temporary name (a crash between create and move); false if there was none.
bool delete_leftover(nlw::Socket& master_sock, const knet::Owner& owner);

// Applies an IPAM result (empty for L2 only) to link `link` in `cont` the way
// the reference's ConfigureIface does: arp_notify/ndisc_notify on, addresses,
// link up, wait for IPv6 DAD, routes (a route without "gw" uses the gateway
// of the first IP config of its family). The addresses are on the link before
// it comes up, so the kernel announces them (gratuitous ARP at link-up,
// unsolicited NA when DAD completes) and the network learns the new MAC.
void configure_ip(const nlw::NetNS& cont, nlw::Socket& cont_sock, const nlw::LinkInfo& link,
                  const cni::Result& ip);

// CHECK: the link `iface` of prevResult exists in `cont_sock`'s namespace, is
// a macvlan in cfg.mode on `master` and has prevResult's MAC; every address
// of prevResult is on it and every route is in the main table. Throws
// cni::Error(kInternal) describing the first difference.
void verify(nlw::Socket& cont_sock, const cni::Interface& iface, const nlw::LinkInfo& master,
            bool master_in_container, const Config& cfg, const cni::Result& prev);

}  // namespace knet::macvlan
