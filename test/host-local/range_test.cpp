// Range arithmetic: defaults, edges (/30, /31, /32, /126, /127, /128, one-address
// ranges, full ranges), IPv6 ranges too large to enumerate, and the
// reference's round-robin order.

#include <cni/error.h>
#include <gtest/gtest.h>
#include <ipam/range.h>

#include <vector>

namespace knet::ipam {
namespace {

using cni::json;

knet::IP ip(const char* s) { return *knet::IP::parse(s); }

Range range(json obj) { return Range::parse(obj, "r"); }

std::vector<std::string> walk(const RangeSet& set, std::optional<knet::IP> last, size_t max = 100) {
  std::vector<std::string> out;
  RangeIter it(set, last);
  while (out.size() < max) {
    auto c = it.next();
    if (!c) break;
    out.push_back(c->ip.str());
  }
  return out;
}

std::string config_error_of(json obj) {
  try {
    range(obj);
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
    return e.msg();
  }
  return "";
}

TEST(Range, V4Defaults) {
  Range r = range({{"subnet", "10.1.0.0/24"}});
  EXPECT_EQ(r.start.str(), "10.1.0.1");
  EXPECT_EQ(r.end.str(), "10.1.0.254");
  EXPECT_EQ(r.gateway.str(), "10.1.0.1");
  EXPECT_EQ(r.capacity(), 253u);  // .2 - .254
  EXPECT_TRUE(r.contains(ip("10.1.0.254")));
  EXPECT_FALSE(r.contains(ip("10.1.0.255")));
  EXPECT_FALSE(r.contains(ip("10.1.0.0")));
}

TEST(Range, V6DefaultsIncludeTheLastAddress) {
  Range r = range({{"subnet", "fd00:1::/120"}});
  EXPECT_EQ(r.start.str(), "fd00:1::1");
  EXPECT_EQ(r.end.str(), "fd00:1::ff");
  EXPECT_EQ(r.capacity(), 254u);
}

TEST(Range, Slash30HasOneAddress) {
  Range r = range({{"subnet", "10.1.0.0/30"}});
  EXPECT_EQ(r.capacity(), 1u);
  EXPECT_EQ(walk(RangeSet{{r}}, std::nullopt), std::vector<std::string>{"10.1.0.2"});
  Range r6 = range({{"subnet", "fd00::/126"}});
  EXPECT_EQ(walk(RangeSet{{r6}}, std::nullopt), (std::vector<std::string>{"fd00::2", "fd00::3"}));
}

TEST(Range, TooSmallSubnetsAreRejected) {
  for (const char* s : {"10.1.0.0/31", "10.1.0.1/32", "fd00::/127", "fd00::1/128"})
    EXPECT_NE(config_error_of({{"subnet", s}}).find("too small"), std::string::npos) << s;
}

TEST(Range, BadInputNamesTheKey) {
  EXPECT_NE(config_error_of({{"subnet", "10.1.0.0/33"}}).find("\"r.subnet\""), std::string::npos);
  EXPECT_NE(config_error_of({{"subnet", "banana"}}).find("\"r.subnet\""), std::string::npos);
  EXPECT_NE(config_error_of({{"subnet", "10.1.0.5/24"}}).find("host bits"), std::string::npos);
  EXPECT_NE(config_error_of(json::object()).find("missing \"r.subnet\""), std::string::npos);
  EXPECT_NE(
      config_error_of({{"subnet", "10.1.0.0/24"}, {"gateway", "10.2.0.1"}}).find("\"r.gateway\""),
      std::string::npos);
  EXPECT_NE(config_error_of({{"subnet", "10.1.0.0/24"}, {"rangeStart", "10.1.1.1"}})
                .find("\"r.rangeStart\""),
            std::string::npos);
  EXPECT_NE(config_error_of(
                {{"subnet", "10.1.0.0/24"}, {"rangeStart", "10.1.0.9"}, {"rangeEnd", "10.1.0.8"}})
                .find("after rangeEnd"),
            std::string::npos);
  EXPECT_NE(
      config_error_of({{"subnet", "10.1.0.0/24"}, {"rangeEnd", "fd00::1"}}).find("\"r.rangeEnd\""),
      std::string::npos);
  EXPECT_NE(config_error_of({{"subnet", 5}}).find("\"r.subnet\""), std::string::npos);
  // A range holding only its gateway can never hand out an address.
  EXPECT_NE(config_error_of(
                {{"subnet", "10.1.0.0/24"}, {"rangeStart", "10.1.0.1"}, {"rangeEnd", "10.1.0.1"}})
                .find("no address"),
            std::string::npos);
}

TEST(Range, StartEqualsEnd) {
  Range r =
      range({{"subnet", "10.1.0.0/24"}, {"rangeStart", "10.1.0.7"}, {"rangeEnd", "10.1.0.7"}});
  EXPECT_EQ(r.capacity(), 1u);
  RangeSet set{{r}};
  EXPECT_EQ(walk(set, std::nullopt), std::vector<std::string>{"10.1.0.7"});
  EXPECT_EQ(walk(set, ip("10.1.0.7")), std::vector<std::string>{"10.1.0.7"});
}

TEST(Range, FullWalkVisitsEveryAddressOnceSkippingTheGateway) {
  RangeSet set{{range({{"subnet", "10.1.0.0/29"}, {"gateway", "10.1.0.3"}})}};
  EXPECT_EQ(walk(set, std::nullopt),
            (std::vector<std::string>{"10.1.0.1", "10.1.0.2", "10.1.0.4", "10.1.0.5", "10.1.0.6"}));
  // Round-robin: after the last reserved address, wrapping, that address last.
  EXPECT_EQ(walk(set, ip("10.1.0.4")),
            (std::vector<std::string>{"10.1.0.5", "10.1.0.6", "10.1.0.1", "10.1.0.2", "10.1.0.4"}));
  // A last reserved address outside the set restarts at the beginning.
  EXPECT_EQ(walk(set, ip("10.9.0.4")).front(), "10.1.0.1");
}

TEST(Range, WalkCrossesRangesOfASet) {
  RangeSet set = RangeSet::parse(json::parse(R"([
      {"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.11"},
      {"subnet": "10.2.0.0/24", "rangeStart": "10.2.0.1", "rangeEnd": "10.2.0.2"}])"),
                                 "s");
  EXPECT_EQ(
      walk(set, ip("10.1.0.11")),
      (std::vector<std::string>{"10.2.0.2", "10.1.0.10", "10.1.0.11"}));  // 10.2.0.1 is a gateway
  EXPECT_EQ(set.capacity(), 3u);
}

TEST(RangeSet, RejectsOverlapsAndMixedFamilies) {
  EXPECT_THROW(
      RangeSet::parse(json::parse(R"([{"subnet":"10.1.0.0/24"},{"subnet":"10.1.0.0/25"}])"), "s"),
      cni::Error);
  EXPECT_THROW(
      RangeSet::parse(json::parse(R"([{"subnet":"10.1.0.0/24"},{"subnet":"fd00::/64"}])"), "s"),
      cni::Error);
  EXPECT_THROW(RangeSet::parse(json::array(), "s"), cni::Error);
  // Disjoint ranges of one subnet are fine, as in the reference.
  EXPECT_NO_THROW(RangeSet::parse(json::parse(R"([
      {"subnet":"10.1.0.0/24","rangeStart":"10.1.0.10","rangeEnd":"10.1.0.20"},
      {"subnet":"10.1.0.0/24","rangeStart":"10.1.0.30","rangeEnd":"10.1.0.40"}])"),
                                  "s"));
}

