#pragma once
// The cluster's membership as this agent knows it: every usable subnet
// lease under <prefix>/subnets/, kept from a list and the watch events after
// it, and turned into the vxlan plugin's Membership. A watch event costs
// O(log N) here: the registry keeps who holds each address and MAC, the
// members in key order with their peersFile text, and what changed since
// the agent last took it.

#include <etcd/kv.h>
#include <etcd/watch_types.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/network.h"

namespace knet::node {

// What changed in the membership: `before` holds the members (l3 nodes /
// l2 peers) that left or changed, as they were; `after` those that joined
// or changed, as they are now; each in key order. A member in neither is
// unchanged. `network` is left out (it never changes).
struct MembershipDelta {
  vxlan::Membership before, after;
  bool empty() const {
    return before.nodes.empty() && before.peers.empty() && after.nodes.empty() && after.peers.empty();
  }
  // Whether a member at `vtep` left, joined or changed.
  bool touches(const knet::IP& vtep) const;
};

class Registry {
 public:
  // Where each skipped entry is reported: one line saying which key and why.
  using Log = std::function<void(const std::string&)>;

  Registry(NetworkConfig net, std::string prefix, Log log);

  // Replaces everything with the keys of a fresh list; the change since the
  // last take_delta() is forgotten (a full sync follows a list).
  void reset(const std::vector<etcd::KeyValue>& kvs);
  // Applies watch events in order: a put (re)reads its key, a delete drops
  // it. O(log N) per event.
  void apply(const std::vector<etcd::Event>& events);

  // The usable leases as the vxlan plugin's membership (l3 `nodes`, each
  // with its VtepMAC, or the derived MAC when the lease has none, and the
  // config's Network as `network`; l2 `peers`), in key order. Of leases
  // with one PublicIP, or in l3 one VTEP MAC, the oldest (lowest create
  // revision) wins; the others are skipped and reported once each. O(N).
  vxlan::Membership membership();
  // The membership's change since the previous take_delta() (or reset()),
  // and from now on the change starts again from here. Reports skipped
  // leases as membership() does. O(changes · log N).
  MembershipDelta take_delta();
  // peers_file_json(membership(), mode), from each member's text kept since
  // it joined: a copy of N short strings, no formatting.
  std::string peers_file() const;
  // How many members there are (this node included, when it is one).
  size_t size() const { return members_; }
  // The member whose PublicIP is `vtep`, if there is one.
  std::optional<vxlan::Node> member_at(const knet::IP& vtep) const;
  // Whether `key` holds a usable lease (a member or a skipped duplicate).
  bool has(const std::string& key) const { return leases_.count(key) > 0; }

 private:
  struct Lease {
    // The lease's PublicIP and subnet; in l3 its VTEP MAC (published or
    // derived), in l2 0: the member it makes.
    vxlan::Node node;
    int64_t create_revision = 0;
    bool member = false;
    std::string text;  // a member's entry in the peersFile
  };
  using Entry = std::map<std::string, Lease>::value_type;
  // The leases claiming one value each (an address, a MAC), grouped by
  // value, the oldest (create revision, then key) first: the holder.
  template <class V>
  class Claims {
   public:
    void add(const V& v, const Entry* e) { set_.insert({v, e}); }
    void remove(const V& v, const Entry* e) { set_.erase({v, e}); }
    const Entry* holder(const V& v) const;
    void clear() { set_.clear(); }

   private:
    using Item = std::pair<V, const Entry*>;
    struct Less {
      using is_transparent = void;
      bool operator()(const Item& a, const Item& b) const;
      bool operator()(const Item& a, const V& v) const { return a.first < v; }
      bool operator()(const V& v, const Item& a) const { return v < a.first; }
    };
    std::set<Item, Less> set_;
  };

  // Replaces (or with nullopt removes) `key`'s lease and updates the
  // members whose standing that can change: the key's, and the old and new
  // holders of the addresses and MACs it touches.
  void change(const std::string& key, std::optional<Lease> now);
  void put(const etcd::KeyValue& kv);
  // Makes `key`'s member flag and text what the claims say, noting the
  // change for take_delta().
  void settle(const std::string& key);
  // Notes `key`'s node as it was (nullopt: no member) for take_delta(),
  // unless a change since the last take already did, and the key for
  // report_skipped().
  void note_change(const std::string& key, const std::optional<vxlan::Node>& was);
  // Reports each skipped lease among those changed since the last call,
  // once: address conflicts first, then MAC conflicts, in key order.
  void report_skipped();
  bool l3() const { return net_.mode == vxlan::Mode::kL3; }

  NetworkConfig net_;
  std::string prefix_;
  Log log_;
  std::map<std::string, Lease> leases_;  // key -> usable lease
  Claims<knet::IP> by_ip_;               // every lease
  Claims<uint64_t> by_mac_;              // l3: the holders of their address
  size_t members_ = 0;
  // Since the last take_delta(): each changed key's node as it was then
  // (nullopt: no member).
  std::map<std::string, std::optional<vxlan::Node>> changed_;
  std::set<std::string> unreported_;  // changed since the last report_skipped()
  bool report_all_ = false;           // reset() since the last report_skipped()
  bool listing_ = false;              // inside reset()
  std::set<std::pair<std::string, int64_t>> reported_;  // (key, create revision)
};

// The vxlan plugin's peersFile for `m` (docs/vxlan.md): {"network",
// "nodes": [{"vtep", "subnet", "mac"}...]} in l3 ("network" and "mac" when
// `m` has them), {"peers": [...]} in l2.
std::string peers_file_json(const vxlan::Membership& m, vxlan::Mode mode);

}  // namespace knet::node
