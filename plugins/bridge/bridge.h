#pragma once
// The kernel-side steps of the bridge plugin, each named after what the
// plugin's verbs do with them. All netlink goes through nlw; every function
// acts on the namespaces of the sockets it is given.

#include <base/owner.h>
#include <base/run_lock.h>
#include <cni/result.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>

#include <string>

#include "config.h"

namespace knet::bridge {

// The bridge named cfg.bridge, up: reused when it exists (its MTU and VLAN
// filtering are left alone, as the reference does), created with cfg.mtu and
// VLAN filtering (when cfg uses VLANs) otherwise; promiscuous when
// cfg.promisc. Throws cni::Error(kInternal) if a non-bridge link has the
// name, and a message naming the missing kernel feature when VLAN filtering
// is unavailable. `created` tells whether this call made the bridge.
nlw::LinkInfo ensure_bridge(nlw::Socket& host, const Config& cfg, bool& created);

// Deletes bridge `name` when it has no ports left: the undo of an ADD that
// created it and failed. A bridge another ADD has meanwhile put a port on
// stays.
void delete_bridge_if_unused(nlw::Socket& host, const std::string& name);

// The host-side veth name of `owner`: deterministic, so DEL and GC find it.
std::string host_veth_name(const knet::Owner& owner);

// The two ends of a container's veth pair.
struct Port {
  nlw::LinkInfo host{};
  nlw::LinkInfo container{};
};

// Creates the veth pair: `owner.ifname` directly in `cont` (MAC cfg.mac,
// MTU cfg.mtu) and host_veth_name(owner) in `host`, tagged with
// owner_tag(owner), attached to `br` with cfg's hairpin / isolation / VLAN
// settings and up. Fails without touching anything when the container
// already has a link named owner.ifname (the create itself is the check:
// no extra round trip); on any later failure the pair is deleted before the
// error propagates.
Port create_port(nlw::Socket& host, nlw::Socket& cont_sock, const nlw::NetNS& cont,
                 const nlw::LinkInfo& br, const Config& cfg, const knet::Owner& owner);

// Fills in what the reference's calcGateways does: with cfg.is_gateway every
// IP config without a gateway gets the first address of its subnet, and with
// cfg.is_default_gateway a default route via it is added per family (unless
// IPAM returned one). Every IP config is pointed at interface 2 (the
// container's in the result). An address whose subnet is a /0 (e.g. from
// subnet 0.0.0.0/0) is refused with code 7: as a gateway it would make the
// bridge the host's route to everywhere.
void complete_ip_result(cni::Result& ip, const Config& cfg);

// Configures the container side: DAD off unless cfg.enable_dad, arp_notify,
// addresses, link up, IPv6 addresses usable, routes.
void configure_container(const nlw::NetNS& cont, nlw::Socket& cont_sock, const nlw::LinkInfo& link,
                         const cni::Result& ip, const Config& cfg);

// Puts each gateway of `ip` on the gateway link (the bridge, or the
// "<bridge>.<vlan>" port with cfg.vlan) and turns on forwarding for its
// family. As in the reference, an existing different IPv4 address (any) or
// IPv6 address of an overlapping subnet is an error ("two networks on one
// bridge"), or is replaced with cfg.force_address.
void configure_gateway(const nlw::NetNS& host_ns, nlw::Socket& host, const nlw::LinkInfo& br,
                       const cni::Result& ip, const Config& cfg, const std::string& network);

// DEL: removes `owner`'s veth pair, found by its host name and tag, or (for
// a pair another plugin made) by owner.ifname in the container namespace at
// `netns`, if that still exists. Missing links and namespaces are fine.
void delete_port(nlw::Socket& host, const std::string& netns, const knet::Owner& owner);

// GC: deletes every veth tagged for `network` whose owner `keep` rejects,
// and every untagged knet-named veth on `bridge` (0: none), which an ADD left
// when it died between creating the pair and tagging it.
template <typename Keep>
void delete_stale_ports(nlw::Socket& host, const std::string& network, int bridge, Keep keep) {
  knet::UntaggedLinkLock lock(knet::UntaggedLinkLock::kExclusive);
  for (const auto& l : nlw::list_links(host)) {
    if (l.kind != "veth") continue;
    auto o = knet::parse_owner_tag(l.alias);
    bool stale = o ? o->network == network && !keep(*o)
                   : lock.held() && bridge && l.master == bridge && l.alias.empty() &&
                         knet::is_owner_ifname("veth", l.name);
    if (stale) nlw::delete_link_if_exists(host, l.name);
  }
}

// CHECK: the container interface of prevResult exists with its MAC and
// addresses, its routes are present, and its host peer is a port of cfg.bridge.
// Throws cni::Error(kInternal) describing the first difference.
void verify(nlw::Socket& host, nlw::Socket& cont_sock, const cni::Result& prev,
            const cni::Interface& iface, const Config& cfg);

}  // namespace knet::bridge
