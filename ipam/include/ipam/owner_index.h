#pragma once
// An on-disk hash table from owner (container ID + ifname) to the addresses it
// holds, so finding an owner's reservations costs one probe instead of reading
// every file in the network's directory as the reference does.
//
// It is a cache, never the truth: the per-IP files are. Callers verify every
// address it returns against its file, and the store rebuilds it from the files
// whenever its Stamp differs from the directory's (another writer was here),
// it was left dirty (a writer died mid-update), or it belongs to another boot.
// The reference plugin ignores it: it is one file whose content is no owner.

#include <base/fd.h>
#include <base/ip.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace knet::ipam {

// What the index was built against: the directory and the last_reserved_ip
// files as stat(2) saw them after the last knet write, and the boot.
struct Stamp {
  struct File {
    uint64_t ino = 0;
    int64_t mtime_ns = 0;
    int64_t size = -1;
  };
  char boot_id[40] = {};
  File dir;
  File last_reserved[8];
  int64_t taken_ns = 0;  // CLOCK_REALTIME_COARSE when it was taken; not compared

  // File timestamps are one tick coarse (on file systems without fine-grained
  // ones): a change in the same tick as the directory's mtime leaves it as it
  // is. A stamp taken within one tick of that mtime (git's "racily clean"
  // case) therefore does not prove that nobody changed the directory after it.
  bool racy() const;
};
// Equal when they describe the same boot, directory and files (taken_ns aside).
bool operator==(const Stamp& a, const Stamp& b);

// The coarseness of a file timestamp: the kernel's tick, at least 10 ms (a
// remote file system's server may tick at 100 Hz), or 2 s for a timestamp in
// whole seconds (a file system that keeps no more, such as FAT).
int64_t timestamp_tick_ns(int64_t mtime_ns);

struct IndexEntry {
  uint64_t owner = 0;  // OwnerKey::hash()
  knet::IP ip;
};

class OwnerIndex {
 public:
  // Maps the index file `name` in directory `dirfd` if it is intact, clean and
  // built against `expected` with a stamp that is not racy; nullptr otherwise.
  static std::unique_ptr<OwnerIndex> open(int dirfd, const char* name, const Stamp& expected);
  // (Re)writes the file with exactly `entries`, marked dirty until finish().
  static std::unique_ptr<OwnerIndex> create(int dirfd, const char* name,
                                            const std::vector<IndexEntry>& entries);
  ~OwnerIndex();
  OwnerIndex(const OwnerIndex&) = delete;
  OwnerIndex& operator=(const OwnerIndex&) = delete;

  // Addresses recorded under `owner` (a superset when owners' hashes collide).
  std::vector<knet::IP> lookup(uint64_t owner) const;
  // Both mark the file dirty first; insert ignores an entry already present.
  void insert(uint64_t owner, const knet::IP& ip);
  void erase(uint64_t owner, const knet::IP& ip);
  uint64_t size() const;
  // Marks the file dirty: call before changing the files it describes, so a
  // writer that dies in between leaves an index the next one rebuilds.
  void mark_dirty();
  // Records `stamp` and marks the file clean: the files on disk now match it.
  void finish(const Stamp& stamp);

 private:
  OwnerIndex(knet::Fd fd, uint64_t capacity);
  struct Header;
  struct Slot;
  Header* header() const;
  Slot* slots() const;
  void map(uint64_t capacity);
  void grow();
  void put(const IndexEntry& e);

  knet::Fd fd_;
  void* base_ = nullptr;
  size_t mapped_ = 0;
};

}  // namespace knet::ipam
