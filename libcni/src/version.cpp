#include "cni/version.h"

#include <algorithm>
#include <charconv>

namespace cni {

const std::vector<std::string>& supported_versions() {
  static const std::vector<std::string> v = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return v;
}

bool is_supported_version(std::string_view v) {
  const auto& all = supported_versions();
  return std::find(all.begin(), all.end(), v) != all.end();
}

int compare_versions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    long n = 0;
    auto dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    std::from_chars(part.data(), part.data() + part.size(), n);
    s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    return n;
  };
  for (int i = 0; i < 3; ++i) {
    long x = next(a), y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

json version_info() {
  return json{{"cniVersion", std::string(kCurrentVersion)}, {"supportedVersions", supported_versions()}};
}

}  // namespace cni
