#pragma once
// Interface addresses.

#include <base/ip.h>

#include <chrono>
#include <optional>
#include <vector>

namespace nlw {

class Socket;

struct AddrOptions {
  bool nodad = false;                  // IPv6: skip duplicate address detection
  bool noprefixroute = false;          // do not add the prefix route for the subnet
  std::optional<knet::IP> broadcast{};  // IPv4; computed from the prefix when unset (< /31)
  std::optional<int> scope{};          // RT_SCOPE_*; kernel default (universe) when unset
};

// An address as the kernel reports it.
struct AddrInfo {
  knet::IPNet net{};  // with host bits, e.g. 10.1.0.5/24
  int index = 0;
  int scope = 0;
  bool tentative = false;  // IPv6 DAD still running
  bool dadfailed = false;  // IPv6 DAD found a duplicate
  bool permanent = false;  // configured, not autoconfigured
};

// Adds `addr` to link `index`. Throws nlw::Exists if it is already there.
void add_address(Socket& sock, int index, const knet::IPNet& addr, const AddrOptions& opts = {});
// Removes `addr` from link `index`; false if it was not there.
bool del_address(Socket& sock, int index, const knet::IPNet& addr);
// Addresses on link `index` (0 = every link) of `family` (AF_INET, AF_INET6,
// 0 = both).
std::vector<AddrInfo> list_addresses(Socket& sock, int index, int family = 0);
// Waits until no IPv6 address on link `index` is tentative, polling for at
// most `timeout`. Throws if DAD failed or the timeout passed, naming the address.
void wait_ipv6_usable(Socket& sock, int index,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace nlw
