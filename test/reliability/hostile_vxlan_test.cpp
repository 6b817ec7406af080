// Hostile input for vxlan (see hostile.h and docs/vxlan.md); the underlay is
// the veth `und0` (192.0.2.1) in the sandbox host.


#include "hostile.h"

namespace knet::test::rel {
namespace {

TEST_F(Hostile, Vxlan) {
  sb.connect(sb.host(), "und0", sb.add_ns("wire"), "far", "192.0.2.1/24", "192.0.2.2/24");
  const json base = {{"cniVersion", "1.0.0"},
                     {"name", "hostile"},
                     {"type", "vxlan"},
                     {"vni", 42},
                     {"underlay", "und0"},
                     {"local", "192.0.2.1"},
                     {"peers", {"192.0.2.1", "192.0.2.2"}},
                     {"ipam", host_local("10.82.0.0/24")}};
  std::vector<Case> cases = common_cases(base, true, regular_file());
  for (Case& c : key_cases({{"/vni", Type::Int},
                              {"/port", Type::Int},
                              {"/underlay", Type::String},
                              {"/local", Type::String},
                              {"/mode", Type::String},
                              {"/bridge", Type::String},
                              {"/peers", Type::Array},
                              {"/group", Type::String},
                              {"/nodes", Type::Array},
                              {"/peersFile", Type::File},
                              {"/mtu", Type::Int},
                              {"/learning", Type::Bool},
                              {"/ipam", Type::Object}}))
    cases.push_back(std::move(c));
  for (Case c :
       {bad_value("/vni", 0, "zero"), bad_value("/vni", -1, "negative"),
        bad_value("/vni", 16777216, "above 2^24 - 1"), bad_value("/vni", 99999999999LL, "huge"),
        bad_value("/vni", 1.5, "fraction"), bad_value("/port", -1, "negative"),
        bad_value("/port", 70000, "above 65535"), bad_value("/local", "banana", "not an IP"),
        bad_value("/local", "192.0.2.300", "octet above 255"),
        bad_value("/mode", "l4", "unknown mode"),
        bad_value("/peers", json::array({"banana"}), "not an IP"),
        bad_value("/peers", json::array({42}), "element not a string"),
        bad_value("/group", "10.0.0.1", "not multicast"),
        bad_value("/peersFile", "relative/peers.json", "not absolute"),
        bad_value("/mtu", -1, "negative"), bad_value("/mtu", 99999999999LL, "huge"),
        bad_value("/bridge", "a/b", "slash in an interface name"),
        bad_value("/bridge", "abcdefghijklmnop", "16 bytes"),
        bad_value("/underlay", "abcdefghijklmnop", "16 bytes")})
    cases.push_back(std::move(c));
  // Keys that conflict with each other or with the mode.
  Case group_and_peers = bad_value("/group", "239.1.1.1", "together with peers");
  cases.push_back(group_and_peers);
  Case l3_bad_node =
      bad_value("/nodes", json::array({{{"vtep", "banana"}, {"subnet", "10.0.0.0/24"}}}),
                "l3 node with a bad vtep");
  l3_bad_node.mutate = [](json& conf) {
    conf["mode"] = "l3";
    conf.erase("peers");
    conf["nodes"] = json::array({{{"vtep", "banana"}, {"subnet", "10.0.0.0/24"}}});
  };
  cases.push_back(l3_bad_node);
  Case l3_bad_subnet = l3_bad_node;
  l3_bad_subnet.what =
      "/nodes = [{vtep 192.0.2.1, subnet 10.0.0.0/33}] (l3 node with a bad subnet)";
  l3_bad_subnet.names = "subnet";
  l3_bad_subnet.mutate = [](json& conf) {
    conf["mode"] = "l3";
    conf.erase("peers");
    conf["nodes"] = json::array({{{"vtep", "192.0.2.1"}, {"subnet", "10.0.0.0/33"}}});
  };
  cases.push_back(l3_bad_subnet);
  // peersFile as a FIFO, /dev/zero or a directory (a FIFO blocked the ADD,
  // /dev/zero grew it without bound): key_cases, Type::File.
  expect_rejected("vxlan", base, cases);
  expect_accepted("vxlan", base);
}

}  // namespace
}  // namespace knet::test::rel
