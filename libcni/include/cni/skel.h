#pragma once
// The plugin skeleton: reads the environment and stdin, checks versions,
// dispatches to a plugin's verbs, and turns every cni::Error into the spec's
// error JSON on stdout with a non-zero exit.

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cni/env.h"
#include "cni/error.h"
#include "cni/netconf.h"
#include "cni/result.h"

namespace cni {

// One entry of "cni.dev/valid-attachments" in a GC request.
struct Attachment {
  std::string container_id;
  std::string ifname;
  bool operator==(const Attachment&) const = default;
  auto operator<=>(const Attachment&) const = default;
};

// Reads the GC attachment list from a config (valid-attachments, or the older
// cni.dev/attachments key), sorted and without duplicates, as the lookups
// below need it; throws code 7 if it is present but malformed.
std::vector<Attachment> gc_attachments(const json& config);
// Sorts `list` and drops duplicates: what contains_* expect.
void sort_attachments(std::vector<Attachment>& list);
// Lookups in a sorted list (gc_attachments, sort_attachments): O(log n) each,
// so a GC that checks every object it owns stays O(n log n).
bool contains_attachment(const std::vector<Attachment>& list, std::string_view container_id,
                         std::string_view ifname);
// True if any attachment of `container_id` (any ifname) is in the sorted list.
bool contains_container(const std::vector<Attachment>& list, std::string_view container_id);

struct Plugin {
  std::string about;  // printed on stderr when run without CNI_COMMAND
  std::function<Result(const Env&, const NetConf&)> add;
  std::function<void(const Env&, const NetConf&)> del;
  std::function<void(const Env&, const NetConf&)> check;
  std::function<void(const Env&, const NetConf&, const std::vector<Attachment>&)> gc;
  std::function<void(const Env&, const NetConf&)> status;
};

// Runs one invocation against the given environment; returns the exit code.
// `read_in` returns the whole of stdin and is called only when the command
// needs it (it may throw cni::Error, which becomes the error JSON); the
// result or error JSON is appended to `out`, diagnostics to `err`. No
// iostreams: their one-time locale set-up costs ~1 MB of RSS and ~0.1 ms per
// exec, more than a plugin's own work.
int run_plugin(const Plugin& plugin, const std::function<const char*(const char*)>& getenv,
               const std::function<std::string()>& read_in, std::string& out, std::string& err);
// The same on streams, for tests.
int run_plugin(const Plugin& plugin, const std::function<const char*(const char*)>& getenv,
               std::istream& in, std::ostream& out, std::ostream& err);

// The whole main() of a plugin: run_plugin on the process's environment and
// standard streams, or on those of the innermost live InProcessInvocation of
// this thread.
int plugin_main(const Plugin& plugin);

// While alive, plugin_main on this thread reads `getenv` and `in` and appends
// to `out` and `err` instead of using the process's: how the multi-call binary runs a
// delegated plugin in-process (see cni::set_in_process_runner).
class InProcessInvocation {
 public:
  InProcessInvocation(std::function<const char*(const char*)> getenv, std::string_view in,
                      std::string& out, std::string& err);
  ~InProcessInvocation();
  InProcessInvocation(const InProcessInvocation&) = delete;
  InProcessInvocation& operator=(const InProcessInvocation&) = delete;

 private:
  friend int plugin_main(const Plugin& plugin);
  std::function<const char*(const char*)> getenv_;
  std::string_view in_;
  std::string& out_;
  std::string& err_;
  InProcessInvocation* outer_;
};

// The name of the program this thread runs ("bridge", "host-local"), for the
// log: set by each program's multi-call entry for the life of the call, so an
// IPAM plugin run in-process inside another plugin logs under its own name.
class ProgramName {
 public:
  explicit ProgramName(const char* name);
  ~ProgramName();
  ProgramName(const ProgramName&) = delete;
  ProgramName& operator=(const ProgramName&) = delete;
  static const char* current();

 private:
  const char* outer_;
};

// Writes the spec's error JSON for `e` ("cniVersion", "code", "msg", "details").
json error_json(const Error& e, std::string_view version);

}  // namespace cni
