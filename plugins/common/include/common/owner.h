#pragma once
// The owner of what a plugin invocation creates, from the CNI request.

#include <base/owner.h>
#include <cni/env.h>
#include <cni/netconf.h>

namespace knet::common {

// (network name, CNI_CONTAINERID, CNI_IFNAME) of this invocation.
knet::Owner owner_of(const cni::Env& env, const cni::NetConf& conf);

// Throws code 7 when owner_tag(o) is longer than knet::kMaxOwnerTagBytes,
// i.e. when network name, container ID and ifname together pass 246 bytes.
// An ADD that tags what it creates calls this before creating anything.
void require_owner_tag_fits(const knet::Owner& o);

}  // namespace knet::common
