#pragma once
// One network's reservations on disk, in the reference host-local's format so
// both plugins can share a dataDir in either order:
//   <dataDir>/<network>/<ip>                  "<container id>\r\n<ifname>", one per address
//   <dataDir>/<network>/last_reserved_ip.<N>  the address range set N handed out last
//   <dataDir>/<network>/lock                  flock(2)ed for the whole of every operation
// plus knet's own owner index (knet.index, see owner_index.h), which the
// reference ignores, and which is removed whenever no address is held.

#include <base/fd.h>
#include <base/ip.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ipam/owner_index.h"

namespace knet::ipam {

// Who holds an address: the file's content, as the reference writes and matches it.
struct OwnerKey {
  std::string container_id;
  std::string ifname;  // "" for files written before ifnames were recorded
  std::string content() const;
  uint64_t hash() const;
  // Reads a file's content ("id\r\nifname", or a legacy "id"), trimmed as Go's TrimSpace does.
  static std::optional<OwnerKey> parse(std::string_view content);
  bool operator==(const OwnerKey&) const = default;
};

struct Reservation {
  knet::IP ip;
  OwnerKey owner;
};

class Store {
 public:
  // Opens the network directory and takes its lock. With `create`, makes the
  // directory (and dataDir) first; without, a missing directory leaves the
  // store empty and read-only (exists() is false) and nothing is created.
  Store(const std::string& network_dir, bool create);
  // Records the index stamp (unless a mutation was interrupted) and unlocks.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  bool exists() const { return static_cast<bool>(dirfd_); }

  // The addresses whose file names `owner` exactly.
  std::vector<knet::IP> find(const OwnerKey& owner);
  // Takes `ip` for `owner` if no file holds it yet, atomically with the file's
  // content, and records it as range set `set`'s last reserved address.
  bool reserve(const knet::IP& ip, const OwnerKey& owner, size_t set);
  // Removes `owner`'s files; when there are none, those of a legacy owner
  // with the same container ID, as the reference does. Returns what it freed.
  std::vector<knet::IP> release(const OwnerKey& owner);
  // Removes one reservation if `owner` still holds it.
  void release(const knet::IP& ip, const OwnerKey& owner);
  std::optional<knet::IP> last_reserved(size_t set) const;
  // Every reservation, read from the files themselves (and the index rebuilt from them).
  std::vector<Reservation> scan();
  // The addresses that have a file, from the directory listing alone.
  std::set<knet::IP> reserved_names() const;

 private:
  OwnerIndex& index();
  std::vector<Reservation> read_all() const;
  std::optional<OwnerKey> read_owner(const std::string& name) const;
  Stamp stamp() const;
  // The stamp to record on close: never racy if the directory's mtime can be
  // moved out of the current tick (see Stamp::racy).
  Stamp confirmed_stamp() const;
  void remove(const knet::IP& ip, const OwnerKey& owner);

  std::string dir_;
  knet::Fd dirfd_;   // the network directory; unset when it does not exist
  knet::Fd lockfd_;  // holds the flock
  std::unique_ptr<OwnerIndex> index_;
  bool staged_ = false;  // the staging file exists and holds staged_content_
  std::string staged_content_;
  bool changed_ = false;  // the index or directory changed: restamp on close
  int mutating_ = 0;      // >0 while files and index may disagree
};

}  // namespace knet::ipam
