#pragma once
// The root qdisc that shapes what a link sends: one TBF for all traffic, or,
// when only some subnets are (or are not) shaped, an HTB with a shaped and an
// unshaped class and u32 filters that pick the class by address.

#include <base/ip.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tc/bucket.h"

namespace nlw {
class Socket;
}

namespace knet::tc {

// Which address of a packet is compared with the subnets: the remote end's.
// Traffic towards a container is matched on its source, traffic from a
// container on its destination.
enum class Match { kSource, kDestination };

struct ShaperSpec {
  Bucket bucket{};
  // Empty: every packet is shaped (TBF). Otherwise HTB, where `subnets` are the
  // only shaped ones (`only_subnets`) or the only unshaped ones (!only_subnets).
  std::vector<knet::IPNet> subnets{};
  bool only_subnets = true;
  Match match = Match::kDestination;
};

// Handles knet uses, so DEL and CHECK recognise what ADD made. The root's
// major, 6b62 ("kb"), is knet's mark: a root qdisc with another handle is
// another tool's (or the reference plugin's, which uses 1:).
inline constexpr uint32_t kRootHandle = 0x6b620000;     // 6b62:
inline constexpr uint32_t kShapedClass = 0x6b620010;    // 6b62:10
inline constexpr uint32_t kUnshapedClass = 0x6b620020;  // 6b62:20
inline constexpr uint32_t kShapedLeaf = 0x100000;       // 10: (tbf or bfifo under 6b62:10)
// The reference plugin's root handle (1:), for cleaning up after it.
inline constexpr uint32_t kReferenceRootHandle = 0x10000;
// HTB's unshaped class runs at this rate (bytes/s, 1 Tbit/s): far above what
// a veth or NIC moves, so it never limits.
inline constexpr uint64_t kUnshapedRate = 125'000'000'000ull;

// Installs `spec` as the root qdisc of link `ifindex`, replacing the kernel's
// default one (handle 0:) or an earlier knet shaper. Throws naming the link if
// another tool's root qdisc is there. On failure nothing of it is left on the link.
void install_shaper(nlw::Socket& sock, int ifindex, const ShaperSpec& spec);
// Removes the root qdisc if it has handle `handle` (knet's unless told
// otherwise) and kind tbf or htb; false if there was none. The kernel drops
// its classes and filters with it.
bool remove_shaper(nlw::Socket& sock, int ifindex, uint32_t handle = kRootHandle);
// Throws knet::Error naming `label` and the first difference if the root qdisc
// of link `ifindex`, its classes or its filters do not implement `spec`.
void verify_shaper(nlw::Socket& sock, int ifindex, const ShaperSpec& spec,
                   const std::string& label);

// A qdisc as the kernel reports it, for inspection.
struct QdiscInfo {
  int ifindex = 0;
  uint32_t parent = 0;  // TC_H_ROOT, TC_H_INGRESS, or a class
  uint32_t handle = 0;
  std::string kind;  // "tbf", "htb", "ingress", "noqueue", ...
};
// Every qdisc of every link in sock's namespace (one dump).
std::vector<QdiscInfo> list_qdiscs(nlw::Socket& sock);

}  // namespace knet::tc
