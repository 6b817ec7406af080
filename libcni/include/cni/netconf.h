#pragma once
// The keys every plugin's network config shares. A plugin reads its own keys
// from `raw` with the readers in cni/json.h.

#include <optional>
#include <string>

#include "cni/json.h"
#include "cni/result.h"

namespace cni {

struct NetConf {
  std::string cni_version;
  std::string name;
  std::string type;
  bool ip_masq = false;
  std::string ipam_type;       // "" when there is no ipam section or it has no type
  json ipam = json::object();  // the whole ipam section, as given
  DNS dns;
  json args = json::object();            // "args" (args.cni.ips, args.cni.mac, ...)
  json runtime_config = json::object();  // "runtimeConfig"
  std::optional<Result> prev_result;
  json raw;  // the whole document

  // Parses and validates the shared keys. Throws code 6 for bad JSON, 7 for
  // a missing or invalid name, wrong types, or an unreadable prevResult.
  static NetConf parse(std::string_view stdin_bytes);
  static NetConf from_json(json doc);
};

// The most stdin a plugin reads; more is an error (code 5) so a runaway
// writer cannot make a plugin allocate without bound.
inline constexpr size_t kMaxStdinBytes = 4u << 20;

}  // namespace cni
