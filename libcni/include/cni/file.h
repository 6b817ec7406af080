#pragma once
// Reading a file whose path a user gave (a config key, NETCONFPATH): such a
// path may name a FIFO, a device or something huge, and a plugin must neither
// hang nor grow without bound on it.

#include <cstddef>
#include <string>

namespace cni {

// Caps on the files knet reads on a user's say-so (documented in the docs of
// the keys that name them).
inline constexpr size_t kMaxResolvConfBytes = 1u << 20;   // ipam.resolvConf
inline constexpr size_t kMaxPeersFileBytes = 64u << 20;   // vxlan peersFile
inline constexpr size_t kMaxConfFileBytes = 4u << 20;     // a .conf/.conflist (as stdin)

// The whole content of the regular file at `path`, at most `max_bytes` long.
// Opens it non-blocking (a FIFO never blocks the open or the read), refuses
// anything that is not a regular file (FIFO, socket, device, directory) and
// anything larger than `max_bytes`. `what` names the file in the message,
// e.g. "\"ipam.resolvConf\"". Throws cni::Error(`code`, "<what> <path>: <why>").
std::string read_user_file(const std::string& path, size_t max_bytes, const std::string& what,
                           int code);

}  // namespace cni
