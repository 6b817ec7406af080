#include "ipam/owner_index.h"

#include <cni/error.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace knet::ipam {
namespace {

constexpr char kMagic[8] = {'K', 'N', 'E', 'T', 'I', 'D', 'X', '1'};
constexpr uint32_t kVersion = 2;  // 2: Stamp::taken_ns
constexpr uint64_t kHeaderSize = 4096;
constexpr uint64_t kMinCapacity = 1024;

[[noreturn]] void io_error(const std::string& what) {
  throw cni::Error(cni::kIOFailure, "host-local index: " + what + ": " + std::strerror(errno));
}

}  // namespace

bool operator==(const Stamp& a, const Stamp& b) {
  auto same = [](const Stamp::File& x, const Stamp::File& y) {
    return x.ino == y.ino && x.mtime_ns == y.mtime_ns && x.size == y.size;
  };
  if (std::memcmp(a.boot_id, b.boot_id, sizeof a.boot_id) != 0 || !same(a.dir, b.dir)) return false;
  for (size_t i = 0; i < std::size(a.last_reserved); ++i)
    if (!same(a.last_reserved[i], b.last_reserved[i])) return false;
  return true;
}

int64_t timestamp_tick_ns(int64_t mtime_ns) {
  constexpr int64_t kSecond = 1000000000;
  if (mtime_ns % kSecond == 0) return 2 * kSecond;
  static const int64_t tick = [] {
    timespec res{};
    clock_getres(CLOCK_REALTIME_COARSE, &res);
    return std::max<int64_t>(res.tv_sec * kSecond + res.tv_nsec, 10000000);
  }();
  return tick;
}

bool Stamp::racy() const { return taken_ns - dir.mtime_ns < timestamp_tick_ns(dir.mtime_ns); }

struct OwnerIndex::Header {
  char magic[8];
  uint32_t version;
  uint32_t dirty;
  uint64_t capacity;  // slots; a power of two
  uint64_t count;
  Stamp stamp;
};
static_assert(sizeof(Stamp) + 64 < kHeaderSize, "the header fits its page");

// Open addressing with linear probing; owner 0 marks an empty slot.
struct OwnerIndex::Slot {
  uint64_t owner;
  uint32_t family;
  uint32_t unused;
  uint8_t ip[16];
};

OwnerIndex::OwnerIndex(knet::Fd fd, uint64_t capacity) : fd_(std::move(fd)) { map(capacity); }

OwnerIndex::~OwnerIndex() {
  if (base_) munmap(base_, mapped_);
}

OwnerIndex::Header* OwnerIndex::header() const { return static_cast<Header*>(base_); }
OwnerIndex::Slot* OwnerIndex::slots() const {
  return reinterpret_cast<Slot*>(static_cast<char*>(base_) + kHeaderSize);
}

void OwnerIndex::map(uint64_t capacity) {
  if (base_) munmap(base_, mapped_);
  base_ = nullptr;
  mapped_ = kHeaderSize + capacity * sizeof(Slot);
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) io_error("mmap");
  base_ = p;
}

std::unique_ptr<OwnerIndex> OwnerIndex::open(int dirfd, const char* name, const Stamp& expected) {
  knet::Fd fd(openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return nullptr;
  struct stat st;
  Header h;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      pread(fd.get(), &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
      std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.version != kVersion || h.dirty ||
      h.capacity < kMinCapacity || (h.capacity & (h.capacity - 1)) != 0 ||
      h.capacity > (1ull << 32) ||
      static_cast<uint64_t>(st.st_size) != kHeaderSize + h.capacity * sizeof(Slot) ||
      !(h.stamp == expected) || h.stamp.racy()) {
    return nullptr;
  }
  return std::unique_ptr<OwnerIndex>(new OwnerIndex(std::move(fd), h.capacity));
}

std::unique_ptr<OwnerIndex> OwnerIndex::create(int dirfd, const char* name,
                                               const std::vector<IndexEntry>& entries) {
  knet::Fd fd(openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644));
  if (!fd) io_error(std::string("create ") + name);
  uint64_t capacity = kMinCapacity;
  while (capacity < 2 * entries.size() + 2) capacity *= 2;
  // Never truncated to zero (ext4 would flush it on close): resized, then cleared.
  if (ftruncate(fd.get(), kHeaderSize + capacity * sizeof(Slot)) != 0)
    io_error(std::string("size ") + name);
  std::unique_ptr<OwnerIndex> idx(new OwnerIndex(std::move(fd), capacity));
  Header* h = idx->header();
  h->dirty = 1;  // first, so a writer dying while this runs leaves a rebuildable index
  std::memset(static_cast<void*>(idx->slots()), 0, capacity * sizeof(Slot));
  std::memcpy(h->magic, kMagic, sizeof kMagic);
  h->version = kVersion;
  h->dirty = 1;
  h->capacity = capacity;
  h->count = 0;
  for (const IndexEntry& e : entries) idx->put(e);
  return idx;
}

