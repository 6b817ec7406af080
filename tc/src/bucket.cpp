#include "tc/bucket.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace knet::tc {
namespace {

// bytes/s × duration, saturating instead of overflowing for absurd rates.
uint64_t bytes_in(uint64_t rate, std::chrono::milliseconds d) {
  uint64_t ms = static_cast<uint64_t>(d.count());
  if (rate > std::numeric_limits<uint64_t>::max() / ms) return std::numeric_limits<uint64_t>::max();
  return rate * ms / 1000;
}

}  // namespace

Bucket plan_bucket(uint64_t rate_bits, uint64_t burst_bits, unsigned mtu) {
  constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
  const uint64_t frame = uint64_t{mtu} + kEthHeader;
  const uint64_t payload = mtu > kTcpIpHeaders ? mtu - kTcpIpHeaders : 1;
  Bucket b;
  unsigned __int128 scaled = static_cast<unsigned __int128>(rate_bits) * frame / (8 * payload);
  b.rate = static_cast<uint64_t>(std::min<unsigned __int128>(scaled, UINT64_MAX / 8));
  uint64_t cap = std::max(bytes_in(b.rate, kBurstWindow), kMinBurstFrames * frame);
  uint64_t burst = std::clamp(burst_bits / 8, frame, std::max(cap, frame));
  b.burst = static_cast<uint32_t>(std::min(burst, kU32Max));
  uint64_t floor = std::min(kMinQueueBytes, bytes_in(b.rate, kMaxQueueFloorLatency));
  uint64_t queue = std::max(bytes_in(b.rate, kQueueLatency), floor);
  b.limit = static_cast<uint32_t>(std::min(queue, kU32Max - b.burst) + b.burst);
  return b;
}

}  // namespace knet::tc
