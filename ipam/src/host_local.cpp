#include "ipam/host_local.h"
#include <base/step.h>

#include <cni/error.h>

#include <algorithm>
#include <set>

namespace knet::ipam {
namespace {

// After this many taken candidates in a row, read the directory's names once
// and skip taken addresses in memory: a nearly full /16 costs one listing,
// not tens of thousands of failed link(2)s.
constexpr int kMissesBeforeListing = 64;

knet::IP allocate(Store& store, const RangeSet& set, size_t s, const OwnerKey& owner) {
  RangeIter it(set, store.last_reserved(s));
  std::optional<std::set<knet::IP>> taken;
  int misses = 0;
  while (auto c = it.next()) {
    if (taken && taken->count(c->ip)) continue;
    if (store.reserve(c->ip, owner, s)) return c->ip;
    if (!taken && ++misses == kMissesBeforeListing) taken = store.reserved_names();
  }
  throw cni::Error(cni::kInternal, "no IP addresses available in range set " + std::to_string(s) +
                                       " (" + set.str() + ")");
}

std::string describe(const OwnerKey& o) {
  return "container " + o.container_id + " interface " + o.ifname;
}

std::string join(const std::set<knet::IP>& ips) {
  std::string s;
  for (const knet::IP& ip : ips) s += (s.empty() ? "" : ", ") + ip.str();
  return "[" + s + "]";
}

}  // namespace

cni::Result add(const Config& cfg, const OwnerKey& owner) {
  knet::Step step("host-local reserve addresses");
  std::vector<std::optional<knet::IP>> requested = cfg.requested_per_set();
  cni::Result result;
  if (!cfg.resolv_conf.empty()) result.dns = parse_resolv_conf(cfg.resolv_conf);
  result.routes = cfg.routes;

  Store store(cfg.network_dir(), true);
  std::vector<knet::IP> held = store.find(owner);
  std::vector<knet::IP> fresh;  // reserved by this ADD; released if it fails
  try {
    for (size_t s = 0; s < cfg.range_sets.size(); ++s) {
      const RangeSet& set = cfg.range_sets[s];
      auto have = std::find_if(held.begin(), held.end(),
                               [&](const knet::IP& ip) { return set.contains(ip); });
      knet::IP ip;
      if (have != held.end()) {
        if (requested[s] && *requested[s] != *have)
          throw cni::Error(cni::kInternal, describe(owner) + " already holds " + have->str() +
                                               " in range set " + std::to_string(s) +
                                               ", not the requested " + requested[s]->str());
        ip = *have;
      } else if (requested[s]) {
        if (!store.reserve(*requested[s], owner, s))
          throw cni::Error(cni::kInternal, "requested IP address " + requested[s]->str() +
                                               " is not available in range set " +
                                               std::to_string(s) + " (" + set.str() + ")");
        ip = *requested[s];
        fresh.push_back(ip);
      } else {
        ip = allocate(store, set, s, owner);
        fresh.push_back(ip);
      }
      const Range* r = set.find(ip);
      result.ips.push_back(
          cni::IPConfig{knet::IPNet{ip, r->subnet.prefix}, r->gateway, std::nullopt});
    }
  } catch (...) {
    for (const knet::IP& ip : fresh) store.release(ip, owner);
    throw;
  }
  return result;
}

void del(const Config& cfg, const OwnerKey& owner) {
  knet::Step step("host-local release addresses");
  Store store(cfg.network_dir(), false);
  store.release(owner);
}

void check(const Config& cfg, const OwnerKey& owner, const std::optional<cni::Result>& prev) {
  knet::Step step("host-local check reservation");
  Store store(cfg.network_dir(), false);
  std::vector<knet::IP> found = store.find(owner);
  std::set<knet::IP> recorded(found.begin(), found.end());
  if (recorded.empty())
    throw cni::Error(cni::kUnknownContainer, "host-local: no address is recorded for " +
                                                 describe(owner) + " in network " + cfg.network);
  if (!prev) return;
  std::set<knet::IP> listed;
  for (const cni::IPConfig& c : prev->ips) listed.insert(c.address.ip);
  if (listed != recorded)
    throw cni::Error(cni::kInternal, "host-local: prevResult lists " + join(listed) + " but " +
                                         cfg.network_dir() + " records " + join(recorded) +
                                         " for " + describe(owner));
}

void gc(const Config& cfg, const std::vector<cni::Attachment>& valid) {
  knet::Step step("host-local gc reservations");
  Store store(cfg.network_dir(), false);
  for (const Reservation& r : store.scan()) {
    bool keep = r.owner.ifname.empty()
                    ? std::any_of(valid.begin(), valid.end(),
                                  [&](const cni::Attachment& a) {
                                    return a.container_id == r.owner.container_id;
                                  })
                    : cni::contains_attachment(valid, r.owner.container_id, r.owner.ifname);
    if (!keep) store.release(r.ip, r.owner);
  }
}

void status(const Config& cfg) {
  Store store(cfg.network_dir(), false);
  std::set<knet::IP> names = store.reserved_names();
  for (size_t s = 0; s < cfg.range_sets.size(); ++s) {
    const RangeSet& set = cfg.range_sets[s];
    uint64_t used = 0;
    for (const Range& r : set.ranges)
      for (auto it = names.lower_bound(r.start); it != names.end() && *it <= r.end; ++it)
        used += *it != r.gateway;
    if (used >= set.capacity())
      throw cni::Error(cni::kPluginNotAvailable,
                       "host-local: range set " + std::to_string(s) + " (" + set.str() +
                           ") has no free address: " + std::to_string(used) + " of " +
                           std::to_string(set.capacity()) + " are reserved in " +
                           cfg.network_dir());
  }
}

}  // namespace knet::ipam
