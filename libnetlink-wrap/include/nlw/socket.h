#pragma once
// An rtnetlink socket bound to one network namespace.

#include <functional>
#include <memory>
#include <string>

struct nl_sock;
struct nl_msg;

namespace nlw {

class NetNS;

// An rtnetlink libnl socket created while inside a namespace, so every request
// on it acts on that namespace afterwards without switching back and forth.
// Move-only. It records the kernel's errno and extended-ack message of the
// last failed request, which the wrapper puts into its error messages.
class Socket;
[[noreturn]] void throw_nl(const Socket& sock, int nl_err,
                           const std::function<std::string()>& what);

class Socket {
 public:
  // A socket talking to `ns`; throws nlw::Error naming the namespace on failure.
  static Socket in(const NetNS& ns);
  // A socket talking to the calling thread's current namespace.
  static Socket current();

  Socket(Socket&&) noexcept;
  Socket& operator=(Socket&&) noexcept;
  ~Socket();

  nl_sock* get() const;
  // How error messages name the namespace ("/var/run/netns/x").
  const std::string& ns_name() const;

  // The kernel's reason for the last failure on this socket, e.g. "File
  // exists" or "Nexthop has invalid gateway (Network is unreachable)";
  // `nl_err` (a libnl error code) is the fallback when the kernel said nothing.
  std::string reason(int nl_err) const;
  // The errno the kernel returned for the last failed request, 0 if none.
  int last_errno() const;
  // Forgets the last failure; called before every request.
  void clear_error();

  // Sends a message the wrapper built by hand (where libnl has no API) and
  // waits for the kernel's ack. Returns 0 or a negative libnl error code.
  int send_and_ack(nl_msg* msg);

  struct State;

 private:
  explicit Socket(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
  // Keeps the failure's errno and kernel message across the lookups `what` makes.
  friend void throw_nl(const Socket& sock, int nl_err, const std::function<std::string()>& what);
};

// Throws the error for a failed request: nlw::NotFound for ENODEV/ENOENT/
// ESRCH/EADDRNOTAVAIL, nlw::Exists for EEXIST, nlw::Error
// otherwise. `what` is "failed to <operation> <object>"; the namespace and
// the kernel's reason are appended.
[[noreturn]] void throw_nl(const Socket& sock, int nl_err, const std::string& what);
// The same with `what` built only now, after the failure is read from the
// socket: `what` may look things up on it (a link's name for the message)
// without a lookup on every request that succeeds.
[[noreturn]] void throw_nl(const Socket& sock, int nl_err,
                           const std::function<std::string()>& what);

}  // namespace nlw
