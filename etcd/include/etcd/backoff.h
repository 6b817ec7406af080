#pragma once
// Capped exponential backoff with jitter, between full rounds over the
// endpoints and between watch reconnects.

#include <chrono>
#include <cstdint>
#include <random>

namespace etcd {

// initial * multiplier^round, capped at `max`, then shortened by a random
// fraction of at most `jitter` so that many clients cut off at once do not
// come back in step.
struct BackoffPolicy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{2000};
  double multiplier = 2.0;
  double jitter = 0.2;  // 0 .. 1
};

// The delay before retry `round` (0 for the first retry) given a uniform
// `unit` in [0, 1): always within [base * (1 - jitter), base] where
// base = min(max, initial * multiplier^round). Never negative, never above max.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, unsigned round, double unit);

// The successive delays of one retry sequence, with its own random source.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy);
  // The delay before the next retry; each call moves one round on.
  std::chrono::milliseconds next();
  // Back to the first round, after a success.
  void reset() { round_ = 0; }

 private:
  BackoffPolicy policy_;
  unsigned round_ = 0;
  std::minstd_rand rng_;
};

}  // namespace etcd
