#pragma once
// The kernel-side steps of the vxlan plugin: the shared per-network objects
// on the host (VXLAN device, bridge, peer entries) and the per-container veth.
// All netlink goes through nlw; every function acts on the namespaces of the
// sockets it is given.

#include <base/owner.h>
#include <base/run_lock.h>
#include <cni/netconf.h>
#include <cni/result.h>
#include <cni/skel.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>

#include <optional>
#include <string>
#include <vector>

#include "config.h"

namespace knet::vxlan {

// The underlay device and this node's VTEP address on it.
struct Underlay {
  nlw::LinkInfo link{};
  knet::IP local{};
};

// cfg.underlay (or the default route's link, IPv4 first) and cfg.local (or
// its first global address, IPv4 first). Throws cni::Error(kInvalidNetworkConfig)
// naming "underlay" / "local" when either is missing.
Underlay resolve_underlay(nlw::Socket& host, const Config& cfg);

// The MTU of the VXLAN device and of every container interface: cfg.mtu, or
// the underlay's MTU minus the encapsulation overhead. Throws a config error
// naming "mtu" when cfg.mtu is larger than that.
unsigned overlay_mtu(const Config& cfg, const Underlay& u);

// The membership seen from this node: the remote peers / nodes (own entry,
// recognised by `local`, removed) and, in l3, this node's own entry.
struct View {
  std::vector<knet::IP> peers{};
  std::vector<Node> nodes{};
  std::optional<Node> self{};
  std::vector<Node> all_nodes{};  // l3: every node, this one included
  std::optional<knet::IPNet> network{};  // l3: the membership's `network`
};

// Splits `m` around `local`. Throws a config error when an entry's address
// family differs from local's, or (l3) when this node has no entry in `nodes`.
View view_from(const Config& cfg, const Membership& m, const knet::IP& local);

// The alias knet gives to the per-network host objects (device, bridge).
std::string network_tag(const std::string& network);

// The config the IPAM plugin gets: `conf` itself, except in l3 where a
// host-local section without "subnet"/"ranges" is given `subnet` as its one
// range. `subnet` is this node's subnet; DEL and GC, which must not depend on
// the membership, pass nullopt: host-local then gets a stand-in range, since
// its DEL releases by container and its GC scans the whole store (the
// reference's too) and only its config check wants a range.
cni::NetConf ipam_conf(const cni::NetConf& conf, const Config& cfg,
                       const std::optional<knet::IPNet>& subnet);

// l3: the address containers of this node route through: the IPAM gateway
// of the node subnet's family in `ip`, else the subnet's first host.
knet::IP node_gateway(const View& view, const cni::Result& ip);

// l3: adds to `ip` a route to the cluster CIDR via node_gateway, unless a
// route of `ip` already covers it. The cluster CIDR is the membership's
// `network` when it has one (so the route covers nodes that join later),
// else cluster_cidr of every node's subnet of this node's family. A cluster
// CIDR that is this node's subnet (a membership of this node alone, without
// `network`) is reached by the connected route: no route then.
void add_cluster_route(cni::Result& ip, const View& view);

// The name of the per-network lock file under the run dir (see
// knet::RunDirLock): "vxlan-" + a hash of `network` (any name fits a path).
std::string network_lock_file(const std::string& network);

// The network's VXLAN device, up, with this node's VTEP MAC (its `mac` in
// view.self, else the derived one): the existing one if it matches the
// config (its MTU and MAC are corrected in place; an untagged one, left by
// an ADD killed between creating and tagging it, is tagged), a new one
// otherwise (`created` set). The caller holds the network's lock.
// Throws when a link of that name exists and differs, naming the difference.
nlw::LinkInfo ensure_device(nlw::Socket& host, const Config& cfg, const std::string& network,
                            const Underlay& u, const View& view, unsigned mtu, bool& created);

// The bridge cfg.bridge, up, created (with the network tag, `created` set)
// when missing. Throws if a non-bridge link has the name.
nlw::LinkInfo ensure_bridge(nlw::Socket& host, const Config& cfg, const std::string& network,
                            unsigned mtu, bool& created);

// Makes the device's FDB / neighbour / route entries match `view`: adds what
// is missing, removes the entries of departed peers. l2 unicast: one
// all-zeros FDB entry per peer (and learned MACs behind departed peers are
// dropped); l2 multicast: nothing; l3: route, neighbour and FDB per node.
// Every change is attempted even when one fails; then the first failure is
// thrown, naming its entry (nlw::Batch).
void reconcile(nlw::Socket& host, const nlw::LinkInfo& dev, const Config& cfg, const View& view);

// reconcile's incremental form, for a membership that changed from `before`
// (what the device holds: a reconcile or apply_delta of it succeeded) to
// `after`: only the entries of the peers / nodes added, removed or changed
// are deleted and added, in one batch (deletes first), and the kernel's
// entries of the others are neither read nor written; the result is what
// reconcile(after) would leave. One exception reads: in l2 unicast, when
// peers leave, the device's FDB is listed to drop the MACs learned behind
// them, as reconcile does. Wants the entries of each view unique (one node
// per vtep, subnet and MAC, as view_from of a valid membership gives) and
// the same device and this node (view.self) in both: a new device or a
// changed self is reconcile's job. Only the peers / nodes of the views are
// read, so they may hold just the change (`before` what left or changed, as
// it was; `after` what joined or changed): the peers in neither are left
// alone. knet-node passes that, O(change) whatever the membership's size.
// Failures as reconcile's; after one the device's state is unknown and
// reconcile must follow.
void apply_delta(nlw::Socket& host, const nlw::LinkInfo& dev, const Config& cfg, const View& before,
                 const View& after);

// The host-side veth name of `owner`.
std::string host_veth_name(const knet::Owner& owner);

// Creates the veth: host end host_veth_name(owner), enslaved to `bridge` and
// up in the creating request (so it is never a port-less knet veth), then
// tagged with the owner; container end `owner.ifname` in `cont`, down. Both
// ends get `mtu`. A host end left by a crashed ADD of the same owner (tagged,
// or untagged when it died before the tag) is replaced. Returns the
// container end.
nlw::LinkInfo create_veth(nlw::Socket& host, const nlw::LinkInfo& bridge, nlw::Socket& cont_sock,
                          const nlw::NetNS& cont, const knet::Owner& owner, unsigned mtu);

// Deletes the owner's host veth (and its container end with it) if it carries
// the owner's tag; false if there was none.
bool delete_veth(nlw::Socket& host, const knet::Owner& owner);

// l3: gives the device this node's overlay address (its subnet's network
// address as a /32 or /128), through which the node itself reaches the
// other nodes' pods, and turns on forwarding. Idempotent. knet-node runs it
// at every sync, so a node reaches them before its first pod starts.
void configure_overlay(nlw::Socket& host, const nlw::LinkInfo& dev, const View& view);

// l3: gives the bridge the gateway address of this node's subnet (the IPAM
// gateway of `ip`, else the subnet's first host), and runs
// configure_overlay. Idempotent.
void configure_router(nlw::Socket& host, const nlw::LinkInfo& bridge, const nlw::LinkInfo& dev,
                      const View& view, const cni::Result& ip);

// CHECK of the host side: the device matches the config and carries every
// entry `view` asks for; in l2 it is a port of cfg.bridge. Throws
// cni::Error(kInternal) describing the first difference.
void verify_host(nlw::Socket& host, const Config& cfg, const std::string& network,
                 const Underlay& u, unsigned mtu, const View& view);

// CHECK of the container side: the host veth is in the bridge; the container
// interface is a veth with `mtu` and prevResult's addresses and routes.
void verify_container(nlw::Socket& host, nlw::Socket& cont_sock, const Config& cfg,
                      const knet::Owner& owner, unsigned mtu, const cni::Result& prev);

// GC: deletes host veths of `network` whose owner is not in `valid`, and
// untagged knet-named veths on cfg.bridge (an ADD killed between creating and
// tagging one left it: the scan runs under an exclusive
// knet::UntaggedLinkLock); when no veth of the network is left, also the
// device (and all its entries) and the bridge if knet created it, also when
// an ADD killed before tagging them left them untagged. Those go only when
// `locked`: the caller holds the network's lock, so no ADD is between
// creating the device and creating its veth.
void remove_stale(nlw::Socket& host, const Config& cfg, const std::string& network,
             const std::vector<cni::Attachment>& valid, bool locked);

}  // namespace knet::vxlan
