// Config::parse: every key, their order and precedence, requested addresses,
// resolv.conf parsing, and errors that name the key.

#include <cni/error.h>
#include <gtest/gtest.h>
#include <ipam/config.h>
#include <sandbox.h>

#include <fstream>

namespace knet::ipam {
namespace {

using cni::json;

Config parse(json doc, const std::string& args = "") {
  doc["cniVersion"] = doc.value("cniVersion", "1.0.0");
  doc["name"] = doc.value("name", "net");
  return Config::parse(cni::NetConf::from_json(doc), cni::CniArgs::parse(args));
}

std::string error_of(json doc, const std::string& args = "") {
  try {
    parse(doc, args).requested_per_set();
  } catch (const cni::Error& e) {
    return std::to_string(e.code()) + " " + e.msg();
  }
  return "";
}

TEST(Config, OrderIsRuntimeRangesThenLegacyThenRanges) {
  Config c = parse(json::parse(R"({
    "ipam": {"type": "host-local", "subnet": "10.5.0.0/24", "gateway": "10.5.0.254",
             "ranges": [[{"subnet": "fd00:5::/64"}]], "dataDir": "/tmp/x",
             "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.0.2.0/24", "gw": "10.5.0.9"}],
             "resolvConf": "/etc/resolv.conf"},
    "runtimeConfig": {"ipRanges": [[{"subnet": "10.6.0.0/24"}]]}})"));
  ASSERT_EQ(c.range_sets.size(), 3u);
  EXPECT_EQ(c.range_sets[0].str(), "10.6.0.1-10.6.0.254");
  EXPECT_EQ(c.range_sets[1].ranges[0].gateway.str(), "10.5.0.254");
  EXPECT_EQ(c.range_sets[2].family(), 10);
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.network_dir(), "/tmp/x/net");
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[1].gw->str(), "10.5.0.9");
  EXPECT_EQ(c.resolv_conf, "/etc/resolv.conf");
}

TEST(Config, DefaultDataDir) {
  Config c = parse({{"ipam", {{"type", "host-local"}, {"subnet", "10.5.0.0/24"}}}});
  EXPECT_EQ(c.network_dir(), "/var/lib/cni/networks/net");
}

TEST(Config, RequestedAddressesFromEveryPlace) {
  json doc = json::parse(R"({
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.5.0.0/24"}], [{"subnet": "fd00:5::/64"}],
                                              [{"subnet": "10.7.0.0/24"}]]},
    "args": {"cni": {"ips": ["fd00:5::9/64"]}},
    "runtimeConfig": {"ips": ["10.7.0.3"]}})");
  auto req = parse(doc, "IP=10.5.0.8;IgnoreUnknown=1").requested_per_set();
  ASSERT_EQ(req.size(), 3u);
  EXPECT_EQ(req[0]->str(), "10.5.0.8");
  EXPECT_EQ(req[1]->str(), "fd00:5::9");
  EXPECT_EQ(req[2]->str(), "10.7.0.3");
  auto none = parse({{"ipam", doc["ipam"]}}).requested_per_set();
  EXPECT_FALSE(none[0] || none[1] || none[2]);
}

TEST(Config, RequestedAddressErrors) {
  json ipam = {{"type", "host-local"}, {"subnet", "10.5.0.0/24"}};
  EXPECT_NE(error_of({{"ipam", ipam}}, "IP=10.9.0.1").find("10.9.0.1"), std::string::npos);
  EXPECT_NE(error_of({{"ipam", ipam}}, "IP=10.5.0.3,10.5.0.4").find("10.5.0.4"), std::string::npos);
  EXPECT_NE(error_of({{"ipam", ipam}}, "IP=10.5.0.1").find("gateway"), std::string::npos);
  EXPECT_EQ(error_of({{"ipam", ipam}}, "IP=nope").substr(0, 2), "4 ");
  EXPECT_NE(
      error_of({{"ipam", ipam}, {"runtimeConfig", {{"ips", {"x"}}}}}).find("runtimeConfig.ips[0]"),
      std::string::npos);
  // The same address asked twice counts once.
  EXPECT_EQ(error_of({{"ipam", ipam}, {"runtimeConfig", {{"ips", {"10.5.0.3"}}}}}, "IP=10.5.0.3"),
            "");
}

