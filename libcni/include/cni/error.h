#pragma once
// The one exception type knet code throws for anything a CNI caller must see.

#include <stdexcept>
#include <string>

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
// and on what, and optional details. The plugin skeleton is the only place
// that turns it into the spec's error JSON.
class Error : public std::runtime_error {
 public:
  Error(int code, std::string msg, std::string details = {})
      : std::runtime_error(msg), code_(code), msg_(std::move(msg)), details_(std::move(details)) {}
  int code() const { return code_; }
  const std::string& msg() const { return msg_; }
  const std::string& details() const { return details_; }

 private:
  int code_;
  std::string msg_;
  std::string details_;
};

// Shorthand for the most common error: a bad network configuration value.
[[noreturn]] inline void config_error(const std::string& msg) { throw Error(kInvalidNetworkConfig, msg); }

}  // namespace cni
