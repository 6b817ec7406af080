// knet: every plugin and cnitool in one executable. The program to run is the
// basename of argv[0] (runtimes exec the symbolic link named after the plugin),
// or, when invoked as `knet`, the first argument: `knet bridge` < conf.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "programs.h"

namespace {

const knet::Program* find(std::string_view name) {
  for (const knet::Program& p : knet::kPrograms) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

int usage(std::string_view called) {
  std::fprintf(stderr,
               "%.*s: knet CNI plugins in one binary. Run it through a link named after the plugin,"
               " or as `knet <program> [args]`. Programs:",
               static_cast<int>(called.size()), called.data());
  for (const knet::Program& p : knet::kPrograms) std::fprintf(stderr, " %s", p.name);
  std::fputc('\n', stderr);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view self = argc > 0 && argv[0] ? argv[0] : "knet";
  if (auto slash = self.rfind('/'); slash != std::string_view::npos) self.remove_prefix(slash + 1);
  if (const knet::Program* p = find(self)) return p->entry(argc, argv);
  if (argc >= 2) {
    if (const knet::Program* p = find(argv[1])) return p->entry(argc - 1, argv + 1);
  }
  return usage(self);
}
