// Config::parse: every key, its default, and the error for a bad value.

#include "config.h"

#include <cni/error.h>
#include <gtest/gtest.h>

namespace knet::macvlan {
namespace {

cni::NetConf conf_of(const std::string& extra) {
  return cni::NetConf::parse(R"({"cniVersion":"1.1.0","name":"n","type":"macvlan")" +
                             (extra.empty() ? "" : "," + extra) + "}");
}

Config parse(const std::string& extra, const std::string& cni_args = "") {
  return Config::parse(conf_of(extra), cni::CniArgs::parse(cni_args));
}

std::string error_of(const std::string& extra, const std::string& cni_args = "") {
  try {
    parse(extra, cni_args);
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
    return e.msg();
  }
  return "";
}

TEST(MacvlanConfig, Defaults) {
  Config c = parse("");
  EXPECT_EQ(c.master, "");
  EXPECT_EQ(c.mode, nlw::MacvlanMode::kBridge);
  EXPECT_EQ(c.mtu, 0u);
  EXPECT_EQ(c.mac, "");
  EXPECT_FALSE(c.link_in_container);
  EXPECT_FALSE(c.bcqueuelen);
  EXPECT_FALSE(c.has_ipam);
  EXPECT_FALSE(
      parse(R"("ipam":{})").has_ipam);  // an empty ipam section is L2 only, as the reference
}

TEST(MacvlanConfig, EveryKey) {
  Config c = parse(R"("master":"eth1","mode":"vepa","mtu":1400,"mac":"02:AA:bb:cc:dd:01",
                     "linkInContainer":true,"bcqueuelen":100,"ipam":{"type":"host-local"})");
  EXPECT_EQ(c.master, "eth1");
  EXPECT_EQ(c.mode, nlw::MacvlanMode::kVepa);
  EXPECT_EQ(c.mtu, 1400u);
  EXPECT_EQ(c.mac, "02:aa:bb:cc:dd:01");
  EXPECT_TRUE(c.link_in_container);
  EXPECT_EQ(c.bcqueuelen, 100u);
  EXPECT_TRUE(c.has_ipam);
  for (auto [s, m] : {std::pair{"bridge", nlw::MacvlanMode::kBridge},
                      {"private", nlw::MacvlanMode::kPrivate},
                      {"passthru", nlw::MacvlanMode::kPassthru},
                      {"source", nlw::MacvlanMode::kSource}}) {
    EXPECT_EQ(parse(std::string(R"("mode":")") + s + "\"").mode, m) << s;
  }
}

TEST(MacvlanConfig, MacSourcesWeakestFirst) {
  const std::string mac = R"("mac":"02:00:00:00:00:01")";
  EXPECT_EQ(parse(mac).mac_key, "mac");
  EXPECT_EQ(parse(mac, "MAC=02-00-00-00-00-02").mac, "02:00:00:00:00:02");
  Config c = parse(mac + R"(,"args":{"cni":{"mac":"02:00:00:00:00:03"}})", "MAC=02:00:00:00:00:02");
  EXPECT_EQ(c.mac, "02:00:00:00:00:03");
  EXPECT_EQ(c.mac_key, "args.cni.mac");
  c = parse(mac + R"(,"args":{"cni":{"mac":"02:00:00:00:00:03"}},)" +
                R"("runtimeConfig":{"mac":"02:00:00:00:00:04"})",
            "MAC=02:00:00:00:00:02");
  EXPECT_EQ(c.mac, "02:00:00:00:00:04");
  EXPECT_EQ(c.mac_key, "runtimeConfig.mac");
}

TEST(MacvlanConfig, ErrorsNameTheKey) {
  EXPECT_NE(error_of(R"("mode":"passthrough")").find("\"mode\""), std::string::npos);
  EXPECT_NE(error_of(R"("mtu":-1)").find("mtu"), std::string::npos);
  EXPECT_NE(error_of(R"("mtu":"1500")").find("mtu"), std::string::npos);
  EXPECT_NE(error_of(R"("master":5)").find("master"), std::string::npos);
  EXPECT_NE(error_of(R"("linkInContainer":"yes")").find("linkInContainer"), std::string::npos);
  EXPECT_NE(error_of(R"("bcqueuelen":-3)").find("bcqueuelen"), std::string::npos);
  EXPECT_NE(error_of(R"("mac":"02:00:00:00:00")").find("\"mac\""), std::string::npos);
  EXPECT_NE(error_of(R"("mac":"01:00:5e:00:00:01")").find("multicast"), std::string::npos);
  EXPECT_NE(error_of(R"("mac":"00:00:00:00:00:00")").find("all-zeros"), std::string::npos);
  EXPECT_NE(error_of("", "MAC=zz:00:00:00:00:01").find("CNI_ARGS MAC"), std::string::npos);
  EXPECT_NE(error_of(R"("runtimeConfig":{"mac":"nope"})").find("runtimeConfig.mac"),
            std::string::npos);
}

}  // namespace
}  // namespace knet::macvlan
