#include "etcd/kv.h"

#include "etcd/watch_types.h"

namespace etcd {

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  // etcd reads range_end "\0" as "every key >= key".
  return std::string(1, '\0');
}

RangeRequest RangeRequest::single(std::string key) { return {.key = std::move(key)}; }

RangeRequest RangeRequest::prefix(std::string prefix) {
  std::string end = prefix_end(prefix);
  return {.key = std::move(prefix), .range_end = std::move(end)};
}

DeleteRequest DeleteRequest::single(std::string key) { return {.key = std::move(key)}; }

DeleteRequest DeleteRequest::prefix(std::string prefix) {
  std::string end = prefix_end(prefix);
  return {.key = std::move(prefix), .range_end = std::move(end)};
}

Compare Compare::version(std::string key, Op op, int64_t version) {
  return {.key = std::move(key), .target = Target::kVersion, .op = op, .number = version};
}

Compare Compare::create_revision(std::string key, Op op, int64_t revision) {
  return {.key = std::move(key), .target = Target::kCreateRevision, .op = op, .number = revision};
}

Compare Compare::mod_revision(std::string key, Op op, int64_t revision) {
  return {.key = std::move(key), .target = Target::kModRevision, .op = op, .number = revision};
}

Compare Compare::value_of(std::string key, Op op, std::string value) {
  return {.key = std::move(key), .target = Target::kValue, .op = op, .value = std::move(value)};
}

Compare Compare::lease(std::string key, Op op, int64_t lease) {
  return {.key = std::move(key), .target = Target::kLease, .op = op, .number = lease};
}

WatchRequest WatchRequest::prefix(std::string prefix, int64_t start_revision) {
  std::string end = prefix_end(prefix);
  return {.key = std::move(prefix), .range_end = std::move(end), .start_revision = start_revision};
}

}  // namespace etcd
