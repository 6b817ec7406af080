#include "nlw/socket.h"
#include <base/step.h>

#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "nlw/error.h"
#include "nlw/netns.h"
#include "util.h"

namespace nlw {

struct Socket::State {
  nl_sock* sk = nullptr;
  std::string ns_name;
  int last_errno = 0;
  std::string ext_msg;  // the kernel's extended-ack text, e.g. "Nexthop has invalid gateway"
  uint32_t batch_seq = 1;     // sequence numbers of batched requests (libnl keeps its own)
  size_t batch_capacity = 0;  // acks the receive buffer holds; 0 until a Batch asks
  // detail::dump's receive buffer, allocated on the first dump. Not zeroed:
  // only the pages the kernel writes into are ever touched.
  std::unique_ptr<char[]> dump_buf;
  ~State() {
    if (sk) nl_socket_free(sk);  // also closes the fd
  }
};

namespace {

// The text of the NLMSGERR_ATTR_MSG attribute among the extended-ack
// attributes that start `off` bytes into `hdr`, "" if there is none.
std::string ext_ack_text(const nlmsghdr* hdr, size_t off) {
  const char* p = reinterpret_cast<const char*>(hdr) + off;
  const char* end = reinterpret_cast<const char*>(hdr) + hdr->nlmsg_len;
  while (p + sizeof(nlattr) <= end) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < sizeof(nlattr) || p + a->nla_len > end) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* s = p + NLA_HDRLEN;
      return std::string(s, strnlen(s, a->nla_len - NLA_HDRLEN));
    }
    p += NLA_ALIGN(a->nla_len);
  }
  return {};
}

// Extended acks carry a human-readable reason after the echoed request; the
// echo is only the header when the kernel capped it.
std::string ext_ack_message(const nlmsgerr* e) {
  const auto* hdr =
      reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(e) - NLMSG_HDRLEN);
  if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  size_t off = sizeof(nlmsgerr);
  if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  off = NLMSG_ALIGN(NLMSG_HDRLEN + off);
  return ext_ack_text(hdr, off);
}

// Runs inside libnl's receive loop, so nothing may escape it: the errno is
// stored first (no allocation); the kernel's text is an addition to the
// message, left out if copying it fails.
int record_error(sockaddr_nl*, nlmsgerr* e, void* arg) noexcept {
  auto* st = static_cast<Socket::State*>(arg);
  st->last_errno = -e->error;
  try {
    st->ext_msg = ext_ack_message(e);
  } catch (...) {
    st->ext_msg.clear();
  }
  return NL_STOP;  // libnl then returns the translated error to the caller
}

