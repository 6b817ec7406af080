#pragma once
// The host-local verbs over a parsed Config and the disk store; the plugin's
// main() only wires them to the skeleton.

#include <cni/result.h>
#include <cni/skel.h>

#include <optional>
#include <vector>

#include "ipam/config.h"
#include "ipam/store.h"

namespace knet::ipam {

// One address per range set for `owner`, round-robin after each set's last
// reserved address, or the requested one. An owner that already holds
// addresses gets them back (the reference refuses a second ADD instead). A
// failed ADD releases what it reserved.
cni::Result add(const Config& cfg, const OwnerKey& owner);
// Releases everything `owner` holds in the network; nothing held is success.
void del(const Config& cfg, const OwnerKey& owner);
// Succeeds when `owner` holds an address and, given a prevResult, exactly the
// addresses it lists.
void check(const Config& cfg, const OwnerKey& owner, const std::optional<cni::Result>& prev);
// Releases every address of the network held by an attachment not in `valid`.
void gc(const Config& cfg, const std::vector<cni::Attachment>& valid);
// Throws cni::kPluginNotAvailable when some range set has no free address, so ADD would fail.
void status(const Config& cfg);

}  // namespace knet::ipam
