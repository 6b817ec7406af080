// apply_delta: the incremental reconcile knet-node runs on a watch event.
// A membership change touches a node or two of thousands; reconcile would
// list every route, neighbour and FDB entry of the device to find them.

#include <nlw/neigh.h>
#include <nlw/route.h>

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "l3_route.h"
#include "overlay.h"

namespace knet::vxlan {
namespace {

// What is left of `a` and `b` once their common head and tail are cut: the
// membership keeps its order (knet-node's is sorted by etcd key), so an
// event's changes sit in a short middle, found without hashing thousands.
template <class T>
std::pair<std::span<const T>, std::span<const T>> changed_middle(const std::vector<T>& a,
                                                                 const std::vector<T>& b) {
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  return {std::span<const T>(a).subspan(head, a.size() - head - tail),
          std::span<const T>(b).subspan(head, b.size() - head - tail)};
}

// The elements of `from` whose key(x) is no element's key in `other`.
template <class T, class KeyOf>
std::vector<const T*> without(std::span<const T> from, std::span<const T> other, KeyOf key) {
  std::vector<decltype(key(std::declval<const T&>()))> keys;
  keys.reserve(other.size());
  for (const T& x : other) keys.push_back(key(x));
  std::sort(keys.begin(), keys.end());
  std::vector<const T*> out;
  for (const T& x : from) {
    if (!std::binary_search(keys.begin(), keys.end(), key(x))) out.push_back(&x);
  }
  return out;
}

}  // namespace

void apply_delta(nlw::Socket& host, const nlw::LinkInfo& dev, const Config& cfg, const View& before,
                 const View& after) {
  // Deletes first, then adds, all in one batch: an entry that moves (a
  // subnet or a MAC passed from one node to another) is gone before it is
  // added again. Reconcile's requests, entry for entry.
  if (cfg.mode == Mode::kL2) {
    if (cfg.group) return;  // the group is the device's own default remote
    auto [was, now] = changed_middle(before.peers, after.peers);
    auto ip = [](const knet::IP& p) { return p; };
    std::vector<const knet::IP*> gone = without(was, now, ip), added = without(now, was, ip);
    if (gone.empty() && added.empty()) return;
    nlw::Batch batch(host);
    if (!gone.empty()) {
      // The flood entry and the MACs learned behind a departed peer: only
      // a listing finds the latter (once per event that removes peers).
      std::vector<knet::IP> g;
      for (const knet::IP* p : gone) g.push_back(*p);
      std::sort(g.begin(), g.end());
      for (const auto& e : nlw::list_fdb(host, dev.index)) {
        if (e.self && e.dst && std::binary_search(g.begin(), g.end(), *e.dst)) {
          nlw::del_fdb(batch, dev.index, e.mac, e.dst);
        }
      }
    }
    for (const knet::IP* p : added) {
      nlw::add_fdb(batch, dev.index, "00:00:00:00:00:00", *p, {true, true, true}, nlw::Batch::kAcceptExists);
    }
    batch.finish();
    return;
  }
  auto [was, now] = changed_middle(before.nodes, after.nodes);
  if (was.empty() && now.empty()) return;
  // Each entry by what tells it apart (as reconcile compares them): FDB
  // (vtep, mac), neighbour (overlay address, mac), route (subnet; its
  // gateway and metric follow from it).
  auto mac = [&](const Node& n) { return node_mac(cfg.vni, n); };
  auto fdb_key = [&](const Node& n) { return std::pair(n.vtep, mac(n)); };
  auto neigh_key = [&](const Node& n) { return std::pair(overlay_ip(n), mac(n)); };
  auto route_key = [](const Node& n) { return std::pair(n.subnet.ip, n.subnet.prefix); };
  nlw::Batch batch(host);
  for (const Node* n : without(was, now, route_key)) nlw::del_route(batch, l3_route(*n, dev.index));
  for (const Node* n : without(was, now, neigh_key)) nlw::del_neigh(batch, dev.index, overlay_ip(*n));
  for (const Node* n : without(was, now, fdb_key)) nlw::del_fdb(batch, dev.index, mac_str(mac(*n)), n->vtep);
  for (const Node* n : without(now, was, fdb_key)) nlw::add_fdb(batch, dev.index, mac_str(mac(*n)), n->vtep);
  for (const Node* n : without(now, was, neigh_key)) {
    nlw::add_neigh(batch, dev.index, overlay_ip(*n), mac_str(mac(*n)));
  }
  for (const Node* n : without(now, was, route_key)) nlw::add_route(batch, l3_route(*n, dev.index), true);
  batch.finish();
}

}  // namespace knet::vxlan
