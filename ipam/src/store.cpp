#include "ipam/store.h"

#include <base/fd.h>
#include <base/owner.h>
#include <cni/error.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

namespace knet::ipam {
namespace {

constexpr const char* kLockName = "lock";
constexpr const char* kIndexName = "knet.index";
// A reservation's content is written here first and then hard-linked to the
// address's name, so a file named by an address always has its full content
// even if the writer dies; only the lock holder uses it.
constexpr const char* kStagingName = "knet.staging";
constexpr const char* kLastReservedPrefix = "last_reserved_ip.";
constexpr size_t kStampedSets = std::size(Stamp{}.last_reserved);

[[noreturn]] void io_error(const std::string& what) {
  throw cni::Error(cni::kIOFailure, what + ": " + std::strerror(errno));
}

std::string_view trim_space(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// A container ID reaches a plugin as one environment string, which the kernel
// caps at 128 KiB (MAX_ARG_STRLEN): an owner file longer than this names no
// owner a request can carry. It is never matched nor released, like an
// unreadable one.
constexpr size_t kMaxOwnerFileBytes = 1u << 20;
// last_reserved_ip.<N> holds one address.
constexpr size_t kMaxLastReservedBytes = 256;

// The whole content of file `name` in `dirfd`; nullopt if it is missing,
// unreadable or longer than `max_bytes`. Non-blocking, so a FIFO that has an
// address's name returns at once.
std::optional<std::string> read_whole(int dirfd, const char* name, size_t max_bytes) {
  knet::Fd fd(openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return std::nullopt;
  }
}

// Replaces file `name`'s content in place in directory `dirfd` (`dir` for
// messages). Not O_TRUNC: ext4 flushes a file truncated to zero when it is
// closed (auto_da_alloc), which costs milliseconds.
void write_file(int dirfd, const std::string& dir, const char* name, std::string_view content) {
  knet::Fd fd(openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644));
  if (!fd ||
      pwrite(fd.get(), content.data(), content.size(), 0) != static_cast<ssize_t>(content.size()) ||
      ftruncate(fd.get(), static_cast<off_t>(content.size())) != 0)
    io_error("cannot write " + dir + "/" + name);
}

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

// Calls `fn` with every entry name of the directory (not "." or "..").
template <typename Fn>
void list_dir(int dirfd, const std::string& dir, Fn fn) {
  knet::Fd fd(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::unique_ptr<DIR, DirCloser> d(fd ? fdopendir(fd.get()) : nullptr);
  if (!d) io_error("cannot list host-local directory " + dir);
  fd.release();  // closed with the DIR
  while (dirent* e = readdir(d.get())) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    fn(e->d_name);
  }
}

const std::string& boot_id() {
  static const std::string id = [] {
    std::string s = read_whole(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64).value_or("");
    return s.substr(0, s.find('\n'));
  }();
  return id;
}

Stamp::File stat_file(int dirfd, const char* name) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  return {static_cast<uint64_t>(st.st_ino), st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size)};
}

// Marks files and index as possibly out of step for the duration of a change.
class Mutation {
 public:
  explicit Mutation(int& depth) : depth_(depth) { ++depth_; }
  ~Mutation() {
    if (std::uncaught_exceptions() == 0) --depth_;
  }

 private:
  int& depth_;
};

}  // namespace

std::string OwnerKey::content() const {
  return ifname.empty() ? container_id : container_id + "\r\n" + ifname;
}

uint64_t OwnerKey::hash() const { return knet::owner_hash(knet::Owner{"", container_id, ifname}); }

std::optional<OwnerKey> OwnerKey::parse(std::string_view content) {
  content = trim_space(content);
  if (content.empty()) return std::nullopt;
  size_t crlf = content.find("\r\n");
  if (crlf == std::string_view::npos) return OwnerKey{std::string(content), ""};
  return OwnerKey{std::string(content.substr(0, crlf)), std::string(content.substr(crlf + 2))};
}

Store::Store(const std::string& network_dir, bool create) : dir_(network_dir) {
  if (create) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec)
      throw cni::Error(cni::kIOFailure,
                       "cannot create host-local directory " + dir_ + ": " + ec.message());
  }
  dirfd_.reset(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd_) {
    if (!create && errno == ENOENT) return;
    io_error("cannot open host-local directory " + dir_);
  }
  lockfd_.reset(openat(dirfd_.get(), kLockName, O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!lockfd_) io_error("cannot open lock file " + dir_ + "/" + kLockName);
  while (flock(lockfd_.get(), LOCK_EX) != 0) {
    if (errno != EINTR) io_error("cannot lock " + dir_ + "/" + kLockName);
  }
  // Left by a writer that died between staging and linking; holds no address.
  unlinkat(dirfd_.get(), kStagingName, 0);
}

Store::~Store() {
  if (staged_) unlinkat(dirfd_.get(), kStagingName, 0);
  if (index_ && changed_ && mutating_ == 0) {
    if (index_->size() == 0) {
      index_.reset();
      unlinkat(dirfd_.get(), kIndexName, 0);
    } else {
      index_->finish(confirmed_stamp());
    }
  }
  index_.reset();
  lockfd_.reset();  // releases the flock, after the index is written
}

Stamp Store::stamp() const {
  Stamp s;
  std::strncpy(s.boot_id, boot_id().c_str(), sizeof s.boot_id - 1);
  s.dir = stat_file(dirfd_.get(), ".");
  for (size_t i = 0; i < kStampedSets; ++i)
    s.last_reserved[i] = stat_file(dirfd_.get(), (kLastReservedPrefix + std::to_string(i)).c_str());
  timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  s.taken_ns = now.tv_sec * 1000000000ll + now.tv_nsec;
  return s;
}

