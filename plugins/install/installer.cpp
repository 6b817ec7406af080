#include "installer.h"

#include <base/atomic_file.h>
#include <base/fd.h>
#include <cni/error.h>
#include <cni/file.h>
#include <cni/runtime.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "knet/linked_programs.h"

namespace knet::install {
namespace fs = std::filesystem;

namespace {

// The file names a runtime reads network configs from (libcni's ConfFiles).
const std::vector<std::string> kConfExtensions = {".conf", ".conflist", ".json"};
constexpr const char* kBackupSuffix = ".knet_bak";

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  throw knet::Error("failed to " + what + " " + path + ": " + std::strerror(err), {}, err);
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A name a CNI runtime can exec from a bin dir: no path, nothing hidden.
bool plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// True when `path` is a regular file (not a link) holding exactly `data`.
bool holds(const std::string& path, std::string_view data) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) != data.size()) {
    return false;
  }
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  std::string have(data.size() + 1, '\0');
  size_t got = 0;
  while (got < have.size()) {
    ssize_t n = ::read(fd.get(), have.data() + got, have.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got == data.size() && std::string_view(have.data(), got) == data;
}

// True when `path` is a symbolic link whose target is exactly `target`.
bool links_to(const std::string& path, const std::string& target) {
  std::error_code ec;
  fs::path t = fs::read_symlink(path, ec);
  return !ec && t.string() == target;
}

bool is_linked_program(std::string_view name) {
  return std::any_of(std::begin(knet::kLinkedPrograms), std::end(knet::kLinkedPrograms),
                     [&](const char* p) { return name == p; });
}

// Every plugin type the list runs, with where it is named: each entry's
// "type" and, when the entry delegates IPAM, its "ipam.type".
std::vector<std::pair<std::string, std::string>> plugin_types(const cni::NetworkConfigList& list) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    const auto& p = list.plugins[i];
    std::string where = "plugins[" + std::to_string(i) + "]";
    out.emplace_back(p.type, where + ".type");
    auto ipam = p.raw.find("ipam");
    if (ipam != p.raw.end() && ipam->is_object()) {
      auto t = ipam->find("type");
      if (t != ipam->end() && t->is_string())
        out.emplace_back(t->get<std::string>(), where + ".ipam.type");
    }
  }
  return out;
}

// Reads and checks the conflist: it parses as libcni parses it, and every
// type it names is either a program of knet (linked by this install) or an
// executable already in bin_dir. Returns its bytes.
std::string check_conflist(const Options& o) {
  std::string bytes;
  cni::NetworkConfigList list;
  try {
    bytes = cni::read_user_file(o.conflist, cni::kMaxConfFileBytes, "conflist", cni::kIOFailure);
    list = cni::NetworkConfigList::parse(bytes, o.conflist);
  } catch (const cni::Error& e) {
    if (e.code() == cni::kIOFailure) throw;
    throw Refused("conflist " + o.conflist + " does not parse: " + e.msg());
  }
  if (list.plugins.empty()) throw Refused("conflist " + o.conflist + " has no plugins");
  for (const auto& [type, where] : plugin_types(list)) {
    if (!plain_file_name(type)) {
      throw Refused("conflist " + o.conflist + ": " + where + " \"" + type +
                    "\" is not a plugin name");
    }
    if (is_linked_program(type)) continue;
    std::string path = join(o.bin_dir, type);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(path.c_str(), X_OK) == 0) {
      continue;
    }
    throw Refused("conflist " + o.conflist + ": " + where + " \"" + type +
                  "\" is not installed: knet has no such plugin and " + path +
                  " is no executable (install that plugin first)");
  }
  return bytes;
}

// An exclusive lock on `dir` (flock on the directory itself) for as long as
// the returned descriptor lives.
Fd lock_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) io_fail("open directory", dir, errno);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) io_fail("lock", dir, errno);
  }
  return fd;
}

// Removes the temporary files write_file_atomic / symlink_atomic leave when
// killed ("<name>.tmp.<pid>") for the `names` this install manages in `dir`.
// Only called under the bin dir's lock: no other install is writing them.
void remove_leftovers(const std::string& dir, const std::set<std::string>& names,
                      std::vector<Step>& steps) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    auto mark = n.rfind(".tmp.");
    if (mark == std::string::npos || !names.count(n.substr(0, mark))) continue;
    std::string pid = n.substr(mark + 5);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::unlink(e.path().c_str()) != 0 && errno != ENOENT)
      io_fail("remove", e.path().string(), errno);
    steps.push_back({Step::kLeftoverRemoved, e.path().string(), {}});
  }
  if (ec) io_fail("read directory", dir, ec.value());
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) io_fail("create directory", dir, ec.value());
}

}  // namespace

