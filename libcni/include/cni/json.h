#pragma once
// Reading JSON the way the reference plugins (Go's encoding/json) do: a key
// matches exactly first, otherwise case-insensitively; null means "absent";
// a value of the wrong type is a config error that names the key.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cni {

using json = nlohmann::json;

// Returns the member of `obj` that Go's json decoder would bind to `key`
// (exact match, else the first ASCII case-insensitive match), or nullptr when
// there is none, the value is null, or `obj` is not an object.
const json* find_key(const json& obj, std::string_view key);

// Typed readers. `path` is the dotted name used in error messages
// ("ipam.ranges[0].subnet"); when empty, `key` is used. Each returns
// nullopt when the key is absent or null and throws cni::Error (code 7)
// naming the key when the value has the wrong type or range.
std::optional<std::string> get_string(const json& obj, std::string_view key, std::string_view path = {});
std::optional<bool> get_bool(const json& obj, std::string_view key, std::string_view path = {});
std::optional<int64_t> get_int(const json& obj, std::string_view key, std::string_view path = {},
                               int64_t min = INT64_MIN, int64_t max = INT64_MAX);
std::optional<uint64_t> get_uint(const json& obj, std::string_view key, std::string_view path = {},
                                 uint64_t max = UINT64_MAX);
// An object member (returned as-is), or nullptr if absent/null; throws if not an object.
const json* get_object(const json& obj, std::string_view key, std::string_view path = {});
// An array member, or nullptr if absent/null; throws if not an array.
const json* get_array(const json& obj, std::string_view key, std::string_view path = {});
std::optional<std::vector<std::string>> get_string_list(const json& obj, std::string_view key,
                                                        std::string_view path = {});

// Joins a parent path and a child key for messages: join_path("ipam", "subnet") == "ipam.subnet".
std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, size_t i);

// True when `s` is well-formed UTF-8 (what a JSON string must hold).
bool valid_utf8(std::string_view s);

// Go's encoding/json refuses documents nested deeper than this; so does knet,
// before anything recursive (a copy, a dump) can run out of stack on them.
inline constexpr size_t kMaxJsonDepth = 10000;

// True when `bytes` opens more than `max_depth` arrays/objects inside each
// other (strings are skipped, so brackets inside them do not count).
bool nesting_exceeds(std::string_view bytes, size_t max_depth = kMaxJsonDepth);

// Parses `bytes` as a JSON object; throws code 6 (naming `what`) on malformed
// input, on nesting deeper than kMaxJsonDepth and on a non-object.
json parse_object(std::string_view bytes, std::string_view what = "network config");

// Parses `bytes` as any JSON value, with parse_object's depth limit; returns a
// discarded value (is_discarded()) when the bytes are not JSON.
json parse_any(std::string_view bytes, std::string_view what);

// Serialises `v` for output (stdout, cache files, messages): invalid UTF-8 in
// a string is written as U+FFFD, as Go's encoder does, instead of throwing.
std::string dump_json(const json& v, int indent = -1);

}  // namespace cni