std::unique_ptr<Socket::State> connect(std::string ns_name) {
  auto st = std::make_unique<Socket::State>();
  st->ns_name = std::move(ns_name);
  st->sk = nl_socket_alloc();
  if (!st->sk) throw Error("out of memory allocating a netlink socket");
  int rc = nl_connect(st->sk, NETLINK_ROUTE);
  if (rc < 0) {
    throw Error("failed to open a netlink socket in " + st->ns_name + ": " + nl_geterror(rc));
  }
  int one = 1;
  // Best effort: older kernels without extended acks still give an errno.
  setsockopt(nl_socket_get_fd(st->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(nl_socket_get_fd(st->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  // Dumps of many links/routes need messages larger than libnl's default buffer.
  nl_socket_enable_msg_peek(st->sk);
  nl_socket_modify_err_cb(st->sk, NL_CB_CUSTOM, record_error, st.get());
  return st;
}

}  // namespace

Socket::Socket(std::unique_ptr<State> s) : s_(std::move(s)) {}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;
Socket::~Socket() = default;

Socket Socket::in(const NetNS& ns) {
  knet::Step step("open netlink socket in netns");
  // A netlink socket belongs to the namespace it was created in for life.
  NsGuard guard(ns);
  return Socket(connect(ns.describe()));
}

Socket Socket::current() { return Socket(connect("the current network namespace")); }

nl_sock* Socket::get() const { return s_->sk; }
const std::string& Socket::ns_name() const { return s_->ns_name; }
int Socket::last_errno() const { return s_->last_errno; }

void Socket::clear_error() {
  s_->last_errno = 0;
  s_->ext_msg.clear();
}

namespace {

// "File exists", with the kernel's own words after it when it gave some.
std::string errno_reason(int e, const std::string& ext) {
  std::string r = std::strerror(e);
  if (!ext.empty()) r += " (" + ext + ")";
  return r;
}

}  // namespace

std::string Socket::reason(int nl_err) const {
  if (s_->last_errno == 0) return nl_geterror(nl_err);
  return errno_reason(s_->last_errno, s_->ext_msg);
}

int Socket::send_and_ack(nl_msg* msg) {
  int rc = nl_send_auto(s_->sk, msg);
  if (rc < 0) return rc;
  return nl_wait_for_ack(s_->sk);
}

namespace {

// The kernel's ways of saying "no such object".
bool is_not_found(int e) { return e == ENODEV || e == ENOENT || e == ESRCH || e == EADDRNOTAVAIL; }

[[noreturn]] void throw_classified(int e, int nl_err, const std::string& msg) {
  if (is_not_found(e) || (e == 0 && (nl_err == -NLE_OBJ_NOTFOUND || nl_err == -NLE_NODEV))) {
    throw NotFound(msg, {}, e);
  }
  if (e == EEXIST || (e == 0 && nl_err == -NLE_EXIST)) throw Exists(msg, {}, e);
  throw Error(msg, {}, e);
}

}  // namespace

void throw_nl(const Socket& sock, int nl_err, const std::string& what) {
  throw_classified(sock.last_errno(), nl_err,
                   what + " in " + sock.ns_name() + ": " + sock.reason(nl_err));
}

void throw_nl(const Socket& sock, int nl_err, const std::function<std::string()>& what) {
  int e = sock.s_->last_errno;
  std::string ext = sock.s_->ext_msg;
  std::string reason = sock.reason(nl_err);
  std::string head = what();
  // The caller may inspect last_errno() after catching: the lookups in
  // `what` must not overwrite it.
  sock.s_->last_errno = e;
  sock.s_->ext_msg = std::move(ext);
  throw_classified(e, nl_err, head + " in " + sock.ns_name() + ": " + reason);
}

// ---- Batch

struct Batch::Pending {
  uint32_t seq = 0;
  std::function<std::string()> what;
  unsigned accept = kAcceptNone;
  bool acked = false;
};

struct Batch::Failure {
  std::function<std::string()> what;
  int err = 0;       // the kernel's errno
  std::string ext;   // its extended-ack text
};

namespace {

// A window is one sendmsg: the kernel refuses one larger than the socket's
// send buffer (libnl sets 32 KiB, which the kernel doubles).
constexpr size_t kWindowBytes = 32 * 1024;
// An ack's share of the receive buffer is its skb's truesize: under 1 KiB for
// the 36-byte ack of a capped request; twice that leaves room for error acks
// carrying the kernel's message.
constexpr int kAckBudget = 2048;
// Enough for Batch::kWindow acks at kAckBudget each.
constexpr int kWantRcvbuf = static_cast<int>(Batch::kWindow) * kAckBudget;
// Acks read per recvmmsg, and room for each (an error ack with its message
// is a few hundred bytes; a longer one is truncated to its error code).
constexpr unsigned kRecvVec = 64;
constexpr size_t kAckRoom = 1024;
// How long the kernel may take to ack a window before the batch gives up. It
// handles a window inside the sendmsg, so its acks are normally there at once.
constexpr int kAckTimeoutMs = 30000;

// How many acks `fd`'s receive buffer is sure to hold, after raising it to
// kWantRcvbuf (SO_RCVBUFFORCE as root, else SO_RCVBUF up to rmem_max).
size_t ack_capacity(int fd) {
  int have = 0;
  socklen_t len = sizeof have;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len) != 0) have = 0;
  // The kernel reports (and accounts against) twice the value set.
  if (have < 2 * kWantRcvbuf) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kWantRcvbuf, sizeof kWantRcvbuf) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kWantRcvbuf, sizeof kWantRcvbuf);
    }
    len = sizeof have;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len) != 0) have = 0;
  }
  return std::clamp<size_t>(static_cast<size_t>(std::max(have, 0)) / kAckBudget, 1,
                            Batch::kWindow);
}

}  // namespace

