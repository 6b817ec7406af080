// Config::parse of the bandwidth plugin: where the keys come from and the
// reference's validation rules, each error naming its key.

#include "config.h"

#include <cni/error.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace knet::bandwidth {
namespace {

using nlohmann::json;

Config parse(json extra) {
  json c = {{"cniVersion", "1.0.0"}, {"name", "n"}, {"type", "bandwidth"}};
  c.merge_patch(extra);
  // Through text, as a runtime sends it (numbers built in C++ are signed JSON).
  return Config::parse(cni::NetConf::parse(c.dump()));
}

std::string error_of(json extra) {
  try {
    parse(std::move(extra));
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
    return e.msg();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(BandwidthConfigTest, NothingConfiguredShapesNothing) {
  EXPECT_FALSE(parse(json::object()).any());
  EXPECT_FALSE(parse({{"runtimeConfig", {{"bandwidth", nullptr}}}}).any());
}

TEST(BandwidthConfigTest, TopLevelKeys) {
  Config c = parse(
      {{"ingressRate", 1000}, {"ingressBurst", 2000}, {"egressRate", 3000}, {"egressBurst", 4000}});
  EXPECT_EQ(c.ingress.rate, 1000u);
  EXPECT_EQ(c.ingress.burst, 2000u);
  EXPECT_EQ(c.egress.rate, 3000u);
  EXPECT_EQ(c.egress.burst, 4000u);
  EXPECT_TRUE(c.subnets.empty());
}

TEST(BandwidthConfigTest, RuntimeConfigWithCriCapitalisedKeys) {
  Config c =
      parse({{"runtimeConfig",
              {{"bandwidth", {{"IngressRate", 1000000}, {"IngressBurst", 4294967295ull}}}}}});
  EXPECT_EQ(c.ingress.rate, 1000000u);
  EXPECT_EQ(c.ingress.burst, 4294967295ull);
  EXPECT_FALSE(c.egress.enabled());
}

TEST(BandwidthConfigTest, ConfigTakesPrecedenceOverRuntimeConfig) {
  Config c = parse({{"egressRate", 1000},
                    {"egressBurst", 2000},
                    {"runtimeConfig", {{"bandwidth", {{"ingressRate", 5}, {"ingressBurst", 5}}}}}});
  EXPECT_EQ(c.egress.rate, 1000u);
  EXPECT_FALSE(c.ingress.enabled());  // runtimeConfig is ignored, even its bad values
}

TEST(BandwidthConfigTest, RateAndBurstGoTogether) {
  EXPECT_NE(error_of({{"ingressRate", 1000}}).find("\"ingressRate\""), std::string::npos);
  EXPECT_NE(error_of({{"egressBurst", 1000}}).find("\"egressBurst\""), std::string::npos);
  EXPECT_NE(error_of({{"egressRate", 1000}, {"egressBurst", 0}}).find("burst must also be set"),
            std::string::npos);
  EXPECT_NE(error_of({{"runtimeConfig", {{"bandwidth", {{"ingressRate", 1000}}}}}})
                .find("\"runtimeConfig.bandwidth.ingressRate\""),
            std::string::npos);
}

TEST(BandwidthConfigTest, KernelLimits) {
  EXPECT_NE(error_of({{"ingressRate", 1000}, {"ingressBurst", 8ull * 4294967295ull}})
                .find("burst cannot be more than 4GB"),
            std::string::npos);
  EXPECT_NE(error_of({{"ingressRate", 7}, {"ingressBurst", 800}}).find("at least 8 bits"),
            std::string::npos);
  EXPECT_NE(error_of({{"ingressRate", -1}, {"ingressBurst", 800}}).find("ingressRate"),
            std::string::npos);
}

// Beyond 1 Tbit/s the kernel's nanosecond accounting cannot enforce a rate:
// refused, naming the key, instead of accepted and silently unshaped.
TEST(BandwidthConfigTest, RatesTheKernelCannotEnforceAreRefused) {
  EXPECT_EQ(parse({{"egressRate", kMaxRate}, {"egressBurst", 8000}}).egress.rate, kMaxRate);
  EXPECT_NE(error_of({{"egressRate", kMaxRate + 1}, {"egressBurst", 8000}})
                .find("\"egressRate\": rate cannot be more than"),
            std::string::npos);
  EXPECT_NE(error_of({{"runtimeConfig",
                       {{"bandwidth", {{"IngressRate", 18446744073709551615ull},
                                       {"IngressBurst", 8000}}}}}})
                .find("\"runtimeConfig.bandwidth.ingressRate\""),
            std::string::npos);
}

TEST(BandwidthConfigTest, Subnets) {
  Config c = parse({{"egressRate", 1000},
                    {"egressBurst", 1000},
                    {"unshapedSubnets", {"10.1.2.3/16", "fd00::/64"}}});
  EXPECT_FALSE(c.only_subnets);
  ASSERT_EQ(c.subnets.size(), 2u);
  EXPECT_EQ(c.subnets[0].str(), "10.1.0.0/16");
  EXPECT_TRUE(parse({{"shapedSubnets", {"192.0.2.0/24"}}}).only_subnets);
  EXPECT_NE(error_of({{"shapedSubnets", {"10.0.0.0/8"}}, {"unshapedSubnets", {"fd00::/8"}}})
                .find("mutually exclusive"),
            std::string::npos);
  EXPECT_NE(error_of({{"shapedSubnets", {"10.0.0.0/8", "nope"}}}).find("\"shapedSubnets[1]\""),
            std::string::npos);
}

}  // namespace
}  // namespace knet::bandwidth
