#pragma once
// Digests: SHA-512 (FIPS 180-4), for the few places that need the digest the
// reference computes (cnitool's container ID from the netns path, iptables
// chain names), and 64-bit FNV-1a, for stable short names.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace knet {

std::array<uint8_t, 64> sha512(std::string_view data);
// Lower-case hex of the first `bytes` bytes of the digest (all 64 by default).
std::string sha512_hex(std::string_view data, size_t bytes = 64);


// 64-bit FNV-1a, fed byte by byte: start from kFnvOffset and mix each byte.
inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;
inline constexpr uint64_t fnv1a_mix(uint64_t h, uint8_t byte) { return (h ^ byte) * 1099511628211ull; }
// FNV-1a of `data`, continuing from `h`.
inline uint64_t fnv1a(std::string_view data, uint64_t h = kFnvOffset) {
  for (unsigned char c : data) h = fnv1a_mix(h, c);
  return h;
}

}  // namespace knet
