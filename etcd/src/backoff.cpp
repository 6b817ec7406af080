#include "etcd/backoff.h"

#include <algorithm>
#include <cmath>

namespace etcd {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, unsigned round, double unit) {
  double cap = static_cast<double>(std::max<int64_t>(0, policy.max.count()));
  double base = static_cast<double>(std::max<int64_t>(0, policy.initial.count()));
  double mult = std::max(1.0, policy.multiplier);
  // Multiply step by step and stop at the cap: no overflow for any round.
  for (unsigned i = 0; i < round && base < cap; ++i) base *= mult;
  base = std::min(base, cap);
  double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  double delay = base * (1.0 - jitter * std::clamp(unit, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<int64_t>(std::floor(delay)));
}

Backoff::Backoff(BackoffPolicy policy) : policy_(policy), rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return backoff_delay(policy_, round_++, unit(rng_));
}

}  // namespace etcd
