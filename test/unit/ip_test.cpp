#include <gtest/gtest.h>

#include "base/ip.h"

namespace {

using knet::IP;
using knet::IPNet;

TEST(IP, ParseAndFormat) {
  EXPECT_EQ(IP::parse("10.1.2.3")->str(), "10.1.2.3");
  EXPECT_EQ(IP::parse("2001:DB8::1")->str(), "2001:db8::1");
  EXPECT_FALSE(IP::parse("10.1.2"));
  EXPECT_FALSE(IP::parse("10.1.2.256"));
  EXPECT_FALSE(IP::parse("010.1.2.3"));
  EXPECT_FALSE(IP::parse(""));
  EXPECT_FALSE(IP::parse("1.2.3.4/24"));
}

TEST(IP, Arithmetic) {
  EXPECT_EQ(IP::parse("10.0.0.255")->next().str(), "10.0.1.0");
  EXPECT_EQ(IP::parse("10.0.1.0")->prev().str(), "10.0.0.255");
  EXPECT_EQ(IP::parse("255.255.255.255")->next().str(), "0.0.0.0");
  EXPECT_EQ(IP::parse("2001:db8::ffff")->add(1).str(), "2001:db8::1:0");
  EXPECT_EQ(IP::parse("2001:db8::")->add(0x10000000000ull).str(), "2001:db8::100:0:0");
  EXPECT_EQ(knet::distance(*IP::parse("10.0.0.1"), *IP::parse("10.0.0.10")), 10u);
  EXPECT_EQ(knet::distance(*IP::parse("2001:db8::"), *IP::parse("2001:db8::ffff:ffff:ffff:ffff")), UINT64_MAX);
}

TEST(IPNet, ParseMaskContains) {
  auto n = IPNet::parse("10.1.2.3/24");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->str(), "10.1.2.3/24");
  EXPECT_EQ(n->network().str(), "10.1.2.0/24");
  EXPECT_EQ(n->last().str(), "10.1.2.255");
  EXPECT_TRUE(n->contains(*IP::parse("10.1.2.200")));
  EXPECT_FALSE(n->contains(*IP::parse("10.1.3.1")));
  EXPECT_FALSE(n->contains(*IP::parse("::1")));
  EXPECT_FALSE(IPNet::parse("10.1.2.3/33"));
  EXPECT_FALSE(IPNet::parse("10.1.2.3/"));
  EXPECT_FALSE(IPNet::parse("10.1.2.3"));
  EXPECT_FALSE(IPNet::parse("10.1.2.3/-1"));
  auto v6 = IPNet::parse("2001:db8:1::5/64");
  EXPECT_EQ(v6->network().str(), "2001:db8:1::/64");
  EXPECT_EQ(v6->last().str(), "2001:db8:1:0:ffff:ffff:ffff:ffff");
  EXPECT_EQ(IPNet::parse("10.0.0.7/31")->network().str(), "10.0.0.6/31");
  EXPECT_EQ(IPNet::parse("10.0.0.7/32")->last().str(), "10.0.0.7");
  EXPECT_EQ(IPNet::parse("::1/128")->network().str(), "::1/128");
  EXPECT_EQ(IPNet::parse("0.0.0.0/0")->last().str(), "255.255.255.255");
}

TEST(IPNet, Overlaps) {
  EXPECT_TRUE(IPNet::parse("10.0.0.0/8")->overlaps(*IPNet::parse("10.1.0.0/16")));
  EXPECT_TRUE(IPNet::parse("10.1.0.0/16")->overlaps(*IPNet::parse("10.0.0.0/8")));
  EXPECT_FALSE(IPNet::parse("10.1.0.0/16")->overlaps(*IPNet::parse("10.2.0.0/16")));
  EXPECT_FALSE(IPNet::parse("10.1.0.0/16")->overlaps(*IPNet::parse("::/0")));
}

}  // namespace
