#pragma once
// `knet install`: what a node needs to run knet's plugins, put in place so
// that a kill at any moment leaves every file either as it was or as it
// should be (docs/deploy.md).

#include <base/error.h>

#include <string>
#include <string_view>
#include <vector>

namespace knet::install {

// The command line, parsed and checked for shape (not yet against the disk).
struct Options {
  std::string bin_dir;     // where the executable and its plugin links go
  std::string conf_dir;    // where the conflist goes
  std::string conflist;    // the conflist to install
  std::string conf_name;   // its name in conf_dir (default: the conflist's file name)
  bool exclusive = false;  // move every other network config in conf_dir aside
  bool help = false;
};

// Exit codes of `knet install`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;    // a flag missing, unknown or malformed
inline constexpr int kExitRefused = 3;  // the conflist does not parse or names a missing plugin
inline constexpr int kExitFailed = 4;   // reading or writing a file failed

// A command line `knet install` cannot run.
class UsageError : public knet::Error {
 public:
  using knet::Error::Error;
};
// A conflist `knet install` will not install; nothing was changed.
class Refused : public knet::Error {
 public:
  using knet::Error::Error;
};

// Parses the arguments after `install`. Throws UsageError.
Options parse_args(const std::vector<std::string>& args);
std::string usage();

// One file install() looked at, and what it did.
struct Step {
  enum Kind { kWritten, kUnchanged, kMovedAside, kLeftoverRemoved, kNote } kind;
  std::string path;
  std::string detail;  // kMovedAside: the new name; kNote: the text
};

// Installs `executable` (the bytes of knet itself) as bin_dir/knet, a link
// "knet" for every program of knet::kLinkedPrograms next to it, and the
// conflist as conf_dir/conf_name: each replaced atomically and durably (temp
// file or link + fsync + rename + fsync of the directory), and left alone
// when it already holds what it should. Refuses (throws Refused, before any
// change) a conflist that does not parse or whose plugin types (and IPAM
// types) would not be executables in bin_dir afterwards. Holds an exclusive
// flock on bin_dir meanwhile, so the temp files of a killed earlier run are
// removed. Throws knet::Error when a file operation fails.
std::vector<Step> install(const Options& o, std::string_view executable);

}  // namespace knet::install
