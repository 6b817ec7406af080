#pragma once
// The token bucket knet programs for a configured rate and burst: the rule
// that turns a user's (rate, burst) in bits into kernel values in bytes, so
// that TCP goodput matches the rate and a huge burst cannot turn into a
// line-rate first second (see docs/bandwidth.md, "How the bucket is sized").

#include <chrono>
#include <cstdint>

namespace knet::tc {

// The kernel counts every frame with its Ethernet header.
inline constexpr unsigned kEthHeader = 14;
// A full-size TCP segment carries mtu - kTcpIpHeaders bytes of payload
// (IPv4 20, TCP 20, timestamps 12).
inline constexpr unsigned kTcpIpHeaders = 52;
// The bucket never holds more than this much time at the configured rate.
inline constexpr std::chrono::milliseconds kBurstWindow{20};
// ... but always at least this many full-size frames, so low rates still pass a
// few back-to-back packets (TCP sends in pairs; GSO in bursts).
inline constexpr unsigned kMinBurstFrames = 4;
// Queue behind the bucket: how long a packet may wait at the configured rate
// before it is dropped (the reference uses 25 ms plus the whole burst).
inline constexpr std::chrono::milliseconds kQueueLatency{10};
// ... but room for at least one 64 KiB GSO super-packet: traffic redirected
// to an ifb has no backpressure on its sender, and a queue smaller than one
// GSO burst tail-drops whole bursts, which costs TCP ~7% at 10 Mbit/s.
inline constexpr uint64_t kMinQueueBytes = 65536;
// ... except where that is more than this much time at the rate (below
// 5.2 Mbit/s): there a new connection's slow start overshoots into a queue
// of half a second (at 1 Mbit/s), and one loss costs a retransmission timeout
// of a second or more (measured: 0.70-0.90 of the rate in the first 5 s run
// at 1 Mbit/s with 64 KiB, 1.00 with 100 ms). TBF splits GSO packets that big
// at these rates, so no packet needs the 64 KiB.
inline constexpr std::chrono::milliseconds kMaxQueueFloorLatency{100};

struct Bucket {
  uint64_t rate = 0;   // bytes per second, as the kernel counts them (whole frames)
  uint32_t burst = 0;  // bucket size, bytes
  uint32_t limit = 0;  // queue length, bytes
  bool operator==(const Bucket&) const = default;
};

// The bucket for `rate_bits` bits/s and a configured burst of `burst_bits`
// bits on a link of `mtu` bytes. The configured rate is what a user measures
// with iperf3: TCP payload in full-size frames. The kernel counts whole
// frames, so the rate it gets is scaled by frame / payload
// (1514 / 1448 = 1.0456 at MTU 1500), which a TCP stream then fills with
// exactly the configured payload rate:
// rate = rate_bits / 8 × frame / (mtu - kTcpIpHeaders), at most UINT64_MAX / 8;
// burst = clamp(burst_bits / 8, frame, max(rate × kBurstWindow, kMinBurstFrames × frame));
// limit = max(rate × kQueueLatency, min(kMinQueueBytes, rate × kMaxQueueFloorLatency))
//         + burst, capped at
// UINT32_MAX; frame = mtu + kEthHeader. Expects rate_bits >= 8,
// burst_bits / 8 < 2^32 and mtu > kTcpIpHeaders (the config validates them).
Bucket plan_bucket(uint64_t rate_bits, uint64_t burst_bits, unsigned mtu);

}  // namespace knet::tc
