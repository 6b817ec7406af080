#pragma once
// The reference plugins' iptables masquerade layout, for hosts that need
// `ipMasqBackend: "iptables"`. Runs iptables / ip6tables (found on PATH, with
// --wait) in the calling thread's network namespace:
//
//   -t nat -A POSTROUTING -s <ip> -j CNI-<hash> -m comment --comment <c>
//   -t nat -A CNI-<hash> -d <subnet> -j ACCEPT -m comment --comment <c>
//   -t nat -A CNI-<hash> ! -d <multicast> -j MASQUERADE -m comment --comment <c>
//
// where CNI-<hash> is chain_name(network, container id) and <c> is
// comment(network, container id), byte for byte as the reference writes them.

#include <base/ip.h>

#include <string>
#include <vector>

namespace knet::nat {

// "CNI-" + the first 24 hex digits of sha512(network + container_id).
std::string chain_name(const std::string& network, const std::string& container_id);
// `name: "<network>" id: "<container_id>"`.
std::string comment(const std::string& network, const std::string& container_id);

// Sets up masquerading of `addr`'s IP as shown above; idempotent (rules that
// exist are not added twice). Throws knet::Error with iptables' own
// message when a command fails.
void iptables_setup(const knet::IPNet& addr, const std::string& chain, const std::string& comment);
// Removes what iptables_setup made for `addr`, then flushes and deletes the
// chain. Missing rules and chains are not errors.
void iptables_teardown(const knet::IPNet& addr, const std::string& chain,
                       const std::string& comment);

// A masquerade entry found in POSTROUTING: the source IP, the chain it jumps
// to and its comment.
struct IptablesMasq {
  knet::IPNet source{};
  std::string chain{};
  std::string comment{};
};
// Every POSTROUTING rule of `family` (AF_INET / AF_INET6) that jumps to a
// CNI-* chain; used by GC. Empty when the binary is missing.
std::vector<IptablesMasq> iptables_list(int family);
// Removes one entry found by iptables_list, and its chain.
void iptables_remove(int family, const IptablesMasq& m);

}  // namespace knet::nat
