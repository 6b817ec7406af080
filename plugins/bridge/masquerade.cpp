#include "masquerade.h"
#include <base/step.h>

#include <nat/iptables.h>
#include <nat/nft.h>
#include <sys/socket.h>

#include <cstdio>

namespace knet::bridge {
namespace {

bool is_tag_of(std::string_view comment, const knet::Owner& owner) {
  return comment == knet::owner_tag(owner);
}

}  // namespace

void add_masquerade(const Config& cfg, const knet::Owner& owner,
                    const std::vector<cni::IPConfig>& ips) {
  knet::Step step("nft add masquerade");
  std::vector<knet::IPNet> addrs;
  for (const auto& c : ips) addrs.push_back(c.address);
  if (cfg.masq_backend == MasqBackend::kNftables) {
    nat::Nft().add_masquerade(addrs, knet::owner_tag(owner));
    return;
  }
  std::string chain = nat::chain_name(owner.network, owner.container_id);
  std::string comment = nat::comment(owner.network, owner.container_id);
  for (const auto& a : addrs) nat::iptables_setup(a, chain, comment);
}

void del_masquerade(const Config& cfg, const knet::Owner& owner, NftSession& nft) {
  knet::Step step("nft delete masquerade");
  if (cfg.masq_backend == MasqBackend::kNftables) {
    nft.get().del_masquerade(knet::owner_tag(owner));
    return;
  }
  // Found by comment rather than by the container's addresses, which are
  // gone with its namespace.
  std::string comment = nat::comment(owner.network, owner.container_id);
  for (int family : {AF_INET, AF_INET6}) {
    for (const auto& m : nat::iptables_list(family)) {
      if (m.comment == comment) nat::iptables_remove(family, m);
    }
  }
}

void add_macspoof(const std::string& port, const std::string& mac, const knet::Owner& owner) {
  knet::Step step("nft add macspoof");
  nat::Nft().add_macspoof(port, mac, knet::owner_tag(owner));
}

void del_macspoof(const knet::Owner& owner, NftSession& nft) {
  knet::Step step("nft delete macspoof");
  nft.get().delete_rules(nat::kSpoofTable,
                          [&](std::string_view c) { return is_tag_of(c, owner); });
}

void gc_rules(const Config& cfg, const std::string& network,
              const std::function<bool(const knet::Owner&)>& keep,
              const std::function<bool(const std::string&)>& keep_container) {
  knet::Step step("nft gc rules");
  auto stale = [&](std::string_view c) {
    auto o = knet::parse_owner_tag(c);
    return o && o->network == network && !keep(*o);
  };
  // Whatever the config says now, rules it made earlier may remain.
  nat::Nft nft;
  nft.gc_masquerade(stale);
  nft.delete_rules(nat::kSpoofTable, stale);
  if (!cfg.ip_masq || cfg.masq_backend != MasqBackend::kIptables) return;
  std::string prefix = nat::comment(network, "");
  prefix.resize(prefix.size() - 1);  // `name: "<network>" id: "`
  for (int family : {AF_INET, AF_INET6}) {
    for (const auto& m : nat::iptables_list(family)) {
      if (m.comment.rfind(prefix, 0) != 0 || m.comment.back() != '"') continue;
      std::string id = m.comment.substr(prefix.size(), m.comment.size() - prefix.size() - 1);
      if (!keep_container(id)) nat::iptables_remove(family, m);
    }
  }
}

}  // namespace knet::bridge
