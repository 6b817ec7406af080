// The bucket rule of tc/bucket.h: what a configured rate and burst become.

#include "tc/bucket.h"

#include <gtest/gtest.h>

namespace knet::tc {
namespace {

constexpr unsigned kFrame = 1500 + kEthHeader;

TEST(BucketTest, RateIsTcpPayloadInFullFrames) {
  // 10 Mbit/s of payload is 1.25 MB/s in 1448-byte pieces, 1514 bytes a frame.
  EXPECT_EQ(plan_bucket(10'000'000, 80'000, 1500).rate, 1'306'975u);
  EXPECT_EQ(plan_bucket(10'000'000, 80'000, 9000).rate, 1'250'000ull * 9014 / 8948);
}

TEST(BucketTest, SmallBurstIsKept) {
  // 10 Mbit/s may hold 20 ms = 26139 bytes; 10000 bytes is below that.
  EXPECT_EQ(plan_bucket(10'000'000, 80'000, 1500).burst, 10'000u);
}

TEST(BucketTest, HugeBurstIsCappedAtTheWindow) {
  // CRI's 4294967295 bits when a pod sets only a rate: 20 ms of 1306975 B/s.
  Bucket b = plan_bucket(10'000'000, 4'294'967'295ull, 1500);
  EXPECT_EQ(b.burst, 26'139u);
  // 10 ms of queue is 13069 bytes, under the 64 KiB floor.
  EXPECT_EQ(b.limit, kMinQueueBytes + 26'139u);
  EXPECT_EQ(plan_bucket(100'000'000, 4'294'967'295ull, 1500).limit, 130'697u + 261'395u);
}

TEST(BucketTest, LowRatesKeepAFewFramesAndAShortQueue) {
  Bucket b = plan_bucket(100'000, 4'294'967'295ull, 1500);
  EXPECT_EQ(b.burst, kMinBurstFrames * kFrame);
  // 100 ms at 13069 B/s, not 64 KiB (five seconds at this rate).
  EXPECT_EQ(b.limit, 1'306u + b.burst);
  // From 5.2 Mbit/s up the 64 KiB floor holds.
  Bucket c = plan_bucket(6'000'000, 80'000, 1500);
  EXPECT_EQ(c.limit, kMinQueueBytes + c.burst);
}

TEST(BucketTest, BurstNeverBelowOneFrame) {
  EXPECT_EQ(plan_bucket(10'000'000, 800, 1500).burst, kFrame);
  EXPECT_EQ(plan_bucket(10'000'000, 800, 9000).burst, 9000 + kEthHeader);
}

TEST(BucketTest, HugeRatesSaturateInsteadOfOverflowing) {
  Bucket b = plan_bucket(UINT64_MAX, 8ull * 4'000'000'000ull, 1500);
  EXPECT_EQ(b.rate, UINT64_MAX / 8);
  EXPECT_EQ(b.burst, 4'000'000'000u);
  EXPECT_EQ(b.limit, UINT32_MAX);
}

}  // namespace
}  // namespace knet::tc
