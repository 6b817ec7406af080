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

int print_steps(const std::vector<knet::install::Step>& steps) {
  using Step = knet::install::Step;
  int written = 0, unchanged = 0;
  for (const Step& s : steps) {
    switch (s.kind) {
      case Step::kWritten:
        std::printf("installed %s\n", s.path.c_str());
        ++written;
        break;
      case Step::kUnchanged:
        std::printf("unchanged %s\n", s.path.c_str());
        ++unchanged;
        break;
      case Step::kMovedAside:
        std::printf("moved aside %s -> %s\n", s.path.c_str(), s.detail.c_str());
        break;
      case Step::kLeftoverRemoved:
        std::printf("removed leftover %s (of an install that was interrupted)\n", s.path.c_str());
        break;
      case Step::kNote:
        std::printf("note: %s %s\n", s.path.c_str(), s.detail.c_str());
        break;
    }
  }
  if (written == 0) {
    std::printf("knet install: nothing to do, all %d files already installed\n", unchanged);
  } else {
    std::printf("knet install: %d files installed, %d unchanged\n", written, unchanged);
  }
  return knet::install::kExitOk;
}

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
    return print_steps(install(o, self));
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
