#include "hostile.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace knet::test::rel {
namespace {

std::string type_name(Type t) {
  switch (t) {
    case Type::String:
      return "string";
    case Type::Bool:
      return "bool";
    case Type::Int:
      return "integer";
    case Type::Array:
      return "array";
    case Type::Object:
      return "object";
    case Type::File:
      return "file path";
  }
  return "?";
}

// Two values of other types than `t` (never null: null means absent).
std::vector<json> wrong_values(Type t) {
  switch (t) {
    case Type::String:
    case Type::File:
      return {42, json::object({{"a", 1}})};
    case Type::Bool:
      return {"true", 1};
    case Type::Int:
      return {"1500", true};
    case Type::Array:
      return {"10.0.0.0/8", json::object({{"a", 1}})};
    case Type::Object:
      return {"x", json::array({1})};
  }
  return {};
}

Case raw_case(const std::string& what, std::string raw, int code, const std::string& names = "") {
  Case c;
  c.what = what;
  c.raw = std::move(raw);
  c.code = code;
  c.names = names;
  return c;
}

Case env_case(const std::string& var, const std::string& value, const std::string& why) {
  Case c;
  c.what = var + "=\"" + value + "\" (" + why + ")";
  c.env[var] = value;
  c.code = 4;
  c.names = var;
  return c;
}

Case set_case(const std::string& what, const std::string& pointer, const json& value, int code,
              const std::string& names) {
  Case c;
  c.what = what;
  c.mutate = [pointer, value](json& conf) { conf[json::json_pointer(pointer)] = value; };
  c.code = code;
  c.names = names;
  return c;
}

}  // namespace

std::string key_name(const std::string& pointer) {
  std::string last;
  size_t pos = 0;
  while (pos < pointer.size()) {
    size_t next = pointer.find('/', pos + 1);
    std::string tok = pointer.substr(pos + 1, next == std::string::npos ? next : next - pos - 1);
    if (tok.find_first_not_of("0123456789") != std::string::npos) last = tok;
    pos = next == std::string::npos ? pointer.size() : next;
  }
  return last;
}

Case bad_value(const std::string& pointer, const json& value, const std::string& why) {
  return set_case(
      pointer + " = " + value.dump().substr(0, 80) + (why.empty() ? "" : " (" + why + ")"), pointer,
      value, 7, key_name(pointer));
}

std::vector<Case> wrong_types(const std::vector<Key>& keys) {
  std::vector<Case> out;
  for (const Key& k : keys) {
    for (const json& v : wrong_values(k.type)) {
      out.push_back(set_case(k.pointer + " = " + v.dump() + " (wants " + type_name(k.type) + ")",
                             k.pointer, v, 7, key_name(k.pointer)));
    }
  }
  return out;
}

#ifdef __SANITIZE_ADDRESS__
constexpr size_t kLegalDepth = 1000;
#else
constexpr size_t kLegalDepth = 9000;
#endif

std::string deep_marker(size_t depth) { return "@knet-deep-" + std::to_string(depth) + "@"; }

std::string expand_markers(const std::string& dumped) {
  std::string out;
  out.reserve(dumped.size());
  const std::string bad = "\"" + kBadUtf8Marker + "\"";
  const std::string deep = "\"@knet-deep-";
  for (size_t i = 0; i < dumped.size();) {
    if (dumped.compare(i, bad.size(), bad) == 0) {
      out += "\"\xff\xfe\xfd\"";
      i += bad.size();
    } else if (dumped.compare(i, deep.size(), deep) == 0) {
      size_t end = dumped.find("@\"", i + deep.size());
      size_t depth = std::stoul(dumped.substr(i + deep.size(), end - i - deep.size()));
      out += std::string(depth, '[') + std::string(depth, ']');
      i = end + 2;
    } else {
      out += dumped[i++];
    }
  }
  return out;
}

