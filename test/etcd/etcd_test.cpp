// The etcd client against a real etcd 3.4: one member started inside a
// sandbox namespace (127.0.0.1 there), with the test thread entered into the
// same namespace. Each test uses its own key prefix on the suite's server.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>

#include "etcd/client.h"
#include "etcd/watch.h"
#include "etcd_server.h"
#include "sandbox.h"

namespace {

using knet::test::EnterNetns;
using knet::test::EtcdServer;
using knet::test::Sandbox;
using knet::test::TempDir;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using Kind = etcd::WatchUpdate::Kind;

// What a Watcher delivered, for a test to wait on.
class Updates {
 public:
  etcd::Watcher::Callback callback() {
    return [this](const etcd::WatchUpdate& u) {
      std::lock_guard lock(mu_);
      all_.push_back(u);
      cv_.notify_all();
    };
  }
  // Waits (bounded) until `count` updates of `kind` arrived; true if they did.
  bool wait_for(Kind kind, size_t count, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_locked(kind) >= count; });
  }
  // Waits (bounded) until `count` events arrived.
  bool wait_events(size_t count, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return events_locked().size() >= count; });
  }
  std::vector<etcd::Event> events() {
    std::lock_guard lock(mu_);
    return events_locked();
  }
  std::vector<etcd::WatchUpdate> all() {
    std::lock_guard lock(mu_);
    return all_;
  }
  size_t count(Kind kind) {
    std::lock_guard lock(mu_);
    return count_locked(kind);
  }

 private:
  size_t count_locked(Kind kind) const {
    size_t n = 0;
    for (const auto& u : all_) n += u.kind == kind;
    return n;
  }
  std::vector<etcd::Event> events_locked() const {
    std::vector<etcd::Event> out;
    for (const auto& u : all_) out.insert(out.end(), u.events.begin(), u.events.end());
    return out;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<etcd::WatchUpdate> all_;
};

// An HTTP server on 127.0.0.1:<port> of the current namespace that answers
// every request with `status` and etcd's error body for `message`, as the
// gateway does when etcd has no leader. Counts what it was asked.
class FailingGateway {
 public:
  FailingGateway(int port, int status, std::string message) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0)
      throw std::runtime_error("FailingGateway cannot listen on port " + std::to_string(port));
    std::string body = R"({"error":")" + message + R"(","message":")" + message + R"(","code":14})";
    reply_ =
        "HTTP/1.1 " + std::to_string(status) + " Failing\r\nContent-Type: application/json\r\n" +
        "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    thread_ = std::thread([this] { serve(); });
  }
  ~FailingGateway() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int requests() const { return requests_.load(); }

 private:
  void serve() {
    // Bounded by stop_: each poll waits at most 50 ms.
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      // Reads the request until its body is in (bounded: 64 KiB, 2 s).
      std::string req;
      char buf[4096];
      const auto deadline = Clock::now() + std::chrono::seconds(2);
      while (req.size() < 65536 && Clock::now() < deadline) {
        auto head = req.find("\r\n\r\n");
        if (head != std::string::npos) {
          auto cl = req.find("Content-Length: ");
          size_t len = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
          if (req.size() >= head + 4 + len) break;
        }
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 100) <= 0) continue;
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      ++requests_;
      (void)!write(c, reply_.data(), reply_.size());
      close(c);
    }
  }
  int fd_ = -1;
  std::string reply_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class Etcd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      sandbox_ = std::make_unique<Sandbox>();
      dir_ = std::make_unique<TempDir>();
      std::string ns = sandbox_->add_ns("etcd");
      inside_ = std::make_unique<EnterNetns>(ns);
      server_ = std::make_unique<EtcdServer>(ns, dir_->path());
      server_->start();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    server_.reset();  // kills etcd
    inside_.reset();
    dir_.reset();
    sandbox_.reset();  // deletes the namespace
  }
  void SetUp() override { ASSERT_TRUE(start_error_.empty()) << start_error_; }

  static etcd::ClientConfig config() { return server_->client_config(); }
  // A key prefix of this test's own.
  static std::string prefix() {
    return std::string("/") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/";
  }

  static std::unique_ptr<Sandbox> sandbox_;
  static std::unique_ptr<TempDir> dir_;
  static std::unique_ptr<EnterNetns> inside_;
  static std::unique_ptr<EtcdServer> server_;
  static std::string start_error_;
};

