#include "etcd_server.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "etcd/client.h"

namespace knet::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kEtcd = "/usr/bin/etcd";

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run_process(argv, {{"PATH", "/usr/bin:/bin"}}, "", "", std::chrono::seconds(20));
  if (r.code != 0) throw std::runtime_error("openssl " + args.at(0) + " failed: " + r.out + r.err);
}

// A key and a certificate signed by the CA (self-signed when ca is empty).
void make_cert(const std::string& dir, const std::string& name, const std::string& cn,
               const std::string& extensions, const TestPki* ca) {
  std::string key = dir + "/" + name + ".key", crt = dir + "/" + name + ".crt";
  std::string ext = dir + "/" + name + ".ext";
  std::ofstream(ext) << extensions;
  if (!ca) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", crt, "-subj", "/CN=" + cn, "-days", "2", "-extensions", "v3",
             "-config", ext});
    return;
  }
  std::string csr = dir + "/" + name + ".csr";
  openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", key, "-out", csr, "-subj", "/CN=" + cn});
  openssl({"x509", "-req", "-in", csr, "-CA", ca->ca, "-CAkey", dir + "/ca.key", "-CAcreateserial",
           "-out", crt, "-days", "2", "-extfile", ext, "-extensions", "v3"});
}

}  // namespace

EnterNetns::EnterNetns(const std::string& path) {
  home_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (home_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    if (home_ >= 0) close(home_);
    throw std::runtime_error("cannot enter network namespace " + path + ": " + strerror(err));
  }
  close(fd);
}

EnterNetns::~EnterNetns() {
  if (setns(home_, CLONE_NEWNET) != 0) std::terminate();  // never run on in the wrong namespace
  close(home_);
}

TestPki make_test_pki(const std::string& dir) {
  TestPki p{dir + "/ca.crt", dir + "/server.crt", dir + "/server.key", dir + "/client.crt",
            dir + "/client.key"};
  make_cert(dir, "ca", "knet-test-ca",
            "[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\n"
            "keyUsage=critical,keyCertSign,cRLSign\n",
            nullptr);
  // etcd 3.4's gateway dials its own gRPC server with the server certificate
  // as a client certificate, so it needs clientAuth too.
  make_cert(dir, "server", "etcd",
            "[v3]\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n", &p);
  make_cert(dir, "client", "knet-node", "[v3]\nextendedKeyUsage=clientAuth\n", &p);
  return p;
}

EtcdServer::EtcdServer(std::string ns_path, std::string dir, const TestPki* pki, std::string host,
                       std::optional<EtcdMember> member)
    : ns_path_(std::move(ns_path)),
      dir_(std::move(dir)),
      pki_(pki),
      host_(std::move(host)),
      member_(std::move(member)) {}

EtcdServer::~EtcdServer() = default;  // proc_ kills etcd if it still runs

std::string EtcdServer::endpoint() const {
  return std::string(pki_ ? "https" : "http") + "://" + host_ + ":2379";
}

etcd::ClientConfig EtcdServer::client_config() const {
  etcd::ClientConfig c;
  c.endpoints = {endpoint()};
  c.request_timeout = milliseconds(2000);
  c.connect_timeout = milliseconds(500);
  c.call_deadline = milliseconds(8000);
  c.backoff = {.initial = milliseconds(50), .max = milliseconds(300)};
  if (pki_) {
    c.ca_file = pki_->ca;
    c.cert_file = pki_->client_cert;
    c.key_file = pki_->client_key;
  }
  return c;
}

std::string EtcdServer::log_tail() const {
  std::ifstream in(dir_ + "/etcd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 3000 ? s.substr(s.size() - 3000) : s;
}

void EtcdServer::start() {
  launch();
  wait_serving();
}

void EtcdServer::launch() {
  if (proc_.running()) throw std::logic_error("etcd already runs");
  if (access(kEtcd, X_OK) != 0)
    throw std::runtime_error(std::string(kEtcd) +
                             " is not installed (scripts/install-deps.sh installs etcd-server)");
  const std::string peer = "http://" + (member_ ? host_ : "127.0.0.1") + ":2380";
  std::vector<std::string> args{
      kEtcd, "--name", member_ ? member_->name : "t", "--data-dir", dir_ + "/data",
      "--listen-client-urls", endpoint(), "--advertise-client-urls", endpoint(),
      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster",
      member_ ? member_->initial_cluster : "t=" + peer, "--initial-cluster-token", "knet-test",
      // A one-member cluster elects itself in ~0.1 s instead of ~1 s; a
      // cluster's new leader takes about one election timeout after a loss.
      "--heartbeat-interval", member_ ? "50" : "10", "--election-timeout", member_ ? "500" : "100",
      // Progress notifications every 10 minutes would never be seen in a test.
      "--experimental-watch-progress-notify-interval", "300ms", "--logger", "zap", "--log-outputs",
      "stderr"};
  if (pki_) {
    args.insert(args.end(), {"--cert-file", pki_->server_cert, "--key-file", pki_->server_key,
                             "--trusted-ca-file", pki_->ca, "--client-cert-auth"});
  }
  proc_.start(args, {{"PATH", "/usr/bin:/bin"}}, ns_path_, dir_ + "/etcd.log");
}

void EtcdServer::wait_serving() {
  etcd::ClientConfig probe = client_config();
  probe.request_timeout = milliseconds(300);
  probe.connect_timeout = milliseconds(200);
  probe.max_rounds = 1;
  etcd::Client client(probe);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::string last;
  while (Clock::now() < deadline) {
    try {
      client.range(etcd::RangeRequest::single("health-probe"));
      return;
    } catch (const etcd::Error& e) {
      last = e.what();
    }
    if (auto code = proc_.wait(milliseconds(0))) {
      throw std::runtime_error("etcd exited at start (status " + std::to_string(*code) +
                               "): " + log_tail());
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  throw std::runtime_error("etcd did not serve within 20 s (" + last + "): " + log_tail());
}

void EtcdServer::stop() { proc_.stop(std::chrono::seconds(5)); }

void EtcdServer::kill() {
  proc_.signal(SIGKILL);
  proc_.wait(std::chrono::seconds(10));
}

}  // namespace knet::test
