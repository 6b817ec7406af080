// knet install: copies this executable and its plugin links into a CNI bin
// dir and a conflist into a CNI conf dir, atomically and idempotently; what
// the DaemonSet's init container runs (docs/deploy.md, `--help`).

#include <cni/error.h>
#include <cni/file.h>

#include <cstdio>
#include <string>
#include <vector>

#include "installer.h"

namespace {

// The executable to install: the one running (multi-call: every plugin).
constexpr size_t kMaxExecutableBytes = 512u << 20;

}  // namespace

int main(int argc, char** argv) {
  using namespace knet::install;
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    Options o = parse_args(args);
    if (o.help) {
      std::fputs(usage().c_str(), stdout);
      return kExitOk;
    }
    std::string self = cni::read_user_file("/proc/self/exe", kMaxExecutableBytes, "this executable",
                                           cni::kIOFailure);
    return print_steps(install(o, self), false);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "knet install: %s\n", e.msg().c_str());
    return kExitUsage;
  } catch (const Refused& e) {
    std::fprintf(stderr, "knet install: refused, nothing changed: %s\n", e.msg().c_str());
    return kExitRefused;
  } catch (const knet::Error& e) {
    std::fprintf(stderr, "knet install: %s\n", e.msg().c_str());
    return kExitFailed;
  }
}
