#include "transport.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "etcd/backoff.h"
#include "etcd/error.h"

namespace etcd {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What one HTTP exchange with one endpoint gave.
struct Attempt {
  CURLcode code = CURLE_OK;
  long status = 0;
  bool sent = false;  // the request left: the server may have acted on it
  bool too_large = false;
  std::string body;
  std::string curl_error;
};

struct Sink {
  std::string* body;
  size_t cap;
  bool* too_large;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * nmemb;
  if (sink->body->size() + n > sink->cap) {
    *sink->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

Attempt exchange(CURL* h, const ClientConfig& config, const std::string& url,
                 const std::string& payload, milliseconds timeout) {
  Attempt a;
  char errbuf[CURL_ERROR_SIZE] = "";
  Sink sink{&a.body, config.max_response_bytes, &a.too_large};
  HeaderList headers = prepare_post(h, config, url, payload, on_body, &sink, errbuf);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, timeout.count())));
  a.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
  long request_size = 0;
  curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
  a.sent = request_size > 0;
  a.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(a.code);
  if (a.too_large)
    a.curl_error =
        "the answer exceeds max_response_bytes (" + std::to_string(config.max_response_bytes) + ")";
  // The handle goes back to the pool: nothing of this call may stay on it.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  return a;
}

// The gateway's error body: {"error": "...", "message": "...", "code": N}.
void read_error_body(const std::string& body, std::string* message, int* grpc_code) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto it = j.find("message"); it != j.end() && it->is_string()) *message = *it;
    if (message->empty())
      if (auto it = j.find("error"); it != j.end() && it->is_string()) *message = *it;
    if (auto it = j.find("code"); it != j.end() && it->is_number_integer()) *grpc_code = *it;
  }
  if (message->empty()) *message = body.substr(0, 200);
}

}  // namespace

void ensure_curl_initialized() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    throw Error(Cause::kConfig, "libcurl initialization", "", curl_easy_strerror(rc));
}

HeaderList prepare_post(CURL* h, const ClientConfig& config, const std::string& url,
                        const std::string& body, curl_write_callback write, void* sink,
                        char* errbuf) {
  HeaderList headers(curl_slist_append(nullptr, "Content-Type: application/json"),
                     curl_slist_free_all);
  // No "Expect: 100-continue" for bodies over 1 KiB: it costs a round trip.
  curl_slist_append(headers.get(), "Expect:");
  // Signals for DNS timeouts are not thread-safe; the threaded resolver needs none.
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout.count()));
  // A peer that vanished without a FIN is noticed on idle connections too.
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
  if (!config.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config.ca_file.c_str());
  if (!config.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, config.cert_file.c_str());
  if (!config.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, config.key_file.c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  return headers;
}

Transport::Transport(ClientConfig config) : config_(std::move(config)) {
  validate(config_);
  ensure_curl_initialized();
}

Transport::~Transport() {
  for (CURL* h : pool_) curl_easy_cleanup(h);
}

CURL* Transport::acquire() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      CURL* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  CURL* h = curl_easy_init();
  if (!h) throw Error(Cause::kConfig, "libcurl", "", "curl_easy_init failed (out of memory?)");
  return h;
}

void Transport::release(CURL* h) {
  std::lock_guard lock(pool_mu_);
  pool_.push_back(h);
}

Reply Transport::post(const std::string& op, std::string_view path, const nlohmann::json& body,
                      Retry retry) {
  const std::string payload = body.dump();
  const size_t n = config_.endpoints.size();
  const auto deadline = Clock::now() + config_.call_deadline;
  Backoff backoff(config_.backoff);
  std::vector<std::string> last_failure(n);
  const size_t first = preferred_.load() % n;

  CURL* h = acquire();
  struct Releaser {
    Transport* t;
    CURL* h;
    ~Releaser() { t->release(h); }
  } releaser{this, h};

  bool out_of_time = false;
  for (unsigned round = 0; round < config_.max_rounds && !out_of_time; ++round) {
    if (round > 0) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      std::this_thread::sleep_for(std::min(backoff.next(), std::max(left, milliseconds(0))));
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t idx = (first + i) % n;
      const std::string& ep = config_.endpoints[idx];
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        out_of_time = true;
        break;
      }
      Attempt a = exchange(h, config_, ep + std::string(path), payload,
                           std::min(config_.request_timeout, left));
      if (a.code == CURLE_OK && a.status >= 200 && a.status < 300) {
        auto j = nlohmann::json::parse(a.body, nullptr, false);
        if (j.is_discarded())
          throw Error(Cause::kMalformed, op, ep, "the answer is not JSON: " + a.body.substr(0, 200),
                      a.status);
        preferred_ = idx;
        return {std::move(j), ep};
      }
      if (a.code == CURLE_OK) {
        std::string message;
        int grpc_code = -1;
        read_error_body(a.body, &message, &grpc_code);
        if (a.status < 500) throw Error(Cause::kRejected, op, ep, message, a.status, grpc_code);
        // 5xx: the server is there but cannot serve (no leader, timed out);
        // a write may have been applied all the same.
        if (retry == Retry::kIfNotSent)
          throw Error(Cause::kIndeterminate, op, ep, message + "; it may have been applied",
                      a.status, grpc_code);
        last_failure[idx] = "HTTP " + std::to_string(a.status) + ": " + message;
        continue;
      }
      if (a.too_large) throw Error(Cause::kRejected, op, ep, a.curl_error, a.status);
      if (a.sent && retry == Retry::kIfNotSent)
        throw Error(Cause::kIndeterminate, op, ep,
                    a.curl_error + " after the request was sent; it may have been applied");
      last_failure[idx] = a.curl_error;
    }
  }
  std::string why;
  for (size_t i = 0; i < n; ++i) {
    if (last_failure[i].empty()) continue;
    why += (why.empty() ? "" : "; ") + config_.endpoints[i] + ": " + last_failure[i];
  }
  if (out_of_time)
    why += (why.empty() ? "" : "; ") + std::string("call deadline of ") +
           std::to_string(config_.call_deadline.count()) + " ms passed";
  throw Error(Cause::kUnavailable, op, join_endpoints(config_.endpoints),
              "no endpoint answered (" + why + ")");
}

}  // namespace etcd
