#pragma once
// Table-driven hostile input: each case is one ADD with a broken config or
// environment, which must fail with the CNI error JSON on stdout, the
// expected code, a message naming the offending key, a non-zero exit, and
// no change at all in the sandbox host, the container or the dataDir.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rel.h"

namespace knet::test::rel {

struct Case {
  std::string what;                        // shown when the case fails
  std::function<void(json&)> mutate;       // applied to the base config, if set
  std::optional<std::string> raw;          // stdin as is, instead of the config
  std::map<std::string, std::string> env;  // overrides of the CNI_* variables
  int code = 7;                            // the CNI error code expected
  std::string names;                       // the message must contain this (or one of a|b)
};

// File: a string naming a file the plugin reads.
enum class Type { String, Bool, Int, Array, Object, File };

// A key of a plugin's config, as a JSON pointer ("/ipam/ranges/0/0/subnet"),
// and the type it must have.
struct Key {
  std::string pointer;
  Type type;
  int file_code = 7;  // File keys: the code for a path that is no regular file
};

// The last name in a JSON pointer ("subnet" for "/ipam/ranges/0/0/subnet").
std::string key_name(const std::string& pointer);

// Sets the value at `pointer` (creating what is missing): a config error (7)
// whose message must name the key.
Case bad_value(const std::string& pointer, const json& value, const std::string& why = "");

// Two values of a wrong type for every key.
std::vector<Case> wrong_types(const std::vector<Key>& keys);

// JSON values a test cannot build as a json (the library refuses to write
// them): a string value equal to one of these markers is replaced, in the
// bytes sent to the plugin, by invalid UTF-8 or by `depth` nested arrays.
inline const std::string kBadUtf8Marker = "@knet-bad-utf8@";
std::string deep_marker(size_t depth);
// The config bytes for `conf` with the markers above expanded.
std::string expand_markers(const std::string& dumped);

// The cases every plugin must reject the same way: malformed JSON, an
// oversized stdin, bad names, container IDs and ifnames, unknown versions,
// and (when the plugin enters the container's namespace) a CNI_NETNS that is
// a regular file.
std::vector<Case> common_cases(const json& base, bool uses_netns, const std::string& regular_file);

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override { ctr = sb.add_container(); }

  // Runs every case as an ADD of `plugin` on `base` in the sandbox host.
  void expect_rejected(const std::string& plugin, const json& base, const std::vector<Case>& cases);
  // ADD then DEL of `base` succeed: the cases differ from a config the
  // plugin accepts only by what they break.
  void expect_accepted(const std::string& plugin, const json& base);

  // Every hostile case the key table implies, for each key: two wrong
  // types, invalid UTF-8 in the value (6), a value nested past Go's 10,000
  // levels (6), for keys that are not arrays one nested deep but legal (7,
  // naming the key; 9,000 levels, 1,000 under ASan), numbers out of any range
  // for integers (7), and a FIFO, /dev/zero and a directory for files
  // (Key::file_code, naming the key).
  std::vector<Case> key_cases(const std::vector<Key>& keys) const;

  // A regular file, to pass as CNI_NETNS.
  std::string regular_file() const;
  // A host-local section in the test's dataDir.
  json host_local(const std::string& subnet) const;

  Sandbox sb;
  TempDir data;
  TempDir files;  // for the regular file passed as CNI_NETNS
  std::string ctr;
};

}  // namespace knet::test::rel
