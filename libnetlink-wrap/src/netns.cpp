#include "nlw/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "nlw/error.h"

namespace nlw {
namespace {

std::string thread_ns_path() {
  return "/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/ns/net";
}

}  // namespace

NetNS::NetNS(knet::Fd fd, std::string path, bool is_current)
    : fd_(std::move(fd)), path_(std::move(path)), is_current_(is_current) {
  struct stat st {};
  if (fstat(fd_.get(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
}

NetNS NetNS::open(const std::string& path) {
  knet::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) {
      throw NotFound("network namespace " + path + " does not exist", {}, err);
    }
    throw Error("failed to open network namespace " + path + ": " + std::strerror(err), {}, err);
  }
  // NS_GET_NSTYPE works on any nsfs file and tells a netns from a mount
  // namespace or a plain file (ENOTTY) that happens to sit at the path.
  int type = ioctl(fd.get(), NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    throw InvalidArgument(path + " is not a network namespace", {}, ENOTTY);
  }
  return NetNS(std::move(fd), path, false);
}

NetNS NetNS::current() {
  std::string path = thread_ns_path();
  knet::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw Error("failed to open the current network namespace: " +
                                         std::string(std::strerror(errno)));
  }
  return NetNS(std::move(fd), path, true);
}

NetNS NetNS::of_pid(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  knet::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT || err == ESRCH) {
      throw NotFound("process " + std::to_string(pid) + " does not exist", {}, err);
    }
    throw Error("failed to open network namespace " + path + ": " + std::strerror(err));
  }
  return NetNS(std::move(fd), path, false);
}

NetNS NetNS::dup() const {
  knet::Fd fd(fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd) {
    throw Error("failed to duplicate the handle of network namespace " +
                                         describe() + ": " + std::strerror(errno));
  }
  return NetNS(std::move(fd), path_, is_current_);
}

std::string NetNS::describe() const {
  return is_current_ ? std::string("the current network namespace") : path_;
}

bool NetNS::same_as(const NetNS& other) const { return dev_ == other.dev_ && ino_ == other.ino_; }

NsGuard::NsGuard(const NetNS& ns) : original_(NetNS::current()) {
  if (ns.same_as(original_)) return;  // nothing to do; also avoids a needless setns
  if (setns(ns.fd(), CLONE_NEWNET) != 0) {
    throw Error("failed to enter network namespace " + ns.describe() + ": " +
                                         std::strerror(errno));
  }
  entered_ = true;
}

NsGuard::~NsGuard() {
  if (!entered_) return;
  if (setns(original_.fd(), CLONE_NEWNET) != 0) {
    // Carrying on would make every later request hit the wrong namespace.
    std::fprintf(stderr, "knet: failed to return to the original network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace nlw
