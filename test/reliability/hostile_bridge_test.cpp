// Hostile input for bridge (see hostile.h).

#include "hostile.h"

namespace knet::test::rel {
namespace {

TEST_F(Hostile, Bridge) {
  const json base = {{"cniVersion", "1.0.0"},
                     {"name", "hostile"},
                     {"type", "bridge"},
                     {"bridge", "hbr0"},
                     {"isGateway", true},
                     {"ipMasq", true},
                     {"ipam", host_local("10.78.0.0/24")}};
  std::vector<Case> cases = common_cases(base, true, regular_file());
  for (Case& c : key_cases({{"/bridge", Type::String},
                              {"/isGateway", Type::Bool},
                              {"/isDefaultGateway", Type::Bool},
                              {"/forceAddress", Type::Bool},
                              {"/ipMasq", Type::Bool},
                              {"/mtu", Type::Int},
                              {"/hairpinMode", Type::Bool},
                              {"/promiscMode", Type::Bool},
                              {"/vlan", Type::Int},
                              {"/vlanTrunk", Type::Array},
                              {"/preserveDefaultVlan", Type::Bool},
                              {"/macspoofchk", Type::Bool},
                              {"/enabledad", Type::Bool},
                              {"/disableContainerInterface", Type::Bool},
                              {"/portIsolation", Type::Bool},
                              {"/ipam", Type::Object}}))
    cases.push_back(std::move(c));
  for (Case c :
       {bad_value("/mtu", -1, "negative"), bad_value("/mtu", 99999999999LL, "huge"),
        bad_value("/mtu", 18446744073709551615ULL, "2^64 - 1"),
        bad_value("/mtu", 1e30, "huge float"), bad_value("/mtu", 1.5, "fraction"),
        bad_value("/vlan", -1, "negative"), bad_value("/vlan", 4095, "above 4094"),
        bad_value("/vlan", 99999999999LL, "huge"),
        bad_value("/vlanTrunk", json::array({"x"}), "element not an object"),
        bad_value("/vlanTrunk", json::array({{{"id", -1}}}), "negative id"),
        bad_value("/vlanTrunk", json::array({{{"id", 5000}}}), "id above 4094"),
        bad_value("/vlanTrunk", json::array({{{"minID", 10}, {"maxID", 5}}}), "minID above maxID"),
        bad_value("/vlanTrunk", json::array({{{"minID", -3}, {"maxID", 5}}}), "negative minID"),
        bad_value("/bridge", "a/b", "slash in an interface name"),
        bad_value("/bridge", "abcdefghijklmnop", "16 bytes"),
        bad_value("/bridge", "..", "dot-dot"),
        // A failed ADD after the bridge was made must remove it (the snapshot sees it).
        bad_value("/ipam/ranges/0/0/subnet", "10.78.0.0/33", "a /33"),
        bad_value("/ipam/ranges/0/0/subnet", "10.300.0.0/24", "an octet over 255"),
        bad_value("/ipam/ranges/0/0/subnet", "0.0.0.0/0", "the whole address space"),
        bad_value("/ipam/ranges/0/0/gateway", "10.99.0.1", "gateway outside the subnet")})
    cases.push_back(std::move(c));
  {
    Case c = bad_value("/ipam/ranges/0/0/rangeStart", "10.78.0.200", "rangeStart after rangeEnd");
    c.mutate = [](json& conf) {
      conf["ipam"]["ranges"][0][0]["rangeStart"] = "10.78.0.200";
      conf["ipam"]["ranges"][0][0]["rangeEnd"] = "10.78.0.100";
    };
    c.names = "rangeStart|rangeEnd";
    cases.push_back(std::move(c));
  }
  {
    // The owner tag must fit a link alias: refused before anything is made.
    Case c = bad_value("/name", std::string(250, 'n'), "too long for the owner tag");
    c.names = "too long together";
    cases.push_back(std::move(c));
  }
  expect_rejected("bridge", base, cases);
  expect_accepted("bridge", base);
}

}  // namespace
}  // namespace knet::test::rel
