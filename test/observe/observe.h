#pragma once
// Shared by the observability tests: the environment of one plugin run and
// the lines of a log file.

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox.h"

namespace knet::test {

inline std::map<std::string, std::string> cni_env(const std::string& cmd, const std::string& id,
                                                  const std::string& netns,
                                                  const std::string& ifname,
                                                  const std::string& node_log_config) {
  return {{"CNI_COMMAND", cmd},
          {"CNI_CONTAINERID", id},
          {"CNI_NETNS", netns},
          {"CNI_IFNAME", ifname},
          {"CNI_PATH", plugin_path("knet").substr(0, plugin_path("knet").rfind('/'))},
          {"KNET_LOG_CONFIG", node_log_config}};
}

// Every line of `path`, each parsed (a line that is not one JSON object fails the test).
inline std::vector<nlohmann::json> log_lines(const std::string& path, size_t* broken = nullptr) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  size_t bad = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      ++bad;
      continue;
    }
    out.push_back(std::move(j));
  }
  if (broken) *broken = bad;
  return out;
}

}  // namespace knet::test
