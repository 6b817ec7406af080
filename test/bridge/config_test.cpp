// Config::parse of the bridge plugin: defaults, every key, and errors that
// name the key.

#include "config.h"

#include <cni/error.h>
#include <gtest/gtest.h>

namespace knet::bridge {
namespace {

Config parse(const std::string& extra_json, const std::string& cni_args = "") {
  cni::json doc = cni::json::parse(R"({"cniVersion":"1.0.0","name":"n","type":"bridge"})");
  doc.merge_patch(cni::json::parse(extra_json));
  cni::NetConf conf = cni::NetConf::from_json(doc);
  return Config::parse(conf, cni::CniArgs::parse(cni_args));
}

std::string error_of(const std::string& extra_json) {
  try {
    parse(extra_json);
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig) << e.msg();
    return e.msg();
  }
  ADD_FAILURE() << "no error for " << extra_json;
  return {};
}

TEST(BridgeConfig, DefaultsMatchTheReference) {
  Config c = parse("{}");
  EXPECT_EQ(c.bridge, "cni0");
  EXPECT_FALSE(c.is_gateway || c.is_default_gateway || c.force_address || c.ip_masq);
  EXPECT_EQ(c.masq_backend, MasqBackend::kNftables);
  EXPECT_EQ(c.mtu, 0u);
  EXPECT_FALSE(c.hairpin || c.promisc || c.macspoofchk || c.enable_dad || c.port_isolation);
  EXPECT_FALSE(c.disable_container_interface);
  EXPECT_EQ(c.vlan, 0);
  EXPECT_TRUE(c.vlan_trunk.empty());
  EXPECT_TRUE(c.preserve_default_vlan);
  EXPECT_FALSE(c.vlan_filtering());
  EXPECT_FALSE(c.has_ipam);
  EXPECT_TRUE(c.mac.empty());
}

TEST(BridgeConfig, EveryKey) {
  Config c = parse(R"({"bridge":"br7","isGateway":false,"isDefaultGateway":true,
    "forceAddress":true,"ipMasq":true,"ipMasqBackend":"iptables","mtu":1400,"hairpinMode":true,
    "vlan":100,"preserveDefaultVlan":false,"macspoofchk":true,"enabledad":true,
    "portIsolation":true,"ipam":{"type":"host-local"}})");
  EXPECT_EQ(c.bridge, "br7");
  EXPECT_TRUE(c.is_gateway) << "isDefaultGateway implies isGateway";
  EXPECT_TRUE(c.is_default_gateway && c.force_address && c.ip_masq && c.hairpin);
  EXPECT_EQ(c.masq_backend, MasqBackend::kIptables);
  EXPECT_EQ(c.mtu, 1400u);
  EXPECT_EQ(c.vlan, 100);
  EXPECT_FALSE(c.preserve_default_vlan);
  EXPECT_TRUE(c.macspoofchk && c.enable_dad && c.port_isolation && c.has_ipam);
  EXPECT_TRUE(c.vlan_filtering());
}

TEST(BridgeConfig, KeysMatchCaseInsensitivelyLikeGo) {
  EXPECT_TRUE(parse(R"({"HairpinMode":true})").hairpin);
  EXPECT_EQ(parse(R"({"BRIDGE":"x0"})").bridge, "x0");
}

TEST(BridgeConfig, VlanTrunkRangesAndIds) {
  Config c = parse(R"({"vlanTrunk":[{"minID":10,"maxID":12},{"id":5},{"id":11}]})");
  EXPECT_EQ(c.vlan_trunk, (std::vector<uint16_t>{5, 10, 11, 12}));
  EXPECT_TRUE(c.vlan_filtering());
  EXPECT_NE(error_of(R"({"vlanTrunk":[{"minID":10}]})").find("vlanTrunk[0]"), std::string::npos);
  EXPECT_NE(error_of(R"({"vlanTrunk":[{"minID":12,"maxID":10}]})").find("smaller"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"vlanTrunk":[{"id":4095}]})").find("vlanTrunk[0].id"), std::string::npos);
  EXPECT_NE(error_of(R"({"vlanTrunk":[{"id":0}]})").find("vlanTrunk[0].id"), std::string::npos);
  EXPECT_NE(error_of(R"({"vlan":5,"vlanTrunk":[{"id":6}]})").find("at the same time"),
            std::string::npos);
}

TEST(BridgeConfig, ErrorsNameTheKey) {
  EXPECT_NE(error_of(R"({"vlan":4095})").find("\"vlan\""), std::string::npos);
  EXPECT_NE(error_of(R"({"vlan":-1})").find("\"vlan\""), std::string::npos);
  EXPECT_NE(error_of(R"({"mtu":"big"})").find("mtu"), std::string::npos);
  EXPECT_NE(error_of(R"({"mtu":70000})").find("mtu"), std::string::npos);
  EXPECT_NE(error_of(R"({"isGateway":"yes"})").find("isGateway"), std::string::npos);
  EXPECT_NE(error_of(R"({"ipMasqBackend":"pf"})").find("ipMasqBackend"), std::string::npos);
  EXPECT_NE(error_of(R"({"bridge":"a-very-long-bridge-name"})").find("\"bridge\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"hairpinMode":true,"promiscMode":true})").find("promiscMode"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"disableContainerInterface":true,"ipam":{"type":"host-local"}})")
                .find("disableContainerInterface"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"vlan":1000,"isGateway":true,"bridge":"bridge12345"})").find("bridge"),
            std::string::npos);
}

TEST(BridgeConfig, MacSourcesLaterOnesWin) {
  EXPECT_EQ(parse("{}", "MAC=02:00:00:00:00:01").mac, "02:00:00:00:00:01");
  EXPECT_EQ(parse(R"({"args":{"cni":{"mac":"02-00-00-00-00-0A"}}})", "MAC=02:00:00:00:00:01").mac,
            "02:00:00:00:00:0a");
  Config c = parse(R"({"args":{"cni":{"mac":"02:00:00:00:00:02"}},
                       "runtimeConfig":{"mac":"02:00:00:00:00:03"}})",
                   "MAC=02:00:00:00:00:01");
  EXPECT_EQ(c.mac, "02:00:00:00:00:03");
  EXPECT_EQ(c.mac_key, "runtimeConfig.mac");
  EXPECT_NE(error_of(R"({"runtimeConfig":{"mac":"zz:00:00:00:00:01"}})").find("runtimeConfig.mac"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"runtimeConfig":{"mac":"01:00:00:00:00:01"}})").find("multicast"),
            std::string::npos);
}

}  // namespace
}  // namespace knet::bridge