std::vector<Case> common_cases(const json& base, bool uses_netns, const std::string& regular_file) {
  std::vector<Case> out;
  std::string doc = base.dump();
  // Malformed JSON: decoding failure (6).
  out.push_back(raw_case("empty stdin", "", 6));
  out.push_back(raw_case("lone brace", "{", 6));
  out.push_back(raw_case("not JSON", "this is not json", 6));
  out.push_back(raw_case("truncated config", doc.substr(0, doc.size() / 2), 6));
  out.push_back(raw_case("trailing garbage", doc + " trailing", 6));
  out.push_back(raw_case("missing value", "{\"cniVersion\": \"1.0.0\", \"name\": }", 6));
  out.push_back(raw_case("trailing comma", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\",}", 6));
  out.push_back(
      raw_case("invalid UTF-8", "{\"cniVersion\": \"1.0.0\", \"name\": \"\xff\xfe\"}", 6));
  out.push_back(raw_case("100000 unclosed brackets", "{\"x\": " + std::string(100000, '['), 6));
  // 10 MB of stdin: an I/O error (5), read no further than the limit.
  {
    json big = base;
    big["padding"] = std::string(10u << 20, 'x');
    out.push_back(raw_case("10 MB stdin", big.dump(), 5));
  }
  // Network names: config errors naming "name".
  for (const std::string& n :
       std::vector<std::string>{"a/b", "..", "../../etc", "a b", std::string("a\0b", 3), ""}) {
    json bad = n;
    out.push_back(set_case("name = " + bad.dump(), "/name", bad, 7, "name"));
  }
  out.push_back(set_case("name = 42", "/name", 42, 7, "name"));
  // Versions.
  out.push_back(set_case("cniVersion = \"9.9.9\"", "/cniVersion", "9.9.9", 1, "9.9.9"));
  out.push_back(set_case("cniVersion = \"0.5.0\"", "/cniVersion", "0.5.0", 1, "0.5.0"));
  out.push_back(set_case("cniVersion = \"banana\"", "/cniVersion", "banana", 1, "banana"));
  out.push_back(set_case("cniVersion = 1", "/cniVersion", 1, 7, "cniVersion"));
  // The environment (a container ID cannot hold NUL in an env var).
  for (const char* id : {"a/b", "..", "../../etc/passwd", "a b", " leading"})
    out.push_back(env_case("CNI_CONTAINERID", id, "not a valid container ID"));
  out.push_back(env_case("CNI_IFNAME", "abcdefghijklmnop", "16 bytes"));
  out.push_back(env_case("CNI_IFNAME", "eth/0", "slash"));
  out.push_back(env_case("CNI_IFNAME", "..", "dot-dot"));
  out.push_back(env_case("CNI_IFNAME", "eth 0", "space"));
  // Bytes that are not UTF-8 in any variable: refused up front, never a crash.
  for (const char* var : {"CNI_CONTAINERID", "CNI_IFNAME", "CNI_ARGS", "CNI_COMMAND"}) {
    std::string v = std::string(var) == "CNI_ARGS" ? "K8S_POD_NAME=\xff\xfe" : "eth\xff";
    Case c = env_case(var, v, "invalid UTF-8");
    c.what = std::string(var) + " with 0xFF (invalid UTF-8)";
    out.push_back(c);
  }
  // Nesting past Go's limit where the plugins keep JSON as it is.
  for (const char* where : {"/ipam/deep", "/args/deep", "/runtimeConfig/deep", "/deep"}) {
    Case c = set_case(std::string("100000 nested arrays at ") + where, where, deep_marker(100000), 6,
                      "nested deeper than 10000");
    out.push_back(c);
  }
  if (uses_netns) {
    // Namespaces are opened by a shared library that may not know the
    // variable's name; the path it could not use names the input as well.
    Case c = env_case("CNI_NETNS", regular_file, "a regular file");
    c.names = "CNI_NETNS|" + regular_file;
    out.push_back(c);
  }
  return out;
}

std::vector<Case> Hostile::key_cases(const std::vector<Key>& keys) const {
  std::vector<Case> out = wrong_types(keys);
  std::string fifo = files.path() + "/fifo";
  ::mkfifo(fifo.c_str(), 0600);  // EEXIST on a second call is fine
  for (const Key& k : keys) {
    std::string name = key_name(k.pointer);
    out.push_back(set_case(k.pointer + " = invalid UTF-8", k.pointer, kBadUtf8Marker, 6, name));
    out.push_back(set_case(k.pointer + " = 100000 nested arrays", k.pointer, deep_marker(100000), 6,
                           "nested deeper than 10000"));
    if (k.type != Type::Array) {
      // Deep but within Go's limit: a wrong type, named without a crash.
      // A release plugin needs about 1.5 MB of stack for 10,000 levels; an
      // ASan build's frames are several times larger, so it is tried shallower.
      const std::string depth = std::to_string(kLegalDepth);
      out.push_back(set_case(k.pointer + " = " + depth + " nested arrays", k.pointer,
                             deep_marker(kLegalDepth), 7, name));
    }
    if (k.type == Type::Int) {
      for (const json& v : {json(1e30), json(-1e30), json(6.7e69), json(18446744073709551615ULL)})
        out.push_back(set_case(k.pointer + " = " + v.dump(), k.pointer, v, 7, name));
    }
    if (k.type == Type::File) {
      for (const std::string& f : {fifo, std::string("/dev/zero"), files.path()})
        out.push_back(set_case(k.pointer + " = " + f, k.pointer, f, k.file_code, name));
    }
  }
  return out;
}