TEST(Range, HugeV6RangesAreNeverEnumerated) {
  Range r = range({{"subnet", "2001:db8::/64"}});
  EXPECT_EQ(r.end.str(), "2001:db8::ffff:ffff:ffff:ffff");
  EXPECT_EQ(r.capacity(), UINT64_MAX);  // saturated
  RangeSet set{{r}};
  EXPECT_EQ(
      walk(set, ip("2001:db8::ffff:ffff:ffff:fffe"), 3),
      (std::vector<std::string>{"2001:db8::ffff:ffff:ffff:ffff", "2001:db8::2", "2001:db8::3"}));
  Range big = range({{"subnet", "fd00::/8"}});
  EXPECT_EQ(big.capacity(), UINT64_MAX);
  EXPECT_TRUE(big.contains(ip("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_EQ(walk(RangeSet{{big}}, std::nullopt, 2),
            (std::vector<std::string>{"fd00::2", "fd00::3"}));
}

TEST(Range, OverlapIsOnTheAllocatableInterval) {
  Range a = range({{"subnet", "10.1.0.0/24"}, {"rangeEnd", "10.1.0.100"}});
  Range b = range({{"subnet", "10.1.0.0/24"}, {"rangeStart", "10.1.0.100"}});
  Range c = range({{"subnet", "10.1.0.0/24"}, {"rangeStart", "10.1.0.101"}});
  EXPECT_TRUE(a.overlaps(b));
  EXPECT_FALSE(a.overlaps(c));
  EXPECT_FALSE(a.overlaps(range({{"subnet", "fd00::/64"}})));
}

}  // namespace
}  // namespace knet::ipam
