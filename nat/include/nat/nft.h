#pragma once
// nftables rules knet programs for containers, sent over netlink (no `nft`
// process). Every rule lives in a table knet owns and carries its owner's tag
// (knet::owner_tag) as the rule comment, so DEL and GC find it after a crash
// without any state file. Nothing outside knet's tables is ever touched.

#include <base/ip.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace knet::nat {

// `table ip knet-nat` and `table ip6 knet-nat`. Each has a base chain
// `postrouting` (type nat, hook postrouting, priority srcnat) holding one rule,
// `ip saddr vmap @masq`, and one chain per container, `knet-<owner hash>`,
// holding that container's masquerade rule(s); the map sends each container
// address to its chain. DEL reads and deletes only its own chain, so its cost
// does not grow with the number of containers, and packets take one map
// lookup instead of a walk over every container's rule.
inline constexpr const char* kNatTable = "knet-nat";
// `table bridge knet-macspoof` with a base chain `prerouting` (type filter,
// hook prerouting, priority -300).
inline constexpr const char* kSpoofTable = "knet-macspoof";

// A netfilter netlink socket in the calling thread's network namespace.
// Move-only; closed on destruction. The add and del methods are one
// transaction each: they apply completely or not at all. gc_masquerade and
// delete_rules, which may remove thousands of rules, send bounded
// transactions (at most 128 messages / 64 KiB each, one owner or rule never
// split), so a failure may leave the earlier ones applied; running them again
// finishes the job.
class Nft {
 public:
  // Opens the socket; throws knet::Error if nf_tables is unavailable.
  Nft();
  ~Nft();
  Nft(Nft&&) noexcept;
  Nft& operator=(Nft&&) noexcept;

  // Masquerades traffic from each address's IP to every destination outside
  // its subnet that is not multicast (the reference's ipMasq semantics), one
  // rule per address in the owner's chain, each commented `comment` (an
  // owner tag, knet::owner_tag). Creates the tables when missing. One netlink
  // round trip when they exist.
  void add_masquerade(const std::vector<knet::IPNet>& addrs, const std::string& comment);

  // Removes what add_masquerade made for `comment`; returns how many rules.
  // Nothing there is not an error. One dump of the owner's chain per family,
  // plus one transaction when it exists.
  size_t del_masquerade(const std::string& comment);

  // Removes the masquerade chains whose rules' comment satisfies `stale`;
  // returns how many chains. Reads every container's rules: for GC. A chain
  // a concurrent DEL removed first is not an error (dumps again, up to 5 times).
  size_t gc_masquerade(const std::function<bool(std::string_view)>& stale);

  // Drops frames that enter the bridge from port `ifname` with a source MAC
  // other than `mac` ("aa:bb:cc:dd:ee:ff"); the rule is commented `comment`.
  void add_macspoof(const std::string& ifname, const std::string& mac, const std::string& comment);

  // Deletes every rule of `table` (all families) whose comment satisfies
  // `match`; returns how many. A rule deleted concurrently by someone else is
  // not an error. One dump per family the table is used in, plus one delete
  // transaction when something matches.
  size_t delete_rules(const char* table, const std::function<bool(std::string_view)>& match);

  // The comments of every rule in `table` (all families), for inspection and GC.
  std::vector<std::string> comments(const char* table);

  // A chain of any table, as `nft list chains` shows it.
  struct ChainName {
    uint16_t family;  // NFPROTO_IPV4, NFPROTO_IPV6, NFPROTO_BRIDGE, ...
    std::string table;
    std::string chain;
  };
  // Every chain of every table, whoever made it (knet, iptables-nft, the
  // reference plugins): read-only, for inspection. One dump.
  std::vector<ChainName> chains();

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace knet::nat
