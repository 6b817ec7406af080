#pragma once
// How a client reaches etcd: endpoints, TLS files, timeouts and retry bounds.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "etcd/backoff.h"

namespace etcd {

// Every bound here is per call: a call never takes longer than
// `call_deadline` (plus at most one request_timeout already under way).
struct ClientConfig {
  // "http://host:port" or "https://host:port", tried in order (starting with
  // the last one that answered); at least one.
  std::vector<std::string> endpoints;
  // PEM files for https:// endpoints. Empty ca_file: the system's CA store.
  // cert_file and key_file come together (client certificate auth).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // One HTTP request to one endpoint, connect included.
  std::chrono::milliseconds request_timeout{5000};
  // The TCP (and TLS) connect to one endpoint.
  std::chrono::milliseconds connect_timeout{1000};
  // Full rounds over all endpoints before a call gives up.
  unsigned max_rounds = 3;
  // The whole call, backoff sleeps included.
  std::chrono::milliseconds call_deadline{15000};
  // Sleeps between rounds (and between watch reconnects).
  BackoffPolicy backoff;
  // A larger answer is refused rather than held in memory (page a big
  // prefix with RangeRequest::limit instead).
  std::size_t max_response_bytes = 64u << 20;
};

// Throws Error(kConfig) naming the first unusable setting: no endpoint, an
// endpoint that is not http(s)://host[:port], a cert without a key or the
// reverse, TLS files that cannot be read, zero timeouts or rounds.
void validate(const ClientConfig& config);

// "a,b,c" for error messages.
std::string join_endpoints(const std::vector<std::string>& endpoints);

}  // namespace etcd
