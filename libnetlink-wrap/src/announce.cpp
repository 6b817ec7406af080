#include "nlw/announce.h"

#include <arpa/inet.h>
#include <cni/error.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "fd.h"
#include "nlw/netns.h"

namespace nlw {
namespace {

// The ARP payload for Ethernet/IPv4 (struct arphdr stops before the addresses).
struct __attribute__((packed)) ArpPacket {
  arphdr hdr;
  uint8_t sha[6];
  uint8_t spa[4];
  uint8_t tha[6];
  uint8_t tpa[4];
};

struct __attribute__((packed)) NeighborAdvert {
  nd_neighbor_advert na;
  uint8_t opt_type;
  uint8_t opt_len;  // in units of 8 bytes
  uint8_t mac[6];
};

[[noreturn]] void fail(const std::string& what, const NetNS& ns, int err) {
  throw cni::Error(cni::kInternal, what + " in " + ns.describe() + ": " + std::strerror(err));
}

void send_arp(const NetNS& ns, const std::string& ifname, const cni::IP& ip, int sock, int ifindex,
              const uint8_t (&mac)[6]) {
  ArpPacket p{};
  p.hdr.ar_hrd = htons(ARPHRD_ETHER);
  p.hdr.ar_pro = htons(ETH_P_IP);
  p.hdr.ar_hln = 6;
  p.hdr.ar_pln = 4;
  p.hdr.ar_op = htons(ARPOP_REQUEST);  // a request with spa == tpa, as `arping -U` sends
  std::memcpy(p.sha, mac, 6);
  std::memcpy(p.spa, ip.bytes.data(), 4);
  std::memcpy(p.tpa, ip.bytes.data(), 4);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  if (sendto(sock, &p, sizeof p, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    fail("failed to send gratuitous ARP for " + ip.str() + " on " + ifname, ns, errno);
  }
}

void send_na(const NetNS& ns, const std::string& ifname, const cni::IP& ip, int sock, int ifindex,
             const uint8_t (&mac)[6]) {
  int hops = 255;  // receivers drop neighbour discovery with any other hop limit
  setsockopt(sock, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
  setsockopt(sock, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
  NeighborAdvert p{};
  p.na.nd_na_type = ND_NEIGHBOR_ADVERT;
  p.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
  std::memcpy(&p.na.nd_na_target, ip.bytes.data(), 16);
  p.opt_type = ND_OPT_TARGET_LINKADDR;
  p.opt_len = 1;
  std::memcpy(p.mac, mac, 6);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
  to.sin6_scope_id = ifindex;
  // The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets.
  if (sendto(sock, &p, sizeof p, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    fail("failed to send unsolicited neighbour advertisement for " + ip.str() + " on " + ifname, ns,
         errno);
  }
}

}  // namespace

void send_gratuitous_arp(const NetNS& ns, const std::string& ifname, const cni::IP& ip) {
  // Sockets stay in the namespace they were created in, but the interface
  // lookups below must happen there as well; the guard covers everything.
  NsGuard guard(ns);
  detail::Fd sock(ip.is_v4() ? socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP))
                             : socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!sock) fail("failed to open a raw socket to announce " + ip.str(), ns, errno);
  ifreq ifr{};
  if (ifname.size() >= IFNAMSIZ) fail("invalid interface name " + ifname, ns, EINVAL);
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
  if (ioctl(sock.get(), SIOCGIFINDEX, &ifr) < 0) fail("failed to find link " + ifname, ns, errno);
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(sock.get(), SIOCGIFHWADDR, &ifr) < 0) {
    fail("failed to read the MAC address of " + ifname, ns, errno);
  }
  uint8_t mac[6];
  std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  if (ip.is_v4()) {
    send_arp(ns, ifname, ip, sock.get(), ifindex, mac);
  } else {
    send_na(ns, ifname, ip, sock.get(), ifindex, mac);
  }
}

}  // namespace nlw
