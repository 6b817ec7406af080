#pragma once
// An rtnetlink socket bound to one network namespace.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct nl_sock;
struct nl_msg;
struct nlmsghdr;

namespace nlw {

class NetNS;
class Socket;

namespace detail {
// The wrapper's dump reader (src/util.h says what it does).
void dump(Socket& sock, int type, const void* header, size_t header_len,
          const std::function<int(nl_msg*)>& attrs,
          const std::function<void(const nlmsghdr*)>& parse, const std::function<void()>& restart,
          const std::function<std::string()>& what);
}  // namespace detail

// An rtnetlink libnl socket created while inside a namespace, so every request
// on it acts on that namespace afterwards without switching back and forth.
// Move-only. It records the kernel's errno and extended-ack message of the
// last failed request, which the wrapper puts into its error messages.
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
  friend class Batch;
  friend void detail::dump(Socket&, int, const void*, size_t, const std::function<int(nl_msg*)>&,
                           const std::function<void(const nlmsghdr*)>&,
                           const std::function<void()>&, const std::function<std::string()>&);
};

// Requests sent back to back without waiting for each one's ack: what a
// reconcile of thousands of neighbours, FDB entries and routes needs, where
// one request and one ack at a time costs three system calls per object.
//
// Requests are queued with add() and sent in windows of up to kWindow
// messages (one sendmsg each; the kernel handles them in order, each on its
// own), and each window's acks are read, matched by sequence number, before
// the next window goes. The socket's receive buffer is raised so a window's
// acks always fit (a dropped ack would leave a request's fate unknown; if the
// kernel reports one dropped anyway, finish() throws saying so). What this
// saves is system calls and libnl's per-request work; the kernel's own work
// per object stays (see plugins/vxlan/overlay.cpp l3_metric for a case where
// that dominated).
//
// Semantics: not a transaction. A failed request does not stop the others:
// every queued request is sent and applied or refused by the kernel on its
// own. finish() then throws the error of the first request (in queue order)
// that failed, as the request's own function would have (nlw::NotFound,
// nlw::Exists or nlw::Error, the message naming the object, the namespace and
// the kernel's reason), followed by how many others failed and the first few
// of them. Failures a request was queued to accept (a delete of what is
// already gone, an add of what already exists) count as success. A Batch
// destroyed without finish() drops what it has not sent yet; the socket stays
// usable either way. Failing to talk to the kernel at all (sendmsg or recv
// failing, no ack within 30 s) throws at once, from add() or finish().
class Batch {
 public:
  // Failures of a request that are its expected outcome, not an error.
  enum Accept : unsigned { kAcceptNone = 0, kAcceptNotFound = 1, kAcceptExists = 2 };
  // Messages per window: at most this many acks wait in the receive buffer.
  static constexpr size_t kWindow = 256;

  explicit Batch(Socket& sock);
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch();

  Socket& socket() const { return sock_; }
  // Queues a copy of `msg` (a request the wrapper built; its flags, sequence
  // number and port are set here). `what` ("failed to add route ...") is
  // called only if the request fails, after every ack is read, so it may look
  // things up on the socket.
  void add(const nl_msg* msg, std::function<std::string()> what, unsigned accept = kAcceptNone);
  // Sends what is still queued and reads every ack; throws as described above.
  void finish();
  // Requests sent to the kernel so far (queued ones go when a window fills).
  size_t sent() const { return sent_; }

  struct Failure;

 private:
  void flush();
  Socket& sock_;
  struct Pending;
  std::vector<Pending> window_;
  std::vector<char> buf_;  // the window's messages, back to back
  std::vector<Failure> failures_;
  size_t sent_ = 0;
  size_t capacity_ = kWindow;  // what the receive buffer allows
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
