#include <gtest/gtest.h>

#include "cni/naming.h"

namespace {

TEST(Naming, IfnamesAreStableShortAndDistinct) {
  cni::Owner a{"net", "c1", "eth0"}, b{"net", "c1", "eth1"}, c{"net2", "c1", "eth0"};
  std::string na = cni::owner_ifname("veth", a);
  EXPECT_EQ(na.size(), 15u);
  EXPECT_EQ(na.rfind("veth", 0), 0u);
  EXPECT_EQ(na, cni::owner_ifname("veth", a));
  EXPECT_NE(na, cni::owner_ifname("veth", b));
  EXPECT_NE(na, cni::owner_ifname("veth", c));
  // Moving a character between fields must change the name.
  EXPECT_NE(cni::owner_hash({"ab", "c", "x"}), cni::owner_hash({"a", "bc", "x"}));
}

TEST(Naming, TagsRoundTrip) {
  cni::Owner o{"mynet", "0123abcd", "eth0"};
  EXPECT_EQ(cni::owner_tag(o), "knet:mynet:0123abcd:eth0");
  EXPECT_EQ(cni::parse_owner_tag(cni::owner_tag(o)), o);
  EXPECT_FALSE(cni::parse_owner_tag("other:a:b:c"));
  EXPECT_FALSE(cni::parse_owner_tag("knet:a:b"));
  EXPECT_FALSE(cni::parse_owner_tag("knet:a:b:c:d"));
  EXPECT_FALSE(cni::parse_owner_tag("knet::b:c"));
}

}  // namespace
