#pragma once
// host-local's address ranges. A Range is [start, end] inside one subnet with a
// gateway that is never handed out; a RangeSet yields one address per ADD.
// Validation follows the reference plugin (Range.Canonicalize) and adds the
// checks it lacks: the gateway inside its subnet, rangeStart <= rangeEnd.

#include <base/ip.h>
#include <cni/json.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knet::ipam {

struct Range {
  knet::IPNet subnet;  // host bits clear
  knet::IP start;      // default: network + 1
  knet::IP end;        // default: broadcast - 1 (IPv4), last address (IPv6)
  knet::IP gateway;    // default: network + 1

  // Reads one range object ("subnet", "rangeStart", "rangeEnd", "gateway");
  // throws a config error naming `path` ("ipam.ranges[0][1]") and the key.
  static Range parse(const cni::json& obj, std::string_view path);

  bool contains(const knet::IP& ip) const;  // start <= ip <= end
  bool overlaps(const Range& o) const;     // the [start, end] intervals share an address
  // Addresses ADD can hand out: [start, end] without the gateway; saturates at UINT64_MAX.
  uint64_t capacity() const;
  std::string str() const;  // "10.1.0.1-10.1.0.254", as the reference prints it
};

struct RangeSet {
  std::vector<Range> ranges;  // never empty, one family, no overlaps

  // Reads a JSON array of range objects; throws a config error naming `path`.
  static RangeSet parse(const cni::json& arr, std::string_view path);

  int family() const { return ranges.front().start.family; }
  // The range holding `ip`, or nullptr.
  const Range* find(const knet::IP& ip) const;
  bool contains(const knet::IP& ip) const { return find(ip) != nullptr; }
  bool overlaps(const RangeSet& o) const;
  uint64_t capacity() const;  // saturating sum of the ranges' capacities
  std::string str() const;    // ranges joined by ","
};

// One candidate address and the range it came from.
struct Candidate {
  knet::IP ip;
  const Range* range = nullptr;
};

// The reference's round-robin walk over a set: from the address after `last`
// when the set holds it (so `last` itself comes at the very end), else from
// the first range's start; wraps across ranges, skips gateways, and visits
// every address exactly once. Never enumerates more than it is asked for.
class RangeIter {
 public:
  RangeIter(const RangeSet& set, const std::optional<knet::IP>& last);
  // The next candidate, or nullopt once the walk is back where it started.
  std::optional<Candidate> next();

 private:
  const RangeSet* set_;
  size_t idx_ = 0, start_idx_ = 0;
  std::optional<knet::IP> cur_, start_ip_;
};

}  // namespace knet::ipam
