#include "node/healthz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <base/error.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace knet::node {
namespace {

constexpr size_t kMaxRequestBytes = 8192;

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away: nothing to do
    off += static_cast<size_t>(n);
  }
}

}  // namespace

ListenAddress parse_listen_address(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) throw knet::Error("expected HOST:PORT");
  std::string host = addr.substr(0, colon), port = addr.substr(colon + 1);
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
    throw knet::Error("port \"" + port + "\" is not 1 ... 65535");
  }
  ListenAddress out;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out.sa);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(p));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &sa->sin6_addr) == 1) {
      out.len = sizeof(sockaddr_in6);
      return out;
    }
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&out.sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(p));
    if (inet_pton(AF_INET, host.c_str(), &sa->sin_addr) == 1) {
      out.len = sizeof(sockaddr_in);
      return out;
    }
  }
  throw knet::Error("host \"" + host + "\" is not an IP address");
}

HealthServer::HealthServer(const std::string& addr, Handler handler) : handler_(std::move(handler)) {
  ListenAddress la = parse_listen_address(addr);
  listen_.reset(::socket(la.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_) throw knet::Error("cannot serve health on " + addr + ": socket: " + std::strerror(errno), {}, errno);
  int on = 1;
  setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&la.sa), la.len) != 0 ||
      ::listen(listen_.get(), 16) != 0) {
    int err = errno;
    throw knet::Error("cannot serve health on " + addr + ": " + std::strerror(err), {}, err);
  }
  wake_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!wake_) throw knet::Error("cannot serve health on " + addr + ": eventfd: " + std::strerror(errno), {}, errno);
  thread_ = std::thread([this] { serve(); });
}

HealthServer::~HealthServer() {
  uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) {
    // Cannot happen with a valid eventfd; the join below would hang otherwise.
    std::terminate();
  }
  thread_.join();
}

void HealthServer::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    knet::Fd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn) answer(conn.get());
  }
}

void HealthServer::answer(int conn) {
  // A slow or silent client costs this thread at most a second.
  timeval tv{1, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req;
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos && req.find("\n\n") == std::string::npos &&
         req.size() < kMaxRequestBytes) {
    ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    req.append(buf, static_cast<size_t>(n));
  }
  HttpResponse r;
  size_t sp1 = req.find(' '), sp2 = sp1 == std::string::npos ? sp1 : req.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) {
    r = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else if (req.compare(0, sp1, "GET") != 0) {
    r = {405, "text/plain; charset=utf-8", "only GET\n"};
  } else {
    std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    r = handler_(path);
  }
  send_all(conn, "HTTP/1.0 " + std::to_string(r.status) + " " + reason(r.status) +
                     "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " +
                     std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body);
}

}  // namespace knet::node
