#include "common/mac.h"

#include <cni/error.h>
#include <cni/json.h>

#include <cctype>
#include <cstdio>
#include <optional>

namespace knet::common {

std::string parse_unicast_mac(const std::string& s, const std::string& key) {
  auto bad = [&](const std::string& why) {
    cni::config_error("invalid \"" + key + "\" \"" + s + "\": " + why);
  };
  if (s.size() != 17) bad("expected aa:bb:cc:dd:ee:ff");
  unsigned char octets[6];
  for (size_t i = 0; i < 6; ++i) {
    char hi = s[i * 3], lo = s[i * 3 + 1];
    if (!std::isxdigit(static_cast<unsigned char>(hi)) ||
        !std::isxdigit(static_cast<unsigned char>(lo)) ||
        (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-')) {
      bad("expected aa:bb:cc:dd:ee:ff");
    }
    octets[i] = static_cast<unsigned char>(std::stoi(s.substr(i * 3, 2), nullptr, 16));
  }
  if (octets[0] & 1) bad("a multicast MAC");
  bool zero = true;
  for (unsigned char o : octets) zero = zero && o == 0;
  if (zero) bad("the all-zeros MAC");
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", octets[0], octets[1], octets[2],
                octets[3], octets[4], octets[5]);
  return out;
}

RequestedMac requested_mac(const cni::NetConf& conf, const cni::CniArgs& args, bool config_key) {
  RequestedMac r;
  auto take = [&](std::optional<std::string> v, const char* key) {
    if (v && !v->empty()) r = {*v, key};
  };
  if (config_key) take(cni::get_string(conf.raw, "mac"), "mac");
  take(args.get("MAC"), "CNI_ARGS MAC");
  if (const cni::json* cni_args = cni::get_object(conf.args, "cni", "args.cni")) {
    take(cni::get_string(*cni_args, "mac", "args.cni.mac"), "args.cni.mac");
  }
  take(cni::get_string(conf.runtime_config, "mac", "runtimeConfig.mac"), "runtimeConfig.mac");
  if (!r.mac.empty()) r.mac = parse_unicast_mac(r.mac, r.key);
  return r;
}

}  // namespace knet::common
