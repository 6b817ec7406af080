#include "etcd/error.h"

namespace etcd {
namespace {

std::string describe(const std::string& op, const std::string& endpoint, const std::string& reason,
                     long http_status, int grpc_code) {
  std::string s = "etcd " + op;
  if (!endpoint.empty()) s += " on " + endpoint;
  s += " failed: " + reason;
  if (http_status > 0 || grpc_code >= 0) {
    s += " (";
    if (http_status > 0) s += "HTTP " + std::to_string(http_status);
    if (http_status > 0 && grpc_code >= 0) s += ", ";
    if (grpc_code >= 0) s += "gRPC code " + std::to_string(grpc_code);
    s += ")";
  }
  return s;
}

}  // namespace

Error::Error(Cause cause, std::string op, std::string endpoint, std::string reason,
             long http_status, int grpc_code)
    : std::runtime_error(describe(op, endpoint, reason, http_status, grpc_code)),
      cause_(cause),
      op_(std::move(op)),
      endpoint_(std::move(endpoint)),
      reason_(std::move(reason)),
      http_status_(http_status),
      grpc_code_(grpc_code) {}

}  // namespace etcd
