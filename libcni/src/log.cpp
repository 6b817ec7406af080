#include "cni/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "cni/error.h"
#include "cni/file.h"

namespace cni {

const char* log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

namespace {

constexpr uint64_t kMinLogMaxSize = 4096;
constexpr size_t kMaxNodeFileBytes = 64u << 10;

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Applies the keys `config` sets to `c`; throws code 7 naming the key.
void read_keys(const json& config, LogConfig& c) {
  if (auto f = get_string(config, "logFile")) {
    if (f->empty() || (*f)[0] != '/')
      config_error("invalid \"logFile\": \"" + *f + "\" is not an absolute path");
    c.file = *f;
  }
  if (auto l = get_string(config, "logLevel")) {
    if (ascii_iequal(*l, "error")) {
      c.level = LogLevel::kError;
    } else if (ascii_iequal(*l, "info")) {
      c.level = LogLevel::kInfo;
    } else if (ascii_iequal(*l, "debug")) {
      c.level = LogLevel::kDebug;
    } else {
      config_error("invalid \"logLevel\": \"" + *l +
                   "\" is not one of \"error\", \"info\", \"debug\"");
    }
  }
  if (auto m = get_uint(config, "logMaxSize")) {
    if (*m < kMinLogMaxSize)
      config_error("invalid \"logMaxSize\": " + std::to_string(*m) + " is below " +
                   std::to_string(kMinLogMaxSize));
    c.max_size = *m;
  }
}

}  // namespace

const char* LogConfig::node_file_path() {
  const char* p = std::getenv(kNodeLogConfigEnv);
  return p && *p ? p : kDefaultNodeLogConfig;
}

LogConfig LogConfig::from_node_file(const char* node_file) {
  LogConfig c;
  if (!node_file || !*node_file) return c;
  // The common case, no such file, costs one failed open().
  int fd = ::open(node_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return c;
  ::close(fd);
  try {
    json doc = parse_any(read_user_file(node_file, kMaxNodeFileBytes, "log config", kIOFailure),
                         "log config");
    if (!doc.is_object()) return c;
    read_keys(doc, c);
  } catch (...) {
    return LogConfig{};
  }
  return c;
}

LogConfig LogConfig::from_config(const json& config, const char* node_file) {
  LogConfig c;
  if (!find_key(config, "logFile")) c = from_node_file(node_file);
  read_keys(config, c);
  return c;
}

LogLine::LogLine(LogLevel level) {
  buf_.reserve(384);
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  ::gmtime_r(&ts.tv_sec, &t);
  char when[96];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000);
  buf_ += "{\"time\":\"";
  buf_ += when;
  buf_ += "\",\"level\":\"";
  buf_ += log_level_name(level);
  buf_ += '"';
}

void LogLine::key(std::string_view k) {
  buf_ += ',';
  buf_ += quote(k);
  buf_ += ':';
}

LogLine& LogLine::str(std::string_view k, std::string_view value) {
  key(k);
  buf_ += quote(value);
  return *this;
}

LogLine& LogLine::num(std::string_view k, int64_t value) {
  key(k);
  buf_ += std::to_string(value);
  return *this;
}

LogLine& LogLine::raw(std::string_view k, std::string_view raw) {
  key(k);
  buf_ += raw;
  return *this;
}

std::string LogLine::finish() {
  buf_ += "}\n";
  return std::move(buf_);
}

namespace {

// The length of the well-formed UTF-8 sequence at s[i], or 0.
size_t utf8_seq(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t n = c >= 0xC2 && c <= 0xDF   ? 2
             : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(k) & 0xC0) != 0x80) return 0;
  if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
  if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
  if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
  return n;
}

}  // namespace

std::string LogLine::quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_seq(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  return out;
}

Logger::Logger(LogConfig config) : config_(std::move(config)) {}

Logger::~Logger() {
  if (fd_ >= 0) ::close(fd_);
}

Logger::Logger(Logger&& o) noexcept
    : config_(std::move(o.config_)),
      fd_(std::exchange(o.fd_, -1)),
      failed_(o.failed_),
      opened_(o.opened_),
      have_opened_(std::exchange(o.have_opened_, false)) {}

Logger& Logger::operator=(Logger&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    config_ = std::move(o.config_);
    fd_ = std::exchange(o.fd_, -1);
    failed_ = o.failed_;
    opened_ = o.opened_;
    have_opened_ = std::exchange(o.have_opened_, false);
  }
  return *this;
}

bool Logger::open() noexcept {
  if (fd_ >= 0) return true;
  if (failed_ || config_.file.empty()) return false;
  fd_ = ::open(config_.file.c_str(),
               O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
  if (fd_ < 0) {
    failed_ = true;
    return false;
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {  // never a FIFO or a device
    ::close(fd_);
    fd_ = -1;
    failed_ = true;
    return false;
  }
  opened_ = st;  // the first write's rotation check needs no second fstat
  have_opened_ = true;
  return true;
}

void Logger::rotate_if_needed(size_t incoming) noexcept {
  struct stat mine {};
  if (have_opened_) {
    mine = opened_;
    have_opened_ = false;
  } else if (::fstat(fd_, &mine) != 0) {
    return;
  }
  if (static_cast<uint64_t>(mine.st_size) + incoming <= config_.max_size) return;
  try {
    std::string lock_path = config_.file + ".lock";
    int lk = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (lk < 0) return;  // cannot rotate safely: keep appending
    while (::flock(lk, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(lk);
        return;
      }
    }
    struct stat cur {};
    bool same = ::stat(config_.file.c_str(), &cur) == 0 && cur.st_dev == mine.st_dev &&
                cur.st_ino == mine.st_ino;
    // Under the lock, only one writer renames a given file; the others find
    // a new inode under the name and reopen.
    if (same && static_cast<uint64_t>(cur.st_size) + incoming > config_.max_size)
      same = ::rename(config_.file.c_str(), (config_.file + ".1").c_str()) != 0;
    if (!same) {
      int fd = ::open(config_.file.c_str(),
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
      if (fd >= 0) {
        ::close(fd_);
        fd_ = fd;
      }
    }
    ::close(lk);  // releases the flock
  } catch (...) {
  }
}

void Logger::write(std::string_view line) noexcept {
  if (!open()) return;
  rotate_if_needed(line.size());
  // One write: O_APPEND makes it land whole at the end, whoever else appends.
  ssize_t n = ::write(fd_, line.data(), line.size());
  (void)n;
}

}  // namespace cni
