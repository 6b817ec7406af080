#include "common/check.h"

#include "common/mac.h"

#include <cni/error.h>
#include <cni/ipam.h>
#include <nlw/addr.h>
#include <nlw/route.h>
#include <sys/socket.h>

namespace knet::common {

void check_failed(const std::string& msg) { throw cni::Error(cni::kInternal, msg); }

const cni::Result& require_prev_result(const cni::NetConf& conf) {
  if (!conf.prev_result) cni::config_error("required \"prevResult\" missing");
  return *conf.prev_result;
}

const cni::Interface& check_prologue(const cni::Env& env, const cni::NetConf& conf,
                                     bool has_ipam) {
  const cni::Result& prev = require_prev_result(conf);
  if (has_ipam) cni::ipam_check(env, conf);
  const cni::Interface* iface = nullptr;
  for (const auto& i : prev.interfaces) {
    if (i.name == env.ifname && i.sandbox == env.netns) iface = &i;
  }
  if (!iface) check_failed("prevResult has no interface " + env.ifname + " in sandbox " + env.netns);
  return *iface;
}

nlw::LinkInfo require_container_link(nlw::Socket& cont_sock, const std::string& name,
                                     const std::string& kind) {
  auto link = nlw::find_link(cont_sock, name);
  if (!link) check_failed("container interface " + name + " not found in " + cont_sock.ns_name());
  if (link->kind != kind) {
    check_failed("container interface " + name + " is a " +
                 (link->kind.empty() ? std::string("plain") : link->kind) + " link, not a " + kind);
  }
  return *link;
}

void verify_mac(const cni::Interface& iface, const nlw::LinkInfo& link) {
  if (!iface.mac.empty() && parse_unicast_mac(iface.mac, "prevResult mac") != link.mac) {
    check_failed("container interface " + link.name + " has MAC " + link.mac +
                 ", prevResult says " + iface.mac);
  }
}

void verify_ip_config(nlw::Socket& cont_sock, const nlw::LinkInfo& link, const cni::Result& prev) {
  auto addrs = nlw::list_addresses(cont_sock, link.index);
  for (const auto& c : prev.ips) {
    if (c.interface && (*c.interface < 0 || size_t(*c.interface) >= prev.interfaces.size() ||
                        prev.interfaces[*c.interface].name != link.name)) {
      continue;  // another plugin's interface in a chained result
    }
    bool found = false;
    for (const auto& a : addrs) found = found || a.net == c.address;
    if (!found) {
      check_failed("container interface " + link.name + " lacks address " + c.address.str() +
                   " from prevResult");
    }
  }
  for (const auto& r : prev.routes) {
    bool found = false;
    for (const auto& k : nlw::list_routes(cont_sock, r.dst.ip.is_v4() ? AF_INET : AF_INET6,
                                          r.table.value_or(254))) {
      found = found || (k.dst.network() == r.dst.network() && (!r.gw || k.gw == r.gw));
    }
    if (!found) {
      check_failed("route " + r.dst.str() + (r.gw ? " via " + r.gw->str() : std::string()) +
                   " from prevResult is missing in " + cont_sock.ns_name());
    }
  }
}

std::optional<knet::IP> gateway_of_family(const cni::Result& r, int family) {
  for (const auto& c : r.ips) {
    if (c.gateway && c.gateway->family == family) return c.gateway;
  }
  return std::nullopt;
}

}  // namespace knet::common
