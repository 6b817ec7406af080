#include "cni/json.h"

#include <strings.h>

#include "cni/error.h"

namespace cni {
namespace {

std::string name_of(std::string_view key, std::string_view path) {
  return std::string(path.empty() ? key : path);
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "null";
  }
}

[[noreturn]] void wrong_type(std::string_view key, std::string_view path, const json& v,
                             std::string_view want) {
  config_error("invalid \"" + name_of(key, path) + "\": expected " + std::string(want) + ", got " +
               type_name(v) + " (" + v.dump().substr(0, 64) + ")");
}

bool ascii_iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

const json* find_key(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const json* found = nullptr;
  if (auto it = obj.find(key); it != obj.end()) {
    found = &*it;
  } else {
    for (auto it2 = obj.begin(); it2 != obj.end(); ++it2) {
      if (ascii_iequal(it2.key(), key)) {
        found = &it2.value();
        break;
      }
    }
  }
  if (found && found->is_null()) return nullptr;
  return found;
}

std::optional<std::string> get_string(const json& obj, std::string_view key, std::string_view path) {
  const json* v = find_key(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(key, path, *v, "a string");
  return v->get<std::string>();
}

std::optional<bool> get_bool(const json& obj, std::string_view key, std::string_view path) {
  const json* v = find_key(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(key, path, *v, "a boolean");
  return v->get<bool>();
}

std::optional<int64_t> get_int(const json& obj, std::string_view key, std::string_view path,
                               int64_t min, int64_t max) {
  const json* v = find_key(obj, key);
  if (!v) return std::nullopt;
  int64_t n;
  if (v->is_number_integer()) {
    n = v->get<int64_t>();
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)) n = INT64_MAX;
  } else if (v->is_number_float()) {
    // Go decodes 1e3 into an int field only when it is integral.
    double d = v->get<double>();
    if (d != static_cast<double>(static_cast<int64_t>(d)) || d > 9.2e18 || d < -9.2e18)
      wrong_type(key, path, *v, "an integer");
    n = static_cast<int64_t>(d);
  } else {
    wrong_type(key, path, *v, "an integer");
  }
  if (n < min || n > max)
    config_error("invalid \"" + name_of(key, path) + "\": " + std::to_string(n) + " is out of range [" +
                 std::to_string(min) + ", " + std::to_string(max) + "]");
  return n;
}

std::optional<uint64_t> get_uint(const json& obj, std::string_view key, std::string_view path,
                                 uint64_t max) {
  const json* v = find_key(obj, key);
  if (!v) return std::nullopt;
  uint64_t n;
  if (v->is_number_unsigned()) {
    n = v->get<uint64_t>();
  } else if (v->is_number_integer()) {
    // A signed integer (as built in C++ rather than parsed) may still be non-negative.
    if (v->get<int64_t>() < 0) config_error("invalid \"" + name_of(key, path) + "\": " + v->dump() + " is negative");
    n = static_cast<uint64_t>(v->get<int64_t>());
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    if (d < 0 || d >= 1.8446744073709552e19 || d != static_cast<double>(static_cast<uint64_t>(d)))
      wrong_type(key, path, *v, "a non-negative integer");
    n = static_cast<uint64_t>(d);
  } else {
    wrong_type(key, path, *v, "a non-negative integer");
  }
  if (n > max)
    config_error("invalid \"" + name_of(key, path) + "\": " + std::to_string(n) +
                 " is larger than the maximum " + std::to_string(max));
  return n;
}

const json* get_object(const json& obj, std::string_view key, std::string_view path) {
  const json* v = find_key(obj, key);
  if (v && !v->is_object()) wrong_type(key, path, *v, "an object");
  return v;
}

const json* get_array(const json& obj, std::string_view key, std::string_view path) {
  const json* v = find_key(obj, key);
  if (v && !v->is_array()) wrong_type(key, path, *v, "an array");
  return v;
}

std::optional<std::vector<std::string>> get_string_list(const json& obj, std::string_view key,
                                                        std::string_view path) {
  const json* v = get_array(obj, key, path);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_string()) wrong_type(index_path(name_of(key, path), i), "", e, "a string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string index_path(std::string_view parent, size_t i) {
  return std::string(parent) + "[" + std::to_string(i) + "]";
}

json parse_object(std::string_view bytes, std::string_view what) {
  json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    throw Error(kDecodingFailure, "failed to parse " + std::string(what) + ": malformed JSON");
  if (!doc.is_object())
    throw Error(kDecodingFailure, "failed to parse " + std::string(what) + ": expected a JSON object");
  return doc;
}

}  // namespace cni
