#pragma once
// Announcing an address after it moved to a new MAC (macvlan), so neighbours
// update their caches at once instead of after their entries time out.

#include <cni/ip.h>

#include <string>

namespace nlw {

class NetNS;

// Sends one gratuitous ARP (IPv4) or unsolicited neighbour advertisement to
// ff02::1 (IPv6) for `ip` out of `ifname` in `ns`. The link must be up.
void send_gratuitous_arp(const NetNS& ns, const std::string& ifname, const cni::IP& ip);

}  // namespace nlw
