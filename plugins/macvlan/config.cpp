#include "config.h"

#include <cni/error.h>
#include <cni/json.h>

#include <cctype>
#include <cstdio>

namespace knet::macvlan {

std::string parse_unicast_mac(const std::string& s, const std::string& key) {
  auto bad = [&](const std::string& why) {
    cni::config_error("invalid \"" + key + "\" \"" + s + "\": " + why);
  };
  if (s.size() != 17) bad("expected six hex pairs like 02:42:0a:00:00:05");
  unsigned char octets[6];
  for (size_t i = 0; i < 6; ++i) {
    char hi = s[i * 3], lo = s[i * 3 + 1];
    if (!std::isxdigit(static_cast<unsigned char>(hi)) ||
        !std::isxdigit(static_cast<unsigned char>(lo))) {
      bad("expected six hex pairs like 02:42:0a:00:00:05");
    }
    if (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-') bad("separate the pairs with ':'");
    octets[i] = static_cast<unsigned char>(std::stoi(s.substr(i * 3, 2), nullptr, 16));
  }
  if (octets[0] & 1) bad("a multicast address cannot be an interface address");
  bool zero = true;
  for (unsigned char o : octets) zero = zero && o == 0;
  if (zero) bad("the all-zeros address cannot be an interface address");
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", octets[0], octets[1], octets[2],
                octets[3], octets[4], octets[5]);
  return out;
}

Config Config::parse(const cni::NetConf& conf, const cni::CniArgs& args) {
  const cni::json& raw = conf.raw;
  Config c;
  c.master = cni::get_string(raw, "master").value_or("");
  if (c.master.size() > 15 || c.master.find_first_of("/: \t\n") != std::string::npos)
    cni::config_error("invalid \"master\" \"" + c.master +
                      "\": not an interface name (at most 15 bytes, no '/', ':' or whitespace)");
  std::string mode = cni::get_string(raw, "mode").value_or("");
  if (!mode.empty()) {
    auto m = nlw::parse_macvlan_mode(mode);
    if (!m) {
      cni::config_error("invalid \"mode\" \"" + mode +
                        "\": expected bridge, private, vepa, passthru or source");
    }
    c.mode = *m;
  }
  c.mtu = static_cast<unsigned>(cni::get_int(raw, "mtu", "mtu", 0, 65535).value_or(0));
  c.link_in_container = cni::get_bool(raw, "linkInContainer").value_or(false);
  if (auto q = cni::get_uint(raw, "bcqueuelen", "bcqueuelen", UINT32_MAX)) {
    c.bcqueuelen = static_cast<uint32_t>(*q);
  }
  c.has_ipam = !conf.ipam_type.empty();

  // The MAC sources, weakest first; the last one that is set wins.
  auto take_mac = [&](std::optional<std::string> v, const char* key) {
    if (v && !v->empty()) {
      c.mac = *v;
      c.mac_key = key;
    }
  };
  take_mac(cni::get_string(raw, "mac"), "mac");
  take_mac(args.get("MAC"), "CNI_ARGS MAC");
  if (const cni::json* cni_args = cni::get_object(conf.args, "cni", "args.cni")) {
    take_mac(cni::get_string(*cni_args, "mac", "args.cni.mac"), "args.cni.mac");
  }
  take_mac(cni::get_string(conf.runtime_config, "mac", "runtimeConfig.mac"), "runtimeConfig.mac");
  if (!c.mac.empty()) c.mac = parse_unicast_mac(c.mac, c.mac_key);
  return c;
}

}  // namespace knet::macvlan
