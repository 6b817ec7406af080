#pragma once
// A watch on a key or prefix: one long POST /v3/watch whose answer is a
// stream of newline-separated {"result": ...} objects, read on a thread of
// its own and handed to a callback.
//
// Semantics and limits:
// - Events come in revision order, each revision whole. After a broken
//   stream (server restart, connection reset, an endpoint going away) the
//   watcher reports kDisconnected, sleeps per the config's BackoffPolicy
//   (no round limit: it keeps trying until stopped), and opens a new stream
//   on the next endpoint from next_revision(), so no event is lost or repeated.
// - If that revision was compacted meanwhile, the server cancels the watch:
//   kCompacted with the compact revision, and the watcher stops. The caller
//   must re-list (Client::list_prefix) and start a new Watcher at the list's
//   revision + 1.
// - A stream must be created within request_timeout of its start, or it is
//   treated as broken. An established stream may be silent for any time; a
//   peer that vanished without closing it is noticed by TCP keepalive (idle
//   10 s, then probes every 5 s: about a minute). Ask for progress_notify to
//   learn the revision while idle (etcd 3.4 sends it every 10 minutes).
// - stop() returns promptly: the transfer loop waits on a curl multi handle
//   that stop() wakes up, and the backoff sleep on a condition variable it
//   signals. It waits only for a callback already running to return.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "etcd/config.h"
#include "etcd/watch_types.h"

namespace etcd {

class Watcher {
 public:
  // Called on the watcher's thread, one update at a time. It must not throw
  // (if it does, the watcher stops) and may call stop() on its own watcher.
  using Callback = std::function<void(const WatchUpdate&)>;

  // Starts watching at once. Throws Error(kConfig) if the config is unusable.
  Watcher(ClientConfig config, WatchRequest request, Callback on_update);
  // Stops and joins the thread.
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Ends the stream and joins the thread (unless called from the callback:
  // then the thread ends after it returns). Idempotent.
  void stop();
  // True once stop() was called, or the watch was compacted or canceled.
  bool finished() const { return finished_.load(); }
  // The revision a reconnect would resume from: the last delivered revision + 1.
  int64_t next_revision() const { return next_revision_.load(); }

 private:
  void run();
  // One stream on one endpoint; returns why it ended ("" when stopped or finished).
  std::string stream(const std::string& endpoint, bool* created);
  // Takes bytes of the stream; false aborts the transfer.
  bool take(const char* data, size_t n, long http_status, bool* created, std::string* error);
  bool handle_line(const std::string& line, bool* created, std::string* error);
  void deliver(const WatchUpdate& update);

  ClientConfig config_;
  WatchRequest request_;
  Callback callback_;
  void* multi_ = nullptr;  // CURLM*, woken by stop()
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<int64_t> next_revision_;
  std::string line_;  // the incomplete last line of the stream
  std::mutex mu_;
  std::condition_variable cv_;  // wakes the backoff sleep
  std::thread thread_;
  friend struct WatchSink;
};

}  // namespace etcd
