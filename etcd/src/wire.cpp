#include "etcd/wire.h"

#include <charconv>

#include "etcd/base64.h"
#include "etcd/error.h"

namespace etcd::wire {
namespace {

using nlohmann::json;

[[noreturn]] void malformed(const std::string& why) {
  throw Error(Cause::kMalformed, "decode", "", why);
}

// int64s go out as strings, as protobuf's JSON mapping writes them.
std::string i64(int64_t v) { return std::to_string(v); }

const json& object_or_empty(const json& j, const char* field) {
  static const json empty = json::object();
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return empty;
  if (!it->is_object()) malformed(std::string("\"") + field + "\" is not an object");
  return *it;
}

const json& array_or_empty(const json& j, const char* field) {
  static const json empty = json::array();
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return empty;
  if (!it->is_array()) malformed(std::string("\"") + field + "\" is not an array");
  return *it;
}

bool get_bool(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) malformed(std::string("\"") + field + "\" is not a boolean");
  return it->get<bool>();
}

std::string get_string(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) malformed(std::string("\"") + field + "\" is not a string");
  return it->get<std::string>();
}

void require_object(const json& j, const char* what) {
  if (!j.is_object()) malformed(std::string(what) + " is not a JSON object");
}

// Indexed by the enums' values, which follow etcd's protobuf order.
constexpr const char* kTargetNames[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
constexpr const char* kOpNames[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};

json encode_op(const TxnOp& op) {
  struct {
    json operator()(const RangeRequest& r) const { return {{"request_range", encode(r)}}; }
    json operator()(const PutRequest& r) const { return {{"request_put", encode(r)}}; }
    json operator()(const DeleteRequest& r) const { return {{"request_delete_range", encode(r)}}; }
  } visitor;
  return std::visit(visitor, op);
}

TxnOpResult decode_op(const json& j) {
  require_object(j, "a txn response");
  if (auto it = j.find("response_range"); it != j.end()) return decode_range(*it);
  if (auto it = j.find("response_put"); it != j.end()) return decode_put(*it);
  if (auto it = j.find("response_delete_range"); it != j.end()) return decode_delete(*it);
  malformed("a txn response holds no range, put or delete_range answer");
}

std::optional<KeyValue> optional_kv(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return decode_kv(*it);
}

// grpc-gateway ends a stream that failed on the server side with one
// {"error": {"grpc_code", "http_code", "message", "http_status"}} object,
// under HTTP 200: that is an error, never an answer with fields absent.
void throw_stream_error(const json& j) {
  auto it = j.find("error");
  if (it == j.end() || it->is_null()) return;
  const json& e = it->is_object() ? *it : json::object();
  std::string msg = it->is_string() ? it->get<std::string>() : get_string(e, "message");
  int code = e.contains("grpc_code") ? static_cast<int>(get_int64(e, "grpc_code")) : -1;
  // Unavailable (no leader, shutting down) is the store being away, not a refusal.
  throw Error(code == kGrpcUnavailable ? Cause::kUnavailable : Cause::kRejected, "stream", "",
              msg.empty() ? "stream error" : msg, static_cast<long>(get_int64(e, "http_code")),
              code);
}

}  // namespace

json encode(const RangeRequest& r) {
  json j = {{"key", base64_encode(r.key)}};
  if (!r.range_end.empty()) j["range_end"] = base64_encode(r.range_end);
  if (r.limit) j["limit"] = i64(r.limit);
  if (r.revision) j["revision"] = i64(r.revision);
  if (r.keys_only) j["keys_only"] = true;
  if (r.count_only) j["count_only"] = true;
  return j;
}

json encode(const PutRequest& r) {
  json j = {{"key", base64_encode(r.key)}, {"value", base64_encode(r.value)}};
  if (r.lease) j["lease"] = i64(r.lease);
  if (r.prev_kv) j["prev_kv"] = true;
  return j;
}

json encode(const DeleteRequest& r) {
  json j = {{"key", base64_encode(r.key)}};
  if (!r.range_end.empty()) j["range_end"] = base64_encode(r.range_end);
  if (r.prev_kv) j["prev_kv"] = true;
  return j;
}

json encode(const Compare& c) {
  json j = {{"key", base64_encode(c.key)},
            {"target", kTargetNames[static_cast<int>(c.target)]},
            {"result", kOpNames[static_cast<int>(c.op)]}};
  switch (c.target) {
    case Compare::Target::kVersion:
      j["version"] = i64(c.number);
      break;
    case Compare::Target::kCreateRevision:
      j["create_revision"] = i64(c.number);
      break;
    case Compare::Target::kModRevision:
      j["mod_revision"] = i64(c.number);
      break;
    case Compare::Target::kValue:
      j["value"] = base64_encode(c.value);
      break;
    case Compare::Target::kLease:
      j["lease"] = i64(c.number);
      break;
  }
  return j;
}

json encode(const TxnRequest& r) {
  json j = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : r.compare) j["compare"].push_back(encode(c));
  for (const auto& op : r.success) j["success"].push_back(encode_op(op));
  for (const auto& op : r.failure) j["failure"].push_back(encode_op(op));
  return j;
}

