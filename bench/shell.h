#pragma once
// Shell helpers shared by the benchmarks (knet-bench, knet-node-bench).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace bench {

inline int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// `cmd`'s standard output.
inline std::string sh_out(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Kills every process in network namespace `name` (never this one, which may
// live there) and deletes the namespace.
inline void kill_and_delete_netns(const std::string& name) {
  sh("ip netns pids " + name + " 2>/dev/null | grep -vx " + std::to_string(getpid()) +
     " | xargs -r kill -9 2>/dev/null; ip netns del " + name + " 2>/dev/null");
}

}  // namespace bench
