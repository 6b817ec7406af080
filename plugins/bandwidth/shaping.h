#pragma once
// Where and how one attachment is shaped, on top of knet_tc.
//
// With a veth whose peer the previous plugin reported on the host (bridge,
// ptp), shaping happens on the host side as in the reference: traffic to the
// container on the host veth's egress, traffic from it through an ifb fed by
// the host veth's ingress. Without one (macvlan, ipvlan) the same two pieces
// sit on the container's interface inside its namespace, mirrored: traffic
// from the container on its egress, traffic to it through an ifb there.

#include <cni/naming.h>
#include <cni/result.h>
#include <nlw/link.h>

#include <string>

#include "config.h"

namespace nlw {
class Socket;
}

namespace knet::bandwidth {

// ifb names are cni::owner_ifname(kIfbPrefix, owner); their alias is cni::owner_tag(owner).
inline constexpr const char* kIfbPrefix = "kbw";

struct Target {
  bool host_side = true;  // `link` is the host veth, else the container's interface
  nlw::LinkInfo link{};   // shaped on its egress, redirected to the ifb on its ingress
};

// Finds the link to shape for container interface `ifname`. `host` is a
// socket in the plugin's namespace, `cont` in the container's. With `prev`,
// a host veth counts only if prev lists it without a sandbox (the
// reference's rule); DEL passes null. Throws if `ifname` does not exist.
Target locate(nlw::Socket& host, nlw::Socket& cont, const std::string& ifname,
              const cni::Result* prev);

// Installs the shapers `cfg` asks for on `t` (and its ifb) through `sock`, a
// socket in t.link's namespace. On failure nothing of it is left behind.
void apply(nlw::Socket& sock, const Target& t, const Config& cfg, const cni::Owner& owner);
// Throws cni::Error naming the first difference between the kernel and `cfg`.
void verify(nlw::Socket& sock, const Target& t, const Config& cfg, const cni::Owner& owner);
// Removes knet's qdiscs from t.link and the owner's ifb. Idempotent.
void remove(nlw::Socket& sock, const Target& t, const cni::Owner& owner);
// Deletes the owner's ifb in `sock`'s namespace if it exists and carries the
// owner's tag; false otherwise.
bool delete_ifb(nlw::Socket& sock, const cni::Owner& owner);
// The name the reference plugin gives its ifb: "bwp" and the first 12 hex
// digits of sha512(network + container ID).
std::string reference_ifb_name(const std::string& network, const std::string& container_id);
// Deletes the ifb the reference plugin made for (network, container ID) in
// `sock`'s namespace, so knet's DEL cleans up after an upgrade from it; false
// if there was none.
bool delete_reference_ifb(nlw::Socket& sock, const std::string& network,
                          const std::string& container_id);

}  // namespace knet::bandwidth
