#pragma once
// knet's own log: JSON lines appended to a file an operator names, by every
// plugin (one line per invocation, written by the skeleton) and by knet-node.
//
// Where it goes: the config keys `logFile` (absolute path), `logLevel`
// ("error", "info" — the default —, "debug") and `logMaxSize` (bytes), or,
// when a config has no `logFile`, the node-wide file /etc/knet/log.json
// (`$KNET_LOG_CONFIG` names another) holding the same keys. Neither: no log,
// and no cost beyond one failed open().
//
// The plugin skeleton writes one "info" line per invocation and, at "debug",
// one line per kernel step (knet::Step) before it, all in the same write.
// Lines are whole: each write(2) is on an O_APPEND descriptor, so
// concurrent plugins never interleave. When a line would take the file past
// `logMaxSize`, it is renamed to "<logFile>.1" (replacing the older one) under
// an exclusive flock on "<logFile>.lock", and a writer that finds the file
// already renamed reopens instead. Writing never throws and never fails the
// caller: a log that cannot be written is skipped.

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "cni/json.h"

namespace cni {

enum class LogLevel { kError = 0, kInfo = 1, kDebug = 2 };

const char* log_level_name(LogLevel l);

inline constexpr uint64_t kDefaultLogMaxSize = 10u << 20;
inline constexpr const char* kDefaultNodeLogConfig = "/etc/knet/log.json";
inline constexpr const char* kNodeLogConfigEnv = "KNET_LOG_CONFIG";

struct LogConfig {
  std::string file;  // empty: no log
  LogLevel level = LogLevel::kInfo;
  uint64_t max_size = kDefaultLogMaxSize;

  // The log keys of a network config (`logFile`, `logLevel`, `logMaxSize`),
  // falling back to the node-wide file for those it does not set when it has
  // no `logFile`. Throws code 7 naming the key for a wrong type, a relative
  // path, an unknown level or a size below 4096. A node-wide file that is
  // missing, unreadable or malformed means no log (it must never fail a pod).
  static LogConfig from_config(const json& config, const char* node_file);
  // The node-wide file alone (knet-node and failures before the config is read).
  static LogConfig from_node_file(const char* node_file);
  // The node-wide file's path: $KNET_LOG_CONFIG, else /etc/knet/log.json.
  static const char* node_file_path();
};

// Builds one JSON object line without a JSON library (a few hundred ns):
// keys in the order added, strings escaped, bytes that are not UTF-8
// written as U+FFFD.
class LogLine {
 public:
  // Opens the object with "time" (UTC, µs) and "level".
  explicit LogLine(LogLevel level);
  LogLine& str(std::string_view key, std::string_view value);
  LogLine& num(std::string_view key, int64_t value);
  // `raw` is already JSON (an array or object this class built).
  LogLine& raw(std::string_view key, std::string_view raw);
  // The finished line, with its newline (the builder is left empty).
  std::string finish();

  // `s` as a JSON string literal (quotes included).
  static std::string quote(std::string_view s);

 private:
  void key(std::string_view k);
  std::string buf_;
};

// A log file opened for appending. Cheap to construct (opens lazily).
class Logger {
 public:
  Logger() = default;
  explicit Logger(LogConfig config);
  ~Logger();
  Logger(Logger&& o) noexcept;
  Logger& operator=(Logger&& o) noexcept;
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool enabled(LogLevel l) const { return !config_.file.empty() && l <= config_.level; }
  const LogConfig& config() const { return config_; }
  // Appends `line` (a whole line, newline included) if the file can take it.
  void write(std::string_view line) noexcept;

 private:
  bool open() noexcept;
  void rotate_if_needed(size_t incoming) noexcept;

  LogConfig config_;
  int fd_ = -1;
  bool failed_ = false;    // the file could not be opened: stop trying
  struct stat opened_ {};  // the file as open() found it
  bool have_opened_ = false;
};

}  // namespace cni