std::unique_ptr<Sandbox> Etcd::sandbox_;
std::unique_ptr<TempDir> Etcd::dir_;
std::unique_ptr<EnterNetns> Etcd::inside_;
std::unique_ptr<EtcdServer> Etcd::server_;
std::string Etcd::start_error_;

TEST_F(Etcd, PutRangePrefixAndDelete) {
  etcd::Client c(config());
  const std::string p = prefix();
  auto first = c.put({.key = p + "a", .value = "1"});
  c.put({.key = p + "b", .value = "2"});
  c.put({.key = p + "c/d", .value = std::string("\0\xff", 2)});
  c.put({.key = p.substr(0, p.size() - 1) + "0", .value = "outside the prefix"});
  auto second = c.put({.key = p + "a", .value = "11", .prev_kv = true});
  ASSERT_TRUE(second.prev_kv);
  EXPECT_EQ(second.prev_kv->value, "1");
  EXPECT_GT(second.revision, first.revision);

  auto a = c.get(p + "a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, "11");
  EXPECT_EQ(a->version, 2);
  EXPECT_EQ(a->create_revision, first.revision);
  EXPECT_EQ(a->mod_revision, second.revision);
  EXPECT_EQ(a->lease, 0);
  EXPECT_FALSE(c.get(p + "missing"));

  auto all = c.range(etcd::RangeRequest::prefix(p));
  ASSERT_EQ(all.kvs.size(), 3u);
  EXPECT_EQ(all.kvs[0].key, p + "a");
  EXPECT_EQ(all.kvs[2].value, std::string("\0\xff", 2));
  EXPECT_EQ(all.count, 3);
  EXPECT_FALSE(all.more);

  auto page = etcd::RangeRequest::prefix(p);
  page.limit = 2;
  auto limited = c.range(page);
  EXPECT_EQ(limited.kvs.size(), 2u);
  EXPECT_TRUE(limited.more);
  EXPECT_EQ(limited.count, 3);

  auto then = etcd::RangeRequest::single(p + "a");
  then.revision = first.revision;
  EXPECT_EQ(c.range(then).kvs.at(0).value, "1");

  EXPECT_EQ(c.remove(etcd::DeleteRequest::single(p + "b")).deleted, 1);
  auto gone = c.remove({.key = p, .range_end = etcd::prefix_end(p), .prev_kv = true});
  EXPECT_EQ(gone.deleted, 2);
  ASSERT_EQ(gone.prev_kvs.size(), 2u);
  EXPECT_EQ(gone.prev_kvs[0].value, "11");
  EXPECT_TRUE(c.range(etcd::RangeRequest::prefix(p)).kvs.empty());
  EXPECT_TRUE(c.get(p.substr(0, p.size() - 1) + "0"));
}

TEST_F(Etcd, ListPrefixReadsEveryPageAtOneRevision) {
  etcd::Client c(config());
  for (int i = 0; i < 25; ++i) c.put({.key = prefix() + std::to_string(100 + i), .value = "v"});
  auto all = c.list_prefix(prefix(), 10);
  ASSERT_EQ(all.kvs.size(), 25u);
  EXPECT_EQ(all.kvs.front().key, prefix() + "100");
  EXPECT_EQ(all.kvs.back().key, prefix() + "124");
  EXPECT_FALSE(all.more);
}

TEST_F(Etcd, TwentyClientsRaceToCreateOneKeyAndExactlyOneWins) {
  const std::string key = prefix() + "subnet";
  constexpr int kClients = 20;
  std::latch go(kClients);
  std::vector<etcd::TxnResult> results(kClients);
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      try {
        etcd::Client c(config());
        etcd::TxnRequest t;
        t.compare.push_back(etcd::Compare::version(key, etcd::Compare::Op::kEqual, 0));
        t.success.push_back(etcd::PutRequest{.key = key, .value = "node-" + std::to_string(i)});
        t.failure.push_back(etcd::RangeRequest::single(key));
        go.arrive_and_wait();
        results[i] = c.txn(t);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  int winners = 0;
  std::string winner;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(errors[i], "") << "client " << i;
    if (results[i].succeeded) {
      ++winners;
      winner = "node-" + std::to_string(i);
    }
  }
  ASSERT_EQ(winners, 1);
  for (const auto& r : results) {
    if (r.succeeded) continue;
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(std::get<etcd::RangeResult>(r.responses[0]).kvs.at(0).value, winner);
  }

  // If(Value(key) == winner) Then(Put) Else(Range): once, and not twice.
  etcd::Client c(config());
  etcd::TxnRequest swap;
  swap.compare.push_back(etcd::Compare::value_of(key, etcd::Compare::Op::kEqual, winner));
  swap.success.push_back(etcd::PutRequest{.key = key, .value = "next"});
  swap.failure.push_back(etcd::RangeRequest::single(key));
  EXPECT_TRUE(c.txn(swap).succeeded);
  auto again = c.txn(swap);
  EXPECT_FALSE(again.succeeded);
  EXPECT_EQ(std::get<etcd::RangeResult>(again.responses.at(0)).kvs.at(0).value, "next");

  auto kv = c.get(key);
  etcd::TxnRequest by_revision;
  by_revision.compare.push_back(
      etcd::Compare::mod_revision(key, etcd::Compare::Op::kEqual, kv->mod_revision));
  by_revision.compare.push_back(etcd::Compare::version(key, etcd::Compare::Op::kGreater, 1));
  by_revision.compare.push_back(
      etcd::Compare::create_revision(key, etcd::Compare::Op::kLess, kv->mod_revision));
  by_revision.compare.push_back(etcd::Compare::value_of(key, etcd::Compare::Op::kNotEqual, winner));
  by_revision.success.push_back(etcd::DeleteRequest::single(key));
  auto deleted = c.txn(by_revision);
  EXPECT_TRUE(deleted.succeeded);
  EXPECT_EQ(std::get<etcd::DeleteResult>(deleted.responses.at(0)).deleted, 1);
}

TEST_F(Etcd, LeaseKeepaliveHoldsTheKeyAndExpiryRemovesIt) {
  etcd::Client c(config());
  const std::string key = prefix() + "node";
  etcd::LeaseGrant lease = c.lease_grant(2);
  ASSERT_NE(lease.id, 0);
  EXPECT_EQ(lease.ttl, 2);
  c.put({.key = key, .value = "here", .lease = lease.id});
  EXPECT_EQ(c.get(key)->lease, lease.id);

  // Kept alive past its TTL: still there.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(milliseconds(500));
    etcd::LeaseKeepAlive k = c.lease_keepalive(lease.id);
    EXPECT_FALSE(k.expired());
    EXPECT_EQ(k.ttl, 2);
  }
  ASSERT_TRUE(c.get(key));
  etcd::LeaseTimeToLive ttl = c.lease_timetolive(lease.id, true);
  EXPECT_EQ(ttl.granted_ttl, 2);
  EXPECT_FALSE(ttl.expired());
  EXPECT_EQ(ttl.keys, std::vector<std::string>{key});

  // No more keepalives: gone within TTL + the server's expiry check.
  const auto deadline = Clock::now() + std::chrono::seconds(6);
  while (c.get(key) && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(c.get(key)) << "the key outlived its lease by 4 s";
  EXPECT_TRUE(c.lease_keepalive(lease.id).expired());
  EXPECT_TRUE(c.lease_timetolive(lease.id).expired());
  EXPECT_NO_THROW(c.lease_revoke(lease.id));

  // Revoking a live lease deletes its keys at once.
  etcd::LeaseGrant other = c.lease_grant(60);
  c.put({.key = key, .value = "again", .lease = other.id});
  c.lease_revoke(other.id);
  EXPECT_FALSE(c.get(key));
}

TEST_F(Etcd, WatchDeliversPutsAndDeletesInOrderAndStopsPromptly) {
  etcd::Client c(config());
  const std::string p = prefix();
  Updates updates;
  auto request = etcd::WatchRequest::prefix(p);
  request.prev_kv = true;
  etcd::Watcher w(config(), request, updates.callback());
  ASSERT_TRUE(updates.wait_for(Kind::kCreated, 1));
  c.put({.key = p + "a", .value = "1"});
  c.put({.key = p + "b", .value = "2"});
  c.put({.key = p.substr(0, p.size() - 1) + "0", .value = "not watched"});
  c.remove(etcd::DeleteRequest::single(p + "a"));
  c.put({.key = p + "b", .value = "3"});
  ASSERT_TRUE(updates.wait_events(4));
  auto ev = updates.events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].type, etcd::Event::Type::kPut);
  EXPECT_EQ(ev[0].kv.key, p + "a");
  EXPECT_EQ(ev[0].kv.value, "1");
  EXPECT_FALSE(ev[0].prev_kv);
  EXPECT_EQ(ev[1].kv.key, p + "b");
  EXPECT_EQ(ev[2].type, etcd::Event::Type::kDelete);
  EXPECT_EQ(ev[2].kv.key, p + "a");
  ASSERT_TRUE(ev[2].prev_kv);
  EXPECT_EQ(ev[2].prev_kv->value, "1");
  EXPECT_EQ(ev[3].kv.value, "3");
  EXPECT_EQ(ev[3].prev_kv->value, "2");
  for (size_t i = 1; i < ev.size(); ++i)
    EXPECT_GT(ev[i].kv.mod_revision, ev[i - 1].kv.mod_revision);
  EXPECT_EQ(w.next_revision(), ev[3].kv.mod_revision + 1);

  // An idle stream ends at once when asked, not at the next poll timeout.
  auto t0 = Clock::now();
  w.stop();
  EXPECT_LT(Clock::now() - t0, milliseconds(300));
  EXPECT_TRUE(w.finished());
  EXPECT_EQ(updates.count(Kind::kDisconnected), 0u);
}