Stamp Store::confirmed_stamp() const {
  Stamp s = stamp();
  if (!s.racy()) return s;
  // This change is in the directory's current mtime tick, and so would be one
  // by another writer right after the lock is released. Moving the mtime one
  // tick before now (a fine-grained mtime may be ahead of the coarse clock),
  // to a time no later change can set, makes any such change seen. If that
  // fails, the stamp stays racy and the next opener rebuilds the index.
  int64_t back = std::min(s.dir.mtime_ns, s.taken_ns) - timestamp_tick_ns(s.dir.mtime_ns);
  timespec times[2] = {{0, UTIME_OMIT}, {back / 1000000000, back % 1000000000}};
  if (futimens(dirfd_.get(), times) == 0) s.dir = stat_file(dirfd_.get(), ".");
  return s;
}

OwnerIndex& Store::index() {
  if (!index_) index_ = OwnerIndex::open(dirfd_.get(), kIndexName, stamp());
  if (!index_) {
    // Missing, dirty or stale: someone else (the reference plugin, an older
    // knet, a writer that died) changed the directory. Read the truth once.
    std::vector<IndexEntry> entries;
    for (const Reservation& r : read_all()) entries.push_back({r.owner.hash(), r.ip});
    index_ = OwnerIndex::create(dirfd_.get(), kIndexName, entries);
    changed_ = true;
  }
  return *index_;
}

std::optional<OwnerKey> Store::read_owner(const std::string& name) const {
  auto content = read_whole(dirfd_.get(), name.c_str(), kMaxOwnerFileBytes);
  return content ? OwnerKey::parse(*content) : std::nullopt;
}

std::vector<Reservation> Store::read_all() const {
  std::vector<Reservation> out;
  if (!exists()) return out;
  list_dir(dirfd_.get(), dir_, [&](const char* name) {
    auto ip = knet::IP::parse(name);
    if (!ip) return;
    if (auto owner = read_owner(name)) out.push_back({*ip, std::move(*owner)});
  });
  return out;
}

std::vector<knet::IP> Store::find(const OwnerKey& owner) {
  std::vector<knet::IP> out;
  if (!exists()) return out;
  for (const knet::IP& ip : index().lookup(owner.hash())) {
    auto holder = read_owner(ip.str());
    if (holder && *holder == owner) {
      out.push_back(ip);
    } else if (!holder || holder->hash() != owner.hash()) {
      Mutation m(mutating_);
      index_->erase(owner.hash(), ip);  // released or reused since: drop the stale entry
      changed_ = true;
    }
  }
  return out;
}

bool Store::reserve(const knet::IP& ip, const OwnerKey& owner, size_t set) {
  OwnerIndex& idx = index();
  Mutation m(mutating_);
  std::string content = owner.content();
  if (!staged_ || staged_content_ != content) {
    write_file(dirfd_.get(), dir_, kStagingName, content);
    staged_ = true;
    staged_content_ = content;
  }
  idx.mark_dirty();
  changed_ = true;
  std::string name = ip.str();
  if (linkat(dirfd_.get(), kStagingName, dirfd_.get(), name.c_str(), 0) != 0) {
    if (errno == EEXIST) return false;
    io_error("cannot reserve " + name + " in " + dir_);
  }
  idx.insert(owner.hash(), ip);
  try {
    write_file(dirfd_.get(), dir_, (kLastReservedPrefix + std::to_string(set)).c_str(), name);
  } catch (...) {
    // Not reserved after all: a failed reservation keeps no address.
    unlinkat(dirfd_.get(), name.c_str(), 0);
    idx.erase(owner.hash(), ip);
    throw;
  }
  return true;
}

void Store::remove(const knet::IP& ip, const OwnerKey& owner) {
  OwnerIndex& idx = index();
  Mutation m(mutating_);
  idx.mark_dirty();
  changed_ = true;
  std::string name = ip.str();
  if (unlinkat(dirfd_.get(), name.c_str(), 0) != 0 && errno != ENOENT)
    io_error("cannot release " + name + " in " + dir_);
  idx.erase(owner.hash(), ip);
}

std::vector<knet::IP> Store::release(const OwnerKey& owner) {
  std::vector<knet::IP> freed = find(owner);
  if (freed.empty() && !owner.ifname.empty()) {
    OwnerKey legacy{owner.container_id, ""};
    for (const knet::IP& ip : find(legacy)) {
      remove(ip, legacy);
      freed.push_back(ip);
    }
    return freed;
  }
  for (const knet::IP& ip : freed) remove(ip, owner);
  return freed;
}

void Store::release(const knet::IP& ip, const OwnerKey& owner) {
  if (!exists()) return;
  auto holder = read_owner(ip.str());
  if (holder && *holder == owner) remove(ip, owner);
}

std::optional<knet::IP> Store::last_reserved(size_t set) const {
  if (!exists()) return std::nullopt;
  auto s = read_whole(dirfd_.get(), (kLastReservedPrefix + std::to_string(set)).c_str(),
                      kMaxLastReservedBytes);
  return s ? knet::IP::parse(trim_space(*s)) : std::nullopt;
}

std::vector<Reservation> Store::scan() {
  if (!exists()) return {};
  std::vector<Reservation> all = read_all();
  std::vector<IndexEntry> entries;
  for (const Reservation& r : all) entries.push_back({r.owner.hash(), r.ip});
  index_.reset();
  index_ = OwnerIndex::create(dirfd_.get(), kIndexName, entries);
  changed_ = true;
  return all;
}

std::set<knet::IP> Store::reserved_names() const {
  std::set<knet::IP> out;
  if (!exists()) return out;
  list_dir(dirfd_.get(), dir_, [&](const char* name) {
    if (auto ip = knet::IP::parse(name)) out.insert(*ip);
  });
  return out;
}

}  // namespace knet::ipam
