#pragma once
// Steps every plugin that attaches a container interface shares: finding the
// host link it stacks on (macvlan's master, vxlan's underlay) and applying
// the IPAM result to the interface.

#include <cni/result.h>
#include <nlw/link.h>
#include <nlw/socket.h>

#include "common/undo.h"

#include <string>

namespace knet::common {

// The link named `name`, or, when `name` is empty, the link of the main
// table's default route with the lowest metric (IPv4 first, then IPv6).
// Throws cni::Error(kInvalidNetworkConfig) naming the config key `key` when
// there is no such link or no default route.
nlw::LinkInfo resolve_link_or_default(nlw::Socket& sock, const std::string& name, const std::string& key);

// Applies an IPAM result to link `index` of sock's namespace the way the
// reference's ConfigureIface does: every address of `ip`, link up, wait for
// IPv6 DAD, then every route (a route without "gw" goes via the gateway of
// the first IP config of its family).
void apply_ip_config(nlw::Socket& sock, int index, const cni::Result& ip);

}  // namespace knet::common
