#include "rel.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace knet::test::rel {
namespace {

namespace fs = std::filesystem;

// The sections of one snapshot, produced by a single shell in the namespace
// (one process start instead of six keeps table-driven tests fast).
const char* const kSections[] = {"link", "addr", "route4", "route6", "qdisc", "nft"};
const char* const kSnapshotCmd =
    "ip -j -d link show; echo @@; ip -j addr show; echo @@; ip -j -4 route show table all; "
    "echo @@; ip -j -6 route show table all; echo @@; tc -j qdisc show; echo @@; "
    "nft -j list ruleset";

std::string field(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "-";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

std::set<std::string> normalize(const std::string& section, const json& doc) {
  std::set<std::string> lines;
  if (section == "nft") {
    if (!doc.is_object() || !doc.contains("nftables")) return lines;
    for (json item : doc["nftables"]) {
      if (item.contains("metainfo")) continue;
      for (auto& [kind, body] : item.items())
        if (body.is_object()) body.erase("handle");  // renumbered on every change
      lines.insert(item.dump());
    }
    return lines;
  }
  if (!doc.is_array()) return lines;
  // IPv6 link-local addresses and their routes come and go with the
  // kernel's autoconfiguration (DAD) on its own schedule; any link they
  // belong to is in the snapshot already.
  auto link_local = [](const std::string& ip) { return ip.rfind("fe80:", 0) == 0; };
  for (const json& e : doc) {
    if (section == "link") {
      std::string kind = e.contains("linkinfo") ? field(e["linkinfo"], "info_kind") : "-";
      lines.insert(field(e, "ifname") + " kind=" + kind + " master=" + field(e, "master") +
                   " alias=" + field(e, "ifalias"));
    } else if (section == "addr") {
      for (const json& a : e.value("addr_info", json::array()))
        if (!link_local(field(a, "local")))
          lines.insert(field(e, "ifname") + " " + field(a, "local") + "/" + field(a, "prefixlen"));
    } else if (section == "qdisc") {
      lines.insert("dev=" + field(e, "dev") + " kind=" + field(e, "kind") +
                   " handle=" + field(e, "handle") + " parent=" + field(e, "parent"));
    } else if (!link_local(field(e, "dst"))) {  // routes: what, where, via; not flags
      lines.insert("table=" + field(e, "table") + " type=" + field(e, "type") + " dst=" +
                   field(e, "dst") + " dev=" + field(e, "dev") + " gw=" + field(e, "gateway"));
    }
  }
  return lines;
}

}  // namespace

bool is_ip(const std::string& s) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string plugin_dir() {
  const char* over = std::getenv("KNET_REL_PLUGIN_DIR");
  return over && *over ? over : KNET_PLUGIN_DIR;
}

std::string plugin(const std::string& name) { return plugin_dir() + "/" + name; }

bool supports_version(const Sandbox& sb, const std::string& name, const std::string& version) {
  RunResult r = sb.run_plugin(plugin(name), {{"CNI_COMMAND", "VERSION"}}, "{}");
  if (!r.json || !r.json->contains("supportedVersions")) return false;
  for (const auto& v : (*r.json)["supportedVersions"])
    if (v == version) return true;
  return false;
}

std::map<std::string, std::string> cni_env(const std::string& command, const std::string& cid,
                                           const std::string& netns, const std::string& ifname) {
  std::map<std::string, std::string> env = {{"CNI_COMMAND", command},
                                            {"CNI_CONTAINERID", cid},
                                            {"CNI_IFNAME", ifname},
                                            {"CNI_PATH", plugin_dir()}};
  if (!netns.empty()) env["CNI_NETNS"] = netns;
  return env;
}

RunResult run(const Sandbox& sb, const std::string& name, const std::string& command,
              const std::string& cid, const std::string& netns, const json& conf,
              std::chrono::milliseconds timeout) {
  return sb.run_plugin(plugin(name), cni_env(command, cid, netns), conf.dump(), {}, timeout);
}

std::string describe(const RunResult& r) {
  return "code=" + std::to_string(r.code) + (r.timed_out ? " (timed out)" : "") + " out=" + r.out +
         " err=" + r.err;
}

json Chain::bridge_conf() const {
  return {{"cniVersion", version},
          {"name", name},
          {"type", "bridge"},
          {"bridge", bridge},
          {"isGateway", true},
          {"ipMasq", ip_masq},
          {"ipam", {{"type", "host-local"}, {"dataDir", data_dir}, {"subnet", subnet}}}};
}

json Chain::bandwidth_conf(const json& prev) const {
  json c = {{"cniVersion", version},   {"name", name},
            {"type", "bandwidth"},     {"ingressRate", 8000000},
            {"ingressBurst", 1000000}, {"egressRate", 8000000},
            {"egressBurst", 1000000}};
  if (!prev.is_null()) c["prevResult"] = prev;
  return c;
}

json Chain::add(const Sandbox& sb, const std::string& cid, const std::string& netns,
                std::string* error) const {
  RunResult r = run(sb, "bridge", "ADD", cid, netns, bridge_conf());
  if (r.code != 0 || !r.json) {
    *error = "bridge ADD: " + describe(r);
    return nullptr;
  }
  if (!bandwidth) return *r.json;
  json prev = *r.json;
  r = run(sb, "bandwidth", "ADD", cid, netns, bandwidth_conf(prev));
  if (r.code != 0 || !r.json) {
    *error = "bandwidth ADD: " + describe(r);
    return nullptr;
  }
  return *r.json;
}

std::string Chain::del(const Sandbox& sb, const std::string& cid, const std::string& netns,
                       const json& prev) const {
  if (bandwidth) {
    RunResult r = run(sb, "bandwidth", "DEL", cid, netns, bandwidth_conf(prev));
    if (r.code != 0) return "bandwidth DEL: " + describe(r);
  }
  json bc = bridge_conf();
  if (!prev.is_null()) bc["prevResult"] = prev;
  RunResult r = run(sb, "bridge", "DEL", cid, netns, bc);
  if (r.code != 0) return "bridge DEL: " + describe(r);
  return "";
}

Snapshot snapshot(const Sandbox& sb, const std::string& ns, const std::string& data_dir) {
  Snapshot s;
  CmdResult r = sb.exec_in(ns, kSnapshotCmd, std::chrono::seconds(20));
  std::string text = r.out;
  size_t pos = 0;
  for (const char* section : kSections) {
    size_t end = text.find("\n@@\n", pos);
    std::string part = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 4;
    auto doc = json::parse(part, nullptr, false);
    s.parts[section] =
        doc.is_discarded() ? std::set<std::string>{"unparsable: " + part} : normalize(section, doc);
  }
  // Reservations only: host-local's lock, index and last_reserved_ip are
  // bookkeeping that a released reservation leaves, as the reference's does.
  if (!data_dir.empty()) s.parts["reservation"] = ip_files(data_dir);
  return s;
}

std::string diff(const Snapshot& before, const Snapshot& after) {
  std::ostringstream out;
  std::set<std::string> sections;
  for (const auto& [k, v] : before.parts) sections.insert(k);
  for (const auto& [k, v] : after.parts) sections.insert(k);
  for (const auto& sec : sections) {
    static const std::set<std::string> none;
    auto b = before.parts.count(sec) ? before.parts.at(sec) : none;
    auto a = after.parts.count(sec) ? after.parts.at(sec) : none;
    for (const auto& l : a)
      if (!b.count(l)) out << "  + " << sec << ": " << l << "\n";
    for (const auto& l : b)
      if (!a.count(l)) out << "  - " << sec << ": " << l << "\n";
  }
  return out.str();
}

std::set<std::string> ip_files(const std::string& data_dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(data_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && is_ip(it->path().filename()))
      out.insert(fs::relative(it->path(), data_dir).string());
  }
  return out;
}

std::set<std::string> links_of_kind(const Sandbox& sb, const std::string& ns,
                                    const std::set<std::string>& kinds) {
  std::set<std::string> out;
  auto doc = json::parse(sb.exec_in(ns, "ip -j -d link show").out, nullptr, false);
  if (!doc.is_array()) return out;
  for (const json& e : doc) {
    if (!e.contains("linkinfo")) continue;
    if (kinds.count(field(e["linkinfo"], "info_kind"))) out.insert(field(e, "ifname"));
  }
  return out;
}

}  // namespace knet::test::rel