TEST_F(Etcd, WatchResumesFromItsRevisionAfterTheServerRestarts) {
  etcd::Client c(config());
  const std::string p = prefix();
  Updates updates;
  etcd::Watcher w(config(), etcd::WatchRequest::prefix(p), updates.callback());
  ASSERT_TRUE(updates.wait_for(Kind::kCreated, 1));
  c.put({.key = p + "1", .value = "before"});
  ASSERT_TRUE(updates.wait_events(1));

  server_->stop();
  ASSERT_TRUE(updates.wait_for(Kind::kDisconnected, 1)) << "the broken stream was not reported";
  server_->start();
  // Written before the watcher is back (it is still in backoff or
  // reconnecting): it must come from the resumed revision, not be lost.
  c.put({.key = p + "2", .value = "while away"});
  ASSERT_TRUE(updates.wait_for(Kind::kCreated, 2, milliseconds(8000)));
  c.put({.key = p + "3", .value = "after"});
  ASSERT_TRUE(updates.wait_events(3));
  std::this_thread::sleep_for(milliseconds(100));  // a duplicate would show up by now
  auto ev = updates.events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].kv.key, p + "1");
  EXPECT_EQ(ev[1].kv.key, p + "2");
  EXPECT_EQ(ev[2].kv.key, p + "3");
  EXPECT_FALSE(w.finished());
}

