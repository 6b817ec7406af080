#pragma once
// The bridge plugin's netfilter rules: ipMasq through the configured backend
// and the macspoofchk filter. Every rule is found again by its owner, so DEL
// works after the container namespace is gone and GC works after a crash.

#include <base/owner.h>
#include <cni/result.h>

#include <nat/nft.h>

#include <functional>
#include <optional>
#include <vector>

#include "config.h"

namespace knet::bridge {

// Masquerades every address of `ips` (outside its subnet, not multicast).
void add_masquerade(const Config& cfg, const knet::Owner& owner,
                    const std::vector<cni::IPConfig>& ips);
// An nftables socket opened on first use, closed when this goes. Closing a
// socket whose transaction deleted rules waits until the kernel has freed
// them (an RCU grace period, ~4 ms here): DEL keeps it open across the veth
// delete (~20 ms), during which that time passes anyway.
class NftSession {
 public:
  nat::Nft& get() {
    if (!nft_) nft_.emplace();
    return *nft_;
  }

 private:
  std::optional<nat::Nft> nft_;
};

// Removes `owner`'s masquerade rules; none left is not an error.
void del_masquerade(const Config& cfg, const knet::Owner& owner, NftSession& nft);

// Drops frames from host port `port` whose source MAC is not `mac`.
void add_macspoof(const std::string& port, const std::string& mac, const knet::Owner& owner);
void del_macspoof(const knet::Owner& owner, NftSession& nft);

// GC: removes the rules of `network` whose owner `keep` rejects. With the
// iptables backend the reference's comments carry no ifname, so a container
// is kept when `keep` accepts it under any ifname (`keep_container`).
void gc_rules(const Config& cfg, const std::string& network,
              const std::function<bool(const knet::Owner&)>& keep,
              const std::function<bool(const std::string&)>& keep_container);

}  // namespace knet::bridge
