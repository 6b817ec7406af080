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
#include <cstdio>
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

// Makes the renames and removals in `dir` durable.
void sync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) io_fail("fsync directory", dir, errno);
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

namespace {

// Reads `--name VALUE`, `--name=VALUE` and the valueless `--flag`s into
// `valued` and `flags`. Returns false when --help (or -h) was given.
bool parse_flags(const std::vector<std::string>& args,
                 const std::map<std::string, std::string*>& valued,
                 const std::map<std::string, bool*>& flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") return false;
    if (a.rfind("--", 0) != 0) throw UsageError("unexpected argument \"" + a + "\" (see --help)");
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    if (auto f = flags.find(name); f != flags.end()) {
      if (has_value) throw UsageError("--" + name + " takes no value");
      *f->second = true;
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
  return true;
}

// A --conf-name runtimes load as a list: a plain file name ending in .conflist.
void check_conf_name(const std::string& name) {
  if (!plain_file_name(name) || name.front() == '.' || fs::path(name).extension() != ".conflist") {
    throw UsageError("--conf-name \"" + name +
                     "\" is not a file name ending in .conflist (runtimes load *.conflist as a list)");
  }
}

}  // namespace

Options parse_args(const std::vector<std::string>& args) {
  Options o;
  std::map<std::string, std::string*> valued = {{"bin-dir", &o.bin_dir},
                                                {"conf-dir", &o.conf_dir},
                                                {"conflist", &o.conflist},
                                                {"conf-name", &o.conf_name}};
  if (!parse_flags(args, valued, {{"exclusive", &o.exclusive}})) {
    o.help = true;
    return o;
  }
  for (const auto& [name, field] : valued) {
    if (name != "conf-name" && field->empty())
      throw UsageError("--" + name + " is required (see --help)");
  }
  if (o.conf_name.empty()) o.conf_name = base_name(o.conflist);
  check_conf_name(o.conf_name);
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
  if (moved) sync_dir(o.conf_dir);
  return steps;
}

std::string uninstall_usage() {
  return R"(usage: knet uninstall --bin-dir DIR --conf-dir DIR --conf-name NAME [--restore] [--keep-binaries]

Removes what `knet install` put on a node, in the reverse order: the conflist
NAME from the conf dir first (new pods no longer get knet's network), then
every link to knet in the bin dir, then DIR/knet. Anything else is left and
named: a NAME that is not a regular file, a plugin file that is not a link
to knet. A killed run leaves a node the next run finishes; a second run finds
nothing to do. See docs/deploy.md.

Remove the pods of knet's network first (drain the node): a runtime that
cannot exec a plugin cannot DEL what the plugin made for a pod.

  --bin-dir DIR     the CNI bin dir knet was installed into, e.g. /opt/cni/bin
  --conf-dir DIR    the CNI conf dir, e.g. /etc/cni/net.d
  --conf-name NAME  the conflist `knet install` wrote there (ends in .conflist)
  --restore         rename every NAME.knet_bak of the conf dir (what --exclusive moved
                    aside) back to NAME, unless NAME exists again
  --keep-binaries   leave knet and its plugin links in the bin dir
  --help            this text

Exit status: 0 removed (or nothing was there), 2 bad command line, 4 a file
could not be removed or renamed.
)";
}

UninstallOptions parse_uninstall_args(const std::vector<std::string>& args) {
  UninstallOptions o;
  std::map<std::string, std::string*> valued = {
      {"bin-dir", &o.bin_dir}, {"conf-dir", &o.conf_dir}, {"conf-name", &o.conf_name}};
  if (!parse_flags(args, valued, {{"restore", &o.restore}, {"keep-binaries", &o.keep_binaries}})) {
    o.help = true;
    return o;
  }
  for (const auto& [name, field] : valued) {
    if (field->empty()) throw UsageError("--" + name + " is required (see --help)");
  }
  check_conf_name(o.conf_name);
  return o;
}

std::vector<Step> uninstall(const UninstallOptions& o) {
  std::vector<Step> steps;
  auto is_dir = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  auto remove = [&](const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) io_fail("remove", path, errno);
    steps.push_back({Step::kRemoved, path, {}});
  };
  bool have_bin = is_dir(o.bin_dir), have_conf = is_dir(o.conf_dir);
  Fd lock;
  std::set<std::string> bin_names = {"knet"};
  for (const char* p : knet::kLinkedPrograms) bin_names.insert(p);
  if (have_bin) {
    lock = lock_dir(o.bin_dir);
    remove_leftovers(o.bin_dir, bin_names, steps);
  }

