#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

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

// IPv4 is parsed by hand: it must accept exactly what inet_pton accepts.
TEST(IP, V4ParsesAsInetPton) {
  std::vector<std::string> cases = {"0.0.0.0", "255.255.255.255", "1.2.3.4", "01.2.3.4", "1.2.3.04", "1.2.3.0",
                                    "1.2.3.256", "1.2.3.1000", "1.2.3", "1.2.3.4.5", "1..3.4", ".1.2.3", "1.2.3.",
                                    " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "1.2.3.-4", "1.2.3.+4", "a.b.c.d", "0x1.2.3.4",
                                    "1.2.3.4a", "192.0.2.1", "000.0.0.0", "0.00.0.0", "9.99.199.249"};
  std::mt19937 rng(17);
  const char alphabet[] = "0123456789.";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int n = rng() % 17; n > 0; --n) s += alphabet[rng() % 11];
    cases.push_back(s);
  }
  for (const auto& s : cases) {
    unsigned char want[4];
    bool ok = inet_pton(AF_INET, s.c_str(), want) == 1;
    auto got = IP::parse(s);
    ASSERT_EQ(got.has_value(), ok) << "\"" << s << "\"";
    if (ok) {
      EXPECT_EQ(std::memcmp(got->bytes.data(), want, 4), 0) << s;
    }
  }
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

TEST(IPNet, NetworkOfEveryPrefix) {
  for (const char* a : {"255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    IP ip = *IP::parse(a);
    for (int p = 0; p <= ip.bits(); ++p) {
      IP n = IPNet{ip, p}.network().ip;
      for (int b = 0; b < ip.bits(); ++b) {
        bool set = n.bytes[b / 8] >> (7 - b % 8) & 1;
        ASSERT_EQ(set, b < p) << a << "/" << p << " bit " << b;
      }
    }
  }
}

TEST(IPNet, Overlaps) {
  EXPECT_TRUE(IPNet::parse("10.0.0.0/8")->overlaps(*IPNet::parse("10.1.0.0/16")));
  EXPECT_TRUE(IPNet::parse("10.1.0.0/16")->overlaps(*IPNet::parse("10.0.0.0/8")));
  EXPECT_FALSE(IPNet::parse("10.1.0.0/16")->overlaps(*IPNet::parse("10.2.0.0/16")));
  EXPECT_FALSE(IPNet::parse("10.1.0.0/16")->overlaps(*IPNet::parse("::/0")));
}

}  // namespace
