#include "etcd/watch.h"

#include <curl/curl.h>

#include <chrono>

#include "etcd/error.h"
#include "etcd/wire.h"
#include "transport.h"

namespace etcd {

// The write callback's view of one stream (a friend of Watcher).
struct WatchSink {
  Watcher* watcher;
  CURL* handle;
  bool* created;
  std::string* error;

  static size_t write(char* data, size_t size, size_t nmemb, void* user) {
    auto* sink = static_cast<WatchSink*>(user);
    long status = 0;
    curl_easy_getinfo(sink->handle, CURLINFO_RESPONSE_CODE, &status);
    size_t n = size * nmemb;
    return sink->watcher->take(data, n, status, sink->created, sink->error) ? n : 0;
  }
};

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

Watcher::Watcher(ClientConfig config, WatchRequest request, Callback on_update)
    : config_(std::move(config)),
      request_(std::move(request)),
      callback_(std::move(on_update)),
      next_revision_(request_.start_revision) {
  validate(config_);
  ensure_curl_initialized();
  multi_ = curl_multi_init();
  if (!multi_) throw Error(Cause::kConfig, "watch", "", "curl_multi_init failed");
  thread_ = std::thread([this] { run(); });
}

Watcher::~Watcher() {
  stop();
  if (thread_.joinable()) thread_.join();  // stop() from the callback left it
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void Watcher::stop() {
  stop_ = true;
  finished_ = true;
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Watcher::deliver(const WatchUpdate& update) {
  if (stop_) return;
  try {
    callback_(update);
  } catch (...) {
    // The caller broke its own contract; stopping is the only safe answer.
    stop_ = true;
    finished_ = true;
  }
}

void Watcher::run() {
  Backoff backoff(config_.backoff);
  size_t ep = 0;
  while (!stop_ && !finished_) {
    bool created = false;
    std::string why = stream(config_.endpoints[ep], &created);
    if (stop_ || finished_) break;
    if (created) backoff.reset();
    deliver({.kind = WatchUpdate::Kind::kDisconnected,
             .revision = next_revision_.load(),
             .error = "watch on " + config_.endpoints[ep] + " broke: " + why});
    ep = (ep + 1) % config_.endpoints.size();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff.next(), [this] { return stop_.load(); });
  }
}

std::string Watcher::stream(const std::string& endpoint, bool* created) {
  WatchRequest req = request_;
  req.start_revision = next_revision_.load();
  const std::string body = wire::encode(req).dump();
  const std::string url = endpoint + "/v3/watch";
  std::string error;
  line_.clear();

  CURL* h = curl_easy_init();
  if (!h) return "curl_easy_init failed";
  WatchSink sink{this, h, created, &error};
  char errbuf[CURL_ERROR_SIZE] = "";
  HeaderList headers = prepare_post(h, config_, url, body, WatchSink::write, &sink, errbuf);

  auto* multi = static_cast<CURLM*>(multi_);
  curl_multi_add_handle(multi, h);
  const auto create_deadline = Clock::now() + config_.request_timeout;
  bool done = false;
  CURLcode result = CURLE_OK;
  // Bounded by stop() (which wakes the poll), the create deadline, and the
  // transfer's own end; each poll waits at most a second.
  while (!stop_ && !finished_ && !done && error.empty()) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
      if (m->msg == CURLMSG_DONE) {
        done = true;
        result = m->data.result;
      }
    }
    if (done || stop_ || finished_ || !error.empty()) break;
    if (!*created && Clock::now() > create_deadline) {
      error = "no watch created within " + std::to_string(config_.request_timeout.count()) + " ms";
      break;
    }
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(multi, h);
  curl_easy_cleanup(h);

  if (stop_ || finished_) return "";
  if (!error.empty()) return error;
  if (result != CURLE_OK) return errbuf[0] ? errbuf : curl_easy_strerror(result);
  if (status != 200) return "HTTP " + std::to_string(status) + ": " + line_.substr(0, 200);
  return "the server ended the stream";
}

bool Watcher::take(const char* data, size_t n, long http_status, bool* created,
                   std::string* error) {
  if (stop_ || finished_) return false;
  if (line_.size() + n > config_.max_response_bytes) {
    *error = "a watch answer exceeds max_response_bytes";
    return false;
  }
  line_.append(data, n);
  if (http_status != 200) return true;  // an error body: kept for the message
  size_t start = 0;
  for (size_t nl; (nl = line_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = line_.substr(start, nl - start);
    if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
    if (!handle_line(line, created, error)) {
      line_.erase(0, nl + 1);
      return false;
    }
  }
  line_.erase(0, start);
  return true;
}

bool Watcher::handle_line(const std::string& line, bool* created, std::string* error) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    *error = "a watch answer is not JSON: " + line.substr(0, 200);
    return false;
  }
  WatchResponse w;
  try {
    w = wire::decode_watch(j);
  } catch (const Error& e) {
    *error = e.what();
    return false;
  }
  using Kind = WatchUpdate::Kind;
  if (w.canceled) {
    finished_ = true;
    if (w.compact_revision > 0)
      deliver({.kind = Kind::kCompacted,
               .revision = w.revision,
               .compact_revision = w.compact_revision});
    else
      deliver({.kind = Kind::kCanceled,
               .revision = w.revision,
               .error = w.cancel_reason.empty() ? "canceled by the server" : w.cancel_reason});
    return false;
  }
  if (w.created) {
    *created = true;
    // From "now": nothing up to the creation's revision will come.
    if (next_revision_.load() == 0) next_revision_ = w.revision + 1;
    deliver({.kind = Kind::kCreated, .revision = w.revision});
    if (w.events.empty()) return !finished_;
  }
  if (!w.events.empty()) {
    next_revision_ = w.events.back().kv.mod_revision + 1;
    deliver({.kind = Kind::kEvents, .revision = w.revision, .events = std::move(w.events)});
  } else if (!w.created) {
    if (w.revision + 1 > next_revision_.load()) next_revision_ = w.revision + 1;
    deliver({.kind = Kind::kProgress, .revision = w.revision});
  }
  return !finished_;
}

}  // namespace etcd
