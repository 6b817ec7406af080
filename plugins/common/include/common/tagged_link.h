#pragma once
// Creating a link that carries its owner tag (a link alias).

#include <base/run_lock.h>

#include <utility>

namespace knet::common {

// Runs `create` (a call that makes a link with an alias: nlw::create_veth or
// nlw::create_ifb) under a shared knet::UntaggedLinkLock and returns what it
// returns. The kernel ignores an alias in the creating request, so the link
// is untagged until the wrapper's second request; GC, holding the lock
// exclusively, must not take it for the leftover of an ADD that died.
template <class Create>
auto create_tagged_link(Create&& create) {
  knet::UntaggedLinkLock lock(knet::UntaggedLinkLock::kShared);
  return std::forward<Create>(create)();
}

}  // namespace knet::common
