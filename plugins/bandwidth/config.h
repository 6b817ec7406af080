#pragma once
// The bandwidth plugin's own configuration keys, parsed and validated once.

#include <base/ip.h>
#include <cni/netconf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace knet::bandwidth {

// The fastest rate a config may ask for, bit/s. Above it a full-size frame
// costs the kernel's shaper (HTB, which counts time in nanoseconds) only a
// few nanoseconds, so rounding decides the rate rather than the config.
inline constexpr uint64_t kMaxRate = 1'000'000'000'000ull;

// One direction's limit in the reference's units: bits per second and bits.
struct Limit {
  uint64_t rate = 0;
  uint64_t burst = 0;
  bool enabled() const { return rate != 0; }
};

struct Config {
  Limit ingress{};  // what the container receives
  Limit egress{};   // what the container sends
  // Subnets of the remote end. Empty: all traffic is shaped. Otherwise only
  // traffic with them (`only_subnets`, from "shapedSubnets") or all but it
  // (from "unshapedSubnets").
  std::vector<knet::IPNet> subnets{};
  bool only_subnets = true;

  bool any() const { return ingress.enabled() || egress.enabled(); }

  // Reads the keys from the config itself or, when it has none of them, from
  // "runtimeConfig.bandwidth" (what kubelet fills from pod annotations). Pure:
  // touches no kernel state. Throws cni::Error(kInvalidNetworkConfig) naming
  // the bad key.
  static Config parse(const cni::NetConf& conf);
};

}  // namespace knet::bandwidth
