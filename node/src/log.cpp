#include "node/log.h"

#include <config.h>  // the vxlan plugin's Membership

#include <cstdio>
#include <mutex>
#include <set>

namespace knet::node {
namespace {

std::mutex mu;
cni::Logger logger;                  // guarded by mu
std::set<std::string> last_members;  // guarded by mu
bool have_members = false;

}  // namespace

void open_log(const cni::LogConfig& config) {
  std::lock_guard<std::mutex> l(mu);
  logger = cni::Logger(config);
}

void log_event(cni::LogLevel level, std::string_view event, std::string_view msg) {
  try {
    std::lock_guard<std::mutex> l(mu);
    if (!logger.enabled(level)) return;
    logger.write(cni::LogLine(level)
                     .str("program", "knet-node")
                     .str("event", event)
                     .str("msg", msg)
                     .finish());
  } catch (...) {
    // A log that cannot be written never stops the agent.
  }
}

void log_store_error(const std::string& msg) {
  std::string line = "knet-node: " + msg + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  log_event(cni::LogLevel::kError, "store error", msg);
}

void log_membership(const vxlan::Membership& m) {
  std::set<std::string> now;
  for (const auto& n : m.nodes) now.insert(n.vtep.str() + " " + n.subnet.str());
  for (const auto& p : m.peers) now.insert(p.str());
  std::set<std::string> joined, left;
  {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& x : now)
      if (!last_members.count(x)) joined.insert(x);
    for (const auto& x : last_members)
      if (!now.count(x)) left.insert(x);
    last_members = now;
    have_members = true;
  }
  for (const auto& x : joined) log_event(cni::LogLevel::kInfo, "membership", "joined " + x);
  for (const auto& x : left) log_event(cni::LogLevel::kInfo, "membership", "left " + x);
}

}  // namespace knet::node
