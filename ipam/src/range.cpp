#include "ipam/range.h"

#include <cni/address.h>
#include <cni/error.h>

namespace knet::ipam {
namespace {

std::string quoted(std::string_view path, std::string_view key) {
  return "\"" + cni::join_path(path, key) + "\"";
}

// An optional address key of a range, which must lie inside `subnet`.
std::optional<knet::IP> inside(const cni::json& obj, std::string_view key, std::string_view path,
                              const knet::IPNet& subnet) {
  auto s = cni::get_string(obj, key, cni::join_path(path, key));
  if (!s) return std::nullopt;
  knet::IP ip = cni::parse_ip(*s, cni::join_path(path, key));
  if (!subnet.contains(ip))
    cni::config_error("invalid " + quoted(path, key) + ": " + ip.str() + " is not in subnet " +
                      subnet.str());
  return ip;
}

}  // namespace

Range Range::parse(const cni::json& obj, std::string_view path) {
  if (!obj.is_object())
    cni::config_error("invalid \"" + std::string(path) + "\": expected an object");
  auto s = cni::get_string(obj, "subnet", cni::join_path(path, "subnet"));
  if (!s || s->empty()) cni::config_error("missing " + quoted(path, "subnet"));
  Range r;
  r.subnet = cni::parse_cidr(*s, cni::join_path(path, "subnet"));
  if (r.subnet.network() != r.subnet)
    cni::config_error("invalid " + quoted(path, "subnet") + ": \"" + *s +
                      "\" has host bits set; the network address is " + r.subnet.network().str());
  // The network and broadcast addresses and the gateway leave nothing to hand out below /30 (v4),
  // and the reference refuses /127 and /128 the same way.
  if (r.subnet.prefix > r.subnet.ip.bits() - 2)
    cni::config_error("invalid " + quoted(path, "subnet") + ": " + r.subnet.str() +
                      " is too small to allocate from");
  knet::IP first = r.subnet.first().next();
  knet::IP last = r.subnet.ip.is_v4() ? r.subnet.last().prev() : r.subnet.last();
  r.gateway = inside(obj, "gateway", path, r.subnet).value_or(first);
  r.start = inside(obj, "rangeStart", path, r.subnet).value_or(first);
  r.end = inside(obj, "rangeEnd", path, r.subnet).value_or(last);
  if (r.end < r.start)
    cni::config_error("invalid " + quoted(path, "rangeStart") + ": " + r.start.str() +
                      " is after rangeEnd " + r.end.str());
  if (r.capacity() == 0)
    cni::config_error("invalid \"" + std::string(path) + "\": range " + r.str() +
                      " holds no address but the gateway");
  return r;
}

bool Range::contains(const knet::IP& ip) const {
  return ip.family == start.family && start <= ip && ip <= end;
}

bool Range::overlaps(const Range& o) const {
  return start.family == o.start.family && start <= o.end && o.start <= end;
}

uint64_t Range::capacity() const {
  uint64_t n = knet::distance(start, end);
  if (n != UINT64_MAX && contains(gateway)) --n;
  return n;
}

std::string Range::str() const { return start.str() + "-" + end.str(); }

RangeSet RangeSet::parse(const cni::json& arr, std::string_view path) {
  if (!arr.is_array())
    cni::config_error("invalid \"" + std::string(path) + "\": expected an array");
  if (arr.empty()) cni::config_error("invalid \"" + std::string(path) + "\": empty range set");
  RangeSet set;
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string p = cni::index_path(path, i);
    Range r = Range::parse(arr[i], p);
    if (!set.ranges.empty() && r.start.family != set.family())
      cni::config_error("invalid \"" + p + "\": mixes IPv4 and IPv6 in one range set");
    for (const Range& o : set.ranges)
      if (o.overlaps(r))
        cni::config_error("invalid \"" + p + "\": range " + r.str() + " overlaps " + o.str());
    set.ranges.push_back(r);
  }
  return set;
}

const Range* RangeSet::find(const knet::IP& ip) const {
  for (const Range& r : ranges)
    if (r.contains(ip)) return &r;
  return nullptr;
}

bool RangeSet::overlaps(const RangeSet& o) const {
  for (const Range& a : ranges)
    for (const Range& b : o.ranges)
      if (a.overlaps(b)) return true;
  return false;
}

uint64_t RangeSet::capacity() const {
  uint64_t n = 0;
  for (const Range& r : ranges) {
    uint64_t c = r.capacity();
    n = c > UINT64_MAX - n ? UINT64_MAX : n + c;
  }
  return n;
}

std::string RangeSet::str() const {
  std::string s;
  for (const Range& r : ranges) s += (s.empty() ? "" : ",") + r.str();
  return s;
}

RangeIter::RangeIter(const RangeSet& set, const std::optional<knet::IP>& last) : set_(&set) {
  if (last) {
    for (size_t i = 0; i < set.ranges.size(); ++i) {
      if (set.ranges[i].contains(*last)) {
        idx_ = start_idx_ = i;
        cur_ = *last;  // the first next() returns last + 1
        return;
      }
    }
  }
  start_ip_ = set.ranges.front().start;
}

std::optional<Candidate> RangeIter::next() {
  // The reference's RangeIter.Next, with its recursion on the gateway turned
  // into this loop.
  for (;;) {
    const Range* r = &set_->ranges[idx_];
    if (!cur_) {
      cur_ = start_ip_ = r->start;
      if (*cur_ == r->gateway) continue;
      return Candidate{*cur_, r};
    }
    if (*cur_ == r->end) {
      idx_ = (idx_ + 1) % set_->ranges.size();
      r = &set_->ranges[idx_];
      cur_ = r->start;
    } else {
      cur_ = cur_->next();
    }
    if (!start_ip_) {
      // Unlike the reference, remember the range too: its walk never ends when
      // the last reserved address closes a range of a full multi-range set.
      start_ip_ = cur_;
      start_idx_ = idx_;
    } else if (idx_ == start_idx_ && *cur_ == *start_ip_) {
      return std::nullopt;
    }
    if (*cur_ == r->gateway) continue;
    return Candidate{*cur_, r};
  }
}

}  // namespace knet::ipam
