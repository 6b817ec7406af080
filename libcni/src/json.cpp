#include "cni/json.h"

#include <strings.h>

#include <algorithm>
#include <cctype>

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

// At most about `budget` characters of `v` for a message: containers are
// walked only as far as the budget goes, so a huge or deep value costs nothing.
void preview(const json& v, std::string& out, size_t budget) {
  if (out.size() >= budget) return;
  if (v.is_object() || v.is_array()) {
    bool obj = v.is_object();
    out += obj ? '{' : '[';
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (out.size() >= budget) {
        out += "...";
        return;
      }
      if (!first) out += ',';
      first = false;
      if (obj) out += dump_json(json(it.key())) + ":";
      preview(*it, out, budget);
    }
    out += obj ? '}' : ']';
    return;
  }
  out += dump_json(v);
}

[[noreturn]] void wrong_type(std::string_view key, std::string_view path, const json& v,
                             std::string_view want) {
  std::string shown;
  preview(v, shown, 64);
  config_error("invalid \"" + name_of(key, path) + "\": expected " + std::string(want) + ", got " +
               type_name(v) + " (" + shown.substr(0, 64) + ")");
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
    // The range check comes first: converting a double outside int64's range is undefined.
    double d = v->get<double>();
    if (!(d > -9.2e18 && d < 9.2e18) || d != static_cast<double>(static_cast<int64_t>(d)))
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
    if (v->get<int64_t>() < 0) config_error("invalid \"" + name_of(key, path) + "\": " + dump_json(*v) + " is negative");
    n = static_cast<uint64_t>(v->get<int64_t>());
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    if (!(d >= 0 && d < 1.8446744073709552e19) || d != static_cast<double>(static_cast<uint64_t>(d)))
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

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid.
    static constexpr uint32_t kMinOf[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinOf[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool nesting_exceeds(std::string_view bytes, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

json parse_any(std::string_view bytes, std::string_view what) {
  if (nesting_exceeds(bytes))
    throw Error(kDecodingFailure, "failed to parse " + std::string(what) + ": nested deeper than " +
                                      std::to_string(kMaxJsonDepth) + " levels");
  return json::parse(bytes, nullptr, /*allow_exceptions=*/false);
}

std::string dump_json(const json& v, int indent) {
  return v.dump(indent, ' ', false, json::error_handler_t::replace);
}

namespace {

// The name of the object key whose value holds byte `pos` of `bytes`, as far
// as a backward scan for `"key":` can tell (a message hint, not a parser).
std::string key_before(std::string_view bytes, size_t pos) {
  for (size_t i = std::min(pos, bytes.size()); i-- > 0;) {
    if (bytes[i] != ':') continue;
    size_t end = i;  // one past the key's closing quote
    while (end > 0 && std::isspace(static_cast<unsigned char>(bytes[end - 1]))) --end;
    if (end < 2 || bytes[end - 1] != '"') continue;
    size_t open = bytes.rfind('"', end - 2);
    if (open == std::string_view::npos) return {};
    std::string key(bytes.substr(open + 1, end - 2 - open));
    return valid_utf8(key) && key.size() <= 64 ? key : std::string();
  }
  return {};
}

// Why nlohmann refused `bytes`: where, and in which key's value.
std::string parse_failure(std::string_view bytes) {
  try {
    json ignored = json::parse(bytes);
  } catch (const json::parse_error& e) {
    std::string where = "malformed JSON at byte " + std::to_string(e.byte);
    std::string key = key_before(bytes, e.byte > 0 ? e.byte - 1 : 0);
    if (!key.empty()) where += " (in the value of \"" + key + "\")";
    std::string text = e.what();
    if (text.find("UTF-8") != std::string::npos) where += ": invalid UTF-8";
    return where;
  } catch (const std::exception&) {
  }
  return "malformed JSON";
}

}  // namespace

json parse_object(std::string_view bytes, std::string_view what) {
  json doc = parse_any(bytes, what);
  if (doc.is_discarded())
    throw Error(kDecodingFailure, "failed to parse " + std::string(what) + ": " + parse_failure(bytes));
  if (!doc.is_object())
    throw Error(kDecodingFailure, "failed to parse " + std::string(what) + ": expected a JSON object");
  return doc;
}

}  // namespace cni
