#include "node/log.h"

#include <config.h>  // the vxlan plugin's Membership

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <tuple>
#include <vector>

namespace knet::node {
namespace {

std::mutex mu;
cni::Logger logger;                  // guarded by mu
// A member: its address, and for an l3 node its subnet (address, prefix;
// prefix -1 for an l2 peer).
using Member = std::tuple<knet::IP, knet::IP, int>;
std::vector<Member> last_members;  // sorted, guarded by mu
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
  // Compared as sorted addresses, strings only for who joined or left: the
  // membership has thousands of nodes and comes at every watch event.
  std::vector<Member> now;
  now.reserve(m.nodes.size() + m.peers.size());
  for (const auto& n : m.nodes) now.emplace_back(n.vtep, n.subnet.ip, n.subnet.prefix);
  for (const auto& p : m.peers) now.emplace_back(p, knet::IP{}, -1);
  std::sort(now.begin(), now.end());
  std::vector<Member> joined, left;
  {
    std::lock_guard<std::mutex> l(mu);
    if (have_members && now == last_members) return;
    std::set_difference(now.begin(), now.end(), last_members.begin(), last_members.end(),
                        std::back_inserter(joined));
    std::set_difference(last_members.begin(), last_members.end(), now.begin(), now.end(),
                        std::back_inserter(left));
    last_members = std::move(now);
    have_members = true;
  }
  auto str = [](const Member& x) {
    const auto& [ip, net, prefix] = x;
    return prefix < 0 ? ip.str() : ip.str() + " " + knet::IPNet{net, prefix}.str();
  };
  for (const auto& x : joined) log_event(cni::LogLevel::kInfo, "membership", "joined " + str(x));
  for (const auto& x : left) log_event(cni::LogLevel::kInfo, "membership", "left " + str(x));
}

}  // namespace knet::node
