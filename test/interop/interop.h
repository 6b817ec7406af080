#pragma once
// What the interop tests read back from a sandbox namespace after a runtime
// (go-cni, knet's cnitool) ran a chain of knet and reference plugins.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "sandbox.h"

namespace knet::test {

// The values of `key` in the array of objects that the JSON command `cmd`
// (ip -j, tc -j) prints in `ns`; empty when it prints none.
inline std::set<std::string> json_values(const Sandbox& sb, const std::string& ns,
                                         const std::string& cmd, const std::string& key) {
  std::set<std::string> out;
  auto j = nlohmann::json::parse(sb.exec_in(ns, cmd).out, nullptr, false);
  if (j.is_array())
    for (const auto& o : j)
      if (o.contains(key)) out.insert(o[key].get<std::string>());
  return out;
}

// Names of the links of `kind` ("veth", "ifb", "bridge") in `ns`.
inline std::set<std::string> link_names(const Sandbox& sb, const std::string& ns,
                                        const std::string& kind) {
  return json_values(sb, ns, "ip -j link show type " + kind, "ifname");
}

// The kinds of the qdiscs on `dev` in `ns` ("tbf", "ingress", "noqueue", ...).
inline std::set<std::string> qdisc_kinds(const Sandbox& sb, const std::string& ns,
                                         const std::string& dev) {
  return json_values(sb, ns, "tc -j qdisc show dev " + dev, "kind");
}

// "v1_0_0" for the test parameter "1.0.0": a spec version as a test name.
inline std::string version_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = "v" + info.param;
  for (auto& ch : s)
    if (ch == '.') ch = '_';
  return s;
}

}  // namespace knet::test
