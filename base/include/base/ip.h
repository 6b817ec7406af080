#pragma once
// IPv4/IPv6 addresses and prefixes as plain values, with the arithmetic
// IPAM needs. IPv4 is kept as a 4-byte address, never as v4-mapped v6.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace knet {

struct IP {
  int family = 0;  // AF_INET, AF_INET6, or 0 for "no address"
  std::array<uint8_t, 16> bytes{};  // network order; v4 uses the first 4

  static std::optional<IP> parse(std::string_view s);
  static IP from_v4(uint32_t host_order);

  bool valid() const { return family != 0; }
  bool is_v4() const { return family == 2; }
  int bits() const { return is_v4() ? 32 : 128; }
  size_t size() const { return is_v4() ? 4 : 16; }
  std::string str() const;
  // The address plus `n` (wraps within the family); used for range walking.
  IP add(uint64_t n) const;
  IP sub(uint64_t n) const;
  IP next() const { return add(1); }
  IP prev() const { return sub(1); }
  auto operator<=>(const IP&) const = default;
};

// An address with a prefix length. `ip` keeps host bits ("10.1.0.5/24"), as
// results do; network() gives the masked form.
struct IPNet {
  IP ip;
  int prefix = 0;

  static std::optional<IPNet> parse(std::string_view cidr);

  std::string str() const;  // "10.1.0.5/24"
  IPNet network() const;    // host bits cleared
  IP first() const { return network().ip; }
  IP last() const;          // broadcast for v4
  bool contains(const IP& a) const;
  bool overlaps(const IPNet& o) const;
  bool operator==(const IPNet&) const = default;
};

// Number of addresses from a to b inclusive, saturating at UINT64_MAX.
uint64_t distance(const IP& a, const IP& b);

}  // namespace knet
