#include "base/ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>


namespace knet {

namespace {

// A dotted quad as inet_pton(AF_INET) reads it: four decimal octets of at
// most 255, no leading zeros, nothing else. By hand: a membership of
// thousands of nodes is parsed on every ADD, and inet_pton wants a copy
// with a terminating NUL first.
bool parse_v4(std::string_view s, uint8_t* out) {
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0 && (i == s.size() || s[i++] != '.')) return false;
    size_t start = i;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) v = v * 10 + unsigned(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) return false;
    out[octet] = static_cast<uint8_t>(v);
  }
  return i == s.size();
}

}  // namespace

std::optional<IP> IP::parse(std::string_view s) {
  if (s.empty() || s.size() > INET6_ADDRSTRLEN) return std::nullopt;
  IP ip;
  if (s.find(':') == std::string_view::npos) {
    if (!parse_v4(s, ip.bytes.data())) return std::nullopt;
    ip.family = AF_INET;
    return ip;
  }
  char z[INET6_ADDRSTRLEN + 1];
  s.copy(z, s.size());
  z[s.size()] = '\0';
  if (inet_pton(AF_INET6, z, ip.bytes.data()) != 1) return std::nullopt;
  ip.family = AF_INET6;
  return ip;
}

IP IP::from_v4(uint32_t h) {
  IP ip;
  ip.family = AF_INET;
  ip.bytes[0] = h >> 24;
  ip.bytes[1] = h >> 16;
  ip.bytes[2] = h >> 8;
  ip.bytes[3] = h;
  return ip;
}

std::string IP::str() const {
  if (!valid()) return "";
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

IP IP::add(uint64_t n) const {
  IP r = *this;
  int i = static_cast<int>(size()) - 1;
  unsigned carry = 0;
  for (; i >= 0 && (n || carry); --i) {
    unsigned v = r.bytes[i] + (n & 0xff) + carry;
    r.bytes[i] = v & 0xff;
    carry = v >> 8;
    n >>= 8;
  }
  return r;
}

IP IP::sub(uint64_t n) const {
  IP r = *this;
  int i = static_cast<int>(size()) - 1;
  int borrow = 0;
  for (; i >= 0 && (n || borrow); --i) {
    int v = int(r.bytes[i]) - int(n & 0xff) - borrow;
    borrow = v < 0;
    r.bytes[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
    n >>= 8;
  }
  return r;
}

std::optional<IPNet> IPNet::parse(std::string_view cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = IP::parse(cidr.substr(0, slash));
  if (!ip) return std::nullopt;
  auto p = cidr.substr(slash + 1);
  int prefix = -1;
  if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return std::nullopt;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 || prefix > ip->bits()) return std::nullopt;
  return IPNet{*ip, prefix};
}

std::string IPNet::str() const { return ip.str() + "/" + std::to_string(prefix); }

IPNet IPNet::network() const {
  IPNet n = *this;
  int whole = std::clamp(prefix / 8, 0, static_cast<int>(ip.size()));  // bytes kept as they are
  if (whole < static_cast<int>(ip.size())) {
    n.ip.bytes[whole] &= static_cast<uint8_t>(0xff00 >> (prefix % 8));
    std::fill(n.ip.bytes.begin() + whole + 1, n.ip.bytes.begin() + static_cast<long>(ip.size()), 0);
  }
  return n;
}

IP IPNet::last() const {
  IP l = network().ip;
  for (int i = 0; i < static_cast<int>(ip.size()); ++i) {
    int keep = std::clamp(prefix - i * 8, 0, 8);
    l.bytes[i] |= static_cast<uint8_t>(0xff >> keep);
  }
  return l;
}

bool IPNet::contains(const IP& a) const {
  if (a.family != ip.family) return false;
  return IPNet{a, prefix}.network().ip == network().ip;
}

bool IPNet::overlaps(const IPNet& o) const {
  if (o.ip.family != ip.family) return false;
  return contains(o.first()) || o.contains(first());
}

uint64_t distance(const IP& a, const IP& b) {
  // b - a + 1, saturating; callers pass a <= b of one family.
  if (b < a) return 0;
  uint64_t hi = 0, lo = 0;
  bool overflow = false;
  IP d = b;
  // Subtract a from d byte-wise into a 128-bit magnitude.
  int borrow = 0;
  for (int i = static_cast<int>(a.size()) - 1; i >= 0; --i) {
    int v = int(d.bytes[i]) - int(a.bytes[i]) - borrow;
    borrow = v < 0;
    d.bytes[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (hi >> 56) overflow = true;
    hi = (hi << 8) | (lo >> 56);
    lo = (lo << 8) | d.bytes[i];
  }
  if (overflow || hi || lo == UINT64_MAX) return UINT64_MAX;
  return lo + 1;
}

}  // namespace knet
