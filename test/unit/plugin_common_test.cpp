// Unit tests of plugins/common: the pieces of plugin glue that need no kernel.

#include <cni/address.h>
#include <cni/error.h>
#include <common/mac.h>
#include <common/owner.h>
#include <gtest/gtest.h>

#include <string>

namespace {

// The tag must fit a link alias and an nftables comment; an ADD checks it
// before creating anything.
TEST(Owner, TagLengthIsCheckedUpFront) {
  std::string net(knet::kMaxOwnerTagBytes - std::string("knet:::eth0").size() - 2, 'n');
  knet::Owner fits{net, "c1", "eth0"};
  EXPECT_EQ(knet::owner_tag(fits).size(), knet::kMaxOwnerTagBytes);
  EXPECT_NO_THROW(knet::common::require_owner_tag_fits(fits));
  knet::Owner over{net + "n", "c1", "eth0"};
  try {
    knet::common::require_owner_tag_fits(over);
    ADD_FAILURE() << "a 254-byte tag passed";
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
    EXPECT_NE(e.msg().find("too long together"), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find("would be 254"), std::string::npos) << e.msg();
  }
}

// A value that is not an address or a prefix is a config error naming its key.
TEST(Address, ConfigValuesNameTheirKey) {
  EXPECT_EQ(cni::parse_ip("10.0.0.1", "gw").str(), "10.0.0.1");
  try {
    cni::parse_ip("x", "ipam.gateway");
    ADD_FAILURE() << "\"x\" parsed";
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
    EXPECT_EQ(e.msg(), "invalid \"ipam.gateway\": \"x\" is not an IP address");
  }
  EXPECT_THROW(cni::parse_cidr("10.0.0.0/33", "ipam.subnet"), cni::Error);
}

// One reading of a requested MAC for every plugin: any case, ':' or '-',
// never multicast or all zeros.
TEST(Mac, UnicastOnlyNormalisedToLowerCaseColons) {
  EXPECT_EQ(knet::common::parse_unicast_mac("02-0A-00-00-00-FF", "mac"), "02:0a:00:00:00:ff");
  for (const char* bad : {"02:00:00:00:00", "02:00:00:00:00:0g", "02:00:00:00:00:001",
                          "02.00.00.00.00.01", "+2:00:00:00:00:01"}) {
    EXPECT_THROW(knet::common::parse_unicast_mac(bad, "mac"), cni::Error) << bad;
  }
  try {
    knet::common::parse_unicast_mac("01:00:5e:00:00:01", "runtimeConfig.mac");
    ADD_FAILURE() << "a multicast MAC passed";
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.msg(), "invalid \"runtimeConfig.mac\" \"01:00:5e:00:00:01\": a multicast MAC");
  }
  EXPECT_THROW(knet::common::parse_unicast_mac("00:00:00:00:00:00", "mac"), cni::Error);
}

}  // namespace
