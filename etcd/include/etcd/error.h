#pragma once
// The one exception type of the etcd client.

#include <stdexcept>
#include <string>

namespace etcd {

// Why a call failed, as far as the caller must act on it.
enum class Cause {
  // No endpoint could be reached (connect refused, timeout, TLS handshake,
  // 5xx) within the call's attempts and deadline. A read can simply be retried.
  kUnavailable,
  // A request that is not safe to repeat (a txn) reached a server, but no
  // answer came back: it may or may not have been applied. Read back to know.
  kIndeterminate,
  // The server answered with an error (bad request, lease not found,
  // revision compacted, ...): repeating the same request will not help.
  kRejected,
  // The answer was not what etcd's gateway sends (not JSON, wrong types).
  kMalformed,
  // The client's own configuration is unusable (bad endpoint URL, ...).
  kConfig,
};

// What failed (the operation, e.g. "range /knet/network/config"), on which
// endpoint(s), and why: the transport error or the gateway's HTTP status,
// gRPC code and message. what() holds all of it in one sentence.
class Error : public std::runtime_error {
 public:
  Error(Cause cause, std::string op, std::string endpoint, std::string reason, long http_status = 0,
        int grpc_code = -1);

  Cause cause() const { return cause_; }
  const std::string& op() const { return op_; }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& reason() const { return reason_; }
  // The HTTP status of the gateway's answer; 0 if none came.
  long http_status() const { return http_status_; }
  // The gRPC status code from the gateway's error body; -1 if none.
  int grpc_code() const { return grpc_code_; }

 private:
  Cause cause_;
  std::string op_;
  std::string endpoint_;
  std::string reason_;
  long http_status_;
  int grpc_code_;
};

// gRPC status codes the caller may test grpc_code() against.
inline constexpr int kGrpcNotFound = 5;
inline constexpr int kGrpcFailedPrecondition = 9;
inline constexpr int kGrpcOutOfRange = 11;  // revision compacted / in the future
inline constexpr int kGrpcUnavailable = 14;

}  // namespace etcd
