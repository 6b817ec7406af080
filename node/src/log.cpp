#include "node/log.h"

#include <config.h>  // the vxlan plugin's Membership

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

namespace knet::node {
namespace {

std::mutex mu;
cni::Logger logger;                  // guarded by mu
// A member: its address, and for an l3 node its subnet (address, prefix;
// prefix -1 for an l2 peer).
using Member = std::tuple<knet::IP, knet::IP, int>;
std::set<Member> last_members;  // guarded by mu
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

namespace {

std::vector<Member> sorted_members(const vxlan::Membership& m) {
  std::vector<Member> out;
  out.reserve(m.nodes.size() + m.peers.size());
  for (const auto& n : m.nodes) out.emplace_back(n.vtep, n.subnet.ip, n.subnet.prefix);
  for (const auto& p : m.peers) out.emplace_back(p, knet::IP{}, -1);
  std::sort(out.begin(), out.end());
  return out;
}

void log_joined_and_left(const std::vector<Member>& joined, const std::vector<Member>& left) {
  auto str = [](const Member& x) {
    const auto& [ip, net, prefix] = x;
    return prefix < 0 ? ip.str() : ip.str() + " " + knet::IPNet{net, prefix}.str();
  };
  for (const auto& x : joined) log_event(cni::LogLevel::kInfo, "membership", "joined " + str(x));
  for (const auto& x : left) log_event(cni::LogLevel::kInfo, "membership", "left " + str(x));
}

}  // namespace

void log_membership(const vxlan::Membership& m) {
  // Compared as sorted addresses, strings only for who joined or left: the
  // membership has thousands of nodes.
  std::vector<Member> now = sorted_members(m);
  std::vector<Member> joined, left;
  {
    std::lock_guard<std::mutex> l(mu);
    if (have_members && std::equal(now.begin(), now.end(), last_members.begin(), last_members.end())) return;
    std::set_difference(now.begin(), now.end(), last_members.begin(), last_members.end(),
                        std::back_inserter(joined));
    std::set_difference(last_members.begin(), last_members.end(), now.begin(), now.end(),
                        std::back_inserter(left));
    last_members = std::set<Member>(now.begin(), now.end());  // linear: `now` is sorted
    have_members = true;
  }
  log_joined_and_left(joined, left);
}

void log_membership_change(const vxlan::Membership& before, const vxlan::Membership& after) {
  // A member whose MAC alone changed is in both: neither joined nor left.
  std::vector<Member> was = sorted_members(before), is = sorted_members(after);
  std::vector<Member> joined, left;
  std::set_difference(is.begin(), is.end(), was.begin(), was.end(), std::back_inserter(joined));
  std::set_difference(was.begin(), was.end(), is.begin(), is.end(), std::back_inserter(left));
  {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& x : left) last_members.erase(x);
    last_members.insert(joined.begin(), joined.end());
    have_members = true;
  }
  log_joined_and_left(joined, left);
}

}  // namespace knet::node
