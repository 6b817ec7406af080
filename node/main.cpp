// knet-node: one per node, keeps this node's subnet lease in etcd and the
// vxlan overlay's membership true in the peersFile and the kernel
// (docs/knet-node.md). Its own executable: it links libcurl and OpenSSL,
// which no plugin exec should load.

#include <base/error.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "node/agent.h"
#include "node/flags.h"
#include "node/log.h"

int main(int argc, char** argv) {
  knet::node::Options opts;
  try {
    opts = knet::node::parse_flags(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const knet::Error& e) {
    knet::node::log_line(e.msg());
    return 2;
  }
  if (opts.help) {
    std::fputs(knet::node::usage().c_str(), stdout);
    return 0;
  }
  knet::node::open_log(opts.log);
  // SIGTERM and SIGINT are taken by one thread with sigtimedwait, before
  // any other thread exists, so no thread is ever interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  knet::node::Agent agent(opts);
  std::atomic<bool> done{false};
  std::thread signals([&] {
    const timespec tick{0, 200'000'000};
    while (!done) {
      int sig = sigtimedwait(&stop_signals, nullptr, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        knet::node::log_line(std::string("got ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping");
        agent.stop();
        return;
      }
    }
  });
  int rc = agent.run();
  done = true;
  signals.join();
  return rc;
}