uint64_t OwnerIndex::size() const { return header()->count; }

void OwnerIndex::mark_dirty() { header()->dirty = 1; }

std::vector<knet::IP> OwnerIndex::lookup(uint64_t owner) const {
  std::vector<knet::IP> out;
  owner = owner ? owner : 1;
  const uint64_t mask = header()->capacity - 1;
  for (uint64_t i = owner & mask;; i = (i + 1) & mask) {
    const Slot& s = slots()[i];
    if (!s.owner) break;
    if (s.owner != owner) continue;
    knet::IP ip;
    ip.family = static_cast<int>(s.family);
    std::memcpy(ip.bytes.data(), s.ip, sizeof s.ip);
    out.push_back(ip);
  }
  return out;
}

void OwnerIndex::put(const IndexEntry& e) {
  uint64_t owner = e.owner ? e.owner : 1;
  const uint64_t mask = header()->capacity - 1;
  for (uint64_t i = owner & mask;; i = (i + 1) & mask) {
    Slot& s = slots()[i];
    if (s.owner == owner && s.family == static_cast<uint32_t>(e.ip.family) &&
        std::memcmp(s.ip, e.ip.bytes.data(), sizeof s.ip) == 0)
      return;
    if (s.owner) continue;
    s.owner = owner;
    s.family = static_cast<uint32_t>(e.ip.family);
    std::memcpy(s.ip, e.ip.bytes.data(), sizeof s.ip);
    ++header()->count;
    return;
  }
}

void OwnerIndex::grow() {
  std::vector<IndexEntry> all;
  uint64_t cap = header()->capacity;
  for (uint64_t i = 0; i < cap; ++i) {
    const Slot& s = slots()[i];
    if (!s.owner) continue;
    IndexEntry e{s.owner, {}};
    e.ip.family = static_cast<int>(s.family);
    std::memcpy(e.ip.bytes.data(), s.ip, sizeof s.ip);
    all.push_back(e);
  }
  Header saved = *header();
  uint64_t bigger = cap * 2;
  munmap(base_, mapped_);
  base_ = nullptr;
  if (ftruncate(fd_.get(), kHeaderSize + bigger * sizeof(Slot)) != 0) io_error("grow");
  map(bigger);
  std::memset(static_cast<void*>(slots()), 0, bigger * sizeof(Slot));
  *header() = saved;
  header()->capacity = bigger;
  header()->count = 0;
  for (const IndexEntry& e : all) put(e);
}

void OwnerIndex::insert(uint64_t owner, const knet::IP& ip) {
  mark_dirty();
  if (2 * (header()->count + 1) > header()->capacity) grow();
  put({owner, ip});
}

void OwnerIndex::erase(uint64_t owner, const knet::IP& ip) {
  mark_dirty();
  owner = owner ? owner : 1;
  const uint64_t mask = header()->capacity - 1;
  uint64_t i = owner & mask;
  for (;; i = (i + 1) & mask) {
    Slot& s = slots()[i];
    if (!s.owner) return;
    if (s.owner == owner && s.family == static_cast<uint32_t>(ip.family) &&
        std::memcmp(s.ip, ip.bytes.data(), sizeof s.ip) == 0)
      break;
  }
  // Backward-shift deletion: pull later members of the probe run into the hole
  // so lookups never stop early and no tombstones accumulate.
  slots()[i] = Slot{};
  --header()->count;
  for (uint64_t j = (i + 1) & mask; slots()[j].owner; j = (j + 1) & mask) {
    uint64_t home = slots()[j].owner & mask;
    bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (!movable) continue;
    slots()[i] = slots()[j];
    slots()[j] = Slot{};
    i = j;
  }
}

void OwnerIndex::finish(const Stamp& stamp) {
  header()->stamp = stamp;
  header()->dirty = 0;
}

}  // namespace knet::ipam