  if (have_conf) {
    remove_leftovers(o.conf_dir, {o.conf_name}, steps);
    bool changed = false;
    std::string conf = join(o.conf_dir, o.conf_name);
    struct stat st {};
    if (::lstat(conf.c_str(), &st) == 0) {
      if (S_ISREG(st.st_mode)) {
        remove(conf);
        changed = true;
      } else {
        steps.push_back({Step::kNote, conf, "is not a regular file (not what knet install writes): left"});
      }
    }
    if (o.restore) {
      std::error_code ec;
      std::vector<std::string> backups;
      for (const auto& e : fs::directory_iterator(o.conf_dir, ec)) {
        std::string n = e.path().filename().string();
        size_t len = std::strlen(kBackupSuffix);
        if (n.size() > len && n.compare(n.size() - len, len, kBackupSuffix) == 0) {
          backups.push_back(e.path().string());
        }
      }
      if (ec) io_fail("read directory", o.conf_dir, ec.value());
      std::sort(backups.begin(), backups.end());
      for (const std::string& bak : backups) {
        std::string orig = bak.substr(0, bak.size() - std::strlen(kBackupSuffix));
        if (::lstat(orig.c_str(), &st) == 0) {
          steps.push_back({Step::kNote, bak, "not restored: " + orig + " exists again"});
          continue;
        }
        if (::rename(bak.c_str(), orig.c_str()) != 0) io_fail("rename " + bak + " to", orig, errno);
        steps.push_back({Step::kRestored, bak, orig});
        changed = true;
      }
    }
    if (changed) sync_dir(o.conf_dir);
  }

  if (have_bin && !o.keep_binaries) {
    // Every link to knet (also one of a plugin an older knet had), then knet.
    std::error_code ec;
    std::vector<std::string> links;
    for (const auto& e : fs::directory_iterator(o.bin_dir, ec)) {
      if (links_to(e.path().string(), "knet")) links.push_back(e.path().string());
    }
    if (ec) io_fail("read directory", o.bin_dir, ec.value());
    std::sort(links.begin(), links.end());
    for (const std::string& l : links) remove(l);
    for (const char* p : knet::kLinkedPrograms) {
      std::string path = join(o.bin_dir, p);
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0) {
        steps.push_back({Step::kNote, path, "is not a link to knet (another plugin's file): left"});
      }
    }
    std::string exe = join(o.bin_dir, "knet");
    struct stat st {};
    if (::lstat(exe.c_str(), &st) == 0) {
      if (S_ISREG(st.st_mode)) {
        remove(exe);
      } else {
        steps.push_back({Step::kNote, exe, "is not a regular file (not what knet install writes): left"});
      }
    }
    if (!links.empty() || S_ISREG(st.st_mode)) sync_dir(o.bin_dir);
  }
  return steps;
}

int print_steps(const std::vector<Step>& steps, bool uninstalling) {
  int written = 0, unchanged = 0, removed = 0;
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
      case Step::kRemoved:
        std::printf("removed %s\n", s.path.c_str());
        ++removed;
        break;
      case Step::kRestored:
        std::printf("restored %s -> %s\n", s.path.c_str(), s.detail.c_str());
        ++removed;
        break;
    }
  }
  if (uninstalling) {
    if (removed == 0) {
      std::printf("knet uninstall: nothing to do, nothing of knet's is installed there\n");
    } else {
      std::printf("knet uninstall: %d files removed or restored\n", removed);
    }
  } else if (written == 0) {
    std::printf("knet install: nothing to do, all %d files already installed\n", unchanged);
  } else {
    std::printf("knet install: %d files installed, %d unchanged\n", written, unchanged);
  }
  return kExitOk;
}

}  // namespace knet::install
