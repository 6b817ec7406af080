#include "base/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace knet {

namespace {

// An fd of <run dir>/<file> holding an flock (shared or exclusive), or -1
// when the file cannot be opened or locked.
int lock_run_file(const std::string& file, bool exclusive) {
  const char* env = std::getenv("KNET_RUN_DIR");
  std::string dir = env && *env ? env : "/run/knet";
  mkdir(dir.c_str(), 0700);  // EEXIST is the common case; open() tells the rest
  int fd = open((dir + "/" + file).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int r;
  do {
    r = flock(fd, exclusive ? LOCK_EX : LOCK_SH);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

UntaggedLinkLock::UntaggedLinkLock(Mode mode)
    : fd_(lock_run_file("untagged.lock", mode == kExclusive)) {}

RunDirLock::RunDirLock(const std::string& file) : fd_(lock_run_file(file, true)) {}

}  // namespace knet

