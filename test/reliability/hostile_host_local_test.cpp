// Hostile input for host-local (see hostile.h), run as the IPAM plugin is:
// directly, with the parent plugin's config on stdin.


#include <fstream>

#include "hostile.h"

namespace knet::test::rel {
namespace {

TEST_F(Hostile, HostLocal) {
  const json base = {{"cniVersion", "1.0.0"},
                     {"name", "hostile"},
                     {"type", "bridge"},
                     {"ipam",
                      {{"type", "host-local"},
                       {"dataDir", data.path()},
                       {"ranges", {{{{"subnet", "10.79.0.0/24"}, {"gateway", "10.79.0.1"}}}}},
                       {"routes", {{{"dst", "0.0.0.0/0"}}}}}}};
  // host-local never enters the container's namespace: no CNI_NETNS case.
  std::vector<Case> cases = common_cases(base, false, regular_file());
  for (Case& c : key_cases({{"/ipam/ranges", Type::Array},
                              {"/ipam/ranges/0", Type::Array},
                              {"/ipam/ranges/0/0", Type::Object},
                              {"/ipam/ranges/0/0/subnet", Type::String},
                              {"/ipam/ranges/0/0/rangeStart", Type::String},
                              {"/ipam/ranges/0/0/rangeEnd", Type::String},
                              {"/ipam/ranges/0/0/gateway", Type::String},
                              {"/ipam/subnet", Type::String},
                              {"/ipam/rangeStart", Type::String},
                              {"/ipam/rangeEnd", Type::String},
                              {"/ipam/gateway", Type::String},
                              {"/ipam/routes", Type::Array},
                              {"/ipam/routes/0", Type::Object},
                              {"/ipam/routes/0/dst", Type::String},
                              {"/ipam/routes/0/gw", Type::String},
                              {"/ipam/dataDir", Type::String},
                              {"/ipam/resolvConf", Type::File, 5}}))
    cases.push_back(std::move(c));
  const std::string r0 = "/ipam/ranges/0/0";
  for (Case c : {bad_value(r0 + "/subnet", "banana", "not a CIDR"),
                 bad_value(r0 + "/subnet", "10.79.0.0/33", "prefix too long"),
                 bad_value(r0 + "/subnet", "10.79.0.0/-1", "negative prefix"),
                 bad_value(r0 + "/subnet", "10.79.0.0/4294967320", "huge prefix"),
                 bad_value(r0 + "/subnet", "300.79.0.0/24", "octet above 255"),
                 bad_value(r0 + "/subnet", "10.79.0.0", "no prefix length"),
                 bad_value(r0 + "/subnet", "2001:db8::/129", "IPv6 prefix too long"),
                 bad_value(r0 + "/rangeStart", "10.79.0.300", "octet above 255"),
                 bad_value(r0 + "/rangeStart", "10.80.0.5", "outside the subnet"),
                 bad_value(r0 + "/rangeEnd", "banana", "not an IP"),
                 bad_value(r0 + "/rangeEnd", "10.80.0.5", "outside the subnet"),
                 bad_value(r0 + "/gateway", "10.79.0.999", "octet above 255"),
                 bad_value(r0 + "/gateway", "::1::2", "not an IP"),
                 bad_value("/ipam/subnet", "banana", "legacy key, not a CIDR"),
                 bad_value("/ipam/rangeStart", "x", "legacy key, not an IP"),
                 bad_value("/ipam/routes/0/dst", "banana", "not a CIDR"),
                 bad_value("/ipam/routes/0/dst", "0.0.0.0/99", "prefix too long"),
                 bad_value("/ipam/routes/0/gw", "10.79.0.256", "not an IP"),
                 bad_value("/ipam/ranges", json::array(), "no range set"),
                 bad_value("/ipam/ranges", json::array({json::array()}), "an empty range set"),
                 bad_value("/ipam/ranges/0/0", json::object(), "a range without subnet")})
    cases.push_back(std::move(c));
  // resolvConf names a file to read: anything but a small regular file is an
  // I/O error (5) naming the key, without blocking or reading without end
  // (a FIFO, /dev/zero and a directory come from key_cases).
  const std::string big = files.path() + "/resolv.big";
  std::ofstream(big) << std::string((1u << 20) + 1, '#');  // cni::kMaxResolvConfBytes + 1
  Case too_big = bad_value("/ipam/resolvConf", big, "over the size cap");
  too_big.code = 5;
  cases.push_back(std::move(too_big));
  expect_rejected("host-local", base, cases);
  expect_accepted("host-local", base);
}

}  // namespace
}  // namespace knet::test::rel
