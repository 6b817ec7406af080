#pragma once
// The exception for anything a CNI caller must see: knet::Error plus the
// spec's error code. The plugin skeleton is the only place that turns it
// into the spec's error JSON; a knet::Error without a code reaches the
// caller as code 999 (internal).

#include <string>

#include "base/error.h"

namespace cni {

// Error codes from the CNI spec ("Error" section). 100+ are plugin specific.
enum Code : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnv = 4,
  kIOFailure = 5,
  kDecodingFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,       // STATUS: the plugin cannot serve ADDs
  kLimitedConnectivity = 51,      // STATUS: ADDs work but connectivity is degraded
  kInternal = 999,
};

// A failure with the spec's error code, a message that names what failed
// and on what, and optional details.
class Error : public knet::Error {
 public:
  Error(int code, std::string msg, std::string details = {})
      : knet::Error(std::move(msg), std::move(details)), code_(code) {}
  // The same failure as `e` (message, details, errno), given CNI code `code`.
  Error(int code, const knet::Error& e)
      : knet::Error(e.msg(), e.details(), e.sys_errno()), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Shorthand for the most common error: a bad network configuration value.
[[noreturn]] inline void config_error(const std::string& msg) { throw Error(kInvalidNetworkConfig, msg); }

}  // namespace cni
