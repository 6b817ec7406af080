#include "nlw/attach.h"

#include <cni/error.h>
#include <sys/socket.h>

#include "nlw/addr.h"
#include "nlw/route.h"
#include "nlw/socket.h"

namespace nlw {

LinkInfo resolve_link_or_default(Socket& sock, const std::string& name, const std::string& key) {
  if (!name.empty()) {
    auto link = find_link(sock, name);
    if (!link) {
      cni::config_error("invalid \"" + key + "\" \"" + name + "\": no such link in " +
                        sock.ns_name());
    }
    return *link;
  }
  auto index = default_route_link(sock, AF_INET);
  if (!index) index = default_route_link(sock, AF_INET6);
  if (!index) {
    cni::config_error("no \"" + key + "\" given and " + sock.ns_name() +
                      " has no default route to take it from");
  }
  auto link = find_link(sock, *index);
  if (!link) {
    cni::config_error("no \"" + key + "\" given and the default route's link (ifindex " +
                      std::to_string(*index) + ") has vanished");
  }
  return *link;
}

LinkUndo::~LinkUndo() {
  if (name_.empty()) return;
  try {
    delete_link_if_exists(sock_, name_);
  } catch (...) {
    // Best effort: the ADD is already failing with its own error.
  }
}

void apply_ip_config(Socket& sock, int index, const cni::Result& ip) {
  auto gateway_of_family = [&](int family) -> std::optional<cni::IP> {
    for (const auto& c : ip.ips) {
      if (c.gateway && c.gateway->family == family) return c.gateway;
    }
    return std::nullopt;
  };
  bool v6 = false;
  for (const auto& c : ip.ips) {
    add_address(sock, index, c.address);
    v6 = v6 || !c.address.ip.is_v4();
  }
  set_up(sock, index);
  if (v6) wait_ipv6_usable(sock, index);
  for (const auto& r : ip.routes) {
    RouteSpec spec;
    spec.dst = r.dst;
    spec.oif = index;
    spec.gw = r.gw ? r.gw : gateway_of_family(r.dst.ip.family);
    if (r.mtu) spec.mtu = static_cast<uint32_t>(*r.mtu);
    if (r.advmss) spec.advmss = static_cast<uint32_t>(*r.advmss);
    if (r.priority) spec.priority = static_cast<uint32_t>(*r.priority);
    if (r.table) spec.table = static_cast<uint32_t>(*r.table);
    if (r.scope) spec.scope = *r.scope;
    add_route(sock, spec);
  }
}

}  // namespace nlw