TEST_F(Etcd, WatchFromACompactedRevisionIsReported) {
  etcd::Client c(config());
  const std::string key = prefix() + "k";
  int64_t first = c.put({.key = key, .value = "1"}).revision;
  c.put({.key = key, .value = "2"});
  int64_t last = c.put({.key = key, .value = "3"}).revision;
  c.compact(last);

  Updates updates;
  etcd::Watcher w(config(), {.key = key, .start_revision = first}, updates.callback());
  ASSERT_TRUE(updates.wait_for(Kind::kCompacted, 1));
  auto all = updates.all();
  auto it =
      std::find_if(all.begin(), all.end(), [](auto& u) { return u.kind == Kind::kCompacted; });
  EXPECT_EQ(it->compact_revision, last);
  EXPECT_TRUE(w.finished());
  EXPECT_TRUE(updates.events().empty());

  // A read of the compacted history is refused with its gRPC code.
  auto old = etcd::RangeRequest::single(key);
  old.revision = first;
  try {
    c.range(old);
    ADD_FAILURE() << "a compacted revision was read";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.cause(), etcd::Cause::kRejected);
    EXPECT_EQ(e.grpc_code(), etcd::kGrpcOutOfRange);
    EXPECT_EQ(e.http_status(), 400);
    EXPECT_NE(e.reason().find("compacted"), std::string::npos) << e.what();
    EXPECT_EQ(e.endpoint(), server_->endpoint());
  }
}