std::string usage() {
  return R"(usage: knet install --bin-dir DIR --conf-dir DIR --conflist FILE [--conf-name NAME] [--exclusive]

Installs knet on a node (what the DaemonSet's init container runs): this
executable as DIR/knet with a link per plugin next to it, and FILE as the
network config the runtime loads. Every file is replaced atomically (temp
file + fsync + rename), so a kill leaves each one old or new, never partial;
a file that already holds what it should is left alone (a second run writes
nothing). See docs/deploy.md.

  --bin-dir DIR     the runtime's CNI bin dir, e.g. /opt/cni/bin (created if missing)
  --conf-dir DIR    the runtime's CNI conf dir, e.g. /etc/cni/net.d (created if missing)
  --conflist FILE   the conflist to install; refused (nothing changed) if it does not
                    parse or names a plugin type that is neither knet's nor in DIR
  --conf-name NAME  its file name in the conf dir (default: FILE's name); must end in
                    .conflist. Runtimes load the lexically first config: choose a low one
  --exclusive       rename every other .conf/.conflist/.json of the conf dir to
                    NAME.knet_bak, so no other network is loaded (default: leave them)
  --help            this text

Exit status: 0 installed (or already was), 2 bad command line, 3 conflist refused,
4 a file could not be read or written.
)";
}

Options parse_args(const std::vector<std::string>& args) {
  Options o;
  std::map<std::string, std::string*> valued = {{"bin-dir", &o.bin_dir},
                                                {"conf-dir", &o.conf_dir},
                                                {"conflist", &o.conflist},
                                                {"conf-name", &o.conf_name}};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
      return o;
    }
    if (a.rfind("--", 0) != 0) throw UsageError("unexpected argument \"" + a + "\" (see --help)");
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    if (name == "exclusive") {
      if (has_value) throw UsageError("--exclusive takes no value");
      o.exclusive = true;
      continue;
    }
    auto it = valued.find(name);
    if (it == valued.end()) throw UsageError("unknown flag --" + name + " (see --help)");
    if (!has_value) {
      if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value");
      value = args[++i];
    }
    if (value.empty()) throw UsageError("--" + name + " is empty");
    *it->second = value;
  }
  for (const auto& [name, field] : valued) {
    if (name != "conf-name" && field->empty())
      throw UsageError("--" + name + " is required (see --help)");
  }
  if (o.conf_name.empty()) o.conf_name = base_name(o.conflist);
  if (!plain_file_name(o.conf_name) || o.conf_name.front() == '.' ||
      fs::path(o.conf_name).extension() != ".conflist") {
    throw UsageError(
        "--conf-name \"" + o.conf_name +
        "\" is not a file name ending in .conflist (runtimes load *.conflist as a list)");
  }
  return o;
}

std::vector<Step> install(const Options& o, std::string_view executable) {
  std::string conflist = check_conflist(o);
  std::vector<Step> steps;
  make_dir(o.bin_dir);
  make_dir(o.conf_dir);
  Fd lock = lock_dir(o.bin_dir);

  std::set<std::string> bin_names = {"knet"};
  for (const char* p : knet::kLinkedPrograms) bin_names.insert(p);
  remove_leftovers(o.bin_dir, bin_names, steps);
  remove_leftovers(o.conf_dir, {o.conf_name}, steps);

  // The executable before its links, the links before the config that makes
  // a runtime exec them.
  std::string exe = join(o.bin_dir, "knet");
  if (holds(exe, executable)) {
    steps.push_back({Step::kUnchanged, exe, {}});
  } else {
    write_file_atomic(exe, executable, 0755, Durability::kDurable);
    steps.push_back({Step::kWritten, exe, {}});
  }
  for (const char* p : knet::kLinkedPrograms) {
    std::string link = join(o.bin_dir, p);
    if (links_to(link, "knet")) {
      steps.push_back({Step::kUnchanged, link, {}});
      continue;
    }
    struct stat st {};
    if (::lstat(link.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      throw knet::Error("cannot install the plugin link " + link + ": a directory is in the way");
    }
    symlink_atomic("knet", link, Durability::kDurable);
    steps.push_back({Step::kWritten, link, {}});
  }
  std::string conf = join(o.conf_dir, o.conf_name);
  if (holds(conf, conflist)) {
    steps.push_back({Step::kUnchanged, conf, {}});
  } else {
    write_file_atomic(conf, conflist, 0644, Durability::kDurable);
    steps.push_back({Step::kWritten, conf, {}});
  }

  // Other networks' configs: moved aside, or named when one would win.
  bool moved = false;
  for (const std::string& other : cni::conf_files(o.conf_dir, kConfExtensions)) {
    std::string name = base_name(other);
    if (name == o.conf_name) continue;
    if (o.exclusive) {
      std::string aside = other + kBackupSuffix;
      if (::rename(other.c_str(), aside.c_str()) != 0)
        io_fail("rename " + other + " to", aside, errno);
      steps.push_back({Step::kMovedAside, other, aside});
      moved = true;
    } else if (name < o.conf_name) {
      steps.push_back(
          {Step::kNote, other,
           "sorts before " + o.conf_name +
               ": a runtime that loads the first config (kubelet's does) uses it, not knet's; "
               "--exclusive moves it aside, or choose a lower --conf-name"});
    }
  }
  if (moved) {
    Fd dir(::open(o.conf_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir || ::fsync(dir.get()) != 0) io_fail("fsync directory", o.conf_dir, errno);
  }
  return steps;
}

}  // namespace knet::install
