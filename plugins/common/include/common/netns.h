#pragma once
// Opening the container's network namespace (CNI_NETNS), with the CNI codes
// its failures mean to a runtime.

#include <nlw/netns.h>

#include <optional>
#include <string>

namespace knet::common {

// The namespace at `path`. A path that does not exist is code 3 (unknown
// container); one that cannot be opened or is not a network namespace is
// code 4 (invalid CNI_NETNS). The message is the kernel wrapper's.
nlw::NetNS open_container_netns(const std::string& path);

// For DEL: the namespace at `path`, or nothing when `path` is empty or no
// longer exists (the container's interfaces went with it, and DEL succeeds).
// Other failures throw as open_container_netns.
std::optional<nlw::NetNS> open_netns_for_del(const std::string& path);

}  // namespace knet::common
