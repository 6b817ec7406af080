#include <gtest/gtest.h>

#include "cni/error.h"
#include "cni/json.h"

namespace {

using cni::json;

std::string err_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kInvalidNetworkConfig);
    return e.msg();
  }
  return "";
}

TEST(Json, ExactKeyWinsOverCaseInsensitive) {
  json j = json::parse(R"({"ingressrate": 1, "ingressRate": 2})");
  EXPECT_EQ(cni::get_int(j, "ingressRate"), 2);
  json k = json::parse(R"({"IngressRate": 5, "IngressBurst": 7})");  // what containerd's CRI sends
  EXPECT_EQ(cni::get_int(k, "ingressRate"), 5);
  EXPECT_EQ(cni::get_int(k, "ingressBurst"), 7);
  json p = json::parse(R"({"HostPort": 80, "ContainerPort": 8080, "Protocol": "tcp", "HostIP": ""})");
  EXPECT_EQ(cni::get_int(p, "hostPort"), 80);
  EXPECT_EQ(cni::get_string(p, "hostIP"), "");
}

TEST(Json, NullIsAbsent) {
  json j = json::parse(R"({"mtu": null})");
  EXPECT_FALSE(cni::get_int(j, "mtu"));
  EXPECT_EQ(cni::find_key(j, "mtu"), nullptr);
}

TEST(Json, WrongTypesNameTheKey) {
  json j = json::parse(R"({"mtu": "1500", "isGateway": "yes", "ranges": {}, "n": 1.5, "u": -3})");
  EXPECT_NE(err_of([&] { cni::get_int(j, "mtu", "mtu"); }).find("\"mtu\": expected an integer"), std::string::npos);
  EXPECT_NE(err_of([&] { cni::get_bool(j, "isGateway"); }).find("isGateway"), std::string::npos);
  EXPECT_NE(err_of([&] { cni::get_array(j, "ranges", "ipam.ranges"); }).find("ipam.ranges"), std::string::npos);
  EXPECT_NE(err_of([&] { cni::get_int(j, "n"); }).find("\"n\""), std::string::npos);
  EXPECT_NE(err_of([&] { cni::get_uint(j, "u"); }).find("negative"), std::string::npos);
}

TEST(Json, IntegerRanges) {
  json j = json::parse(R"({"a": 70000, "b": 1e3, "c": 18446744073709551615})");
  EXPECT_NE(err_of([&] { cni::get_int(j, "a", "", 0, 65535); }).find("out of range"), std::string::npos);
  EXPECT_EQ(cni::get_int(j, "b"), 1000);
  EXPECT_EQ(cni::get_uint(j, "c"), UINT64_MAX);
  json built = {{"r", int64_t{5}}};  // signed, as C++ code builds it
  EXPECT_EQ(cni::get_uint(built, "r"), 5u);
  EXPECT_NE(err_of([&] { cni::get_uint(j, "c", "", UINT32_MAX); }).find("larger"), std::string::npos);
}

TEST(Json, StringLists) {
  json j = json::parse(R"({"l": ["a", "b"], "m": ["a", 1]})");
  EXPECT_EQ(cni::get_string_list(j, "l")->size(), 2u);
  EXPECT_NE(err_of([&] { cni::get_string_list(j, "m"); }).find("m[1]"), std::string::npos);
}

TEST(Json, ParseObjectRejectsGarbage) {
  for (const char* bad : {"", "{", "[1]", "\"x\"", "{\"a\":}"}) {
    try {
      cni::parse_object(bad);
      ADD_FAILURE() << bad;
    } catch (const cni::Error& e) {
      EXPECT_EQ(e.code(), cni::kDecodingFailure);
    }
  }
}

}  // namespace
