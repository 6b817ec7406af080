#include "nlw/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <base/fd.h>
#include "nlw/error.h"
#include "nlw/netns.h"

namespace nlw {
namespace {

// Opens /proc/sys/<key> inside `ns`. The open is what binds the file to the
// namespace, so reading or writing it afterwards needs no guard.
knet::Fd open_key(const NetNS& ns, const std::string& key, int flags, const std::string& what) {
  if (key.empty() || key.find("..") != std::string::npos || key.front() == '/') {
    throw InvalidArgument("invalid sysctl key \"" + key + "\"");
  }
  std::string path = "/proc/sys/" + key;
  knet::Fd fd;
  int err = 0;
  {
    NsGuard guard(ns);
    fd.reset(::open(path.c_str(), flags | O_CLOEXEC));
    err = errno;  // before the guard's setns and close run
  }
  if (!fd) {
    std::string msg =
        "failed to " + what + " sysctl " + key + " in " + ns.describe() + ": " + std::strerror(err);
    if (err == ENOENT) throw NotFound(msg);
    throw Error(msg);
  }
  return fd;
}

}  // namespace

std::string read_sysctl(const NetNS& ns, const std::string& key) {
  knet::Fd fd = open_key(ns, key, O_RDONLY, "read");
  std::string out;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw Error("failed to read sysctl " + key + " in " + ns.describe() +
                                           ": " + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void write_sysctl(const NetNS& ns, const std::string& key, const std::string& value) {
  knet::Fd fd = open_key(ns, key, O_WRONLY, "write " + value + " to");
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(value.size())) {
    throw Error("failed to write " + value + " to sysctl " + key + " in " +
                                         ns.describe() + ": " +
                                         (n < 0 ? std::strerror(errno) : "short write"));
  }
}

void ensure_sysctl(const NetNS& ns, const std::string& key, const std::string& value) {
  if (read_sysctl(ns, key) != value) write_sysctl(ns, key, value);
}

}  // namespace nlw
