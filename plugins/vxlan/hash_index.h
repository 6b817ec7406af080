#pragma once
// Finding entries of a membership (thousands of nodes, on every ADD) by a
// 64-bit hash of their key in O(1), without sorting and without building
// a node per entry as std::unordered_map does.

#include <base/ip.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace knet::vxlan {

// One step of a 64-bit hash over words (a multiply-xorshift mix).
inline uint64_t hash_mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0x9e3779b97f4a7c15ull;
  return h ^ h >> 29;
}

// `h` mixed with an address: its family and its 16 bytes as two words.
inline uint64_t hash_ip(const knet::IP& ip, uint64_t h = 0) {
  uint64_t w[2];
  std::memcpy(w, ip.bytes.data(), sizeof w);
  return hash_mix(hash_mix(hash_mix(h, static_cast<uint64_t>(ip.family)), w[0]), w[1]);
}

// Positions (e.g. indices into a vector of nodes) by the hash of their key:
// open addressing with linear probing, sized for the entries it will hold.
// Hashes may collide: find() confirms a hit with the caller's comparison.
class HashIndex {
 public:
  // Room for `n` entries (the table is kept at most half full).
  explicit HashIndex(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, {0, kEmpty});
    mask_ = cap - 1;
  }

  void add(uint64_t hash, size_t pos) {
    size_t i = hash & mask_;
    while (slots_[i].second != kEmpty) i = (i + 1) & mask_;
    slots_[i] = {hash, pos};
  }

  // The first position added with `hash` for which `is(pos)` holds, in the
  // order they were added.
  template <class Is>
  std::optional<size_t> find(uint64_t hash, Is&& is) const {
    for (size_t i = hash & mask_; slots_[i].second != kEmpty; i = (i + 1) & mask_) {
      if (slots_[i].first == hash && is(slots_[i].second)) return slots_[i].second;
    }
    return std::nullopt;
  }

 private:
  static constexpr size_t kEmpty = ~size_t{0};
  std::vector<std::pair<uint64_t, size_t>> slots_;
  size_t mask_ = 0;
};

}  // namespace knet::vxlan
