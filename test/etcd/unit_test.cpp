// The etcd client's pure parts: base64, the gateway's JSON both ways,
// backoff bounds and config checks. No server, no privileges.

#include <gtest/gtest.h>

#include "etcd/backoff.h"
#include "etcd/base64.h"
#include "etcd/config.h"
#include "etcd/error.h"
#include "etcd/kv.h"
#include "etcd/wire.h"

namespace {

using nlohmann::json;

TEST(Base64, Rfc4648TestVectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(etcd::base64_encode(plain), encoded) << plain;
    EXPECT_EQ(etcd::base64_decode(encoded), std::string(plain)) << encoded;
  }
}

TEST(Base64, EveryByteRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); len += 37) {
    std::string part = all.substr(all.size() - len);
    EXPECT_EQ(etcd::base64_decode(etcd::base64_encode(part)), part) << len;
  }
  EXPECT_EQ(etcd::base64_encode(std::string("\0\xff\xfe", 3)), "AP/+");
}

TEST(Base64, RefusesWhatIsNotPaddedStandardBase64) {
  for (const char* bad :
       {"Zg", "Zg=", "Zm9", "Z===", "Zm9v\n", " Zm9v", "Zm-v", "Zm_v", "Zg==Zg==", "=Zm9", "Zm=v"})
    EXPECT_FALSE(etcd::base64_decode(bad).has_value()) << bad;
}

TEST(PrefixEnd, IncrementsTheLastByteBelow0xff) {
  EXPECT_EQ(etcd::prefix_end("/knet/"), "/knet0");
  EXPECT_EQ(etcd::prefix_end("a\xff"), "b");
  EXPECT_EQ(etcd::prefix_end(""), std::string(1, '\0'));
  EXPECT_EQ(etcd::prefix_end("\xff\xff"), std::string(1, '\0'));
}

TEST(Wire, AbsentFieldsReadAsZero) {
  // A key just created by a put without lease: no "lease"; a range of a
  // missing key: no "kvs", no "count"; a failed txn: no "succeeded".
  json range = json::parse(R"({"header":{"revision":"7"}})");
  etcd::RangeResult r = etcd::wire::decode_range(range);
  EXPECT_EQ(r.revision, 7);
  EXPECT_TRUE(r.kvs.empty());
  EXPECT_EQ(r.count, 0);
  EXPECT_FALSE(r.more);

  json kv = json::parse(R"({"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2"})");
  etcd::KeyValue k = etcd::wire::decode_kv(kv);
  EXPECT_EQ(k.key, "foo");
  EXPECT_EQ(k.value, "");
  EXPECT_EQ(k.lease, 0);
  EXPECT_EQ(k.create_revision, 2);
  EXPECT_EQ(k.mod_revision, 3);
  EXPECT_EQ(k.version, 2);

  etcd::TxnResult t = etcd::wire::decode_txn(json::parse(
      R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},
          "kvs":[{"key":"Zm9v","value":"YmFy","create_revision":"2","mod_revision":"2","version":"1"}],"count":"1"}}]})"));
  EXPECT_FALSE(t.succeeded);
  ASSERT_EQ(t.responses.size(), 1u);
  EXPECT_EQ(std::get<etcd::RangeResult>(t.responses[0]).kvs.at(0).value, "bar");

  EXPECT_EQ(etcd::wire::decode_put(json::object()).revision, 0);
  EXPECT_TRUE(
      etcd::wire::decode_lease_keepalive(json::parse(R"({"result":{"ID":"5"}})")).expired());
  EXPECT_EQ(
      etcd::wire::decode_lease_keepalive(json::parse(R"({"result":{"ID":"5","TTL":"3"}})")).ttl, 3);
  EXPECT_TRUE(
      etcd::wire::decode_lease_timetolive(json::parse(R"({"ID":"5","TTL":"-1"})")).expired());
  // A stream error is not an expired lease.
  try {
    etcd::wire::decode_lease_keepalive(json::parse(
        R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})"));
    ADD_FAILURE() << "a stream error read as an answer";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.cause(), etcd::Cause::kUnavailable);
  }
}

