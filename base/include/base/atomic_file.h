#pragma once
// Replacing a file so that a reader sees either the old or the new content,
// never half of one: what a cache entry, a membership file or an installed
// plugin needs.

#include <sys/types.h>

#include <string>
#include <string_view>

namespace knet {

// Whether a replaced file must survive a power loss.
enum class Durability {
  kVolatile,  // no fsync: after a power loss the file may be empty; its writer rewrites it
  kDurable,   // the file is fsync'd before the rename and its directory after
};

// Writes `data` to a temporary file next to `path` (same directory, so the
// rename cannot cross file systems; named `path` + ".tmp." + pid) and renames
// it over `path`, with exactly `mode` (whatever the umask). Throws
// knet::Error naming the file and the errno when a step fails; the temporary
// file is removed then and `path` is left as it was.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       Durability durability = Durability::kVolatile);

// Makes `path` a symbolic link to `target` the same way: the link is made
// under the temporary name and renamed over whatever `path` was (a file or
// another link; a directory there is an error).
void symlink_atomic(const std::string& target, const std::string& path,
                    Durability durability = Durability::kVolatile);

}  // namespace knet
