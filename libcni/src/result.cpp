#include "cni/result.h"

#include <algorithm>

#include "cni/address.h"
#include "cni/error.h"
#include "cni/version.h"

namespace cni {
namespace {

enum class Shape { V02, V04, V1 };

Shape shape_of(std::string_view version) {
  if (!is_supported_version(version))
    throw Error(kIncompatibleVersion, "unsupported CNI result version \"" + std::string(version) + "\"");
  if (compare_versions(version, "0.3.0") < 0) return Shape::V02;
  if (compare_versions(version, "1.0.0") < 0) return Shape::V04;
  return Shape::V1;
}

std::optional<knet::IP> opt_ip(const json& j, std::string_view key, std::string_view path) {
  auto s = get_string(j, key, join_path(path, key));
  if (!s || s->empty()) return std::nullopt;
  return parse_ip(*s, join_path(path, key));
}

knet::IPNet req_net(const json& j, std::string_view key, std::string_view path) {
  auto s = get_string(j, key, join_path(path, key));
  if (!s) config_error("missing \"" + join_path(path, key) + "\"");
  return parse_cidr(*s, join_path(path, key));
}

std::optional<int> opt_int(const json& j, std::string_view key, std::string_view path) {
  auto v = get_int(j, key, join_path(path, key), INT32_MIN, INT32_MAX);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

void put_list(json& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}

// The 0.2.0 "ip4"/"ip6" block.
void read_v02_block(const json& doc, const char* key, Result& r) {
  const json* b = get_object(doc, key, key);
  if (!b) return;
  IPConfig c;
  c.address = req_net(*b, "ip", key);
  c.gateway = opt_ip(*b, "gateway", key);
  r.ips.push_back(c);
  if (const json* routes = get_array(*b, "routes", join_path(key, "routes"))) {
    for (size_t i = 0; i < routes->size(); ++i)
      r.routes.push_back(Route::from_json((*routes)[i], index_path(join_path(key, "routes"), i)));
  }
}

}  // namespace

DNS DNS::from_json(const json& j, std::string_view path) {
  DNS d;
  if (!j.is_object()) config_error("invalid \"" + std::string(path) + "\": expected an object");
  d.nameservers = get_string_list(j, "nameservers", join_path(path, "nameservers")).value_or(std::vector<std::string>{});
  d.domain = get_string(j, "domain", join_path(path, "domain")).value_or("");
  d.search = get_string_list(j, "search", join_path(path, "search")).value_or(std::vector<std::string>{});
  d.options = get_string_list(j, "options", join_path(path, "options")).value_or(std::vector<std::string>{});
  return d;
}

json DNS::to_json() const {
  json j = json::object();
  put_list(j, "nameservers", nameservers);
  if (!domain.empty()) j["domain"] = domain;
  put_list(j, "search", search);
  put_list(j, "options", options);
  return j;
}

void DNS::merge(const DNS& o) {
  auto add_all = [](std::vector<std::string>& to, const std::vector<std::string>& from) {
    for (const auto& s : from)
      if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
  };
  add_all(nameservers, o.nameservers);
  add_all(search, o.search);
  add_all(options, o.options);
  if (domain.empty()) domain = o.domain;
}

Route Route::from_json(const json& j, std::string_view path) {
  if (!j.is_object()) config_error("invalid \"" + std::string(path) + "\": expected an object");
  Route r;
  r.dst = req_net(j, "dst", path);
  r.gw = opt_ip(j, "gw", path);
  r.mtu = opt_int(j, "mtu", path);
  r.advmss = opt_int(j, "advmss", path);
  r.priority = opt_int(j, "priority", path);
  r.table = opt_int(j, "table", path);
  r.scope = opt_int(j, "scope", path);
  return r;
}

json Route::to_json(bool with_v11_fields) const {
  json j = json::object();
  j["dst"] = dst.str();
  if (gw) j["gw"] = gw->str();
  if (with_v11_fields) {
    if (mtu && *mtu) j["mtu"] = *mtu;
    if (advmss && *advmss) j["advmss"] = *advmss;
    if (priority && *priority) j["priority"] = *priority;
    if (table) j["table"] = *table;
    if (scope) j["scope"] = *scope;
  }
  return j;
}

Result Result::from_json(const json& doc, std::string_view fallback_version) {
  if (!doc.is_object()) throw Error(kDecodingFailure, "failed to parse result: expected a JSON object");
  Result r;
  r.cni_version = get_string(doc, "cniVersion", "cniVersion").value_or(std::string(fallback_version));
  if (r.cni_version.empty()) r.cni_version = "0.1.0";  // libcni's rule for a result with no version
  Shape shape = shape_of(r.cni_version);
  if (const json* d = get_object(doc, "dns", "dns")) r.dns = DNS::from_json(*d, "dns");

  if (shape == Shape::V02) {
    read_v02_block(doc, "ip4", r);
    read_v02_block(doc, "ip6", r);
    return r;
  }
  if (const json* ifs = get_array(doc, "interfaces", "interfaces")) {
    for (size_t i = 0; i < ifs->size(); ++i) {
      const json& e = (*ifs)[i];
      std::string p = index_path("interfaces", i);
      if (!e.is_object()) config_error("invalid \"" + p + "\": expected an object");
      Interface itf;
      itf.name = get_string(e, "name", join_path(p, "name")).value_or("");
      itf.mac = get_string(e, "mac", join_path(p, "mac")).value_or("");
      itf.mtu = opt_int(e, "mtu", p);
      if (itf.mtu && *itf.mtu == 0) itf.mtu.reset();
      itf.sandbox = get_string(e, "sandbox", join_path(p, "sandbox")).value_or("");
      itf.socket_path = get_string(e, "socketPath", join_path(p, "socketPath")).value_or("");
      itf.pci_id = get_string(e, "pciID", join_path(p, "pciID")).value_or("");
      r.interfaces.push_back(std::move(itf));
    }
  }
  if (const json* ips = get_array(doc, "ips", "ips")) {
    for (size_t i = 0; i < ips->size(); ++i) {
      const json& e = (*ips)[i];
      std::string p = index_path("ips", i);
      if (!e.is_object()) config_error("invalid \"" + p + "\": expected an object");
      IPConfig c;
      c.address = req_net(e, "address", p);
      c.gateway = opt_ip(e, "gateway", p);
      c.interface = opt_int(e, "interface", p);
      if (c.interface && (*c.interface < 0 || *c.interface >= static_cast<int>(r.interfaces.size())))
        config_error("invalid \"" + join_path(p, "interface") + "\": index " + std::to_string(*c.interface) +
                     " does not name one of the " + std::to_string(r.interfaces.size()) + " interfaces");
      if (shape == Shape::V04) {
        // 0.3.x/0.4.0 carry an explicit family that must agree with the address.
        if (auto v = get_string(e, "version", join_path(p, "version"))) {
          if (*v != "4" && *v != "6")
            config_error("invalid \"" + join_path(p, "version") + "\": must be \"4\" or \"6\"");
          if ((*v == "4") != c.address.ip.is_v4())
            config_error("invalid \"" + join_path(p, "version") + "\": " + *v + " does not match " + c.address.str());
        }
      }
      r.ips.push_back(c);
    }
  }
  if (const json* routes = get_array(doc, "routes", "routes")) {
    for (size_t i = 0; i < routes->size(); ++i)
      r.routes.push_back(Route::from_json((*routes)[i], index_path("routes", i)));
  }
  return r;
}

json Result::to_json(std::string_view version) const {
  Shape shape = shape_of(version);
  json j = json::object();
  j["cniVersion"] = std::string(version);
  if (shape == Shape::V02) {
    // 0.2.0 has room for one address per family; routes follow their family.
    const IPConfig* v4 = nullptr;
    const IPConfig* v6 = nullptr;
    for (const auto& c : ips) {
      if (c.address.ip.is_v4() && !v4) v4 = &c;
      if (!c.address.ip.is_v4() && !v6) v6 = &c;
    }
    if (!v4 && !v6)
      throw Error(kIncompatibleVersion, "cannot convert result to CNI version " + std::string(version) +
                                            ": no valid IP addresses");
    auto block = [&](const IPConfig* c, bool want_v4) {
      json b = json::object();
      b["ip"] = c->address.str();
      if (c->gateway) b["gateway"] = c->gateway->str();
      json rs = json::array();
      for (const auto& r : routes)
        if (r.dst.ip.is_v4() == want_v4) rs.push_back(r.to_json(false));
      if (!rs.empty()) b["routes"] = rs;
      return b;
    };
    if (v4) j["ip4"] = block(v4, true);
    if (v6) j["ip6"] = block(v6, false);
    j["dns"] = dns.to_json();
    return j;
  }
  if (!interfaces.empty()) {
    json a = json::array();
    for (const auto& i : interfaces) {
      json e = json::object();
      e["name"] = i.name;
      if (!i.mac.empty()) e["mac"] = i.mac;
      if (shape == Shape::V1 && i.mtu && *i.mtu) e["mtu"] = *i.mtu;
      if (!i.sandbox.empty()) e["sandbox"] = i.sandbox;
      if (shape == Shape::V1 && !i.socket_path.empty()) e["socketPath"] = i.socket_path;
      if (shape == Shape::V1 && !i.pci_id.empty()) e["pciID"] = i.pci_id;
      a.push_back(std::move(e));
    }
    j["interfaces"] = std::move(a);
  }
  if (!ips.empty()) {
    json a = json::array();
    for (const auto& c : ips) {
      json e = json::object();
      if (shape == Shape::V04) e["version"] = c.address.ip.is_v4() ? "4" : "6";
      if (c.interface) e["interface"] = *c.interface;
      e["address"] = c.address.str();
      if (c.gateway) e["gateway"] = c.gateway->str();
      a.push_back(std::move(e));
    }
    j["ips"] = std::move(a);
  }
  if (!routes.empty()) {
    json a = json::array();
    for (const auto& r : routes) a.push_back(r.to_json(shape == Shape::V1));
    j["routes"] = std::move(a);
  }
  j["dns"] = dns.to_json();
  return j;
}

}  // namespace cni