TEST(Wire, Int64sAreStringsOrIntegersAndNothingElse) {
  EXPECT_EQ(etcd::wire::get_int64(json::parse(R"({"a":"9223372036854775807"})"), "a"), INT64_MAX);
  EXPECT_EQ(etcd::wire::get_int64(json::parse(R"({"a":"-1"})"), "a"), -1);
  EXPECT_EQ(etcd::wire::get_int64(json::parse(R"({"a":42})"), "a"), 42);
  EXPECT_EQ(etcd::wire::get_int64(json::parse(R"({"a":null})"), "a"), 0);
  for (const char* bad : {R"({"a":"9223372036854775808"})", R"({"a":"12x"})", R"({"a":""})",
                          R"({"a":1.5})", R"({"a":true})", R"({"a":[]})"}) {
    try {
      etcd::wire::get_int64(json::parse(bad), "a");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const etcd::Error& e) {
      EXPECT_EQ(e.cause(), etcd::Cause::kMalformed);
      EXPECT_NE(std::string(e.what()).find("\"a\""), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(etcd::wire::decode_kv(json::parse(R"({"key":"not base64!"})")), etcd::Error);
  EXPECT_THROW(etcd::wire::decode_range(json::parse(R"({"kvs":{}})")), etcd::Error);
}

TEST(Wire, RequestsUseTheGatewaysSpelling) {
  etcd::RangeRequest range = etcd::RangeRequest::prefix("/k/");
  range.limit = 10;
  range.revision = 5;
  json r = etcd::wire::encode(range);
  EXPECT_EQ(r["key"], "L2sv");
  EXPECT_EQ(r["range_end"], "L2sw");
  EXPECT_EQ(r["limit"], "10");
  EXPECT_EQ(r["revision"], "5");
  EXPECT_FALSE(r.contains("keys_only"));

  // If(Version(key) == 0) Then(Put(key, v, lease)) Else(Range(key))
  etcd::TxnRequest txn;
  txn.compare.push_back(etcd::Compare::version("k", etcd::Compare::Op::kEqual, 0));
  txn.success.push_back(etcd::PutRequest{.key = "k", .value = "v", .lease = 123});
  txn.failure.push_back(etcd::RangeRequest::single("k"));
  json t = etcd::wire::encode(txn);
  EXPECT_EQ(t["compare"][0],
            json::parse(R"({"key":"aw==","target":"VERSION","result":"EQUAL","version":"0"})"));
  EXPECT_EQ(t["success"][0],
            json::parse(R"({"request_put":{"key":"aw==","value":"dg==","lease":"123"}})"));
  EXPECT_EQ(t["failure"][0], json::parse(R"({"request_range":{"key":"aw=="}})"));

  json v = etcd::wire::encode(etcd::Compare::value_of("k", etcd::Compare::Op::kNotEqual, "x"));
  EXPECT_EQ(v,
            json::parse(R"({"key":"aw==","target":"VALUE","result":"NOT_EQUAL","value":"eA=="})"));
  EXPECT_EQ(etcd::wire::encode(
                etcd::Compare::mod_revision("k", etcd::Compare::Op::kLess, 9))["mod_revision"],
            "9");
  EXPECT_EQ(etcd::wire::encode(
                etcd::Compare::create_revision("k", etcd::Compare::Op::kGreater, 2))["target"],
            "CREATE");

  json w = etcd::wire::encode(etcd::WatchRequest::prefix("/k/", 17));
  EXPECT_EQ(
      w,
      json::parse(R"({"create_request":{"key":"L2sv","range_end":"L2sw","start_revision":"17"}})"));
}

TEST(Wire, WatchAnswers) {
  // A PUT event has no "type" (it is the enum's zero).
  etcd::WatchResponse w = etcd::wire::decode_watch(json::parse(
      R"({"result":{"header":{"revision":"9"},"events":[
           {"kv":{"key":"YQ==","value":"MQ==","mod_revision":"8","create_revision":"8","version":"1"}},
           {"type":"DELETE","kv":{"key":"YQ==","mod_revision":"9"},
            "prev_kv":{"key":"YQ==","value":"MQ==","mod_revision":"8"}}]}})"));
  EXPECT_EQ(w.revision, 9);
  ASSERT_EQ(w.events.size(), 2u);
  EXPECT_EQ(w.events[0].type, etcd::Event::Type::kPut);
  EXPECT_EQ(w.events[0].kv.value, "1");
  EXPECT_FALSE(w.events[0].prev_kv);
  EXPECT_EQ(w.events[1].type, etcd::Event::Type::kDelete);
  EXPECT_EQ(w.events[1].prev_kv->value, "1");

  etcd::WatchResponse c = etcd::wire::decode_watch(json::parse(
      R"({"result":{"header":{"revision":"20"},"canceled":true,"compact_revision":"12"}})"));
  EXPECT_TRUE(c.canceled);
  EXPECT_EQ(c.compact_revision, 12);
  EXPECT_TRUE(etcd::wire::decode_watch(json::parse(R"({"result":{"created":true}})")).created);

  try {
    etcd::wire::decode_watch(json::parse(
        R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})"));
    ADD_FAILURE() << "a stream error was accepted";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.grpc_code(), 14);
    EXPECT_EQ(e.http_status(), 503);
    EXPECT_EQ(e.reason(), "etcdserver: no leader");
  }
}