TEST(Config, Errors) {
  EXPECT_NE(error_of({{"ipam", {{"type", "host-local"}}}}).find("no IP ranges"), std::string::npos);
  EXPECT_NE(error_of(json::object()).find("missing \"ipam\""), std::string::npos);
  EXPECT_NE(
      error_of({{"ipam",
                 {{"type", "host-local"},
                  {"ranges", {{{{"subnet", "10.1.0.0/24"}}}, {{{"subnet", "10.1.0.0/16"}}}}}}}})
          .find("overlaps"),
      std::string::npos);
  EXPECT_NE(
      error_of({{"ipam", {{"type", "host-local"}, {"ranges", {{{{"subnet", "10.1.0.0/244"}}}}}}}})
          .find("\"ipam.ranges[0][0].subnet\""),
      std::string::npos);
  EXPECT_NE(error_of({{"ipam", {{"type", "host-local"}, {"ranges", "x"}}}}).find("\"ipam.ranges\""),
            std::string::npos);
  EXPECT_NE(
      error_of(
          {{"ipam",
            {{"type", "host-local"}, {"subnet", "10.1.0.0/24"}, {"routes", {{{"dst", "x"}}}}}}})
          .find("ipam.routes[0]"),
      std::string::npos);
  // 0.2.0 results cannot carry two addresses of one family.
  json two = {{"type", "host-local"},
              {"ranges", {{{{"subnet", "10.1.0.0/24"}}}, {{{"subnet", "10.2.0.0/24"}}}}}};
  EXPECT_NE(error_of({{"cniVersion", "0.2.0"}, {"ipam", two}}).find("more than 1 address"),
            std::string::npos);
  EXPECT_EQ(error_of({{"cniVersion", "0.3.1"}, {"ipam", two}}), "");
}

// The dns parsed from a resolv.conf holding `text`.
cni::DNS dns_of(const std::string& text) {
  test::TempDir dir;
  std::string path = dir.path() + "/resolv.conf";
  std::ofstream(path) << text;
  return parse_resolv_conf(path);
}

TEST(ResolvConf, ParsesLikeTheReference) {
  cni::DNS dns = dns_of(
      "# comment\n; other\nnameserver 192.0.2.53\nnameserver  2001:db8::53 \n"
      "domain example.test\nsearch a.test b.test\nsearch c.test\n"
      "options ndots:5 rotate\nnameserver\nsortlist 10.0.0.0\n");
  EXPECT_EQ(dns.nameservers, (std::vector<std::string>{"192.0.2.53", "2001:db8::53"}));
  EXPECT_EQ(dns.domain, "example.test");
  EXPECT_EQ(dns.search, (std::vector<std::string>{"a.test", "b.test", "c.test"}));
  EXPECT_EQ(dns.options, (std::vector<std::string>{"ndots:5", "rotate"}));
  EXPECT_THROW(parse_resolv_conf("/nonexistent/resolv.conf"), cni::Error);
}

// Split as Go's bufio.Scanner and strings.Fields split: CRLF, tabs, a last
// line without newline, comments only at the start of a line's first field.
TEST(ResolvConf, SplitsLinesAndFieldsLikeGo) {
  cni::DNS dns = dns_of(
      "\t nameserver\t192.0.2.1\r\n  # nameserver 192.0.2.9\r\n"
      "search\va.test\fb.test \r\n\r\n;domain x.test\n"
      "domain first.test second.test\noptions  ndots:2");
  EXPECT_EQ(dns.nameservers, std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(dns.search, (std::vector<std::string>{"a.test", "b.test"}));
  EXPECT_EQ(dns.domain, "first.test");
  EXPECT_EQ(dns.options, std::vector<std::string>{"ndots:2"});
  EXPECT_TRUE(dns_of("").nameservers.empty());
}

}  // namespace
}  // namespace knet::ipam
