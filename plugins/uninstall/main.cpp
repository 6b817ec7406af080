// knet uninstall: removes the conflist, the plugin links and the executable
// `knet install` put on a node, in the reverse order (docs/deploy.md, `--help`).

#include <cstdio>
#include <string>
#include <vector>

#include "installer.h"

int main(int argc, char** argv) {
  using namespace knet::install;
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    UninstallOptions o = parse_uninstall_args(args);
    if (o.help) {
      std::fputs(uninstall_usage().c_str(), stdout);
      return kExitOk;
    }
    return print_steps(uninstall(o), true);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "knet uninstall: %s\n", e.msg().c_str());
    return kExitUsage;
  } catch (const knet::Error& e) {
    std::fprintf(stderr, "knet uninstall: %s\n", e.msg().c_str());
    return kExitFailed;
  }
}