TEST(Backoff, DelaysStayWithinTheirBounds) {
  etcd::BackoffPolicy p{.initial = std::chrono::milliseconds(100),
                        .max = std::chrono::milliseconds(1000),
                        .multiplier = 2.0,
                        .jitter = 0.2};
  using std::chrono::milliseconds;
  EXPECT_EQ(etcd::backoff_delay(p, 0, 0.0), milliseconds(100));
  EXPECT_EQ(etcd::backoff_delay(p, 0, 0.999999), milliseconds(80));
  EXPECT_EQ(etcd::backoff_delay(p, 1, 0.0), milliseconds(200));
  EXPECT_EQ(etcd::backoff_delay(p, 3, 0.0), milliseconds(800));
  EXPECT_EQ(etcd::backoff_delay(p, 4, 0.0), milliseconds(1000));
  EXPECT_EQ(etcd::backoff_delay(p, 4000000000u, 0.0), milliseconds(1000));
  etcd::Backoff b(p);
  for (unsigned round = 0; round < 50; ++round) {
    auto base = std::min<int64_t>(1000, 100LL << std::min(round, 20u));
    auto d = b.next().count();
    EXPECT_LE(d, base) << round;
    EXPECT_GE(d, base * 8 / 10 - 1) << round;
  }
  b.reset();
  EXPECT_LE(b.next().count(), 100);
}

TEST(Config, RefusesWhatCannotWork) {
  auto refused = [](etcd::ClientConfig c, const std::string& words) {
    try {
      etcd::validate(c);
      ADD_FAILURE() << "accepted; expected: " << words;
    } catch (const etcd::Error& e) {
      EXPECT_EQ(e.cause(), etcd::Cause::kConfig);
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  refused({}, "no endpoint");
  refused({.endpoints = {"127.0.0.1:2379"}}, "\"127.0.0.1:2379\" is not an http");
  refused({.endpoints = {"ftp://h:1"}}, "ftp://h:1");
  refused({.endpoints = {"http://"}}, "no usable host");
  refused({.endpoints = {"https://h:1"}, .cert_file = "/etc/hostname"},
          "both cert_file and key_file");
  refused({.endpoints = {"https://h:1"}, .ca_file = "/nonexistent/ca.pem"}, "/nonexistent/ca.pem");
  etcd::ClientConfig ok{.endpoints = {"http://127.0.0.1:2379", "https://[::1]:2379"}};
  EXPECT_NO_THROW(etcd::validate(ok));
}

}  // namespace
