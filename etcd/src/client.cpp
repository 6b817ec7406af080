#include "etcd/client.h"

#include "etcd/wire.h"
#include "transport.h"

namespace etcd {
namespace {

// Runs a decoder on the gateway's answer, naming the call and the endpoint
// when the answer does not decode or is a stream error.
template <typename Decode>
auto decode(const std::string& op, const Reply& reply, Decode decoder) {
  try {
    return decoder(reply.body);
  } catch (const Error& e) {
    throw Error(e.cause(), op, reply.endpoint, e.reason(), e.http_status(), e.grpc_code());
  }
}

// Keys are bytes; error messages show them as text with a length cap.
std::string shown(const std::string& key) {
  return key.size() > 100 ? key.substr(0, 100) + "..." : key;
}

}  // namespace

Client::Client(ClientConfig config) : transport_(std::make_unique<Transport>(std::move(config))) {}

Client::~Client() = default;

const ClientConfig& Client::config() const { return transport_->config(); }

RangeResult Client::range(const RangeRequest& request) {
  std::string op = "range " + shown(request.key);
  Reply r = transport_->post(op, "/v3/kv/range", wire::encode(request), Retry::kAlways);
  return decode(op, r, wire::decode_range);
}

std::optional<KeyValue> Client::get(const std::string& key) {
  RangeResult r = range(RangeRequest::single(key));
  if (r.kvs.empty()) return std::nullopt;
  return std::move(r.kvs.front());
}

RangeResult Client::list_prefix(const std::string& prefix, int64_t page_size) {
  RangeRequest page = RangeRequest::prefix(prefix);
  page.limit = page_size;
  RangeResult all = range(page);
  page.revision = all.revision;  // every page from the same snapshot
  // Each page strictly advances the start key, so this ends after at most
  // count / page_size pages.
  for (RangeResult last = all; last.more && !last.kvs.empty();) {
    page.key = last.kvs.back().key + std::string(1, '\0');
    last = range(page);
    all.kvs.insert(all.kvs.end(), last.kvs.begin(), last.kvs.end());
  }
  all.more = false;
  return all;
}

PutResult Client::put(const PutRequest& request) {
  std::string op = "put " + shown(request.key);
  Reply r = transport_->post(op, "/v3/kv/put", wire::encode(request), Retry::kAlways);
  return decode(op, r, wire::decode_put);
}

DeleteResult Client::remove(const DeleteRequest& request) {
  std::string op = "delete " + shown(request.key);
  Reply r = transport_->post(op, "/v3/kv/deleterange", wire::encode(request), Retry::kAlways);
  return decode(op, r, wire::decode_delete);
}

TxnResult Client::txn(const TxnRequest& request) {
  std::string op = "txn";
  if (!request.compare.empty()) op += " on " + shown(request.compare.front().key);
  Reply r = transport_->post(op, "/v3/kv/txn", wire::encode(request), Retry::kIfNotSent);
  return decode(op, r, wire::decode_txn);
}

int64_t Client::compact(int64_t revision) {
  std::string op = "compact to revision " + std::to_string(revision);
  Reply r = transport_->post(op, "/v3/kv/compaction", {{"revision", std::to_string(revision)}},
                             Retry::kAlways);
  return decode(op, r, wire::header_revision);
}

LeaseGrant Client::lease_grant(int64_t ttl_seconds) {
  std::string op = "lease grant (TTL " + std::to_string(ttl_seconds) + " s)";
  Reply r = transport_->post(op, "/v3/lease/grant", {{"TTL", std::to_string(ttl_seconds)}},
                             Retry::kAlways);
  return decode(op, r, wire::decode_lease_grant);
}

LeaseKeepAlive Client::lease_keepalive(int64_t id) {
  std::string op = "lease keepalive " + std::to_string(id);
  Reply r =
      transport_->post(op, "/v3/lease/keepalive", {{"ID", std::to_string(id)}}, Retry::kAlways);
  LeaseKeepAlive k = decode(op, r, wire::decode_lease_keepalive);
  k.id = id;  // an expired lease's answer may omit it
  return k;
}

void Client::lease_revoke(int64_t id) {
  std::string op = "lease revoke " + std::to_string(id);
  try {
    transport_->post(op, "/v3/lease/revoke", {{"ID", std::to_string(id)}}, Retry::kAlways);
  } catch (const Error& e) {
    // A repeated revoke (after a lost answer) finds the lease gone: the goal holds.
    if (e.cause() != Cause::kRejected || e.grpc_code() != kGrpcNotFound) throw;
  }
}

LeaseTimeToLive Client::lease_timetolive(int64_t id, bool with_keys) {
  std::string op = "lease timetolive " + std::to_string(id);
  nlohmann::json body = {{"ID", std::to_string(id)}};
  if (with_keys) body["keys"] = true;
  Reply r = transport_->post(op, "/v3/lease/timetolive", body, Retry::kAlways);
  return decode(op, r, wire::decode_lease_timetolive);
}

}  // namespace etcd
