#pragma once
// Where and how one attachment is shaped, on top of knet_tc.
//
// With a veth whose peer the previous plugin reported on the host (bridge,
// ptp), shaping happens on the host side as in the reference: traffic to the
// container on the host veth's egress, traffic from it through an ifb fed by
// the host veth's ingress. Without one (macvlan, ipvlan) the same two pieces
// sit on the container's interface inside its namespace, mirrored: traffic
// from the container on its egress, traffic to it through an ifb there.

#include <base/owner.h>
#include <cni/result.h>
#include <nlw/link.h>

#include <optional>
#include <string>

#include "config.h"

namespace nlw {
class Socket;
}

namespace knet::bandwidth {

// ifb names are knet::owner_ifname(kIfbPrefix, owner); their alias is knet::owner_tag(owner).
inline constexpr const char* kIfbPrefix = "kbw";

struct Target {
  bool host_side = true;  // `link` is the host veth, else the container's interface
  nlw::LinkInfo link{};   // shaped on its egress, redirected to the ifb on its ingress
};

// Finds the link to shape for `owner`'s container interface. `host` is a
// socket in the plugin's namespace, `cont` one in `cont_ns`, the container's.
// A host veth counts only if it is that interface's peer by (netnsid,
// ifindex) seen from both ends (an ifindex alone names a different link in
// every namespace), carries no other owner's tag, and, with `prev`, is listed
// there without a sandbox (the reference's rule); DEL passes null. Otherwise
// the container's interface itself is the target. Throws if it does not exist.
Target locate(nlw::Socket& host, nlw::Socket& cont, const nlw::NetNS& cont_ns,
              const knet::Owner& owner, const cni::Result* prev);

// Installs the shapers `cfg` asks for on `t` (and its ifb) through `sock`, a
// socket in t.link's namespace. On failure nothing of it is left behind.
void apply(nlw::Socket& sock, const Target& t, const Config& cfg, const knet::Owner& owner);
// Throws cni::Error naming the first difference between the kernel and `cfg`.
void verify(nlw::Socket& sock, const Target& t, const Config& cfg, const knet::Owner& owner);
// Deletes the owner's ifb in `sock`'s namespace if it carries the owner's tag
// or none, and removes `owner`'s shaping from `link` if given (the ingress
// filter that redirected to that ifb, found before the ifb goes, and knet's
// root qdisc; other tools' filters and qdiscs stay). Idempotent.
void remove(nlw::Socket& sock, const nlw::LinkInfo* link, const knet::Owner& owner);
// The owner's ifb in `sock`'s namespace, if it exists and carries the owner's
// tag or none (an ADD of this owner died between creating and tagging it).
std::optional<nlw::LinkInfo> find_ifb(nlw::Socket& sock, const knet::Owner& owner);
// Deletes link `index` unless it is already gone; false then.
bool delete_if_present(nlw::Socket& sock, int index);
// The name the reference plugin gives its ifb: "bwp" and the first 12 hex
// digits of sha512(network + container ID).
std::string reference_ifb_name(const std::string& network, const std::string& container_id);
// Deletes the ifb the reference plugin made for (network, container ID) in
// `sock`'s namespace, so knet's DEL cleans up after an upgrade from it, and,
// if `link` redirects to it (which proves the reference shaped `link`), that
// redirect and the reference's root qdisc (1:) on `link`; false if there was
// no such ifb.
bool remove_reference(nlw::Socket& sock, const nlw::LinkInfo* link, const std::string& network,
                      const std::string& container_id);

}  // namespace knet::bandwidth
