// knet inspect: every attachment on this node, the objects that belong to no
// live attachment (what GC would remove) and the inconsistencies, read from
// the kernel and the state directories without changing anything.
//   knet inspect [--json] [--network NAME] [--container ID]
//                [--data-dir DIR] [--cache-dir DIR] [--run-dir DIR] [--netns-dir DIR]

#include <base/error.h>
#include <cni/json.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "inspect.h"

namespace {

constexpr const char* kUsage = R"(Usage: knet inspect [--json] [--network NAME] [--container ID]
                    [--data-dir DIR] [--cache-dir DIR] [--run-dir DIR] [--netns-dir DIR]

Lists, per attachment (network, container ID, ifname), its network namespace
and whether it still exists, the container interface and its addresses, the
host veth and its bridge, ifbs and qdiscs, nftables masquerade rules,
host-local reservations and the runtime's cache entry; then the orphans (what
belongs to no live attachment: what GC would remove), the inconsistencies,
and objects of the reference plugins it recognises but cannot tie to an
attachment. Changes nothing (see docs/troubleshooting.md).

  --json            machine-readable output
  --network NAME    only this network
  --container ID    only this container
  --data-dir DIR    host-local's dataDir (default /var/lib/cni/networks)
  --cache-dir DIR   the runtime's cache root; entries in DIR/results (default /var/lib/cni)
  --run-dir DIR     knet's run dir (default /run/knet)
  --netns-dir DIR   where named network namespaces are bound (default /var/run/netns)
)";

}  // namespace

int main(int argc, char** argv) {
  knet::inspect::Places places;
  knet::inspect::Filter filter;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "knet inspect: %s needs a value\n", argv[i]);
        return false;
      }
      into = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--json") {
      json = true;
    } else if (a == "--network") {
      ok = value(filter.network);
    } else if (a == "--container") {
      ok = value(filter.container);
    } else if (a == "--data-dir") {
      ok = value(places.data_dir);
    } else if (a == "--cache-dir") {
      ok = value(places.cache_dir);
    } else if (a == "--run-dir") {
      ok = value(places.run_dir);
    } else if (a == "--netns-dir") {
      ok = value(places.netns_dir);
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "knet inspect: unknown argument %s\n%s", argv[i], kUsage);
      return 2;
    }
    if (!ok) return 2;
  }
  try {
    knet::inspect::Report r = knet::inspect::inspect(places, filter);
    std::string out =
        json ? cni::dump_json(knet::inspect::to_json(r)) + "\n" : knet::inspect::to_table(r);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "knet inspect: %s\n", e.what());
    return 1;
  }
}
