#include <gtest/gtest.h>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/version.h"

namespace {

using cni::json;
using cni::Result;

const char* kV1 = R"({
  "cniVersion": "1.0.0",
  "interfaces": [
    {"name": "cni0", "mac": "00:11:22:33:44:55"},
    {"name": "veth1", "mac": "00:11:22:33:44:66"},
    {"name": "eth0", "mac": "00:11:22:33:44:77", "sandbox": "/var/run/netns/c1"}
  ],
  "ips": [
    {"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 2},
    {"address": "10.1.0.6/24", "interface": 2},
    {"address": "2001:db8::5/64", "gateway": "2001:db8::1", "interface": 2}
  ],
  "routes": [
    {"dst": "0.0.0.0/0", "gw": "10.1.0.1"},
    {"dst": "192.168.0.0/16"},
    {"dst": "::/0", "gw": "2001:db8::1"}
  ],
  "dns": {"nameservers": ["10.1.0.1"], "domain": "example.com", "search": ["a.example.com"], "options": ["ndots:2"]}
})";

TEST(Result, V1RoundTripsThroughEveryV04Version) {
  Result r = Result::from_json(json::parse(kV1));
  ASSERT_EQ(r.interfaces.size(), 3u);
  ASSERT_EQ(r.ips.size(), 3u);
  ASSERT_EQ(r.routes.size(), 3u);
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    json out = r.to_json(v);
    EXPECT_EQ(out["cniVersion"], v);
    Result back = Result::from_json(out);
    back.cni_version = r.cni_version;
    EXPECT_EQ(back, r) << v << ": " << out.dump();
  }
}

TEST(Result, V04HasFamilyVersionAndV1DoesNot) {
  Result r = Result::from_json(json::parse(kV1));
  json v04 = r.to_json("0.4.0");
  EXPECT_EQ(v04["ips"][0]["version"], "4");
  EXPECT_EQ(v04["ips"][2]["version"], "6");
  EXPECT_EQ(v04["ips"][0]["interface"], 2);
  json v1 = r.to_json("1.0.0");
  EXPECT_FALSE(v1["ips"][0].contains("version"));
  EXPECT_TRUE(v1.contains("dns"));
}

TEST(Result, DownToV02KeepsFirstAddressPerFamilyAndSplitsRoutes) {
  Result r = Result::from_json(json::parse(kV1));
  for (const char* v : {"0.1.0", "0.2.0"}) {
    json out = r.to_json(v);
    EXPECT_EQ(out["cniVersion"], v);
    EXPECT_EQ(out["ip4"]["ip"], "10.1.0.5/24");
    EXPECT_EQ(out["ip4"]["gateway"], "10.1.0.1");
    ASSERT_EQ(out["ip4"]["routes"].size(), 2u);
    EXPECT_EQ(out["ip6"]["ip"], "2001:db8::5/64");
    ASSERT_EQ(out["ip6"]["routes"].size(), 1u);
    EXPECT_EQ(out["ip6"]["routes"][0]["gw"], "2001:db8::1");
    EXPECT_EQ(out["dns"]["domain"], "example.com");
    EXPECT_FALSE(out.contains("interfaces"));
  }
}

