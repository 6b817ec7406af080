#include "nlw/socket.h"

#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <cerrno>
#include <cstring>

#include "nlw/error.h"
#include "nlw/netns.h"

namespace nlw {

struct Socket::State {
  nl_sock* sk = nullptr;
  std::string ns_name;
  int last_errno = 0;
  std::string ext_msg;  // the kernel's extended-ack text, e.g. "Nexthop has invalid gateway"
  ~State() {
    if (sk) nl_socket_free(sk);  // also closes the fd
  }
};

namespace {

// Extended acks carry a human-readable reason after the echoed request; the
// echo is only the header when the kernel capped it.
std::string ext_ack_message(const nlmsgerr* e) {
  const auto* hdr =
      reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(e) - NLMSG_HDRLEN);
  if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  size_t off = sizeof(nlmsgerr);
  if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  off = NLMSG_ALIGN(NLMSG_HDRLEN + off);
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

std::string Socket::reason(int nl_err) const {
  if (s_->last_errno == 0) return nl_geterror(nl_err);
  std::string r = std::strerror(s_->last_errno);
  if (!s_->ext_msg.empty()) r += " (" + s_->ext_msg + ")";
  return r;
}

int Socket::send_and_ack(nl_msg* msg) {
  int rc = nl_send_auto(s_->sk, msg);
  if (rc < 0) return rc;
  return nl_wait_for_ack(s_->sk);
}

namespace {

[[noreturn]] void throw_classified(int e, int nl_err, const std::string& msg) {
  if (e == ENODEV || e == ENOENT || e == ESRCH || e == EADDRNOTAVAIL ||
      (e == 0 && (nl_err == -NLE_OBJ_NOTFOUND || nl_err == -NLE_NODEV))) {
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

}  // namespace nlw
