#include "config.h"

#include <cni/error.h>
#include <cni/json.h>
#include <common/mac.h>

#include <algorithm>
#include <cstdio>

namespace knet::bridge {
namespace {

// "vlanTrunk": [{"minID": 100, "maxID": 110}, {"id": 200}] as sorted unique IDs.
std::vector<uint16_t> parse_trunk(const cni::json& raw) {
  std::vector<uint16_t> ids;
  const cni::json* trunk = cni::get_array(raw, "vlanTrunk");
  if (!trunk) return ids;
  for (size_t i = 0; i < trunk->size(); ++i) {
    std::string path = cni::index_path("vlanTrunk", i);
    const cni::json& t = (*trunk)[i];
    if (!t.is_object()) cni::config_error("invalid \"" + path + "\": expected an object");
    auto min = cni::get_int(t, "minID", cni::join_path(path, "minID"));
    auto max = cni::get_int(t, "maxID", cni::join_path(path, "maxID"));
    auto id = cni::get_int(t, "id", cni::join_path(path, "id"));
    auto check = [&](int64_t v, const char* key) {
      if (v < 1 || v > 4094) {
        cni::config_error("invalid \"" + cni::join_path(path, key) + "\" " + std::to_string(v) +
                          ": a VLAN ID is between 1 and 4094");
      }
    };
    if (min.has_value() != max.has_value()) {
      cni::config_error("invalid \"" + path + "\": minID and maxID must be given together");
    }
    if (min) {
      check(*min, "minID");
      check(*max, "maxID");
      if (*max < *min) {
        cni::config_error("invalid \"" + path + "\": maxID " + std::to_string(*max) +
                          " is smaller than minID " + std::to_string(*min));
      }
      for (int64_t v = *min; v <= *max; ++v) ids.push_back(static_cast<uint16_t>(v));
    }
    if (id) {
      check(*id, "id");
      ids.push_back(static_cast<uint16_t>(*id));
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace

Config Config::parse(const cni::NetConf& conf, const cni::CniArgs& args) {
  const cni::json& raw = conf.raw;
  Config c;
  if (auto b = cni::get_string(raw, "bridge"); b && !b->empty()) c.bridge = *b;
  if (auto why = cni::ifname_problem(c.bridge)) cni::config_error("invalid \"bridge\": " + *why);
  c.is_default_gateway = cni::get_bool(raw, "isDefaultGateway").value_or(false);
  c.is_gateway = c.is_default_gateway || cni::get_bool(raw, "isGateway").value_or(false);
  c.force_address = cni::get_bool(raw, "forceAddress").value_or(false);
  c.ip_masq = conf.ip_masq;
  std::string backend = cni::get_string(raw, "ipMasqBackend").value_or("");
  if (backend == "iptables") {
    c.masq_backend = MasqBackend::kIptables;
  } else if (!backend.empty() && backend != "nftables") {
    cni::config_error("invalid \"ipMasqBackend\" \"" + backend +
                      "\": expected \"nftables\" or \"iptables\"");
  }
  c.mtu = static_cast<unsigned>(cni::get_int(raw, "mtu", "mtu", 0, 65535).value_or(0));
  c.hairpin = cni::get_bool(raw, "hairpinMode").value_or(false);
  c.promisc = cni::get_bool(raw, "promiscMode").value_or(false);
  if (c.hairpin && c.promisc) {
    cni::config_error(
        "invalid \"hairpinMode\" with \"promiscMode\": cannot set hairpin mode and "
        "promiscuous mode at the same time");
  }
  c.vlan = static_cast<uint16_t>(cni::get_int(raw, "vlan", "vlan", 0, 4094).value_or(0));
  c.vlan_trunk = parse_trunk(raw);
  if (c.vlan && !c.vlan_trunk.empty()) {
    cni::config_error("invalid \"vlanTrunk\": cannot set vlan and vlanTrunk at the same time");
  }
  c.preserve_default_vlan = cni::get_bool(raw, "preserveDefaultVlan").value_or(true);
  if (c.vlan && c.is_gateway && c.bridge.size() + 1 + std::to_string(c.vlan).size() > 15) {
    cni::config_error("invalid \"bridge\" \"" + c.bridge + "\": with \"vlan\" and a gateway the " +
                      "gateway link " + c.bridge + "." + std::to_string(c.vlan) +
                      " would exceed 15 characters");
  }
  c.macspoofchk = cni::get_bool(raw, "macspoofchk").value_or(false);
  c.enable_dad = cni::get_bool(raw, "enabledad").value_or(false);
  c.disable_container_interface = cni::get_bool(raw, "disableContainerInterface").value_or(false);
  c.port_isolation = cni::get_bool(raw, "portIsolation").value_or(false);
  c.has_ipam = !conf.ipam_type.empty();
  if (c.disable_container_interface && c.has_ipam) {
    cni::config_error(
        "invalid \"disableContainerInterface\": an interface that stays down cannot "
        "be given addresses, remove \"ipam\" or this key");
  }

  common::RequestedMac mac = common::requested_mac(conf, args, false);
  c.mac = mac.mac;
  c.mac_key = mac.key;
  return c;
}

}  // namespace knet::bridge
