#pragma once
// Links: lookup, creation of the kinds knet uses (veth, bridge, macvlan,
// vxlan, ifb), and the changes plugins make to them. Every function acts on
// the namespace of the Socket it is given.

#include <base/ip.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nlw {

class NetNS;
class Socket;

enum class MacvlanMode { kPrivate, kVepa, kBridge, kPassthru, kSource };

// Parses "bridge", "private", "vepa", "passthru", "source"; nullopt otherwise.
std::optional<MacvlanMode> parse_macvlan_mode(const std::string& s);
const char* to_string(MacvlanMode m);

// The vxlan parameters the kernel reports for a vxlan link.
struct VxlanInfo {
  uint32_t vni = 0;
  uint16_t port = 0;               // destination UDP port
  std::optional<knet::IP> local{};  // source address, if set
  std::optional<knet::IP> group{};  // multicast group or unicast remote, if set
  int underlay = 0;                // ifindex of the underlay device, 0 if none
  bool learning = false;
  int ttl = 0;  // 0 = inherit
};

// A link as the kernel reports it.
struct LinkInfo {
  int index = 0;
  std::string name{};
  std::string kind{};  // "veth", "bridge", "macvlan", "vxlan", "ifb", "" for none
  unsigned mtu = 0;
  std::string mac{};  // "aa:bb:cc:dd:ee:ff", lower case; empty if none
  int master = 0;     // ifindex of the master (bridge), 0 if none
  bool up = false;    // administratively up (IFF_UP)
  bool promisc = false;
  std::string alias{};
  int link = 0;                       // IFLA_LINK: veth peer / macvlan master ifindex, 0 if none
  std::optional<int> link_netnsid{};  // set when `link` lives in another namespace
  std::optional<MacvlanMode> macvlan_mode{};  // set for macvlan links
  std::optional<VxlanInfo> vxlan{};           // set for vxlan links
};

// The link named `name`, or nullopt if there is none.
std::optional<LinkInfo> find_link(Socket& sock, const std::string& name);
// The link with ifindex `index`, or nullopt if there is none.
std::optional<LinkInfo> find_link(Socket& sock, int index);
// Like find_link but throws nlw::NotFound("link <name> not found in <ns>").
LinkInfo get_link(Socket& sock, const std::string& name);
// Every link in the namespace.
std::vector<LinkInfo> list_links(Socket& sock);

struct VethOptions {
  unsigned mtu = 0;          // 0 = kernel default
  std::string mac{};         // empty = random
  std::string peer_mac{};    // empty = random
  std::string alias{};       // set on the local end
  std::string peer_alias{};  // set on the peer
  int master = 0;            // enslave the local end to this link at creation
  bool up = false;           // create the local end up (the peer stays down)
};

// Creates veth `name` in sock's namespace with its peer `peer_name` directly in
// `peer_ns`, in one request (no window with both ends in one namespace).
// The peer is down; the local end is up with opts.up. Throws nlw::Exists if
// either name is taken. An alias is set by a second request (the kernel
// ignores it at creation); a link is deleted again if that second request
// fails. Callers hold a shared knet::UntaggedLinkLock across the call.
LinkInfo create_veth(Socket& sock, const std::string& name, const std::string& peer_name,
                     const NetNS& peer_ns, const VethOptions& opts = {});

struct BridgeOptions {
  unsigned mtu = 0;
  std::string mac{};            // empty = kernel chooses
  bool vlan_filtering = false;  // IFLA_BR_VLAN_FILTERING
};

// Creates bridge `name` (down). Throws nlw::Exists if the name is taken;
// callers that reuse a bridge find_link() first.
LinkInfo create_bridge(Socket& sock, const std::string& name, const BridgeOptions& opts = {});

struct MacvlanOptions {
  MacvlanMode mode = MacvlanMode::kBridge;
  unsigned mtu = 0;
  std::string mac{};
  std::optional<uint32_t> bcqueuelen{};  // IFLA_MACVLAN_BC_QUEUE_LEN
  std::string master_name{};             // for error messages; empty: looked up
};

