#pragma once
// Replacing a file so that a reader sees either the old or the new content,
// never half of one: what a cache entry or a membership file needs.

#include <string>
#include <string_view>
#include <sys/types.h>

namespace knet {

// Writes `data` to a temporary file next to `path` (same directory, so the
// rename cannot cross file systems) and renames it over `path` (no fsync:
// after a power loss the file may be empty, its writer rewrites it). Throws knet::Error naming the file and the errno when a step
// fails; the temporary file is removed then and `path` is left as it was.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

}  // namespace knet
