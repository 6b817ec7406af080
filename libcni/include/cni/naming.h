#pragma once
// Names and tags that tie a host-side resource to its owner
// (network, container ID, ifname), so DEL and GC find it without state files.

#include <cni/fd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cni {

struct Owner {
  std::string network;
  std::string container_id;
  std::string ifname;
  bool operator==(const Owner&) const = default;
};

// A stable 64-bit FNV-1a hash of the owner triple.
uint64_t owner_hash(const Owner& o);
// `prefix` followed by hex digits of owner_hash, 15 bytes in all (IFNAMSIZ-1);
// e.g. owner_ifname("veth", o) == "veth1a2b3c4d5e6".
std::string owner_ifname(std::string_view prefix, const Owner& o);
// "knet:<network>:<container id>:<ifname>", stored as a link alias or rule comment.
// None of the three may contain ':' (the validators guarantee it).
std::string owner_tag(const Owner& o);
std::optional<Owner> parse_owner_tag(std::string_view tag);

// The longest owner tag knet stores: a link alias holds 255 bytes, an
// nftables rule comment 253 (a TLV in 256 bytes of user data).
inline constexpr size_t kMaxOwnerTagBytes = 253;
// Throws code 7 when owner_tag(o) is longer than kMaxOwnerTagBytes, i.e. when
// network name, container ID and ifname together pass 246 bytes. An ADD that
// tags what it creates calls this before creating anything.
void require_owner_tag_fits(const Owner& o);

}  // namespace cni

namespace cni {

// True if `name` looks like owner_ifname(prefix, ...): the prefix, then hex
// digits up to 15 bytes.
bool is_owner_ifname(std::string_view prefix, std::string_view name);

// The kernel ignores IFLA_IFALIAS in the request that creates a link, so a
// link gets its owner tag in a second request and is untagged in between.
// ADD holds this lock shared across that window; GC holds it exclusively
// while it looks for untagged knet-named links, so every one it finds was
// left by an ADD that died in the window and can be removed. The lock is an
// flock(2) on <dir>/untagged.lock (dir: $KNET_RUN_DIR, else /run/knet); it
// dies with the process. When the file cannot be opened, held() is false:
// GC must then leave untagged links alone.
class UntaggedLinkLock {
 public:
  enum Mode { kShared, kExclusive };
  explicit UntaggedLinkLock(Mode mode);
  ~UntaggedLinkLock();
  UntaggedLinkLock(const UntaggedLinkLock&) = delete;
  UntaggedLinkLock& operator=(const UntaggedLinkLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// An exclusive flock(2) on <dir>/<file> (dir as for UntaggedLinkLock), held
// until destruction or the process's death: what serialises the steps of
// several processes on one shared object, e.g. vxlan's per-network lock.
// Blocks until granted; held() is false when the file cannot be opened or
// locked, and the caller then decides whether to go on unserialised.
class RunDirLock {
 public:
  explicit RunDirLock(const std::string& file);
  bool held() const { return static_cast<bool>(fd_); }

 private:
  Fd fd_;
};

}  // namespace cni
