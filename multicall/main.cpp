// knet: every plugin and cnitool in one executable. The program to run is the
// basename of argv[0] (runtimes exec the symbolic link named after the plugin),
// or, when invoked as `knet`, the first argument: `knet bridge` < conf.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "cni/exec.h"
#include "cni/skel.h"
#include "programs.h"

namespace {

const knet::Program* find(std::string_view name) {
  for (const knet::Program& p : knet::kPrograms) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

// Runs a plugin of this executable in this process (IPAM delegation from a
// plugin: cni::delegate_plugin), with `env` as its environment and
// `stdin_data` as its stdin, as if it had been exec'd.
std::optional<knet::ExecOutput> run_in_process(std::string_view name, const std::vector<std::string>& env,
                                              std::string_view stdin_data) {
  const knet::Program* p = find(name);
  if (!p || !*p->is_plugin) return std::nullopt;
  std::map<std::string, std::string, std::less<>> vars;
  for (const std::string& kv : env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) vars.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  auto getenv = [&vars](const char* key) -> const char* {
    auto it = vars.find(std::string_view(key));
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  knet::ExecOutput o;
  {
    cni::InProcessInvocation invocation(getenv, stdin_data, o.out, o.err);
    std::string argv0(name);
    char* argv[] = {argv0.data(), nullptr};
    o.status = p->entry(1, argv);
  }
  return o;
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
  cni::set_in_process_runner(run_in_process);
  std::string_view self = argc > 0 && argv[0] ? argv[0] : "knet";
  if (auto slash = self.rfind('/'); slash != std::string_view::npos) self.remove_prefix(slash + 1);
  if (const knet::Program* p = find(self)) return p->entry(argc, argv);
  if (argc >= 2) {
    if (const knet::Program* p = find(argv[1])) return p->entry(argc - 1, argv + 1);
  }
  return usage(self);
}