TEST(Result, UpFromV02) {
  json v02 = json::parse(R"({"cniVersion": "0.2.0",
    "ip4": {"ip": "10.2.0.9/16", "gateway": "10.2.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
    "ip6": {"ip": "fd00::9/64", "routes": [{"dst": "::/0", "gw": "fd00::1"}]},
    "dns": {"nameservers": ["1.1.1.1"]}})");
  Result r = Result::from_json(v02);
  ASSERT_EQ(r.ips.size(), 2u);
  EXPECT_FALSE(r.ips[0].interface);
  EXPECT_EQ(r.ips[1].address.str(), "fd00::9/64");
  ASSERT_EQ(r.routes.size(), 2u);
  for (const char* v : {"0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    json out = r.to_json(v);
    EXPECT_EQ(out["ips"].size(), 2u) << v;
    EXPECT_EQ(out["routes"].size(), 2u) << v;
    EXPECT_FALSE(out.contains("interfaces")) << v;
    EXPECT_EQ(out["dns"]["nameservers"][0], "1.1.1.1");
  }
  // And back down: identical to what we read.
  EXPECT_EQ(r.to_json("0.2.0"), v02);
  // 0.1.0 reads the same shape.
  v02["cniVersion"] = "0.1.0";
  EXPECT_EQ(Result::from_json(v02).ips.size(), 2u);
}

TEST(Result, EveryVersionPair) {
  Result r = Result::from_json(json::parse(kV1));
  for (const auto& from : cni::supported_versions()) {
    json a = r.to_json(from);
    Result mid = Result::from_json(a);
    for (const auto& to : cni::supported_versions()) {
      json b = mid.to_json(to);
      Result again = Result::from_json(b);
      // Going through 0.2.0 keeps one address per family; otherwise all three.
      bool lossy = cni::compare_versions(from, "0.3.0") < 0 || cni::compare_versions(to, "0.3.0") < 0;
      EXPECT_EQ(again.ips.size(), lossy ? 2u : 3u) << from << " -> " << to;
      EXPECT_EQ(again.ips[0].address.str(), "10.1.0.5/24");
    }
  }
}

TEST(Result, V02NeedsAnAddress) {
  Result r;
  r.interfaces.push_back({"eth0", "", {}, "/x", "", ""});
  try {
    r.to_json("0.2.0");
    FAIL();
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kIncompatibleVersion);
  }
  EXPECT_NO_THROW(r.to_json("1.0.0"));
}

TEST(Result, Route11FieldsOnlyInV1) {
  Result r = Result::from_json(json::parse(R"({"cniVersion":"1.1.0","ips":[{"address":"10.0.0.2/24"}],
      "routes":[{"dst":"10.9.0.0/16","gw":"10.0.0.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0}]})"));
  json v11 = r.to_json("1.1.0");
  EXPECT_EQ(v11["routes"][0]["mtu"], 1400);
  EXPECT_EQ(v11["routes"][0]["table"], 100);
  EXPECT_EQ(v11["routes"][0]["scope"], 0);
  json v04 = r.to_json("0.4.0");
  EXPECT_FALSE(v04["routes"][0].contains("mtu"));
  EXPECT_FALSE(v04["routes"][0].contains("table"));
}

TEST(Result, RejectsBadShapes) {
  auto code = [](const char* s) {
    try {
      Result::from_json(json::parse(s));
    } catch (const cni::Error& e) {
      return e.code();
    }
    return 0;
  };
  EXPECT_EQ(code(R"({"cniVersion":"9.9.9"})"), cni::kIncompatibleVersion);
  EXPECT_EQ(code(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1"}]})"), cni::kInvalidNetworkConfig);
  EXPECT_EQ(code(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24","interface":3}]})"), cni::kInvalidNetworkConfig);
  EXPECT_EQ(code(R"({"cniVersion":"0.4.0","ips":[{"version":"6","address":"10.0.0.1/24"}]})"), cni::kInvalidNetworkConfig);
  EXPECT_EQ(code(R"({"cniVersion":"1.0.0","routes":[{"gw":"10.0.0.1"}]})"), cni::kInvalidNetworkConfig);
}

TEST(Dns, MergeDeduplicates) {
  cni::DNS a{{"10.0.0.1"}, "", {"x"}, {}};
  cni::DNS b{{"10.0.0.1", "10.0.0.2"}, "d", {"x", "y"}, {"ndots:1"}};
  a.merge(b);
  EXPECT_EQ(a.nameservers.size(), 2u);
  EXPECT_EQ(a.search.size(), 2u);
  EXPECT_EQ(a.domain, "d");
  EXPECT_EQ(a.options.size(), 1u);
}

}  // namespace
