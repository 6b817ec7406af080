#pragma once
// An etcd v3 client over the JSON gateway (/v3/...), the store knet-node is
// built on.
//
// Fail-over: a call tries the endpoint that answered last, then the others in
// order; an endpoint that refuses the connection, times out (connect_timeout,
// request_timeout), fails TLS or answers 5xx is skipped. After a full round
// without an answer the call sleeps (BackoffPolicy: capped exponential with
// jitter) and goes round again, at most max_rounds rounds and never past
// call_deadline; then it throws Error(kUnavailable) listing why each endpoint
// failed. An error the server answers (4xx: bad request, lease not found,
// revision compacted) is thrown at once as Error(kRejected).
//
// Real limits:
// - A txn is sent again only when it surely never left (the connect failed).
//   If the connection breaks or a 5xx comes after it was sent, the call throws
//   Error(kIndeterminate): it may have been applied; read back to know. Other
//   calls are repeated: put, delete, grant and compact are harmless twice
//   (a repeated grant leaves a spare lease that expires with its TTL).
// - On a partition, the endpoints on the minority side answer reads of the
//   last state they know only if serializable; this client does linearizable
//   reads (etcd's default), which a minority member cannot serve: they time
//   out (or 5xx "no leader") and the call moves on to the next endpoint. If
//   no endpoint is on the majority side, every call fails after its deadline.
// - The gateway builds each answer as one JSON document in memory (values
//   base64, a third larger), and so does this client: answers larger than
//   max_response_bytes are refused. Page a big prefix with a limit, reading
//   each page at the first page's revision. etcd itself refuses requests over
//   --max-request-bytes (1.5 MiB by default).
// - Each call is one HTTP/1.1 request; idle connections are kept per handle
//   and reused, so steady state costs no new TCP/TLS handshakes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "etcd/config.h"
#include "etcd/error.h"
#include "etcd/kv.h"
#include "etcd/lease.h"

namespace etcd {

class Transport;

// Thread-safe: any number of threads may call one Client at once.
class Client {
 public:
  // Throws Error(kConfig) if the config is unusable; connects lazily.
  explicit Client(ClientConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Reads one key or a range.
  RangeResult range(const RangeRequest& request);
  // The key's current value and metadata, or nullopt if it does not exist.
  std::optional<KeyValue> get(const std::string& key);
  // Every key under `prefix` at one revision, read in pages of `page_size`.
  RangeResult list_prefix(const std::string& prefix, int64_t page_size = 1000);
  // Writes a key (attached to `lease` when non-zero).
  PutResult put(const PutRequest& request);
  // Deletes one key or a range; `deleted` counts what was there.
  DeleteResult remove(const DeleteRequest& request);
  // An atomic If(compares) Then(success) Else(failure).
  TxnResult txn(const TxnRequest& request);
  // Compacts the history before `revision` (watches from older revisions then
  // report kCompacted). Returns the header revision.
  int64_t compact(int64_t revision);

  // A new lease of `ttl_seconds`.
  LeaseGrant lease_grant(int64_t ttl_seconds);
  // Renews the lease once; expired() if it is already gone.
  LeaseKeepAlive lease_keepalive(int64_t id);
  // Ends the lease and deletes its keys; a lease already gone is no error.
  void lease_revoke(int64_t id);
  // The lease's remaining TTL (expired() if gone), with its keys if asked.
  LeaseTimeToLive lease_timetolive(int64_t id, bool with_keys = false);

  const ClientConfig& config() const;

 private:
  std::unique_ptr<Transport> transport_;
};

}  // namespace etcd
