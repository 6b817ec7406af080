#include "base/owner.h"

#include <cstdio>

#include "base/hash.h"


namespace knet {

uint64_t owner_hash(const Owner& o) {
  uint64_t h = kFnvOffset;
  for (const std::string* part : {&o.network, &o.container_id, &o.ifname}) {
    h = fnv1a(*part, h);
    h = fnv1a_mix(h, 0xff);  // separator, so ("ab","c") and ("a","bc") differ
  }
  return h;
}

std::string owner_ifname(std::string_view prefix, const Owner& o) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(owner_hash(o)));
  std::string name(prefix.substr(0, 15));
  name.append(hex, 15 - name.size() < 16 ? 15 - name.size() : 16);
  return name;
}

std::string owner_tag(const Owner& o) {
  return "knet:" + o.network + ":" + o.container_id + ":" + o.ifname;
}

std::optional<Owner> parse_owner_tag(std::string_view tag) {
  if (tag.rfind("knet:", 0) != 0) return std::nullopt;
  tag.remove_prefix(5);
  auto a = tag.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = tag.find(':', a + 1);
  if (b == std::string_view::npos || tag.find(':', b + 1) != std::string_view::npos) return std::nullopt;
  Owner o{std::string(tag.substr(0, a)), std::string(tag.substr(a + 1, b - a - 1)), std::string(tag.substr(b + 1))};
  if (o.network.empty() || o.container_id.empty() || o.ifname.empty()) return std::nullopt;
  return o;
}

bool is_owner_ifname(std::string_view prefix, std::string_view name) {
  if (name.size() != 15 || name.substr(0, prefix.size()) != prefix) return false;
  for (char c : name.substr(prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace knet
