#pragma once
// The steps CHECK shares across plugins: what it starts with, and verifying
// that the container interface still holds what prevResult says.

#include <base/ip.h>
#include <cni/env.h>
#include <cni/netconf.h>
#include <cni/result.h>
#include <nlw/link.h>
#include <nlw/socket.h>

#include <optional>
#include <string>

namespace knet::common {

// A CHECK finding: the kernel no longer holds what the result said (code 999,
// as the reference reports it).
[[noreturn]] void check_failed(const std::string& msg);

// prevResult, or code 7 when the config has none (CHECK needs it).
const cni::Result& require_prev_result(const cni::NetConf& conf);

// What every CHECK of an interface-creating plugin starts with: prevResult
// must be there, IPAM's CHECK runs when `has_ipam`, and the interface to check
// is prevResult's entry named CNI_IFNAME in sandbox CNI_NETNS (check_failed
// if there is none).
const cni::Interface& check_prologue(const cni::Env& env, const cni::NetConf& conf, bool has_ipam);

// The link `name` in cont_sock's namespace, which must be of `kind` ("veth",
// "macvlan"); check_failed otherwise.
nlw::LinkInfo require_container_link(nlw::Socket& cont_sock, const std::string& name,
                                     const std::string& kind);

// check_failed unless `link` has the MAC prevResult's `iface` gives (if it
// gives one; any case, ':' or '-'). A MAC no interface can have is code 7.
void verify_mac(const cni::Interface& iface, const nlw::LinkInfo& link);

// check_failed unless `link` holds every address prevResult gives it (an
// address of another plugin's interface in a chained result is skipped) and
// cont_sock's namespace holds every route of prevResult.
void verify_ip_config(nlw::Socket& cont_sock, const nlw::LinkInfo& link, const cni::Result& prev);

// The gateway of the first IP config of `family` (AF_INET/AF_INET6) that has one.
std::optional<knet::IP> gateway_of_family(const cni::Result& r, int family);

}  // namespace knet::common
