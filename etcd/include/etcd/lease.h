#pragma once
// Leases: a TTL that keys can be attached to; when it runs out, etcd deletes
// them.

#include <cstdint>
#include <string>
#include <vector>

namespace etcd {

// `ttl` is what the server granted (it may raise a TTL below its minimum).
struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl = 0;
  int64_t revision = 0;
};

// The answer to one keepalive: the TTL the lease has again, or expired.
struct LeaseKeepAlive {
  int64_t id = 0;
  int64_t ttl = 0;  // 0 when the lease no longer exists
  bool expired() const { return ttl <= 0; }
};

struct LeaseTimeToLive {
  int64_t id = 0;
  int64_t ttl = 0;  // seconds left; -1 when the lease no longer exists
  int64_t granted_ttl = 0;
  std::vector<std::string> keys;  // only when asked for
  bool expired() const { return ttl < 0; }
};

}  // namespace etcd
