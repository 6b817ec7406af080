#include "cni/skel.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <iterator>
#include <ostream>
#include <string_view>

#include <base/step.h>

#include "cni/error.h"
#include "cni/log.h"
#include "cni/version.h"

namespace cni {

std::vector<Attachment> gc_attachments(const json& config) {
  std::vector<Attachment> out;
  const char* key = "cni.dev/valid-attachments";
  const json* list = get_array(config, key);
  if (!list) {
    key = "cni.dev/attachments";
    list = get_array(config, key);
  }
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    std::string p = index_path(key, i);
    if (!e.is_object()) config_error("invalid \"" + p + "\": expected an object");
    Attachment a;
    a.container_id = get_string(e, "containerID", join_path(p, "containerID")).value_or("");
    a.ifname = get_string(e, "ifname", join_path(p, "ifname")).value_or("");
    if (a.container_id.empty()) config_error("invalid \"" + p + "\": missing containerID");
    out.push_back(std::move(a));
  }
  sort_attachments(out);
  return out;
}

void sort_attachments(std::vector<Attachment>& list) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

bool contains_attachment(const std::vector<Attachment>& list, std::string_view container_id,
                         std::string_view ifname) {
  auto it = std::lower_bound(list.begin(), list.end(), std::pair(container_id, ifname),
                             [](const Attachment& a, const auto& key) {
                               return std::pair<std::string_view, std::string_view>(
                                          a.container_id, a.ifname) < key;
                             });
  return it != list.end() && it->container_id == container_id && it->ifname == ifname;
}

bool contains_container(const std::vector<Attachment>& list, std::string_view container_id) {
  auto it = std::lower_bound(list.begin(), list.end(), container_id,
                             [](const Attachment& a, std::string_view id) {
                               return std::string_view(a.container_id) < id;
                             });
  return it != list.end() && it->container_id == container_id;
}

json error_json(const Error& e, std::string_view version) {
  json j = {{"cniVersion", std::string(version.empty() ? kCurrentVersion : version)},
            {"code", e.code()},
            {"msg", e.msg()}};
  if (!e.details().empty()) j["details"] = e.details();
  return j;
}

namespace {

void check_stdin_size(const std::string& data) {
  if (data.size() > kMaxStdinBytes)
    throw Error(kIOFailure, "network config on stdin is larger than " + std::to_string(kMaxStdinBytes) + " bytes");
}

std::string read_stream(std::istream& in) {
  std::string data;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    check_stdin_size(data);
  }
  return data;
}

// All of file descriptor 0, at most kMaxStdinBytes (+ one read).
std::string read_fd0() {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(kIOFailure, std::string("failed to read stdin: ") + std::strerror(errno));
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
    check_stdin_size(data);
  }
}

void write_fd(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nobody to tell: the reader is gone
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Appends the spec's error JSON for `e`. Never throws: a message with bytes
// that are not UTF-8 is written with U+FFFD, and should even that fail (no
// memory), a fixed answer with the error's code goes out.
void write_error(std::string& out, const Error& e, const std::string& version) noexcept {
  try {
    out += dump_json(error_json(e, version)) + "\n";
  } catch (...) {
    try {
      out += "{\"code\":" + std::to_string(e.code()) + ",\"msg\":\"failed to encode the error\"}\n";
    } catch (...) {
    }
  }
}

void require_version(const NetConf& conf, std::string_view min, Command cmd) {
  if (!version_at_least(conf.cni_version, min))
    throw Error(kIncompatibleVersion, "config version \"" + conf.cni_version + "\" does not allow " +
                                          std::string(command_name(cmd)) + " (it needs " + std::string(min) + " or later)");
}

}  // namespace

namespace {

thread_local const char* current_program = "";

// The log of one invocation (cni/log.h): one info line when it ends, and at
// debug one line per kernel step (knet::Step) as each one ends.
class InvocationLog final : public knet::StepSink {
 public:
  explicit InvocationLog(const std::function<const char*(const char*)>& getenv)
      : start_us_(knet::monotonic_us()) {
    auto var = [&getenv](const char* k) {
      const char* v = getenv(k);
      return std::string(v ? v : "");
    };
    verb_ = var("CNI_COMMAND");
    container_ = var("CNI_CONTAINERID");
    ifname_ = var("CNI_IFNAME");
    netns_ = var("CNI_NETNS");
  }

  // Reads the log keys of the config (or the node-wide file); throws code 7
  // for invalid keys, after which the node-wide file is used.
  void configure(const NetConf& conf) {
    network_ = conf.name;
    logger_ = Logger(LogConfig::from_config(conf.raw, LogConfig::node_file_path()));
    configured_ = true;
  }
  // The sink to install: this at debug, none otherwise (Steps then cost nothing).
  knet::StepSink* sink() { return logger_.enabled(LogLevel::kDebug) ? this : nullptr; }

  // Kept until the invocation ends and written with its line in one write:
  // the log's own writes stay outside the steps they time.
  void step_done(const char* name, unsigned depth, uint64_t duration_us) noexcept override {
    try {
      pending_ += fields(LogLine(LogLevel::kDebug))
                      .str("step", name)
                      .num("depth", depth)
                      .num("durationUs", static_cast<int64_t>(duration_us))
                      .finish();
    } catch (...) {
    }
  }

