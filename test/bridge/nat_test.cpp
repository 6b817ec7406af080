// knet_nat's nftables rules, programmed inside a sandbox namespace and read
// back with `nft -j list ruleset`.

#include <gtest/gtest.h>
#include <nat/iptables.h>
#include <nat/nft.h>
#include <nlw/netns.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "sandbox.h"

namespace knet::test {
namespace {

using nlohmann::json;

// The comments of the rules in `table` of `family`, as nft prints them.
std::vector<std::string> nft_comments(const Sandbox& sb, const std::string& family,
                                      const std::string& table) {
  std::vector<std::string> out;
  json j = json::parse(sb.exec_in(sb.host(), "nft -j list ruleset").out, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& e : j["nftables"]) {
    if (!e.contains("rule")) continue;
    const auto& r = e["rule"];
    if (r["family"] == family && r["table"] == table && r.contains("comment")) {
      out.push_back(r["comment"]);
    }
  }
  return out;
}

TEST(Nft, MasqueradeRulesAreAddedAndDeletedByComment) {
  Sandbox sb;
  {
    nlw::NsGuard in(nlw::NetNS::open(sb.host()));
    nat::Nft nft;
    nft.add_masquerade({*cni::IPNet::parse("10.9.0.2/24"), *cni::IPNet::parse("fd00:9::2/64")},
                       "knet:n:a:eth0");
    nft.add_masquerade({*cni::IPNet::parse("10.9.0.3/24")}, "knet:n:b:eth0");
    auto comments = nft.comments(nat::kNatTable);
    EXPECT_EQ(std::count(comments.begin(), comments.end(), "knet:n:a:eth0"), 2);
    EXPECT_EQ(std::count(comments.begin(), comments.end(), "knet:n:b:eth0"), 1);
  }
  EXPECT_EQ(nft_comments(sb, "ip", "knet-nat"),
            (std::vector<std::string>{"knet:n:a:eth0", "knet:n:b:eth0"}));
  EXPECT_EQ(nft_comments(sb, "ip6", "knet-nat"), (std::vector<std::string>{"knet:n:a:eth0"}));
  std::string listing = sb.exec_in(sb.host(), "nft list table ip knet-nat").out;
  EXPECT_NE(listing.find("ip saddr 10.9.0.2 ip daddr != 10.9.0.0/24 ip daddr != 224.0.0.0/4 "
                         "masquerade"),
            std::string::npos)
      << listing;
  {
    nlw::NsGuard in(nlw::NetNS::open(sb.host()));
    nat::Nft nft;
    EXPECT_EQ(nft.del_masquerade("knet:n:a:eth0"), 2u);
    EXPECT_EQ(nft.del_masquerade("knet:n:a:eth0"), 0u);
    EXPECT_EQ(nft.delete_rules(nat::kSpoofTable, [](std::string_view) { return true; }), 0u)
        << "a missing table is not an error";
  }
  EXPECT_EQ(nft_comments(sb, "ip", "knet-nat"), (std::vector<std::string>{"knet:n:b:eth0"}));
  EXPECT_TRUE(nft_comments(sb, "ip6", "knet-nat").empty());
  {
    nlw::NsGuard in(nlw::NetNS::open(sb.host()));
    nat::Nft nft;
    nft.add_masquerade({*cni::IPNet::parse("10.9.0.4/24")}, "knet:m:c:eth0");
    EXPECT_EQ(nft.gc_masquerade([](std::string_view c) { return c.rfind("knet:n:", 0) == 0; }), 1u);
  }
  EXPECT_EQ(nft_comments(sb, "ip", "knet-nat"), (std::vector<std::string>{"knet:m:c:eth0"}));
}

// Masquerading really happens: 10.9.0.2 in a "container" namespace reaches
// an outside namespace that has no route back, through the sandbox host.
TEST(Nft, TrafficIsMasqueraded) {
  Sandbox sb;
  std::string c = sb.add_container("c"), out = sb.add_ns("out");
  sb.connect(c, "eth0", sb.host(), "h0", "10.9.0.2/24", "10.9.0.1/24");
  sb.connect(sb.host(), "up0", out, "up1", "198.51.100.1/24", "198.51.100.2/24");
  ASSERT_TRUE(sb.exec_in(c, "ip route add default via 10.9.0.1").ok());
  ASSERT_TRUE(sb.exec_in(sb.host(), "sysctl -qw net.ipv4.ip_forward=1").ok());
  EXPECT_FALSE(sb.ping(out, "10.9.0.2")) << "no route back: only NAT makes replies work";
  {
    nlw::NsGuard in(nlw::NetNS::open(sb.host()));
    nat::Nft().add_masquerade({*cni::IPNet::parse("10.9.0.2/24")}, "knet:n:a:eth0");
  }
  EXPECT_TRUE(sb.ping(c, "198.51.100.2"));
  {
    nlw::NsGuard in(nlw::NetNS::open(sb.host()));
    nat::Nft().del_masquerade("knet:n:a:eth0");
  }
  EXPECT_FALSE(sb.ping(c, "198.51.100.2"));
}

TEST(Nft, MacSpoofRule) {
  Sandbox sb;
  {
    nlw::NsGuard in(nlw::NetNS::open(sb.host()));
    nat::Nft().add_macspoof("veth0123", "02:00:00:00:00:01", "knet:n:a:eth0");
  }
  std::string listing = sb.exec_in(sb.host(), "nft list table bridge knet-macspoof").out;
  EXPECT_NE(listing.find("iifname \"veth0123\" ether saddr != 02:00:00:00:00:01 drop"),
            std::string::npos)
      << listing;
}

// The ipMasq budget is +1 ms per ADD and per DEL: the add transaction and the
// dump + delete must stay well below it, also with other containers' rules present.
// With 200 other containers' rules present, adding and deleting one
// container's rules touches exactly its own two rules. The time per pair is
// printed for information; speed is measured in bench/, never asserted here.
TEST(Nft, ManyContainersDoNotDisturbEachOther) {
  Sandbox sb;
  nlw::NsGuard in(nlw::NetNS::open(sb.host()));
  nat::Nft nft;
  for (int i = 0; i < 200; ++i) {
    nft.add_masquerade({cni::IPNet{cni::IP::from_v4(0x0a140000u + 2 + i), 16}},
                       "knet:n:other" + std::to_string(i) + ":eth0");
  }
  constexpr int kRounds = 50;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    nft.add_masquerade({*cni::IPNet::parse("10.9.0.2/24"), *cni::IPNet::parse("fd00:9::2/64")},
                       "knet:n:a:eth0");
    ASSERT_EQ(nft.del_masquerade("knet:n:a:eth0"), 2u);
  }
  auto per_pair = (std::chrono::steady_clock::now() - start) / kRounds;
  std::cout << "add + delete: "
            << std::chrono::duration_cast<std::chrono::microseconds>(per_pair).count() << " us\n";
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(nft.del_masquerade("knet:n:other" + std::to_string(i) + ":eth0"), 1u) << i;
}

TEST(Iptables, ChainNameAndCommentMatchTheReference) {
  // Values the reference bridge plugin wrote for network "testnet", container "abc123".
  EXPECT_EQ(nat::chain_name("testnet", "abc123"), "CNI-ac401170a6a418c7c78d298f");
  EXPECT_EQ(nat::comment("testnet", "abc123"), "name: \"testnet\" id: \"abc123\"");
}

}  // namespace
}  // namespace knet::test
