// Hostile input for bandwidth (see hostile.h): chained after a veth pair
// whose host end is in the sandbox host, as a bridge ADD would leave it.

#include "hostile.h"

namespace knet::test::rel {
namespace {

TEST_F(Hostile, Bandwidth) {
  sb.connect(sb.host(), "hbw0", ctr, "eth0", "", "10.80.0.2/24");
  const json prev = {{"cniVersion", "1.0.0"},
                     {"interfaces", {{{"name", "hbw0"}}, {{"name", "eth0"}, {"sandbox", ctr}}}},
                     {"ips", {{{"address", "10.80.0.2/24"}, {"interface", 1}}}}};
  const json base = {{"cniVersion", "1.0.0"},  {"name", "hostile"},       {"type", "bandwidth"},
                     {"ingressRate", 8000000}, {"ingressBurst", 1000000}, {"egressRate", 8000000},
                     {"egressBurst", 1000000}, {"prevResult", prev}};
  std::vector<Case> cases = common_cases(base, true, regular_file());
  for (Case& c : key_cases({{"/ingressRate", Type::Int},
                              {"/ingressBurst", Type::Int},
                              {"/egressRate", Type::Int},
                              {"/egressBurst", Type::Int},
                              {"/shapedSubnets", Type::Array},
                              {"/unshapedSubnets", Type::Array},
                              {"/prevResult", Type::Object}}))
    cases.push_back(std::move(c));
  for (Case c :
       {bad_value("/ingressRate", -1, "negative"), bad_value("/ingressBurst", -5, "negative"),
        bad_value("/egressRate", -1, "negative"), bad_value("/egressBurst", -1, "negative"),
        bad_value("/ingressBurst", 18446744073709551615ULL, "2^64 - 1"),
        bad_value("/egressRate", 1e30, "huge float"), bad_value("/ingressBurst", 1.5, "fraction"),
        bad_value("/shapedSubnets", json::array({"banana"}), "not a CIDR"),
        bad_value("/shapedSubnets", json::array({42}), "element not a string"),
        bad_value("/unshapedSubnets", json::array({"10.0.0.0/40"}), "prefix too long"),
        bad_value("/unshapedSubnets", json::array({"10.0.0.0/8"}), "with shapedSubnets too")}) {
    if (c.what.find("with shapedSubnets") != std::string::npos) {
      c.mutate = [](json& conf) {
        conf["shapedSubnets"] = json::array({"10.1.0.0/16"});
        conf["unshapedSubnets"] = json::array({"10.0.0.0/8"});
      };
    }
    cases.push_back(std::move(c));
  }
  expect_rejected("bandwidth", base, cases);
  expect_accepted("bandwidth", base);
}

}  // namespace
}  // namespace knet::test::rel
