#pragma once
// Network namespace handles and the scoped guard for the little code that
// must run inside a namespace (sysctls, raw sockets).

#include <base/fd.h>
#include <sys/types.h>

#include <string>

namespace nlw {

// An open network namespace: owns an fd, remembers the path it came from.
// Move-only; the fd is closed on destruction.
class NetNS {
 public:
  // Opens the namespace bound at `path` (e.g. /var/run/netns/x). Throws
  // nlw::NotFound (code kUnknownContainer) if the path does not exist and
  // nlw::InvalidArgument if it is not a network namespace.
  static NetNS open(const std::string& path);
  // The namespace of the calling thread.
  static NetNS current();
  // The namespace of process `pid`; throws NotFound if the process is gone.
  static NetNS of_pid(pid_t pid);

  NetNS(NetNS&& o) noexcept = default;
  NetNS& operator=(NetNS&& o) noexcept = default;
  NetNS(const NetNS&) = delete;
  NetNS& operator=(const NetNS&) = delete;
  ~NetNS() = default;

  // A second handle on the same namespace (its own fd).
  NetNS dup() const;

  int fd() const { return fd_.get(); }
  // The path it was opened from ("/proc/self/task/<tid>/ns/net" for current()).
  const std::string& path() const { return path_; }
  // How error messages name this namespace: the path, or "the current network
  // namespace" for current().
  std::string describe() const;
  // True if both handles refer to the same namespace (same nsfs inode).
  bool same_as(const NetNS& other) const;

 private:
  NetNS(knet::Fd fd, std::string path, bool is_current);
  knet::Fd fd_;
  std::string path_;
  bool is_current_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Enters `ns` on construction (setns) and returns the thread to the namespace
// it was in on destruction. Plugins are single-threaded, so the whole process
// follows; if returning fails the process aborts rather than keep working in
// the wrong namespace.
class NsGuard {
 public:
  explicit NsGuard(const NetNS& ns);
  ~NsGuard();
  NsGuard(const NsGuard&) = delete;
  NsGuard& operator=(const NsGuard&) = delete;

 private:
  NetNS original_;
  bool entered_ = false;
};

}  // namespace nlw
