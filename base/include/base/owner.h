#pragma once
// Names and tags that tie a host-side resource to its owner
// (network, container ID, ifname), so DEL and GC find it without state files.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace knet {

struct Owner {
  std::string network;
  std::string container_id;
  std::string ifname;
  bool operator==(const Owner&) const = default;
};

// A stable 64-bit FNV-1a hash of the owner triple.
uint64_t owner_hash(const Owner& o);
// `prefix` followed by hex digits of owner_hash, 15 bytes in all (IFNAMSIZ-1);
// e.g. owner_ifname("veth", o) == "veth1a2b3c4d5e6".
std::string owner_ifname(std::string_view prefix, const Owner& o);
// True if `name` looks like owner_ifname(prefix, ...): the prefix, then hex
// digits up to 15 bytes.
bool is_owner_ifname(std::string_view prefix, std::string_view name);

// "knet:<network>:<container id>:<ifname>", stored as a link alias or rule comment.
// None of the three may contain ':' (the validators guarantee it).
std::string owner_tag(const Owner& o);
std::optional<Owner> parse_owner_tag(std::string_view tag);

// The longest owner tag knet stores: a link alias holds 255 bytes, an
// nftables rule comment 253 (a TLV in 256 bytes of user data).
inline constexpr size_t kMaxOwnerTagBytes = 253;

}  // namespace knet
