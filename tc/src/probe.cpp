#include "tc/probe.h"

#include <nlw/link.h>
#include <nlw/socket.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tc/redirect.h"
#include "tc/shaper.h"

namespace knet::tc {
namespace {

// The child's work: an ifb with a TBF, then an HTB with a filter, then a
// redirect to it. Returns "" or the error.
std::string exercise_every_kind() {
  try {
    if (unshare(CLONE_NEWNET) != 0) {
      return std::string("cannot create a network namespace to probe in: ") + strerror(errno);
    }
    nlw::Socket sock = nlw::Socket::current();
    nlw::LinkInfo ifb = nlw::create_ifb(sock, "knetprobe0");
    nlw::LinkInfo src = nlw::create_ifb(sock, "knetprobe1");
    ShaperSpec spec;
    spec.bucket = plan_bucket(10'000'000, 100'000, 1500);
    install_shaper(sock, ifb.index, spec);
    spec.subnets.push_back(knet::IPNet{knet::IP::from_v4(0x0a000000), 8});
    install_shaper(sock, ifb.index, spec);
    redirect_ingress(sock, src.index, ifb.index);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace

std::string probe_missing_support() {
  int fds[2];
  if (pipe(fds) != 0) return std::string("cannot probe tc support: pipe: ") + strerror(errno);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::string("cannot probe tc support: fork: ") + strerror(errno);
  }
  if (pid == 0) {
    close(fds[0]);
    alarm(10);  // a wedged netlink request must not hang STATUS
    std::string err = exercise_every_kind();
    ssize_t n = write(fds[1], err.data(), err.size());
    _exit(n == static_cast<ssize_t>(err.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) err.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (err.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    err = "the tc probe process failed (status " + std::to_string(status) + ")";
  }
  return err;
}

}  // namespace knet::tc
