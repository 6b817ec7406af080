#include "config.h"

#include <cni/error.h>
#include <cni/json.h>
#include <common/mac.h>

#include <cctype>
#include <cstdio>

namespace knet::macvlan {

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

  common::RequestedMac mac = common::requested_mac(conf, args, true);
  c.mac = mac.mac;
  c.mac_key = mac.key;
  return c;
}

}  // namespace knet::macvlan