Batch::Batch(Socket& sock) : sock_(sock) {
  Socket::State& st = *sock_.s_;
  if (!st.batch_capacity) st.batch_capacity = ack_capacity(nl_socket_get_fd(st.sk));
  capacity_ = st.batch_capacity;
  window_.reserve(capacity_);
}

Batch::~Batch() = default;

void Batch::add(const nl_msg* msg, std::function<std::string()> what, unsigned accept) {
  const nlmsghdr* h = nlmsg_hdr(const_cast<nl_msg*>(msg));
  size_t len = NLMSG_ALIGN(h->nlmsg_len);
  if (!window_.empty() && (window_.size() >= capacity_ || buf_.size() + len > kWindowBytes)) {
    flush();
  }
  size_t off = buf_.size();
  buf_.resize(off + len);  // zeroes the alignment padding
  std::memcpy(buf_.data() + off, h, h->nlmsg_len);
  auto* copy = reinterpret_cast<nlmsghdr*>(buf_.data() + off);
  copy->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  copy->nlmsg_seq = sock_.s_->batch_seq++;
  copy->nlmsg_pid = 0;
  window_.push_back({copy->nlmsg_seq, std::move(what), accept, false});
}

void Batch::flush() {
  if (window_.empty()) return;
  Socket::State& st = *sock_.s_;
  int fd = nl_socket_get_fd(st.sk);
  const size_t count = window_.size();
  // Whatever happens below, this window is done with: a failure to talk to
  // the kernel at all is thrown at once, the requests' own failures are kept.
  std::vector<Pending> window = std::move(window_);
  window_.clear();
  window_.reserve(capacity_);
  std::vector<char> buf = std::move(buf_);
  buf_.clear();
  auto fail = [&](const std::string& why) {
    throw Error("failed to " + why + " (a batch of " + std::to_string(count) +
                                         " netlink requests in " + st.ns_name + ")");
  };

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) fail(std::string("send the requests: ") + std::strerror(errno));
  sent_ += count;

  const uint32_t first = window.front().seq;
  size_t outstanding = count;
  bool lost = false;  // the kernel dropped acks: the receive buffer overflowed
  std::vector<char> room(kRecvVec * kAckRoom);
  mmsghdr mm[kRecvVec];
  iovec iov[kRecvVec];
  // Bounded: every pass either reads at least one ack or waits (at most
  // kAckTimeoutMs in all) for one.
  int waited_ms = 0;
  while (outstanding > 0) {
    unsigned vlen = static_cast<unsigned>(std::min<size_t>(outstanding, kRecvVec));
    for (unsigned i = 0; i < vlen; ++i) {
      iov[i] = {room.data() + i * kAckRoom, kAckRoom};
      mm[i] = {};
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(fd, mm, vlen, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        lost = true;  // reported once; what is still queued is read on
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        fail(std::string("read the acks: ") + std::strerror(errno));
      }
      if (lost) break;  // nothing more will come for the dropped ones
      if (waited_ms >= kAckTimeoutMs) {
        fail("read the acks: " + std::to_string(outstanding) + " not received within " +
             std::to_string(kAckTimeoutMs / 1000) + " s");
      }
      pollfd p{fd, POLLIN, 0};
      int step = 100;
      if (poll(&p, 1, step) < 0 && errno != EINTR) {
        fail(std::string("wait for the acks: ") + std::strerror(errno));
      }
      waited_ms += step;
      continue;
    }
    for (int i = 0; i < got; ++i) {
      const char* data = room.data() + i * kAckRoom;
      size_t len = std::min<size_t>(mm[i].msg_len, kAckRoom);
      bool truncated = mm[i].msg_hdr.msg_flags & MSG_TRUNC;
      for (auto* h = reinterpret_cast<const nlmsghdr*>(data); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
          continue;  // not an ack: nothing else is asked for on this socket
        }
        uint32_t idx = h->nlmsg_seq - first;
        if (idx >= count || window[idx].acked) continue;  // not one of this window's
        Pending& p = window[idx];
        p.acked = true;
        --outstanding;
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        int err = -e->error;
        if (err == 0 || (is_not_found(err) && (p.accept & kAcceptNotFound)) ||
            (err == EEXIST && (p.accept & kAcceptExists))) {
          continue;
        }
        std::string ext;
        if (!truncated) {
          try {
            ext = ext_ack_message(e);
          } catch (...) {
            // The kernel's text is an addition to the message; the errno is what counts.
          }
        }
        failures_.push_back({std::move(p.what), err, std::move(ext)});
      }
    }
  }
  if (outstanding > 0) {
    // Never answered: their fate is unknown, which is a failure of each.
    for (Pending& p : window) {
      if (!p.acked) failures_.push_back({std::move(p.what), ENOBUFS, "its ack was dropped"});
    }
  }
}