json encode(const WatchRequest& r) {
  json c = {{"key", base64_encode(r.key)}};
  if (!r.range_end.empty()) c["range_end"] = base64_encode(r.range_end);
  if (r.start_revision) c["start_revision"] = i64(r.start_revision);
  if (r.prev_kv) c["prev_kv"] = true;
  if (r.progress_notify) c["progress_notify"] = true;
  return {{"create_request", c}};
}

int64_t get_int64(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return v;
    malformed(std::string("\"") + field + "\" is not an int64: \"" + s + "\"");
  }
  malformed(std::string("\"") + field + "\" is neither an int64 string nor an integer");
}

std::string get_bytes(const json& j, const char* field) {
  std::string text = get_string(j, field);
  auto bytes = base64_decode(text);
  if (!bytes) malformed(std::string("\"") + field + "\" is not base64");
  return *bytes;
}

int64_t header_revision(const json& j) {
  return get_int64(object_or_empty(j, "header"), "revision");
}

KeyValue decode_kv(const json& j) {
  require_object(j, "a key-value");
  KeyValue kv;
  kv.key = get_bytes(j, "key");
  kv.value = get_bytes(j, "value");
  kv.create_revision = get_int64(j, "create_revision");
  kv.mod_revision = get_int64(j, "mod_revision");
  kv.version = get_int64(j, "version");
  kv.lease = get_int64(j, "lease");
  return kv;
}

RangeResult decode_range(const json& j) {
  require_object(j, "a range answer");
  RangeResult r;
  r.revision = header_revision(j);
  for (const auto& kv : array_or_empty(j, "kvs")) r.kvs.push_back(decode_kv(kv));
  r.more = get_bool(j, "more");
  r.count = get_int64(j, "count");
  return r;
}

PutResult decode_put(const json& j) {
  require_object(j, "a put answer");
  return {header_revision(j), optional_kv(j, "prev_kv")};
}

DeleteResult decode_delete(const json& j) {
  require_object(j, "a delete answer");
  DeleteResult r;
  r.revision = header_revision(j);
  r.deleted = get_int64(j, "deleted");
  for (const auto& kv : array_or_empty(j, "prev_kvs")) r.prev_kvs.push_back(decode_kv(kv));
  return r;
}

TxnResult decode_txn(const json& j) {
  require_object(j, "a txn answer");
  TxnResult r;
  r.revision = header_revision(j);
  r.succeeded = get_bool(j, "succeeded");
  for (const auto& op : array_or_empty(j, "responses")) r.responses.push_back(decode_op(op));
  return r;
}

LeaseGrant decode_lease_grant(const json& j) {
  require_object(j, "a lease grant answer");
  if (auto err = get_string(j, "error"); !err.empty()) malformed("lease grant refused: " + err);
  return {get_int64(j, "ID"), get_int64(j, "TTL"), header_revision(j)};
}

LeaseKeepAlive decode_lease_keepalive(const json& j) {
  require_object(j, "a keepalive answer");
  throw_stream_error(j);
  const json& r = j.contains("result") ? object_or_empty(j, "result") : j;
  return {get_int64(r, "ID"), get_int64(r, "TTL")};
}

LeaseTimeToLive decode_lease_timetolive(const json& j) {
  require_object(j, "a timetolive answer");
  LeaseTimeToLive t;
  t.id = get_int64(j, "ID");
  t.ttl = get_int64(j, "TTL");
  t.granted_ttl = get_int64(j, "grantedTTL");
  for (const auto& k : array_or_empty(j, "keys")) {
    if (!k.is_string()) malformed("\"keys\" holds a non-string");
    auto bytes = base64_decode(k.get<std::string>());
    if (!bytes) malformed("\"keys\" holds a non-base64 key");
    t.keys.push_back(*bytes);
  }
  return t;
}

WatchResponse decode_watch(const json& j) {
  require_object(j, "a watch answer");
  throw_stream_error(j);
  const json& r = object_or_empty(j, "result");
  WatchResponse w;
  w.revision = header_revision(r);
  w.watch_id = get_int64(r, "watch_id");
  w.created = get_bool(r, "created");
  w.canceled = get_bool(r, "canceled");
  w.compact_revision = get_int64(r, "compact_revision");
  w.cancel_reason = get_string(r, "cancel_reason");
  for (const auto& e : array_or_empty(r, "events")) {
    require_object(e, "a watch event");
    Event ev;
    std::string type = get_string(e, "type");
    if (type.empty() || type == "PUT") {
      ev.type = Event::Type::kPut;
    } else if (type == "DELETE") {
      ev.type = Event::Type::kDelete;
    } else {
      malformed("unknown event type \"" + type + "\"");
    }
    ev.kv = decode_kv(object_or_empty(e, "kv"));
    ev.prev_kv = optional_kv(e, "prev_kv");
    w.events.push_back(std::move(ev));
  }
  return w;
}

}  // namespace etcd::wire
