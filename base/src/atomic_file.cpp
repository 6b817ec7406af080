#include "base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"

namespace knet {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& file, int err) {
  throw Error("failed to " + what + " " + file + ": " + std::strerror(err), {}, err);
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) fail("create", tmp, errno);
  auto undo = [&](const char* what, int err) {
    fd.reset();
    ::unlink(tmp.c_str());
    fail(what, tmp, err);
  };
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd.get(), data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) undo("write", w < 0 ? errno : EIO);
    off += static_cast<size_t>(w);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail("rename " + tmp + " to", path, err);
  }
}

}  // namespace knet
