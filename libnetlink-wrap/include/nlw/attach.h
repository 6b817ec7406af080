#pragma once
// Steps every plugin that attaches a container interface shares: finding the
// host link it stacks on (macvlan's master, vxlan's underlay), undoing a
// link when the ADD fails, and applying the IPAM result to the interface.

#include <cni/result.h>

#include <string>

#include "nlw/link.h"

namespace nlw {

class Socket;

// The link named `name`, or, when `name` is empty, the link of the main
// table's default route with the lowest metric (IPv4 first, then IPv6).
// Throws cni::Error(kInvalidNetworkConfig) naming the config key `key` when
// there is no such link or no default route.
LinkInfo resolve_link_or_default(Socket& sock, const std::string& name, const std::string& key);

// Deletes the link named `name` in `sock`'s namespace on destruction unless
// release() was called: the undo step of a failing ADD. Errors while undoing
// are swallowed (the ADD is already failing with its own). An empty name
// arms nothing.
class LinkUndo {
 public:
  LinkUndo(Socket& sock, std::string name) : sock_(sock), name_(std::move(name)) {}
  ~LinkUndo();
  LinkUndo(const LinkUndo&) = delete;
  LinkUndo& operator=(const LinkUndo&) = delete;
  void release() { name_.clear(); }

 private:
  Socket& sock_;
  std::string name_;
};

// Applies an IPAM result to link `index` of sock's namespace the way the
// reference's ConfigureIface does: every address of `ip`, link up, wait for
// IPv6 DAD, then every route (a route without "gw" goes via the gateway of
// the first IP config of its family).
void apply_ip_config(Socket& sock, int index, const cni::Result& ip);

}  // namespace nlw