void Batch::finish() {
  flush();
  if (failures_.empty()) return;
  std::vector<Failure> failed = std::move(failures_);
  failures_.clear();
  Socket::State& st = *sock_.s_;
  // Built now, with every ack read, so `what` may use the socket.
  auto name = [](const Failure& f) {
    try {
      return f.what();
    } catch (...) {
      return std::string("failed to apply a request");
    }
  };
  const Failure& first = failed.front();
  std::string msg = name(first) + " in " + st.ns_name + ": " + errno_reason(first.err, first.ext);
  if (failed.size() > 1) {
    constexpr size_t kNamed = 3;
    msg += "; " + std::to_string(failed.size() - 1) + " more of the batch's " +
           std::to_string(sent_) + " requests failed too: ";
    for (size_t i = 1; i < failed.size() && i <= kNamed; ++i) {
      msg += (i > 1 ? "; " : "") + name(failed[i]) + ": " + errno_reason(failed[i].err, failed[i].ext);
    }
    if (failed.size() - 1 > kNamed) msg += "; ...";
  }
  st.last_errno = first.err;
  st.ext_msg = first.ext;
  throw_classified(first.err, 0, msg);
}


// ---- dumps

namespace detail {
namespace {

// The receive buffer of a dump. The kernel sizes a dump's reads by the
// largest buffer a reader offered, up to 32 KiB; a single message may be
// larger (a link with many VFs), hence the room beyond that.
constexpr size_t kDumpBuf = 256 * 1024;
// How long a dump may wait for the kernel's next read before giving up.
constexpr int kDumpTimeoutMs = 30000;

// What ended a dump: its last message (NLMSG_DONE or NLMSG_ERROR).
struct DumpEnd {
  bool done = false;
  int err = 0;      // the kernel's errno, 0 when the dump completed
  std::string ext;  // its extended-ack text
};

// The error of an NLMSG_DONE whose payload carries one (a dump the kernel
// cut short), with the extended-ack attributes that follow it.
void read_done(const nlmsghdr* h, DumpEnd& end) {
  end.done = true;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int))) return;
  int e = *static_cast<const int*>(NLMSG_DATA(h));
  if (e >= 0) return;
  end.err = -e;
  if (h->nlmsg_flags & NLM_F_ACK_TLVS) end.ext = ext_ack_text(h, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int)));
}

}  // namespace

