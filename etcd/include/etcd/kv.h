#pragma once
// The key-value half of etcd's API: plain structs for requests and results.
// Keys and values are raw bytes (std::string); base64 is the wire's business.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace etcd {

// One key as etcd stores it. Revisions are cluster-wide; version counts the
// puts since the key was (re)created; lease is 0 when none is attached.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
  bool operator==(const KeyValue&) const = default;
};

// The range_end that makes [prefix, end) cover every key starting with
// `prefix`: the prefix with its last byte below 0xff incremented and the
// rest cut; "\0" (every key) for an empty or all-0xff prefix.
std::string prefix_end(std::string_view prefix);

// A read of one key (range_end empty) or of [key, range_end).
struct RangeRequest {
  std::string key;
  std::string range_end;
  int64_t limit = 0;     // 0: no limit
  int64_t revision = 0;  // 0: the newest; else the store as it was then
  bool keys_only = false;
  bool count_only = false;

  static RangeRequest single(std::string key);
  static RangeRequest prefix(std::string prefix);
};

// `revision` is the store's revision when the read was served (the header's).
// `more`: a limit cut the answer short; `count`: keys in the whole range.
struct RangeResult {
  int64_t revision = 0;
  std::vector<KeyValue> kvs;
  bool more = false;
  int64_t count = 0;
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;  // 0: no lease
  bool prev_kv = false;
};

struct PutResult {
  int64_t revision = 0;
  std::optional<KeyValue> prev_kv;
};

// Deletes one key (range_end empty) or [key, range_end).
struct DeleteRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;

  static DeleteRequest single(std::string key);
  static DeleteRequest prefix(std::string prefix);
};

struct DeleteResult {
  int64_t revision = 0;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

// One condition of a txn: <target of key> <op> <operand>. A key that does
// not exist has version, create_revision and mod_revision 0.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Op { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  Target target = Target::kVersion;
  Op op = Op::kEqual;
  int64_t number = 0;  // operand of kVersion, kCreateRevision, kModRevision, kLease
  std::string value;   // operand of kValue

  static Compare version(std::string key, Op op, int64_t version);
  static Compare create_revision(std::string key, Op op, int64_t revision);
  static Compare mod_revision(std::string key, Op op, int64_t revision);
  static Compare value_of(std::string key, Op op, std::string value);
  static Compare lease(std::string key, Op op, int64_t lease);
};

// One operation of a txn branch (nested txns are not supported).
using TxnOp = std::variant<RangeRequest, PutRequest, DeleteRequest>;
using TxnOpResult = std::variant<RangeResult, PutResult, DeleteResult>;

// If every compare holds, the success ops run, else the failure ops, all at
// one revision.
struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
};

// `responses` answer the branch that ran, in order.
struct TxnResult {
  int64_t revision = 0;
  bool succeeded = false;
  std::vector<TxnOpResult> responses;
};

}  // namespace etcd
