#pragma once
// A tiny HTTP/1.0 server for /healthz and /metrics: one thread, one request
// per connection, answered and closed. Enough for a kubelet probe or a
// Prometheus scrape; not a general web server.

#include <base/fd.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace knet::node {

// A socket address to listen on.
struct ListenAddress {
  sockaddr_storage sa{};
  socklen_t len = 0;
};

// "HOST:PORT" (an IPv4 host, or [IPv6]:PORT) as a socket address. Throws
// knet::Error saying what is wrong with it.
ListenAddress parse_listen_address(const std::string& addr);

// An HTTP answer: status code, content type and body.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HealthServer {
 public:
  // Answers a GET for a path; called on the server's thread.
  using Handler = std::function<HttpResponse(const std::string& path)>;

  // Binds and listens on `addr` at once (throws knet::Error naming the
  // address and the errno when it cannot), then serves on a thread of its own.
  HealthServer(const std::string& addr, Handler handler);
  // Stops serving and joins the thread.
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

 private:
  void serve();
  void answer(int conn);

  Handler handler_;
  knet::Fd listen_;
  knet::Fd wake_;  // an eventfd: written to stop the thread
  std::thread thread_;
};

}  // namespace knet::node
