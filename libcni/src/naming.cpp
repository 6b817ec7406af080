#include "cni/naming.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "cni/error.h"

namespace cni {

uint64_t owner_hash(const Owner& o) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
  };
  mix(o.network);
  mix(o.container_id);
  mix(o.ifname);
  return h;
}

std::string owner_ifname(std::string_view prefix, const Owner& o) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(owner_hash(o)));
  std::string name(prefix.substr(0, 15));
  name.append(hex, 15 - name.size() < 16 ? 15 - name.size() : 16);
  return name;
}

std::string owner_tag(const Owner& o) {
  return "knet:" + o.network + ":" + o.container_id + ":" + o.ifname;
}

void require_owner_tag_fits(const Owner& o) {
  size_t n = owner_tag(o).size();
  if (n <= kMaxOwnerTagBytes) return;
  throw Error(kInvalidNetworkConfig,
              "network name (" + std::to_string(o.network.size()) + " bytes), CNI_CONTAINERID (" +
                  std::to_string(o.container_id.size()) + ") and CNI_IFNAME (" +
                  std::to_string(o.ifname.size()) + ") are too long together: knet tags what it " +
                  "creates with \"knet:<network>:<container id>:<ifname>\", at most " +
                  std::to_string(kMaxOwnerTagBytes) + " bytes, and this one would be " +
                  std::to_string(n));
}

std::optional<Owner> parse_owner_tag(std::string_view tag) {
  if (tag.rfind("knet:", 0) != 0) return std::nullopt;
  tag.remove_prefix(5);
  auto a = tag.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = tag.find(':', a + 1);
  if (b == std::string_view::npos || tag.find(':', b + 1) != std::string_view::npos) return std::nullopt;
  Owner o{std::string(tag.substr(0, a)), std::string(tag.substr(a + 1, b - a - 1)), std::string(tag.substr(b + 1))};
  if (o.network.empty() || o.container_id.empty() || o.ifname.empty()) return std::nullopt;
  return o;
}

bool is_owner_ifname(std::string_view prefix, std::string_view name) {
  if (name.size() != 15 || name.substr(0, prefix.size()) != prefix) return false;
  for (char c : name.substr(prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

namespace {

// An fd of <run dir>/<file> holding an flock (shared or exclusive), or -1
// when the file cannot be opened or locked.
int lock_run_file(const std::string& file, bool exclusive) {
  const char* env = std::getenv("KNET_RUN_DIR");
  std::string dir = env && *env ? env : "/run/knet";
  mkdir(dir.c_str(), 0700);  // EEXIST is the common case; open() tells the rest
  int fd = open((dir + "/" + file).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int r;
  do {
    r = flock(fd, exclusive ? LOCK_EX : LOCK_SH);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

UntaggedLinkLock::UntaggedLinkLock(Mode mode)
    : fd_(lock_run_file("untagged.lock", mode == kExclusive)) {}

RunDirLock::RunDirLock(const std::string& file) : fd_(lock_run_file(file, true)) {}

UntaggedLinkLock::~UntaggedLinkLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace cni

