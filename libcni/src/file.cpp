#include "cni/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cni/error.h"
#include "base/fd.h"

namespace cni {
namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

}  // namespace

std::string read_user_file(const std::string& path, size_t max_bytes, const std::string& what,
                           int code) {
  auto fail = [&](const std::string& why) -> void {
    throw Error(code, what + " " + path + ": " + why);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fail(std::strerror(errno));
  knet::Fd owner(fd);
  struct stat st{};
  if (::fstat(fd, &st) != 0) fail(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  if (static_cast<unsigned long long>(st.st_size) > max_bytes)
    fail("is " + std::to_string(st.st_size) + " bytes, more than the limit of " +
         std::to_string(max_bytes));
  std::string data;
  data.resize(static_cast<size_t>(st.st_size) + 1);  // +1 notices a file that grew meanwhile
  size_t have = 0;
  for (;;) {
    if (have == data.size()) {
      if (data.size() > max_bytes) break;
      data.resize(std::min(max_bytes + 1, data.size() * 2));
    }
    ssize_t n = ::read(fd, data.data() + have, data.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(std::strerror(errno));
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have > max_bytes) fail("is more than the limit of " + std::to_string(max_bytes) + " bytes");
  data.resize(have);
  return data;
}

}  // namespace cni
