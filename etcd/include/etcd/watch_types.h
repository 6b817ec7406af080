#pragma once
// What a watch asks for and what it delivers.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "etcd/kv.h"

namespace etcd {

// Watches one key (range_end empty) or [key, range_end) from start_revision
// (0: from now on; else every change since that revision, if not compacted).
struct WatchRequest {
  std::string key;
  std::string range_end;
  int64_t start_revision = 0;
  bool prev_kv = false;          // events carry the key as it was before
  bool progress_notify = false;  // the server sends empty progress answers when idle

  static WatchRequest prefix(std::string prefix, int64_t start_revision = 0);
};

// One change. A delete's kv holds the key and the deleting mod_revision only.
struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;
  std::optional<KeyValue> prev_kv;
};

// One answer of the stream as the gateway sends it.
struct WatchResponse {
  int64_t revision = 0;  // the header's: the store's revision when sent
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // > 0: the start revision was compacted away
  std::string cancel_reason;
  std::vector<Event> events;
};

// What a Watcher tells its callback.
struct WatchUpdate {
  enum class Kind {
    kCreated,       // the stream is established (again); events follow
    kEvents,        // `events`, in revision order
    kProgress,      // nothing changed up to `revision`
    kCompacted,     // `compact_revision`: history before it is gone. The
                    // watcher has stopped; re-list and watch anew.
    kCanceled,      // the server ended the watch (`error`); the watcher has stopped
    kDisconnected,  // the stream broke (`error`); the watcher reconnects by itself
  };
  Kind kind = Kind::kEvents;
  int64_t revision = 0;
  std::vector<Event> events;
  int64_t compact_revision = 0;
  std::string error;
};

}  // namespace etcd
