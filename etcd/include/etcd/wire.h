#pragma once
// The JSON the gateway speaks (grpc-gateway over etcd's protobufs): bytes as
// base64, int64 as decimal strings, enums by name, and every zero value (0,
// false, "", PUT, EQUAL) left out of answers, so an absent field reads as zero.
// Encoders build request bodies; decoders read answers and throw
// Error(kMalformed) naming the field that is wrong.

#include <nlohmann/json.hpp>
#include <string>

#include "etcd/kv.h"
#include "etcd/lease.h"
#include "etcd/watch_types.h"

namespace etcd::wire {

nlohmann::json encode(const RangeRequest& r);
nlohmann::json encode(const PutRequest& r);
nlohmann::json encode(const DeleteRequest& r);
nlohmann::json encode(const Compare& c);
nlohmann::json encode(const TxnRequest& r);
// {"create_request": {...}}, the first (and only) message of a watch stream.
nlohmann::json encode(const WatchRequest& r);

// An int64 field: absent or null is 0; a decimal string or a JSON integer is
// its value; anything else (or out of range) throws.
int64_t get_int64(const nlohmann::json& object, const char* field);
// A bytes field, decoded: absent is "", bad base64 throws.
std::string get_bytes(const nlohmann::json& object, const char* field);

KeyValue decode_kv(const nlohmann::json& j);
RangeResult decode_range(const nlohmann::json& j);
PutResult decode_put(const nlohmann::json& j);
DeleteResult decode_delete(const nlohmann::json& j);
TxnResult decode_txn(const nlohmann::json& j);
LeaseGrant decode_lease_grant(const nlohmann::json& j);
// The keepalive's stream answer, with or without its {"result": ...} wrapper;
// a stream error ({"error": {...}}) throws as decode_watch does.
LeaseKeepAlive decode_lease_keepalive(const nlohmann::json& j);
LeaseTimeToLive decode_lease_timetolive(const nlohmann::json& j);
// One line of the watch stream: {"result": {...}}. A stream error
// ({"error": {...}}) throws Error with its gRPC code and message: kUnavailable
// for gRPC Unavailable, kRejected otherwise.
WatchResponse decode_watch(const nlohmann::json& j);
// The revision in {"header": {"revision": ...}}; 0 if absent.
int64_t header_revision(const nlohmann::json& j);

}  // namespace etcd::wire
