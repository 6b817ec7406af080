#pragma once
// The runtime side of CNI, as libcni (Go) does it: load a network
// configuration list from a directory, build each plugin's stdin, run the
// chain for ADD / CHECK / DEL / GC / STATUS, and keep the result cache in
// libcni's on-disk format so either tool can undo what the other did.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/skel.h"

namespace cni {

// One entry of a list's "plugins": the object as written, and the keys the
// runtime itself needs.
struct PluginConf {
  json raw = json::object();
  std::string type;
  std::string name;                          // the entry's own "name", rarely set; for messages
  std::map<std::string, bool> capabilities;  // "capabilities": {"portMappings": true, ...}

  // Reads one plugin object; throws code 7 naming `path` when "type" is missing.
  static PluginConf from_json(const json& j, std::string_view path);
  // How messages name the plugin: type="bridge" (and name="x" when it has one).
  std::string describe() const;
};

// A network configuration list (.conflist), or a single plugin config wrapped
// into one, exactly as libcni's ConfListFromBytes / ConfListFromConf do.
struct NetworkConfigList {
  std::string name;
  // The version the chain runs at: "cniVersion", or the highest entry of
  // "cniVersions" (and cniVersion) that knet supports. Empty means 0.1.0.
  std::string cni_version;
  bool disable_check = false;
  bool disable_gc = false;
  std::vector<PluginConf> plugins;
  std::string bytes;   // the document's bytes, stored in the cache as "config"
  std::string source;  // the file it was read from; empty when parsed from memory

  // Parses and validates a .conflist document. Throws cni::Error code 6 for
  // malformed JSON, 7 for a missing/invalid key (named), 1 for a cniVersion
  // knet does not speak. `source` only decorates the messages.
  static NetworkConfigList parse(std::string_view bytes, std::string_view source = {});
  // Wraps a single plugin config (.conf/.json) into a list of one, with the
  // same re-serialised bytes libcni produces.
  static NetworkConfigList from_plugin_conf(std::string_view bytes, std::string_view source = {});
  // The version plugins are told about and results are converted to.
  std::string effective_version() const { return cni_version.empty() ? "0.1.0" : cni_version; }
};

// Files in `dir` (not directories) whose extension is one of `extensions`
// (".conflist"), sorted by name. A missing directory yields an empty list.
std::vector<std::string> conf_files(const std::string& dir,
                                    const std::vector<std::string>& extensions);

// Finds network `name` in `dir` like libcni's LoadConfList: .conflist files
// in name order first, then .conf/.json files wrapped into a list. Throws
// code 7 ("no net configuration with name ... in ...") when none matches;
// an unreadable or invalid file on the way is an error naming the file.
NetworkConfigList load_conf_list(const std::string& dir, std::string_view name);

// Every network defined in `dir`, in the order load_conf_list searches them;
// files that do not parse are skipped and reported in `errors` when given.
std::vector<NetworkConfigList> load_all_conf_lists(const std::string& dir,
                                                   std::vector<std::string>* errors = nullptr);

// What the runtime knows about one attachment besides the network config.
struct RuntimeConf {
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, in order
  json capability_args = json::object();  // e.g. {"portMappings": [...], "bandwidth": {...}}
};

// "K1=V1;K2=V2", as libcni passes RuntimeConf.Args in CNI_ARGS.
std::string join_cni_args(const std::vector<std::pair<std::string, std::string>>& args);

// The stdin for one plugin of `list`, as the spec and libcni build it: the
// plugin's own object with "name" and "cniVersion" of the list, "prevResult"
// when given, and "runtimeConfig" holding only the capability arguments the
// plugin declares in "capabilities" (omitted when none apply).
json build_plugin_config(const NetworkConfigList& list, const PluginConf& plugin,
                         const json* prev_result, const json& capability_args);

// One cached attachment: what libcni writes to <cache>/results/<net>-<cid>-<ifname>.
struct CachedAttachment {
  std::string network;
  std::string container_id;
  std::string ifname;
  std::string netns;   // empty in caches written by libcni before 1.2
  std::string config;  // the conflist bytes used for ADD
  std::vector<std::pair<std::string, std::string>> cni_args;
  json capability_args = json::object();
  json result;  // the chain's final result as the last plugin printed it; null if none
  std::string path;
};

// The result cache, in libcni's "cniCacheV1" format (see libcni/api.go):
// {"kind","containerId","config"(base64),"ifName","networkName","netns",
//  "cniArgs","capabilityArgs","result"}.
class ResultCache {
 public:
  // `dir` is the cache root (libcni's CacheDir); results go to <dir>/results.
  explicit ResultCache(std::string dir = std::string(kDefaultDir));
  static constexpr std::string_view kDefaultDir = "/var/lib/cni";

