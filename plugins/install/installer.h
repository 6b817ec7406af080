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
  enum Kind { kWritten, kUnchanged, kMovedAside, kLeftoverRemoved, kNote, kRemoved, kRestored } kind;
  std::string path;
  std::string detail;  // kMovedAside, kRestored: the new name; kNote: the text
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

// `knet uninstall`'s command line.
struct UninstallOptions {
  std::string bin_dir;
  std::string conf_dir;
  std::string conf_name;       // the conflist `knet install` wrote
  bool restore = false;        // rename the *.knet_bak files of --exclusive back
  bool keep_binaries = false;  // leave knet and its links in bin_dir
  bool help = false;
};

// Parses the arguments after `uninstall`. Throws UsageError.
UninstallOptions parse_uninstall_args(const std::vector<std::string>& args);
std::string uninstall_usage();

// Removes what install() put in place, in the reverse order, so a kill at
// any moment leaves a node a later run finishes: conf_dir/conf_name first
// (a runtime stops giving new pods knet's network), then every link in
// bin_dir that points to "knet", then bin_dir/knet. Only what install()
// makes is removed: a conflist that is not a regular file, a plugin that is
// another program's file, a link elsewhere are left and named (kNote). With
// `restore`, each `<name>.knet_bak` in conf_dir is renamed back to <name>
// unless <name> exists again. Holds install()'s lock on bin_dir. A second
// run finds nothing to do. Throws knet::Error when a file operation fails.
std::vector<Step> uninstall(const UninstallOptions& o);

// Prints one line per step and a summary line to stdout; returns kExitOk.
int print_steps(const std::vector<Step>& steps, bool uninstalling);

}  // namespace knet::install
