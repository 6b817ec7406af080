#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
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

std::string temp_name(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Renames `tmp` over `path` (removing `tmp` when that fails) and, when
// durable, fsyncs the directory so the rename itself survives a power loss.
void commit(const std::string& tmp, const std::string& path, Durability durability) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail("rename " + tmp + " to", path, err);
  }
  if (durability == Durability::kDurable) {
    std::string dir = dir_of(path);
    Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) fail("open directory", dir, errno);
    if (::fsync(d.get()) != 0) fail("fsync directory", dir, errno);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                       Durability durability) {
  std::string tmp = temp_name(path);
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
  if (::fchmod(fd.get(), mode) != 0) undo("chmod", errno);
  if (durability == Durability::kDurable && ::fsync(fd.get()) != 0) undo("fsync", errno);
  fd.reset();
  commit(tmp, path, durability);
}

void symlink_atomic(const std::string& target, const std::string& path, Durability durability) {
  std::string tmp = temp_name(path);
  ::unlink(tmp.c_str());  // a leftover of a writer with this pid that was killed
  if (::symlink(target.c_str(), tmp.c_str()) != 0) fail("create link", tmp, errno);
  commit(tmp, path, durability);
}

}  // namespace knet