// Creates macvlan `name` on `master_index` (a link in sock's namespace). With
// `target`, the device is created directly in that namespace (the master stays
// where it is) and the returned LinkInfo is read from there, through
// `target_sock` if given (a socket in `target`).
LinkInfo create_macvlan(Socket& sock, const std::string& name, int master_index,
                        const MacvlanOptions& opts = {}, const NetNS* target = nullptr,
                        Socket* target_sock = nullptr);

struct VxlanOptions {
  uint32_t vni = 0;
  uint16_t port = 4789;            // destination UDP port (IANA; kernel default is 8472)
  std::optional<knet::IP> local{};  // source address
  std::optional<knet::IP> group{};  // multicast group or single unicast remote
  int underlay = 0;                // ifindex of the underlay device, 0 = routing decides
  bool learning = true;
  int ttl = 0;  // 0 = inherit
  unsigned mtu = 0;
  std::string mac{};
};

// Creates vxlan `name` (down). Throws nlw::Exists if the name or the
// (vni, port, local) combination is taken.
LinkInfo create_vxlan(Socket& sock, const std::string& name, const VxlanOptions& opts);

// The id `sock`'s namespace knows `ns` by (what LinkInfo::link_netnsid holds
// for a veth whose peer is in `ns`); nullopt if it has assigned none.
std::optional<int> netnsid_of(Socket& sock, const NetNS& ns);

// Creates an ifb (intermediate functional block) device, down; used as the
// target of ingress shaping.
LinkInfo create_ifb(Socket& sock, const std::string& name, unsigned mtu = 0,
                    const std::string& alias = {});

// Sets the link administratively up / down.
void set_up(Socket& sock, int index);
void set_down(Socket& sock, int index);
void set_mtu(Socket& sock, int index, unsigned mtu);
// `mac` is "aa:bb:cc:dd:ee:ff"; throws nlw::InvalidArgument if malformed.
void set_mac(Socket& sock, int index, const std::string& mac);
// Enslaves the link to `master_index`; 0 releases it (nomaster).
void set_master(Socket& sock, int index, int master_index);
void set_alias(Socket& sock, int index, const std::string& alias);
void set_promisc(Socket& sock, int index, bool on);
// Renames the link; the kernel refuses while it is up.
void rename(Socket& sock, int index, const std::string& new_name);
// Moves the link into `ns`, renaming it in the same request if `new_name` is
// given (so a name clash in `ns` cannot happen halfway).
void move_to_netns(Socket& sock, int index, const NetNS& ns,
                   const std::optional<std::string>& new_name = std::nullopt);
// Deletes the link (and a veth's peer with it). Throws NotFound if it is gone.
void delete_link(Socket& sock, int index);
// Deletes the link named `name` if it exists; false if there was none. The
// building block of idempotent DEL.
bool delete_link_if_exists(Socket& sock, const std::string& name);

struct BridgePortOptions {
  std::optional<bool> hairpin{};   // IFLA_BRPORT_MODE
  std::optional<bool> isolated{};  // IFLA_BRPORT_ISOLATED
  std::optional<bool> learning{};  // IFLA_BRPORT_LEARNING
};

// Changes the bridge-port settings of a link that has a bridge master; unset
// options are left alone.
void set_bridge_port(Socket& sock, int index, const BridgePortOptions& opts);

// Adds VLAN `vid` to a bridge port (or to the bridge itself with `self`).
// Needs a kernel with bridge VLAN filtering; without it the error says so.
void bridge_vlan_add(Socket& sock, int index, uint16_t vid, bool pvid, bool untagged,
                     bool self = false);
// Removes VLAN `vid` from a bridge port (or the bridge with `self`).
void bridge_vlan_del(Socket& sock, int index, uint16_t vid, bool self = false);

// "veth0" (or "ifindex 5" if the link is gone): how error messages name a link.
std::string link_label(Socket& sock, int index);

}  // namespace nlw
