// knet_nat's nftables rules, programmed inside a sandbox namespace and read
// back with `nft -j list ruleset`.

#include <base/c_callback.h>
#include <base/error.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <nat/iptables.h>
#include <nat/nft.h>
#include <nlw/netns.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "nft_dump.h"
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
    nft.add_masquerade({*knet::IPNet::parse("10.9.0.2/24"), *knet::IPNet::parse("fd00:9::2/64")},
                       "knet:n:a:eth0");
    nft.add_masquerade({*knet::IPNet::parse("10.9.0.3/24")}, "knet:n:b:eth0");
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
    nft.add_masquerade({*knet::IPNet::parse("10.9.0.4/24")}, "knet:m:c:eth0");
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
    nat::Nft().add_masquerade({*knet::IPNet::parse("10.9.0.2/24")}, "knet:n:a:eth0");
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
    nft.add_masquerade({knet::IPNet{knet::IP::from_v4(0x0a140000u + 2 + i), 16}},
                       "knet:n:other" + std::to_string(i) + ":eth0");
  }
  constexpr int kRounds = 50;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    nft.add_masquerade({*knet::IPNet::parse("10.9.0.2/24"), *knet::IPNet::parse("fd00:9::2/64")},
                       "knet:n:a:eth0");
    ASSERT_EQ(nft.del_masquerade("knet:n:a:eth0"), 2u);
  }
  auto per_pair = (std::chrono::steady_clock::now() - start) / kRounds;
  std::cout << "add + delete: "
            << std::chrono::duration_cast<std::chrono::microseconds>(per_pair).count() << " us\n";
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(nft.del_masquerade("knet:n:other" + std::to_string(i) + ":eth0"), 1u) << i;
}

// A bridge GC that finds thousands of stale ipMasq owners removes every one
// of them and keeps the valid ones. Their deletions are far more than one
// 64 KiB netlink batch holds (~160 bytes per owner): this once overflowed
// libmnl's batch buffer and died with "double free or corruption".
TEST(Nft, BridgeGcRemovesThousandsOfStaleOwners) {
  constexpr int kOwners = 3000;
  Sandbox sb;
  {
    nlw::NsGuard in(nlw::NetNS::open(sb.host()));
    nat::Nft nft;
    for (int i = 0; i < kOwners; ++i) {
      std::vector<knet::IPNet> addrs = {knet::IPNet{knet::IP::from_v4(0x0a140000u + 2 + i), 16}};
      // Every tenth owner is dual-stack, so both families' tables fill up.
      if (i % 10 == 0)
        addrs.push_back(*knet::IPNet::parse("fd00:14::" + std::to_string(i + 2) + "/64"));
      nft.add_masquerade(addrs, "knet:gcnet:c" + std::to_string(i) + ":eth0");
    }
    nft.add_masquerade({*knet::IPNet::parse("10.21.0.2/16")}, "knet:othernet:x:eth0");
  }
  json conf = {{"cniVersion", "1.1.0"},
               {"name", "gcnet"},
               {"type", "bridge"},
               {"bridge", "kbr9"},
               {"ipMasq", true}};
  conf["cni.dev/valid-attachments"] = {{{"containerID", "c7"}, {"ifname", "eth0"}},
                                       {{"containerID", "c2990"}, {"ifname", "eth0"}}};
  auto start = std::chrono::steady_clock::now();
  RunResult g =
      sb.run_plugin(plugin_path("bridge"), {{"CNI_COMMAND", "GC"}, {"CNI_PATH", KNET_PLUGIN_DIR}},
                    conf.dump(), {}, std::chrono::seconds(120));
  std::cout << "GC of " << kOwners << " stale owners: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count()
            << " ms\n";  // for information; speed is measured in bench/
  ASSERT_EQ(g.code, 0) << g.out << g.err;
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted(nft_comments(sb, "ip", "knet-nat")),
            (std::vector<std::string>{"knet:gcnet:c2990:eth0", "knet:gcnet:c7:eth0",
                                      "knet:othernet:x:eth0"}));
  EXPECT_EQ(nft_comments(sb, "ip6", "knet-nat"),
            (std::vector<std::string>{"knet:gcnet:c2990:eth0"}));  // dual-stack, like every tenth
  // The map holds only the survivors' addresses.
  std::string map = sb.exec_in(sb.host(), "nft list map ip knet-nat masq").out;
  EXPECT_NE(map.find("10.20.11.176"), std::string::npos) << map;  // c2990: 10.20.0.2 + 2990
  EXPECT_EQ(map.find("10.20.0.3 "), std::string::npos) << map;    // c1
}

// ---- parsing a dump: the cause of a failure, never a stale errno ----