  const std::string& dir() const { return dir_; }
  // <dir>/results/<network>-<containerID>-<ifname>; throws code 4 if a part is empty.
  std::string path(std::string_view network, std::string_view container_id,
                   std::string_view ifname) const;
  // Writes the entry atomically (temp file + rename), mode 0600 in a 0700 directory.
  void save(const NetworkConfigList& list, const RuntimeConf& rt, const json& result) const;
  // The entry, or nullopt when there is none. A file without kind
  // "cniCacheV1" is read as a bare result (libcni's legacy format).
  std::optional<CachedAttachment> load(std::string_view network, std::string_view container_id,
                                       std::string_view ifname) const;
  // Removes the entry; false if there was none.
  bool remove(std::string_view network, std::string_view container_id,
              std::string_view ifname) const;
  // Every valid cniCacheV1 entry, sorted by file name; only `network`'s when given.
  std::vector<CachedAttachment> list(std::string_view network = {}) const;

  // The JSON document of one entry, and its inverse (throws code 6/7).
  static json to_json(const CachedAttachment& a);
  static CachedAttachment from_json(const json& j);

 private:
  std::string dir_;
};

// Runs plugin chains. Each call finds the plugins on `cni_path`, executes
// them with CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_ARGS/CNI_PATH
// set on top of this process's environment, and turns a plugin's failure into
// a cni::Error whose message names the plugin, the verb and the plugin's own
// message (its code and details are kept).
class Runtime {
 public:
  struct Options {
    std::vector<std::string> cni_path;
    std::string cache_dir = std::string(ResultCache::kDefaultDir);
    // After a failed ADD, run DEL for the whole chain (as CRI runtimes do),
    // so a half-built attachment is not left behind. libcni itself does not.
    bool rollback_failed_add = true;
    // A plugin still running after this long is killed and its verb fails
    // (code 5, naming the plugin and the deadline).
    std::chrono::milliseconds plugin_timeout = knet::kDefaultExecTimeout;
  };
  explicit Runtime(Options opts);

  // ADD in list order, each plugin getting the previous one's result; caches
  // and returns the final result (as the last plugin printed it, with
  // "cniVersion" filled in when the plugin left it out).
  json add(const NetworkConfigList& list, const RuntimeConf& rt) const;
  // CHECK in list order with the cached result as prevResult. Needs 0.4.0+;
  // does nothing when the list sets disableCheck.
  void check(const NetworkConfigList& list, const RuntimeConf& rt) const;
  // DEL in reverse order with the cached result (0.4.0+) as prevResult, then
  // removes the cache entry. A cached result that cannot be read or converted
  // is dropped rather than blocking the DEL.
  void del(const NetworkConfigList& list, const RuntimeConf& rt) const;
  // Spec 1.1 garbage collection, as libcni's GCNetworkList: every cached
  // attachment of the network not in `valid` is DELeted (with its cached
  // netns, CNI_ARGS and capability args), then (1.1.0+) each plugin gets GC
  // with "cni.dev/valid-attachments". `valid` == nullopt is libcni's nil:
  // every cached attachment is stale and no list is sent. Does nothing when
  // the list sets disableGC. Errors are collected; the first is rethrown with
  // the others appended to its message.
  void gc(const NetworkConfigList& list, const std::optional<std::vector<Attachment>>& valid) const;
  // STATUS for each plugin in order (1.1.0+, otherwise nothing); stops at the
  // first plugin that reports a problem.
  void status(const NetworkConfigList& list) const;

  // The cached result of an attachment, converted to the list's version
  // (libcni's GetNetworkListCachedResult); null when nothing is cached.
  json cached_result(const NetworkConfigList& list, const RuntimeConf& rt) const;
  const ResultCache& cache() const { return cache_; }

 private:
  json exec(const PluginConf& plugin, std::string_view verb, const json& stdin_conf,
            const RuntimeConf* rt) const;
  void del_chain(const NetworkConfigList& list, const RuntimeConf& rt, const json* prev) const;
  Options opts_;
  ResultCache cache_;
};

}  // namespace cni