  void succeeded(const Result* r) noexcept {
    try {
      if (!logger_.enabled(LogLevel::kInfo)) return;
      LogLine line = fields(LogLine(LogLevel::kInfo));
      line.str("outcome", "ok");
      if (r) {
        std::string ips = "[";
        for (const IPConfig& ip : r->ips) ips += (ips.size() > 1 ? "," : "") + LogLine::quote(ip.address.str());
        line.raw("ips", ips + "]");
      }
      logger_.write(pending_ + line.num("durationUs", elapsed()).finish());
    } catch (...) {
    }
  }

  void failed(const Error& e) noexcept {
    try {
      if (!configured_) logger_ = Logger(LogConfig::from_node_file(LogConfig::node_file_path()));
      if (!logger_.enabled(LogLevel::kError)) return;
      logger_.write(pending_ + fields(LogLine(LogLevel::kError))
                        .str("outcome", "error")
                        .num("code", e.code())
                        .str("msg", e.msg())
                        .num("durationUs", elapsed())
                        .finish());
    } catch (...) {
    }
  }

 private:
  LogLine fields(LogLine line) const {
    line.str("program", current_program).str("verb", verb_);
    if (!network_.empty()) line.str("network", network_);
    line.str("containerID", container_).str("ifname", ifname_).str("netns", netns_);
    return line;
  }
  int64_t elapsed() const { return static_cast<int64_t>(knet::monotonic_us() - start_us_); }

  uint64_t start_us_;
  std::string verb_, container_, ifname_, netns_, network_;
  bool configured_ = false;
  Logger logger_;
  std::string pending_;  // the debug lines of the steps so far
};

}  // namespace

ProgramName::ProgramName(const char* name) : outer_(current_program) { current_program = name; }
ProgramName::~ProgramName() { current_program = outer_; }
const char* ProgramName::current() { return current_program; }

int run_plugin(const Plugin& plugin, const std::function<const char*(const char*)>& getenv,
               const std::function<std::string()>& read_in, std::string& out, std::string& err) {
  std::string version;
  InvocationLog log(getenv);
  try {
    const char* cmd = getenv("CNI_COMMAND");
    if ((!cmd || !*cmd) && !plugin.about.empty()) {
      err += plugin.about + "\nCNI protocol versions supported:";
      for (const auto& v : supported_versions()) err += " " + v;
      err += "\n";
      return 0;
    }
    Env env = Env::from_environment(getenv);
    if (env.command == Command::Version) {
      out += dump_json(version_info()) + "\n";
      return 0;
    }
    NetConf conf = NetConf::parse(read_in());
    if (conf.cni_version.empty()) conf.cni_version = "0.1.0";
    version = conf.cni_version;
    log.configure(conf);
    knet::StepSinkScope steps(log.sink());
    if (!is_supported_version(conf.cni_version)) {
      std::string all;
      for (const auto& v : supported_versions()) all += (all.empty() ? "" : ", ") + v;
      version.clear();
      throw Error(kIncompatibleVersion, "incompatible CNI versions: config is \"" + conf.cni_version + "\"",
                  "plugin supports [" + all + "]");
    }
    std::optional<Result> added;
    switch (env.command) {
      case Command::Add: {
        if (!plugin.add) throw Error(kInternal, "this plugin does not implement ADD");
        added = plugin.add(env, conf);
        out += added->dump(conf.cni_version) + "\n";
        break;
      }
      case Command::Del:
        if (plugin.del) plugin.del(env, conf);
        break;
      case Command::Check:
        require_version(conf, "0.4.0", env.command);
        if (plugin.check) plugin.check(env, conf);
        break;
      case Command::GC: {
        require_version(conf, "1.1.0", env.command);
        auto valid = gc_attachments(conf.raw);
        if (plugin.gc) plugin.gc(env, conf, valid);
        break;
      }
      case Command::Status:
        require_version(conf, "1.1.0", env.command);
        if (plugin.status) plugin.status(env, conf);
        break;
      case Command::Version:
        break;
    }
    log.succeeded(added ? &*added : nullptr);
    return 0;
  } catch (const Error& e) {
    log.failed(e);
    write_error(out, e, version);
  } catch (const knet::Error& e) {  // a failure no layer gave a CNI code
    Error ce(kInternal, e);
    log.failed(ce);
    write_error(out, ce, version);
  } catch (const std::exception& e) {
    Error ce(kInternal, e.what());
    log.failed(ce);
    write_error(out, ce, version);
  }
  return 1;
}

int run_plugin(const Plugin& plugin, const std::function<const char*(const char*)>& getenv, std::istream& in,
               std::ostream& out, std::ostream& err) {
  std::string o, e;
  int rc = run_plugin(plugin, getenv, [&] { return read_stream(in); }, o, e);
  out << o;
  err << e;
  out.flush();
  return rc;
}

namespace {
thread_local InProcessInvocation* current_invocation = nullptr;
}  // namespace

InProcessInvocation::InProcessInvocation(std::function<const char*(const char*)> getenv, std::string_view in,
                                         std::string& out, std::string& err)
    : getenv_(std::move(getenv)), in_(in), out_(out), err_(err), outer_(current_invocation) {
  current_invocation = this;
}

InProcessInvocation::~InProcessInvocation() { current_invocation = outer_; }

int plugin_main(const Plugin& plugin) {
  if (InProcessInvocation* inv = current_invocation) {
    std::string_view in = inv->in_;
    return run_plugin(
        plugin, inv->getenv_,
        [in] {
          std::string data(in);
          check_stdin_size(data);
          return data;
        },
        inv->out_, inv->err_);
  }
  std::string out, err;
  int rc = run_plugin(plugin, [](const char* k) { return std::getenv(k); }, read_fd0, out, err);
  write_fd(2, err);
  write_fd(1, out);
  return rc;
}

}  // namespace cni