TEST_F(Etcd, FailsOverPastADeadEndpoint) {
  etcd::ClientConfig cfg = config();
  // Port 1 of the sandbox's loopback: nothing listens, the connect is refused.
  cfg.endpoints.insert(cfg.endpoints.begin(), "http://127.0.0.1:1");
  etcd::Client c(cfg);
  c.put({.key = prefix() + "k", .value = "v"});
  EXPECT_EQ(c.get(prefix() + "k")->value, "v");

  Updates updates;
  etcd::Watcher w(cfg, etcd::WatchRequest::prefix(prefix()), updates.callback());
  ASSERT_TRUE(updates.wait_for(Kind::kCreated, 1));
  c.put({.key = prefix() + "k", .value = "w"});
  ASSERT_TRUE(updates.wait_events(1));
  EXPECT_EQ(updates.count(Kind::kDisconnected), 1u);

  etcd::ClientConfig dead = config();
  dead.endpoints = {"http://127.0.0.1:1", "http://127.0.0.1:2"};
  dead.max_rounds = 3;
  etcd::Client nowhere(dead);
  auto t0 = Clock::now();
  try {
    nowhere.get("k");
    ADD_FAILURE() << "a dead cluster answered";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.cause(), etcd::Cause::kUnavailable);
    std::string what = e.what();
    EXPECT_NE(what.find("http://127.0.0.1:1: "), std::string::npos) << what;
    EXPECT_NE(what.find("http://127.0.0.1:2: "), std::string::npos) << what;
  }
  // Three rounds, two backoff sleeps of at most 300 ms.
  EXPECT_LT(Clock::now() - t0, milliseconds(2000));
}

TEST_F(Etcd, AWatcherWithoutServerKeepsTryingAndStopsAtOnce) {
  etcd::ClientConfig dead = config();
  dead.endpoints = {"http://127.0.0.1:1"};
  dead.backoff = {.initial = milliseconds(500), .max = milliseconds(5000)};
  Updates updates;
  etcd::Watcher w(dead, etcd::WatchRequest::prefix(prefix(), 42), updates.callback());
  ASSERT_TRUE(updates.wait_for(Kind::kDisconnected, 2, milliseconds(3000)));
  EXPECT_NE(updates.all()[0].error.find("http://127.0.0.1:1"), std::string::npos)
      << updates.all()[0].error;
  EXPECT_EQ(w.next_revision(), 42);
  EXPECT_FALSE(w.finished());
  // Now in a backoff sleep of 0.8-1 s: stop() cuts it short.
  auto t0 = Clock::now();
  w.stop();
  EXPECT_LT(Clock::now() - t0, milliseconds(300));
}

