#include "common/attach.h"
#include <base/step.h>

#include "common/check.h"

#include <cni/error.h>
#include <nlw/addr.h>
#include <nlw/route.h>
#include <sys/socket.h>

namespace knet::common {

using nlw::Socket;

nlw::LinkInfo resolve_link_or_default(Socket& sock, const std::string& name, const std::string& key) {
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

void apply_ip_config(Socket& sock, int index, const cni::Result& ip) {
  knet::Step step("add addresses and routes");
  bool v6 = false;
  for (const auto& c : ip.ips) {
    add_address(sock, index, c.address);
    v6 = v6 || !c.address.ip.is_v4();
  }
  set_up(sock, index);
  if (v6) wait_ipv6_usable(sock, index);
  for (const auto& r : ip.routes) {
    nlw::RouteSpec spec;
    spec.dst = r.dst;
    spec.oif = index;
    spec.gw = r.gw ? r.gw : gateway_of_family(ip, r.dst.ip.family);
    if (r.mtu) spec.mtu = static_cast<uint32_t>(*r.mtu);
    if (r.advmss) spec.advmss = static_cast<uint32_t>(*r.advmss);
    if (r.priority) spec.priority = static_cast<uint32_t>(*r.priority);
    if (r.table) spec.table = static_cast<uint32_t>(*r.table);
    if (r.scope) spec.scope = *r.scope;
    add_route(sock, spec);
  }
}

}  // namespace knet::common