std::string Hostile::regular_file() const {
  std::string path = files.path() + "/not-a-netns";
  std::ofstream(path) << "just a file\n";
  return path;
}

json Hostile::host_local(const std::string& subnet) const {
  return {{"type", "host-local"}, {"dataDir", data.path()}, {"ranges", {{{{"subnet", subnet}}}}}};
}

void Hostile::expect_rejected(const std::string& plugin, const json& base,
                              const std::vector<Case>& cases) {
  Snapshot host_before = snapshot(sb, sb.host(), data.path());
  Snapshot ctr_before = snapshot(sb, ctr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int n = 0;
  for (const Case& c : cases) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "time budget exceeded at case " << n;
    ++n;
    SCOPED_TRACE(plugin + ": " + c.what);
    std::string input;
    if (c.raw) {
      input = *c.raw;
    } else {
      json conf = base;
      if (c.mutate) c.mutate(conf);
      input = expand_markers(conf.dump());
    }
    auto env = cni_env("ADD", "hostile-1", ctr);
    for (const auto& [k, v] : c.env) env[k] = v;
    RunResult r = sb.run_plugin(rel::plugin(plugin), env, input, {}, std::chrono::seconds(20));

    EXPECT_NE(r.code, 0) << "accepted: " << describe(r);
    EXPECT_LT(r.code, 128) << "died of a signal: " << describe(r);
    // Under -DKNET_SANITIZE=ON a report may come after the error JSON.
    EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("runtime error:"), std::string::npos) << r.err;
    bool is_error = r.json && r.json->is_object() && r.json->contains("code") &&
                    r.json->contains("msg") && (*r.json)["msg"].is_string();
    EXPECT_TRUE(is_error) << "no CNI error JSON on stdout: " << describe(r);
    if (is_error) {
      EXPECT_EQ((*r.json)["code"], c.code) << describe(r);
      std::string msg = (*r.json)["msg"];
      bool named = false;
      for (size_t pos = 0; pos <= c.names.size();) {
        size_t bar = std::min(c.names.find('|', pos), c.names.size());
        named = named || msg.find(c.names.substr(pos, bar - pos)) != std::string::npos;
        pos = bar + 1;
      }
      EXPECT_TRUE(named) << "the message does not name \"" << c.names << "\": " << msg;
    }
    Snapshot host_after = snapshot(sb, sb.host(), data.path());
    Snapshot ctr_after = snapshot(sb, ctr);
    std::string host_diff = diff(host_before, host_after), ctr_diff = diff(ctr_before, ctr_after);
    EXPECT_TRUE(host_diff.empty()) << "the sandbox host changed:\n" << host_diff;
    EXPECT_TRUE(ctr_diff.empty()) << "the container changed:\n" << ctr_diff;
    if (!host_diff.empty() || !ctr_diff.empty()) {
      // Reported once; clean up and start again from what is there now, so
      // that one leak (a bridge that DEL keeps) does not fail every later case.
      sb.run_plugin(rel::plugin(plugin), cni_env("DEL", "hostile-1", ctr), base.dump());
      host_before = snapshot(sb, sb.host(), data.path());
      ctr_before = snapshot(sb, ctr);
    }
  }
  std::printf("hostile: %s rejected %d inputs\n", plugin.c_str(), n);
}

void Hostile::expect_accepted(const std::string& plugin, const json& base) {
  auto env = cni_env("ADD", "hostile-ok", ctr);
  // IPAM falls back to the reference host-local while knet's is not built.
  env["CNI_PATH"] = plugin_dir() + ":/usr/lib/cni";
  RunResult r = sb.run_plugin(rel::plugin(plugin), env, base.dump());
  EXPECT_EQ(r.code, 0) << "the base config is rejected: " << describe(r);
  env["CNI_COMMAND"] = "DEL";
  json del = base;
  if (r.json) del["prevResult"] = *r.json;
  r = sb.run_plugin(rel::plugin(plugin), env, del.dump());
  EXPECT_EQ(r.code, 0) << "DEL of the base config: " << describe(r);
}

}  // namespace knet::test::rel