TEST_F(Etcd, ServerErrorsCarryTheirCodeAndMessage) {
  etcd::Client c(config());
  auto future = etcd::RangeRequest::single(prefix());
  future.revision = c.put({.key = prefix(), .value = "x"}).revision + 1000;
  try {
    c.range(future);
    ADD_FAILURE() << "a future revision was read";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.cause(), etcd::Cause::kRejected);
    EXPECT_EQ(e.grpc_code(), etcd::kGrpcOutOfRange);
    EXPECT_NE(std::string(e.what()).find("future revision"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("range /"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(c.lease_keepalive(424242).expired());
  EXPECT_TRUE(c.lease_timetolive(424242).expired());
  EXPECT_NO_THROW(c.lease_revoke(424242));
}

TEST_F(Etcd, ReadsFailOverPastA5xxButATxnDoesNot) {
  FailingGateway sick(2400, 503, "etcdserver: no leader");
  etcd::ClientConfig cfg = config();
  cfg.endpoints.insert(cfg.endpoints.begin(), "http://127.0.0.1:2400");
  const std::string key = prefix() + "k";
  {
    etcd::Client c(cfg);
    EXPECT_FALSE(c.get(key));  // the sick gateway first, then the real one
    EXPECT_EQ(sick.requests(), 1);
  }
  // A txn that reached a server may have been applied there: not repeated.
  etcd::Client c(cfg);
  etcd::TxnRequest create;
  create.compare.push_back(etcd::Compare::version(key, etcd::Compare::Op::kEqual, 0));
  create.success.push_back(etcd::PutRequest{.key = key, .value = "v"});
  try {
    c.txn(create);
    ADD_FAILURE() << "the txn was sent on after a 503";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.cause(), etcd::Cause::kIndeterminate) << e.what();
    EXPECT_EQ(e.endpoint(), "http://127.0.0.1:2400");
    EXPECT_EQ(e.http_status(), 503);
    EXPECT_EQ(e.grpc_code(), etcd::kGrpcUnavailable);
    EXPECT_NE(e.reason().find("no leader"), std::string::npos) << e.what();
  }
  EXPECT_EQ(sick.requests(), 2);
  EXPECT_FALSE(c.get(key));  // asks the sick one first (3), then the real one

  // Only 5xx everywhere: the call gives up after its rounds, saying why.
  etcd::ClientConfig only_sick = config();
  only_sick.endpoints = {"http://127.0.0.1:2400"};
  only_sick.max_rounds = 2;
  etcd::Client hopeless(only_sick);
  try {
    hopeless.get(key);
    ADD_FAILURE() << "a 503 was taken for an answer";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.cause(), etcd::Cause::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("HTTP 503: etcdserver: no leader"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(sick.requests(), 5);
}

TEST_F(Etcd, AnAnswerOverTheSizeCapIsRefused) {
  etcd::Client c(config());
  c.put({.key = prefix() + "big", .value = std::string(4096, 'x')});
  etcd::ClientConfig small = config();
  small.max_response_bytes = 1024;
  etcd::Client capped(small);
  try {
    capped.get(prefix() + "big");
    ADD_FAILURE() << "a 5.5 KB answer passed a 1 KB cap";
  } catch (const etcd::Error& e) {
    EXPECT_EQ(e.cause(), etcd::Cause::kRejected);
    EXPECT_NE(std::string(e.what()).find("max_response_bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.get(prefix() + "big")->value.size(), 4096u);
}

TEST_F(Etcd, AnIdleWatchGetsProgressNotifications) {
  etcd::Client c(config());
  int64_t rev = c.put({.key = prefix() + "k", .value = "v"}).revision;
  Updates updates;
  auto request = etcd::WatchRequest::prefix(prefix(), rev + 1);
  request.progress_notify = true;
  etcd::Watcher w(config(), request, updates.callback());
  // The test server sends them every 300 ms.
  ASSERT_TRUE(updates.wait_for(Kind::kProgress, 1, milliseconds(3000)));
  EXPECT_GE(w.next_revision(), rev + 1);
  EXPECT_TRUE(updates.events().empty());
}

// TLS with client certificates, as a production etcd is run: its own server.
TEST(EtcdTls, ClientCertificateIsRequiredAndAccepted) {
  Sandbox sandbox;
  TempDir dir;
  std::string ns = sandbox.add_ns("etcdtls");
  EnterNetns inside(ns);
  knet::test::TestPki pki = knet::test::make_test_pki(dir.path());
  EtcdServer server(ns, dir.path(), &pki);
  ASSERT_NO_THROW(server.start()) << server.log_tail();

  etcd::Client c(server.client_config());
  c.put({.key = "/tls/k", .value = "v"});
  EXPECT_EQ(c.get("/tls/k")->value, "v");
  Updates updates;
  etcd::Watcher w(server.client_config(), etcd::WatchRequest::prefix("/tls/"), updates.callback());
  ASSERT_TRUE(updates.wait_for(Kind::kCreated, 1));
  c.remove(etcd::DeleteRequest::single("/tls/k"));
  ASSERT_TRUE(updates.wait_events(1));
  EXPECT_EQ(updates.events()[0].type, etcd::Event::Type::kDelete);

  auto refused = [](etcd::ClientConfig cfg, const char* what) {
    cfg.max_rounds = 1;
    etcd::Client client(cfg);
    try {
      client.get("/tls/k");
      ADD_FAILURE() << what << ": answered";
    } catch (const etcd::Error& e) {
      EXPECT_EQ(e.cause(), etcd::Cause::kUnavailable) << what << ": " << e.what();
    }
  };
  etcd::ClientConfig no_cert = server.client_config();
  no_cert.cert_file.clear();
  no_cert.key_file.clear();
  refused(no_cert, "no client certificate");
  etcd::ClientConfig wrong_ca = server.client_config();
  wrong_ca.ca_file = pki.client_cert;  // not the CA that signed the server
  refused(wrong_ca, "unknown server CA");
  etcd::ClientConfig plain = server.client_config();
  plain.endpoints = {"http://127.0.0.1:2379"};
  refused(plain, "plain HTTP to a TLS port");
}

}  // namespace