void dump(Socket& sock, int type, const void* header, size_t header_len,
          const std::function<int(nl_msg*)>& attrs,
          const std::function<void(const nlmsghdr*)>& parse, const std::function<void()>& restart,
          const std::function<std::string()>& what) {
  Socket::State& st = *sock.s_;
  if (!st.dump_buf) st.dump_buf.reset(new char[kDumpBuf]);
  char* buf = st.dump_buf.get();
  int fd = nl_socket_get_fd(st.sk);
  for (int attempt = 0;; ++attempt) {
    restart();
    MsgPtr msg = alloc_msg(type, NLM_F_DUMP);
    int rc = nlmsg_append(msg.get(), const_cast<void*>(header), header_len, NLMSG_ALIGNTO);
    if (rc == 0) rc = attrs(msg.get());
    if (rc < 0) throw Error(what() + ": cannot build the dump request");
    sock.clear_error();
    // Sent by hand, numbered from the batches' sequence (libnl would expect
    // to read the reply of a number it hands out itself).
    nlmsghdr* req = nlmsg_hdr(msg.get());
    req->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req->nlmsg_seq = st.batch_seq++;
    req->nlmsg_pid = 0;
    const uint32_t seq = req->nlmsg_seq;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do {
      sent = sendto(fd, req, req->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      throw Error(what() + " in " + st.ns_name + ": cannot send the dump request: " +
                  std::strerror(errno));
    }

    DumpEnd end;
    bool interrupted = false;
    std::exception_ptr error;
    int waited_ms = 0;
    // Bounded: every pass reads one datagram or waits, at most
    // kDumpTimeoutMs in all, for one; the kernel ends a dump with DONE or ERROR.
    while (!end.done) {
      iovec iov{buf, kDumpBuf};
      msghdr mh{};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          throw Error(what() + " in " + st.ns_name + ": cannot read the dump: " +
                      std::strerror(errno));
        }
        if (waited_ms >= kDumpTimeoutMs) {
          throw Error(what() + " in " + st.ns_name + ": the kernel sent no reply within " +
                      std::to_string(kDumpTimeoutMs / 1000) + " s");
        }
        pollfd p{fd, POLLIN, 0};
        constexpr int kStep = 100;
        if (poll(&p, 1, kStep) < 0 && errno != EINTR) {
          throw Error(what() + " in " + st.ns_name + ": cannot wait for the dump: " +
                      std::strerror(errno));
        }
        waited_ms += kStep;
        continue;
      }
      if (mh.msg_flags & MSG_TRUNC) {
        // The rest of this read is lost: the dump cannot be completed.
        throw Error(what() + " in " + st.ns_name + ": a reply of the dump is larger than " +
                    std::to_string(kDumpBuf) + " bytes");
      }
      size_t len = static_cast<size_t>(n);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len)) {
        // Another request's late reply (a dump given up above, an ack).
        if (h->nlmsg_seq != seq) continue;
        if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (h->nlmsg_type == NLMSG_DONE) {
          read_done(h, end);
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR) {
          end.done = true;
          if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
            const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
            end.err = -e->error;
            if (end.err) end.ext = ext_ack_message(e);
          }
          break;
        }
        if (h->nlmsg_type < NLMSG_MIN_TYPE || error) continue;  // NOOP, OVERRUN
        try {
          parse(h);
        } catch (...) {
          error = std::current_exception();  // thrown once the dump is read whole
        }
      }
    }
    if (error) std::rethrow_exception(error);
    if (end.err) {
      st.last_errno = end.err;
      st.ext_msg = std::move(end.ext);
      throw_nl(sock, -nl_syserr2nlerr(end.err), what);
    }
    if (!interrupted) return;
    if (attempt >= 3) throw_nl(sock, -NLE_DUMP_INTR, what);
  }
}

}  // namespace detail
}  // namespace nlw