// A chunk of a rule dump as the kernel sends it: NEWRULE messages of `seq`.
class DumpChunk {
 public:
  explicit DumpChunk(uint32_t seq) : seq_(seq), buf_(16384) {}
  // A well-formed rule of table knet-nat, chain postrouting.
  void rule() {
    nat::detail::RulePtr r(nftnl_rule_alloc());
    nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_IPV4);
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, "knet-nat");
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "postrouting");
    nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, 2);
    nftnl_rule_nlmsg_build_payload(start(NFT_MSG_NEWRULE), r.get());
    end();
  }
  // A rule whose expression list holds an attribute that is not a list
  // element: libnftnl refuses it without setting errno.
  void malformed_rule() {
    nlmsghdr* h = start(NFT_MSG_NEWRULE);
    mnl_attr_put_strz(h, NFTA_RULE_TABLE, "knet-nat");
    mnl_attr_put_strz(h, NFTA_RULE_CHAIN, "postrouting");
    nlattr* list = mnl_attr_nest_start(h, NFTA_RULE_EXPRESSIONS);
    mnl_attr_put_u32(h, NFTA_LIST_ELEM + 1, 0);
    mnl_attr_nest_end(h, list);
    end();
  }
  // The kernel's answer to a dump of a table that does not exist.
  void error(int err) {
    nlmsghdr* h = mnl_nlmsg_put_header(buf_.data() + used_);
    h->nlmsg_type = NLMSG_ERROR;
    h->nlmsg_seq = seq_;
    auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(h, sizeof(nlmsgerr)));
    e->error = -err;
    used_ += h->nlmsg_len;
  }
  void done() {
    nlmsghdr* h = mnl_nlmsg_put_header(buf_.data() + used_);
    h->nlmsg_type = NLMSG_DONE;
    h->nlmsg_flags = NLM_F_MULTI;
    h->nlmsg_seq = seq_;
    used_ += h->nlmsg_len;
  }
  const char* data() const { return buf_.data(); }
  size_t size() const { return used_; }

 private:
  nlmsghdr* start(uint16_t type) {
    return nftnl_nlmsg_build_hdr(buf_.data() + used_, type, NFPROTO_IPV4, NLM_F_MULTI, seq_);
  }
  void end() { used_ += reinterpret_cast<nlmsghdr*>(buf_.data() + used_)->nlmsg_len; }
  uint32_t seq_;
  std::vector<char> buf_;
  size_t used_ = 0;
};

// A rule libnftnl cannot parse used to end the walk with whatever errno an
// earlier call had left: ENOENT made it "no such table" and the rules read so
// far were returned as if complete (EINTR made it "interrupted"). The parse
// failure is now its own error, whatever errno holds.
TEST(NftDump, AnUnparsableRuleIsAnErrorWhateverErrnoHolds) {
  for (int stale : {ENOENT, EINTR, 0}) {
    DumpChunk chunk(42);
    chunk.rule();
    chunk.malformed_rule();
    chunk.rule();
    chunk.done();
    std::vector<nat::detail::RulePtr> rules;
    errno = stale;
    try {
      nat::detail::DumpStep step =
          nat::detail::parse_rule_dump(chunk.data(), chunk.size(), 42, 0, "knet-nat", rules);
      ADD_FAILURE() << "a partial dump was accepted (step " << int(step) << ", " << rules.size()
                    << " rules) with errno " << stale;
    } catch (const knet::Error& e) {
      EXPECT_NE(
          std::string(e.what()).find("knet-nat: the kernel sent a rule libnftnl cannot parse"),
          std::string::npos)
          << e.what();
    }
  }
}

// The kernel's own answers still mean what they say, whatever errno held before.
TEST(NftDump, KernelAnswersAreReadFromTheMessages) {
  std::vector<nat::detail::RulePtr> rules;
  DumpChunk full(7);
  full.rule();
  full.rule();
  full.done();
  errno = EINTR;
  EXPECT_EQ(nat::detail::parse_rule_dump(full.data(), full.size(), 7, 0, "knet-nat", rules),
            nat::detail::DumpStep::kDone);
  EXPECT_EQ(rules.size(), 2u);
  DumpChunk missing(8);
  missing.error(ENOENT);
  errno = EINTR;
  EXPECT_EQ(nat::detail::parse_rule_dump(missing.data(), missing.size(), 8, 0, "knet-nat", rules),
            nat::detail::DumpStep::kNoTable);
  DumpChunk denied(9);
  denied.error(EPERM);
  errno = ENOENT;
  EXPECT_THROW(nat::detail::parse_rule_dump(denied.data(), denied.size(), 9, 0, "knet-nat", rules),
               knet::Error);
}

// An exception thrown in a callback libmnl runs does not unwind through
// libmnl: the walk stops at that message and the exception comes out after
// mnl_cb_run has returned.
TEST(NftDump, ACallbackThatThrowsStopsTheWalkAndIsRethrownAfter) {
  DumpChunk chunk(5);
  chunk.rule();
  chunk.rule();
  chunk.done();
  struct Walk {
    knet::CallbackError error;
    int visited = 0;
  } walk;
  auto cb = [](const nlmsghdr*, void* data) -> int {
    auto* w = static_cast<Walk*>(data);
    return w->error.guard(MNL_CB_ERROR, [&]() -> int {
      ++w->visited;
      throw std::runtime_error("thrown in the callback");
    });
  };
  int ret = mnl_cb_run(chunk.data(), chunk.size(), 5, 0, cb, &walk);
  EXPECT_EQ(ret, MNL_CB_ERROR);
  EXPECT_EQ(walk.visited, 1);
  EXPECT_TRUE(walk.error.failed());
  EXPECT_THROW(walk.error.rethrow_if_failed(), std::runtime_error);
  EXPECT_NO_THROW(walk.error.rethrow_if_failed()) << "rethrown once";
}

TEST(Iptables, ChainNameAndCommentMatchTheReference) {
  // Values the reference bridge plugin wrote for network "testnet", container "abc123".
  EXPECT_EQ(nat::chain_name("testnet", "abc123"), "CNI-ac401170a6a418c7c78d298f");
  EXPECT_EQ(nat::comment("testnet", "abc123"), "name: \"testnet\" id: \"abc123\"");
}

}  // namespace
}  // namespace knet::test
