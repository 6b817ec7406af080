#pragma once
// CNI spec versions: which ones knet speaks and how they compare.

#include <string>
#include <string_view>
#include <vector>

#include "cni/json.h"

namespace cni {

inline constexpr std::string_view kCurrentVersion = "1.1.0";
// Every version knet reads and writes, oldest first.
const std::vector<std::string>& supported_versions();
bool is_supported_version(std::string_view v);
// Compares dotted versions numerically: <0, 0, >0. Unparseable parts count as 0.
int compare_versions(std::string_view a, std::string_view b);
inline bool version_at_least(std::string_view v, std::string_view min) { return compare_versions(v, min) >= 0; }
// The answer to VERSION: {"cniVersion": ..., "supportedVersions": [...]}.
json version_info();

}  // namespace cni
