#include "config.h"

#include <cni/address.h>
#include <cni/error.h>
#include <cni/json.h>

#include <array>
#include <limits>

namespace knet::bandwidth {
namespace {

constexpr std::array<const char*, 6> kKeys = {"ingressRate", "ingressBurst",  "egressRate",
                                              "egressBurst", "shapedSubnets", "unshapedSubnets"};

// Go's json decoder fills the embedded entry when any of its keys is present.
bool has_entry(const cni::json& obj) {
  for (const char* k : kKeys) {
    if (cni::find_key(obj, k)) return true;
  }
  return false;
}

// The reference's rules (validateRateAndBurst), each naming its key.
Limit parse_limit(const cni::json& obj, const std::string& base, const std::string& dir) {
  std::string rate_path = cni::join_path(base, dir + "Rate");
  std::string burst_path = cni::join_path(base, dir + "Burst");
  Limit l;
  l.rate = cni::get_uint(obj, dir + "Rate", rate_path).value_or(0);
  l.burst = cni::get_uint(obj, dir + "Burst", burst_path).value_or(0);
  auto invalid = [](const std::string& path, const std::string& why) {
    cni::config_error("invalid \"" + path + "\": " + why);
  };
  if (l.rate == 0 && l.burst != 0) invalid(burst_path, "if burst is set, rate must also be set");
  if (l.rate != 0 && l.burst == 0) invalid(rate_path, "if rate is set, burst must also be set");
  if (l.rate != 0 && l.rate < 8) invalid(rate_path, "rate must be at least 8 bits per second");
  if (l.rate > kMaxRate) {
    invalid(rate_path, "rate cannot be more than " + std::to_string(kMaxRate) +
                           " bits per second (1 Tbit/s): the kernel charges each frame whole "
                           "nanoseconds of its rate and cannot enforce a faster one");
  }
  if (l.burst / 8 >= std::numeric_limits<uint32_t>::max()) {
    invalid(burst_path, "burst cannot be more than 4GB");
  }
  return l;
}

std::vector<knet::IPNet> parse_subnets(const cni::json& obj, const std::string& key,
                                      const std::string& path) {
  std::vector<knet::IPNet> out;
  auto list = cni::get_string_list(obj, key, path);
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    out.push_back(cni::parse_cidr((*list)[i], cni::index_path(path, i)).network());
  }
  return out;
}

}  // namespace

Config Config::parse(const cni::NetConf& conf) {
  const cni::json* obj = &conf.raw;
  std::string base;
  if (!has_entry(conf.raw)) {
    obj = cni::get_object(conf.runtime_config, "bandwidth", "runtimeConfig.bandwidth");
    if (!obj) return {};
    base = "runtimeConfig.bandwidth";
  }
  Config c;
  c.ingress = parse_limit(*obj, base, "ingress");
  c.egress = parse_limit(*obj, base, "egress");
  auto shaped = parse_subnets(*obj, "shapedSubnets", cni::join_path(base, "shapedSubnets"));
  auto unshaped = parse_subnets(*obj, "unshapedSubnets", cni::join_path(base, "unshapedSubnets"));
  if (!shaped.empty() && !unshaped.empty()) {
    cni::config_error("invalid \"" + cni::join_path(base, "unshapedSubnets") +
                      "\": shapedSubnets and unshapedSubnets are mutually exclusive");
  }
  c.only_subnets = unshaped.empty();
  c.subnets = c.only_subnets ? std::move(shaped) : std::move(unshaped);
  return c;
}

}  // namespace knet::bandwidth
