// Hostile input for macvlan (see hostile.h); the master is the veth `mst`
// in the sandbox host.

#include "hostile.h"

namespace knet::test::rel {
namespace {

TEST_F(Hostile, Macvlan) {
  sb.connect(sb.host(), "mst", sb.add_ns("sw"), "far");
  const json base = {{"cniVersion", "1.0.0"}, {"name", "hostile"},
                     {"type", "macvlan"},     {"master", "mst"},
                     {"mode", "bridge"},      {"ipam", host_local("10.81.0.0/24")}};
  std::vector<Case> cases = common_cases(base, true, regular_file());
  for (Case& c : key_cases({{"/master", Type::String},
                              {"/mode", Type::String},
                              {"/mtu", Type::Int},
                              {"/mac", Type::String},
                              {"/linkInContainer", Type::Bool},
                              {"/bcqueuelen", Type::Int},
                              {"/ipam", Type::Object}}))
    cases.push_back(std::move(c));
  for (Case c : {bad_value("/mode", "banana", "unknown mode"), bad_value("/mtu", -1, "negative"),
                 bad_value("/mtu", 99999999999LL, "huge"), bad_value("/mtu", 1.5, "fraction"),
                 bad_value("/mac", "zz:zz:zz:zz:zz:zz", "not a MAC"),
                 bad_value("/mac", "01:00:5e:00:00:01", "multicast MAC"),
                 bad_value("/mac", "00:00:00:00:00:00", "all zeros"),
                 bad_value("/bcqueuelen", -1, "negative"),
                 bad_value("/bcqueuelen", 99999999999LL, "above uint32"),
                 bad_value("/master", "a/b", "slash in an interface name"),
                 bad_value("/master", "abcdefghijklmnop", "16 bytes")})
    cases.push_back(std::move(c));
  expect_rejected("macvlan", base, cases);
  expect_accepted("macvlan", base);
}

}  // namespace
}  // namespace knet::test::rel
