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

// Go's decoder stops at 10,000 levels; so does knet, before any recursion.
TEST(Json, NestingPastGosLimitIsADecodingError) {
  auto nested = [](size_t n) { return std::string(n, '[') + std::string(n, ']'); };
  EXPECT_FALSE(cni::nesting_exceeds("{\"a\":" + nested(9999) + "}"));
  EXPECT_TRUE(cni::nesting_exceeds("{\"a\":" + nested(10000) + "}"));
  // Brackets inside strings (escaped quotes included) do not count.
  EXPECT_FALSE(cni::nesting_exceeds("{\"a\":\"" + std::string(20000, '[') + "\\\"[[[\"}"));
  for (size_t depth : {10000u, 100000u}) {
    try {
      cni::parse_object("{\"ipam\":{\"x\":" + nested(depth) + "}}");
      ADD_FAILURE() << depth << " levels accepted";
    } catch (const cni::Error& e) {
      EXPECT_EQ(e.code(), cni::kDecodingFailure);
      EXPECT_NE(e.msg().find("nested deeper than 10000"), std::string::npos) << e.msg();
    }
  }
  // Just within the limit: parsed, and a wrong type there is named without a crash.
  json doc = cni::parse_object("{\"mtu\":" + nested(9998) + "}");
  std::string msg = err_of([&] { cni::get_int(doc, "mtu"); });
  EXPECT_NE(msg.find("\"mtu\""), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 200u);
}

// 6.7e69 used to be converted to int64 before the range check (undefined behaviour).
TEST(Json, FloatsOutsideInt64AreWrongTypesNotUndefinedBehaviour) {
  for (double d : {6.7e69, -6.7e69, 9.3e18, -9.3e18, 1e300}) {
    json doc = {{"mtu", d}};
    std::string msg = err_of([&] { cni::get_int(doc, "mtu"); });
    EXPECT_NE(msg.find("\"mtu\""), std::string::npos) << d;
    if (d == 9.3e18) continue;  // a valid uint64
    msg = err_of([&] { cni::get_uint(doc, "mtu"); });
    EXPECT_NE(msg.find("\"mtu\""), std::string::npos) << d;
  }
  json ok = {{"n", 1e3}};
  EXPECT_EQ(cni::get_int(ok, "n"), 1000);
}

TEST(Json, Utf8Validation) {
  EXPECT_TRUE(cni::valid_utf8("eth0"));
  EXPECT_TRUE(cni::valid_utf8("\xc3\xa9t\xe2\x82\xac\xf0\x9f\x98\x80"));
  for (const char* bad : {"\xff", "eth\xfe", "\xc3", "\xc0\xaf" /* overlong '/' */,
                          "\xed\xa0\x80" /* surrogate */, "\xf4\x90\x80\x80" /* > U+10FFFF */})
    EXPECT_FALSE(cni::valid_utf8(bad)) << bad;
}

TEST(Json, OutputReplacesInvalidUtf8InsteadOfThrowing) {
  json j = {{"name", std::string("eth\xff")}};
  EXPECT_EQ(cni::dump_json(j), "{\"name\":\"eth\xef\xbf\xbd\"}");
}

TEST(Json, MalformedInputNamesWhereAndWhichKey) {
  try {
    cni::parse_object("{\"name\":\"n\",\"ipam\":{\"subnet\":\"\xff\"}}");
    ADD_FAILURE();
  } catch (const cni::Error& e) {
    EXPECT_EQ(e.code(), cni::kDecodingFailure);
    EXPECT_NE(e.msg().find("\"subnet\""), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find("invalid UTF-8"), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find("malformed JSON at byte"), std::string::npos) << e.msg();
  }
}

}  // namespace
