// The result cache in libcni's "cniCacheV1" format, so an attachment added
// by knet's cnitool can be checked or deleted by a libcni-based runtime and
// the other way round (see cachedInfo in libcni/api.go).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/atomic_file.h"
#include "cni/error.h"
#include "cni/file.h"
#include "cni/netconf.h"
#include "cni/runtime.h"

namespace cni {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kKind = "cniCacheV1";
constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Go marshals []byte as standard base64 with padding.
std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (size_t rest = in.size() - i) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto pos = kB64.find(c);
    if (pos == std::string_view::npos)
      throw Error(kDecodingFailure, "invalid base64 in cached \"config\"");
    acc = (acc << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// A cache file's bytes, or nullopt when there is none. Read like any file a
// user could have put there: regular files only, at most a stdin's size.
std::optional<std::string> slurp(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return std::nullopt;
  return read_user_file(path, kMaxStdinBytes, "cache file", kIOFailure);
}

std::string str_or_empty(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

ResultCache::ResultCache(std::string dir) : dir_(std::move(dir)) {}

std::string ResultCache::path(std::string_view network, std::string_view container_id,
                              std::string_view ifname) const {
  if (network.empty() || container_id.empty() || ifname.empty())
    throw Error(kInvalidEnv, "cache file path requires network name (\"" + std::string(network) +
                                 "\"), container ID (\"" + std::string(container_id) +
                                 "\"), and interface name (\"" + std::string(ifname) + "\")");
  return dir_ + "/results/" + std::string(network) + "-" + std::string(container_id) + "-" +
         std::string(ifname);
}

json ResultCache::to_json(const CachedAttachment& a) {
  json j = {{"kind", kKind},
            {"containerId", a.container_id},
            {"config", base64_encode(a.config)},
            {"ifName", a.ifname},
            {"networkName", a.network}};
  if (!a.netns.empty()) j["netns"] = a.netns;
  if (!a.cni_args.empty()) {
    j["cniArgs"] = json::array();
    for (const auto& [k, v] : a.cni_args) j["cniArgs"].push_back({k, v});
  }
  if (a.capability_args.is_object() && !a.capability_args.empty())
    j["capabilityArgs"] = a.capability_args;
  if (a.result.is_object()) j["result"] = a.result;
  return j;
}

CachedAttachment ResultCache::from_json(const json& j) {
  if (!j.is_object() || str_or_empty(j, "kind") != kKind)
    throw Error(kDecodingFailure, "cache entry is not of kind \"cniCacheV1\"");
  CachedAttachment a;
  a.container_id = str_or_empty(j, "containerId");
  a.ifname = str_or_empty(j, "ifName");
  a.network = str_or_empty(j, "networkName");
  a.netns = str_or_empty(j, "netns");
  a.config = base64_decode(str_or_empty(j, "config"));
  if (auto it = j.find("cniArgs"); it != j.end() && it->is_array()) {
    for (const auto& kv : *it) {
      if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string())
        throw Error(kDecodingFailure, "invalid \"cniArgs\" in cache entry");
      a.cni_args.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
    }
  }
  if (auto it = j.find("capabilityArgs"); it != j.end() && it->is_object()) a.capability_args = *it;
  if (auto it = j.find("result"); it != j.end() && it->is_object()) a.result = *it;
  return a;
}

void ResultCache::save(const NetworkConfigList& list, const RuntimeConf& rt,
                       const json& result) const {
  std::string file = path(list.name, rt.container_id, rt.ifname);
  CachedAttachment a;
  a.network = list.name;
  a.container_id = rt.container_id;
  a.ifname = rt.ifname;
  a.netns = rt.netns;
  a.config = list.bytes;
  a.cni_args = rt.args;
  a.capability_args = rt.capability_args;
  a.result = result;
  std::string data = dump_json(to_json(a));

  std::error_code ec;
  fs::path dir = fs::path(file).parent_path();
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      throw Error(kIOFailure,
                  "failed to create cache directory " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, ec);
  }
  // Written to a temporary name and renamed, so a reader never sees half a file.
  try {
    knet::write_file_atomic(file, data, 0600);
  } catch (const knet::Error& e) {
    throw Error(kIOFailure, "failed to write cache file: " + e.msg());
  }
}

std::optional<CachedAttachment> ResultCache::load(std::string_view network,
                                                  std::string_view container_id,
                                                  std::string_view ifname) const {
  std::string file = path(network, container_id, ifname);
  auto data = slurp(file);
  if (!data) return std::nullopt;
  json j = parse_any(*data, "cached result " + file);
  if (j.is_discarded() || !j.is_object())
    throw Error(kDecodingFailure, "failed to read cached network \"" + std::string(network) +
                                      "\" result: " + file + " is not JSON");
  CachedAttachment a;
  if (str_or_empty(j, "kind") == kKind) {
    a = from_json(j);
  } else {  // libcni's legacy cache: the bare result
    a.network = std::string(network);
    a.container_id = std::string(container_id);
    a.ifname = std::string(ifname);
    a.result = j;
  }
  a.path = file;
  return a;
}

bool ResultCache::remove(std::string_view network, std::string_view container_id,
                         std::string_view ifname) const {
  return ::unlink(path(network, container_id, ifname).c_str()) == 0;
}

std::vector<CachedAttachment> ResultCache::list(std::string_view network) const {
  std::vector<CachedAttachment> out;
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir_ + "/results", ec))
    if (e.is_regular_file(ec)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    try {
      auto data = slurp(f);
      if (!data) continue;
      json j = parse_any(*data, "cached result " + f);
      if (j.is_discarded() || str_or_empty(j, "kind") != kKind) continue;
      CachedAttachment a = from_json(j);
      if (a.ifname.empty() || a.network.empty() || a.container_id.empty()) continue;
      if (!network.empty() && a.network != network) continue;
      a.path = f;
      out.push_back(std::move(a));
    } catch (const Error&) {
      continue;  // as libcni: an unreadable entry is not an attachment
    }
  }
  return out;
}

}  // namespace cni
