#pragma once
// A real etcd for tests: one member, run inside a sandbox network namespace
// on 127.0.0.1 there (or another address of that namespace), data in a
// temporary directory. The test thread enters the same namespace
// (EnterNetns) to reach it; nothing listens on the machine's own addresses.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "daemon.h"
#include "etcd/config.h"
#include "sandbox.h"

namespace knet::test {

// Moves the calling thread (and threads it starts later) into the network
// namespace at `path`; moves it back on destruction.
class EnterNetns {
 public:
  explicit EnterNetns(const std::string& path);
  ~EnterNetns();
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;

 private:
  int home_ = -1;
};

// Certificates made with openssl for a TLS etcd: a CA, a server certificate
// for IP 127.0.0.1, and a client certificate, all under `dir`.
struct TestPki {
  std::string ca, server_cert, server_key, client_cert, client_key;
};
TestPki make_test_pki(const std::string& dir);

// One member of a multi-member cluster: its name and the initial cluster
// every member starts with ("a=http://192.0.2.1:2380,b=http://192.0.2.2:2380,...").
// The member's peer URL is http://<host>:2380.
struct EtcdMember {
  std::string name;
  std::string initial_cluster;
};

class EtcdServer {
 public:
  // Does not start it. With `pki`, the client URL is https:// and client
  // certificates are required. `host`: the address of the namespace it
  // serves clients on (e.g. a sandbox underlay's, for agents in other
  // namespaces). With `member`, one member of a cluster (see EtcdMember);
  // without, a cluster of its own.
  EtcdServer(std::string ns_path, std::string dir, const TestPki* pki = nullptr,
             std::string host = "127.0.0.1", std::optional<EtcdMember> member = std::nullopt);
  // Kills etcd if it still runs.
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // Starts etcd and waits (at most 20 s) until it serves a read; throws with
  // the tail of its log otherwise. Must be called with the thread in the
  // server's namespace.
  void start();
  // start() in two steps, for the members of a cluster, which serve only
  // once a majority runs: launch() each, then wait_serving() each.
  void launch();
  void wait_serving();
  // SIGTERM, then SIGKILL after 5 s; waits for it.
  void stop();
  // SIGKILL (a member that dies); waits for it.
  void kill();

  std::string endpoint() const;
  // A client config for this server, with short timeouts for tests.
  etcd::ClientConfig client_config() const;
  std::string log_tail() const;

 private:
  std::string ns_path_;
  std::string dir_;
  const TestPki* pki_;
  std::string host_;
  std::optional<EtcdMember> member_;
  Daemon proc_;
};

}  // namespace knet::test
