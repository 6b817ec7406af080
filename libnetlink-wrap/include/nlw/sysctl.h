#pragma once
// Per-namespace sysctls. /proc/sys/net follows the reading thread's network
// namespace, so these enter `ns` with an NsGuard for the duration of the call.

#include <string>

namespace nlw {

class NetNS;

// Reads /proc/sys/<key> inside `ns`, e.g. key "net/ipv4/ip_forward" (slashes,
// so interface names with dots work), without the trailing newline. Throws
// NotFound if the key does not exist, naming the key and the namespace.
std::string read_sysctl(const NetNS& ns, const std::string& key);
// Writes `value` to /proc/sys/<key> inside `ns`.
void write_sysctl(const NetNS& ns, const std::string& key, const std::string& value);
// Writes `value` only when the key holds something else: where /proc/sys is
// read-only (a container without privileges, e.g. knet-node in its DaemonSet)
// a value that is already right is no error.
void ensure_sysctl(const NetNS& ns, const std::string& key, const std::string& value);

}  // namespace nlw
