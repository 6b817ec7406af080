#include "ipam/config.h"

#include <cni/address.h>
#include <cni/error.h>
#include <cni/file.h>
#include <cni/version.h>

#include <string_view>

namespace knet::ipam {
namespace {

// "10.1.2.3" or "10.1.2.3/24" (the reference's ip.IP accepts both); the address only.
std::optional<knet::IP> parse_requested(std::string_view s) {
  if (auto ip = knet::IP::parse(s)) return ip;
  if (auto net = knet::IPNet::parse(s)) return net->ip;
  return std::nullopt;
}

void add_requested(std::vector<knet::IP>& out, const cni::json& obj, std::string_view key,
                   const std::string& path) {
  auto list = cni::get_string_list(obj, key, path);
  if (!list) return;
  for (size_t i = 0; i < list->size(); ++i) {
    auto ip = parse_requested((*list)[i]);
    if (!ip)
      cni::config_error("invalid \"" + cni::index_path(path, i) + "\": \"" + (*list)[i] +
                        "\" is not an IP address");
    out.push_back(*ip);
  }
}

std::vector<knet::IP> requested_ips(const cni::NetConf& conf, const cni::CniArgs& args) {
  std::vector<knet::IP> out;
  if (auto ips = args.get("IP")) {
    std::string_view rest = *ips;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string item(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      auto ip = knet::IP::parse(item);
      if (!ip)
        throw cni::Error(cni::kInvalidEnv,
                         "invalid CNI_ARGS IP \"" + item + "\": not an IP address");
      out.push_back(*ip);
    }
  }
  if (const cni::json* a = cni::get_object(conf.args, "cni", "args.cni"))
    add_requested(out, *a, "ips", "args.cni.ips");
  add_requested(out, conf.runtime_config, "ips", "runtimeConfig.ips");
  return out;
}

// A line's whitespace-separated fields, as Go's strings.Fields splits an
// ASCII line (space, \t, \r, \v, \f).
std::vector<std::string_view> split_fields(std::string_view line) {
  constexpr std::string_view kSpace = " \t\r\v\f\n";
  std::vector<std::string_view> out;
  for (size_t b = line.find_first_not_of(kSpace); b != std::string_view::npos;) {
    size_t e = line.find_first_of(kSpace, b);
    out.push_back(line.substr(b, e == std::string_view::npos ? e : e - b));
    b = line.find_first_not_of(kSpace, e == std::string_view::npos ? line.size() : e);
  }
  return out;
}

void add_range_sets(std::vector<RangeSet>& out, const cni::json* arr, const std::string& path) {
  if (!arr) return;
  for (size_t i = 0; i < arr->size(); ++i)
    out.push_back(RangeSet::parse((*arr)[i], cni::index_path(path, i)));
}

}  // namespace

std::vector<std::optional<knet::IP>> Config::requested_per_set() const {
  const std::vector<RangeSet>& sets = range_sets;
  std::vector<knet::IP> ips = requested;
  std::vector<std::optional<knet::IP>> out(sets.size());
  for (size_t s = 0; s < sets.size(); ++s) {
    for (auto it = ips.begin(); it != ips.end(); ++it) {
      const Range* r = sets[s].find(*it);
      if (!r) continue;
      if (*it == r->gateway)
        cni::config_error("requested IP " + it->str() + " is the gateway of range " + r->str());
      out[s] = *it;
      std::erase(ips, out[s]);  // a duplicate request counts once
      break;
    }
  }
  if (!ips.empty()) {
    std::string list;
    for (const knet::IP& ip : ips) list += " " + ip.str();
    cni::config_error("failed to allocate all requested IPs:" + list +
                      " (each must lie in a range of a different range set, at most one per set)");
  }
  return out;
}

Config Config::parse(const cni::NetConf& conf, const cni::CniArgs& args) {
  Config c;
  c.network = conf.name;
  // The name becomes a directory name; the skeleton's name rule already
  // excludes these, this keeps the store safe on its own.
  if (c.network.empty() || c.network.find('/') != std::string::npos || c.network == "." ||
      c.network == ".." || c.network.find("..") != std::string::npos)
    cni::config_error("invalid \"name\" \"" + c.network +
                      "\": it must be usable as a directory name");
  const cni::json& ipam = conf.ipam;
  if (!ipam.is_object() || ipam.empty()) cni::config_error("missing \"ipam\" section");
  c.data_dir = cni::get_string(ipam, "dataDir", "ipam.dataDir").value_or("");
  if (c.data_dir.empty()) c.data_dir = kDefaultDataDir;
  c.resolv_conf = cni::get_string(ipam, "resolvConf", "ipam.resolvConf").value_or("");

  add_range_sets(c.range_sets,
                 cni::get_array(conf.runtime_config, "ipRanges", "runtimeConfig.ipRanges"),
                 "runtimeConfig.ipRanges");
  // The legacy single range counts when it has a subnet, like the reference.
  if (cni::get_string(ipam, "subnet", "ipam.subnet").value_or("") != "") {
    c.range_sets.push_back(RangeSet{{Range::parse(ipam, "ipam")}});
  } else {
    // Without a subnet the legacy keys are unused, but the reference still
    // rejects them when they are not addresses.
    for (const char* key : {"rangeStart", "rangeEnd", "gateway"})
      if (auto v = cni::get_string(ipam, key, cni::join_path("ipam", key)))
        cni::parse_ip(*v, cni::join_path("ipam", key));
  }
  add_range_sets(c.range_sets, cni::get_array(ipam, "ranges", "ipam.ranges"), "ipam.ranges");
  if (c.range_sets.empty())
    cni::config_error("missing \"ipam.ranges\": no IP ranges specified (nor \"ipam.subnet\")");

  int v4 = 0, v6 = 0;
  for (size_t i = 0; i < c.range_sets.size(); ++i) {
    ++(c.range_sets[i].ranges[0].start.is_v4() ? v4 : v6);
    for (size_t j = 0; j < i; ++j)
      if (c.range_sets[i].overlaps(c.range_sets[j]))
        cni::config_error("invalid ranges: range set " + std::to_string(j) + " (" +
                          c.range_sets[j].str() + ") overlaps range set " + std::to_string(i) +
                          " (" + c.range_sets[i].str() + ")");
  }
  if ((v4 > 1 || v6 > 1) && !cni::version_at_least(conf.cni_version, "0.3.0"))
    cni::config_error("CNI version " + conf.cni_version +
                      " does not support more than 1 address per family");

  if (const cni::json* routes = cni::get_array(ipam, "routes", "ipam.routes"))
    for (size_t i = 0; i < routes->size(); ++i)
      c.routes.push_back(cni::Route::from_json((*routes)[i], cni::index_path("ipam.routes", i)));

  c.requested = requested_ips(conf, args);
  return c;
}

cni::DNS parse_resolv_conf(const std::string& path) {
  const std::string text =
      cni::read_user_file(path, cni::kMaxResolvConfBytes, "\"ipam.resolvConf\"", cni::kIOFailure);
  cni::DNS dns;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::vector<std::string_view> fields = split_fields(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    // A comment, a blank line or a key without a value (as the reference skips them).
    if (fields.size() < 2 || fields[0][0] == '#' || fields[0][0] == ';') continue;
    if (fields[0] == "nameserver") {
      dns.nameservers.emplace_back(fields[1]);
    } else if (fields[0] == "domain") {
      dns.domain = fields[1];
    } else if (fields[0] == "search") {
      dns.search.insert(dns.search.end(), fields.begin() + 1, fields.end());
    } else if (fields[0] == "options") {
      dns.options.insert(dns.options.end(), fields.begin() + 1, fields.end());
    }
  }
  return dns;
}

}  // namespace knet::ipam
