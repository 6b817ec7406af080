#pragma once
// Node-wide locks: flock(2) on files in knet's run dir ($KNET_RUN_DIR, else
// /run/knet). A lock dies with its process, so a killed plugin never leaves
// one held.

#include <string>

#include "base/fd.h"

namespace knet {

// The kernel ignores IFLA_IFALIAS in the request that creates a link, so a
// link gets its owner tag in a second request and is untagged in between.
// ADD holds this lock shared across that window; GC holds it exclusively
// while it looks for untagged knet-named links, so every one it finds was
// left by an ADD that died in the window and can be removed. The lock is an
// flock(2) on <run dir>/untagged.lock. When the file cannot be opened,
// held() is false: GC must then leave untagged links alone.
class UntaggedLinkLock {
 public:
  enum Mode { kShared, kExclusive };
  explicit UntaggedLinkLock(Mode mode);
  bool held() const { return static_cast<bool>(fd_); }

 private:
  Fd fd_;
};

// An exclusive flock(2) on <run dir>/<file>, held until destruction or the
// process's death: what serialises the steps of several processes on one
// shared object, e.g. vxlan's per-network lock. Blocks until granted;
// held() is false when the file cannot be opened or locked, and the caller
// then decides whether to go on unserialised.
class RunDirLock {
 public:
  explicit RunDirLock(const std::string& file);
  bool held() const { return static_cast<bool>(fd_); }

 private:
  Fd fd_;
};

}  // namespace knet
