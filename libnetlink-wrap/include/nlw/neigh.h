#pragma once
// Neighbour (ARP/NDP) entries and bridge/vxlan forwarding-database entries.

#include <base/ip.h>
#include <nlw/socket.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nlw {

struct NeighInfo {
  int index = 0;
  knet::IP ip{};
  std::string mac{};  // empty when the entry has no lladdr (FAILED, INCOMPLETE)
  int state = 0;      // NUD_*
  bool permanent() const;
};

// Adds (or replaces) a permanent neighbour entry ip -> mac on link `index`.
void add_neigh(Socket& sock, int index, const knet::IP& ip, const std::string& mac);
// Deletes the neighbour entry for `ip` on link `index`; false if there was none.
bool del_neigh(Socket& sock, int index, const knet::IP& ip);
// Neighbour entries on link `index` (0 = all) of `family` (0 = both).
std::vector<NeighInfo> list_neighs(Socket& sock, int index, int family = 0);

// One entry of a neighbour or FDB dump as the kernel sent it, for readers of
// thousands of entries: nothing is copied, and `lladdr` points into the
// dump's buffer, valid only during the call that receives it.
struct NeighView {
  int family = 0;  // AF_INET, AF_INET6; AF_BRIDGE for an FDB entry
  int index = 0;
  int state = 0;  // NUD_*
  int flags = 0;  // NTF_*
  std::optional<knet::IP> ip{};         // NDA_DST (a vxlan FDB entry's remote)
  const unsigned char* lladdr = nullptr;  // NDA_LLADDR; nullptr when there is none
  size_t lladdr_len = 0;
  // "aa:bb:cc:dd:ee:ff" (as NeighInfo::mac), "" when there is no lladdr.
  std::string mac() const;
};
// What list_neighs lists, each entry passed to `fn` as it is read. A dump
// the kernel reports as interrupted by a concurrent change is read again
// whole: `restart` is called before every attempt, the first included, so
// `fn`'s caller can drop what an interrupted attempt gave it.
void for_each_neigh(Socket& sock, int index, int family,
                    const std::function<void(const NeighView&)>& fn,
                    const std::function<void()>& restart);

// A forwarding-database entry of a bridge port or a vxlan device.
struct FdbEntry {
  int index = 0;
  std::string mac{};
  std::optional<knet::IP> dst{};  // vxlan remote (NDA_DST)
  bool self = false;             // NTF_SELF: the device's own table (vxlan), not the bridge's
  bool permanent = false;
};

struct FdbOptions {
  bool self = true;       // NTF_SELF (what vxlan needs)
  bool permanent = true;  // NUD_PERMANENT, else NUD_REACHABLE
  // NLM_F_APPEND: add one more remote for the same MAC; how head-end
  // replication with the all-zeros MAC lists several remotes.
  bool append = false;
};

// Adds an FDB entry mac -> dst on link `index` (e.g. "00:00:00:00:00:00" ->
// remote VTEP for flooding). An existing entry for a unicast `mac` is
// replaced; one for the all-zeros or a multicast MAC is kept (the kernel
// cannot replace those): set `append` to add one more remote.
void add_fdb(Socket& sock, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             const FdbOptions& opts = {});
// Deletes the entry mac (-> dst, when given) on link `index`; false if there
// is no entry for `mac` (vxlan reports success when `mac` exists but `dst` is
// not one of its remotes).
bool del_fdb(Socket& sock, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             bool self = true);
// FDB entries whose link is `index`.
std::vector<FdbEntry> list_fdb(Socket& sock, int index);
// The same passed to `fn` one by one, as for_each_neigh does.
void for_each_fdb(Socket& sock, int index, const std::function<void(const NeighView&)>& fn,
                  const std::function<void()>& restart);

// The same requests queued on a Batch (see nlw/socket.h for when they are
// sent and how failures are reported). Deletes accept an entry that is
// already gone; `accept` adds what else counts as success.
void add_neigh(Batch& batch, int index, const knet::IP& ip, const std::string& mac);
void del_neigh(Batch& batch, int index, const knet::IP& ip);
void add_fdb(Batch& batch, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             const FdbOptions& opts = {}, unsigned accept = Batch::kAcceptNone);
void del_fdb(Batch& batch, int index, const std::string& mac, const std::optional<knet::IP>& dst,
             bool self = true);

}  // namespace nlw
