#include "node/network.h"

#include <base/error.h>
#include <cni/json.h>

#include <algorithm>

namespace knet::node {
namespace {

uint32_t v4(const knet::IP& ip) {
  return uint32_t{ip.bytes[0]} << 24 | uint32_t{ip.bytes[1]} << 16 | uint32_t{ip.bytes[2]} << 8 |
         ip.bytes[3];
}

// A subnet address from the config: IPv4, inside the network, aligned to SubnetLen.
knet::IP subnet_address(const cni::json& doc, const char* key, const NetworkConfig& c) {
  auto s = cni::get_string(doc, key);
  auto ip = knet::IP::parse(*s);
  if (!ip || !ip->is_v4()) throw knet::Error(std::string(key) + " \"" + *s + "\" is not an IPv4 address");
  if (!c.network.contains(*ip)) {
    throw knet::Error(std::string(key) + " " + ip->str() + " is outside Network " + c.network.str());
  }
  if (knet::IPNet{*ip, c.subnet_len}.first() != *ip) {
    throw knet::Error(std::string(key) + " " + ip->str() + " is not the start of a /" +
                      std::to_string(c.subnet_len) + " subnet");
  }
  return *ip;
}

NetworkConfig parse_fields(std::string_view text) {
  cni::json doc = cni::parse_object(text, "the network config");
  NetworkConfig c;
  auto network = cni::get_string(doc, "Network");
  if (!network) throw knet::Error("required \"Network\" missing");
  auto net = knet::IPNet::parse(*network);
  if (!net) throw knet::Error("\"Network\" \"" + *network + "\" is not a CIDR");
  if (!net->ip.is_v4()) throw knet::Error("\"Network\" " + *network + ": only IPv4 networks are supported");
  c.network = net->network();
  int def_len = c.network.prefix > 22 ? c.network.prefix + 2 : 24;
  c.subnet_len = static_cast<int>(cni::get_int(doc, "SubnetLen", "SubnetLen", 1, 30).value_or(def_len));
  if (c.subnet_len <= c.network.prefix) {
    throw knet::Error("\"SubnetLen\" " + std::to_string(c.subnet_len) + " must be longer than Network's /" +
                      std::to_string(c.network.prefix));
  }
  uint64_t step = uint64_t{1} << (32 - c.subnet_len);
  uint64_t count = uint64_t{1} << (c.subnet_len - c.network.prefix);
  // flannel's defaults: the network's first subnet is left out (its address is the network's).
  c.subnet_min = count > 1 ? c.network.first().add(step) : c.network.first();
  c.subnet_max = c.network.first().add(step * (count - 1));
  if (cni::find_key(doc, "SubnetMin")) c.subnet_min = subnet_address(doc, "SubnetMin", c);
  if (cni::find_key(doc, "SubnetMax")) c.subnet_max = subnet_address(doc, "SubnetMax", c);
  if (c.subnet_max < c.subnet_min) {
    throw knet::Error("\"SubnetMax\" " + c.subnet_max.str() + " is below \"SubnetMin\" " +
                      c.subnet_min.str());
  }
  const cni::json* backend = cni::get_object(doc, "Backend");
  if (!backend) throw knet::Error("required \"Backend\" missing (knet-node runs {\"Type\": \"vxlan\"})");
  std::string type = cni::get_string(*backend, "Type", "Backend.Type").value_or("");
  if (type != "vxlan") {
    throw knet::Error("\"Backend.Type\" \"" + type + "\" is not supported: knet-node runs \"vxlan\"");
  }
  c.vni = static_cast<uint32_t>(cni::get_int(*backend, "VNI", "Backend.VNI", 1, (1 << 24) - 1).value_or(1));
  c.port = static_cast<uint16_t>(cni::get_int(*backend, "Port", "Backend.Port", 1, 65535).value_or(8472));
  std::string mode = cni::get_string(*backend, "Mode", "Backend.Mode").value_or("l3");
  if (mode == "l3") {
    c.mode = vxlan::Mode::kL3;
  } else if (mode == "l2") {
    c.mode = vxlan::Mode::kL2;
  } else {
    throw knet::Error("\"Backend.Mode\" \"" + mode + "\": expected \"l3\" or \"l2\"");
  }
  return c;
}

}  // namespace

NetworkConfig NetworkConfig::parse(std::string_view text, const std::string& where) {
  try {
    return parse_fields(text);
  } catch (const knet::Error& e) {
    throw knet::Error("invalid network config " + where + ": " + e.msg());
  }
}

uint64_t NetworkConfig::subnet_count() const {
  return ((v4(subnet_max) - v4(subnet_min)) >> (32 - subnet_len)) + 1;
}

knet::IPNet NetworkConfig::subnet(uint64_t i) const {
  return {subnet_min.add(i << (32 - subnet_len)), subnet_len};
}

bool NetworkConfig::holds(const knet::IPNet& s) const {
  return s.prefix == subnet_len && s.ip.is_v4() && s.first() == s.ip && subnet_min <= s.ip &&
         s.ip <= subnet_max;
}

std::string NetworkConfig::describe() const {
  return "Network " + network.str() + ", SubnetLen " + std::to_string(subnet_len) + ", SubnetMin " +
         subnet_min.str() + ", SubnetMax " + subnet_max.str();
}

std::string SubnetLease::to_json() const {
  cni::json j = {{"PublicIP", public_ip.str()},
                 {"BackendType", "vxlan"},
                 {"BackendData", {{"VNI", vni}, {"VtepMAC", vtep_mac}}}};
  return j.dump();
}

std::string subnets_prefix(std::string_view prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return std::string(prefix) + "/subnets/";
}

std::string config_key(std::string_view prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return std::string(prefix) + "/config";
}

std::string subnet_key(std::string_view prefix, const knet::IPNet& subnet) {
  knet::IPNet n = subnet.network();
  return subnets_prefix(prefix) + n.ip.str() + "-" + std::to_string(n.prefix);
}

SubnetLease parse_lease(const NetworkConfig& net, std::string_view prefix, std::string_view key,
                        std::string_view value) {
  std::string dir = subnets_prefix(prefix);
  if (key.substr(0, dir.size()) != dir) throw knet::Error("key is not under " + dir);
  std::string name(key.substr(dir.size()));
  size_t dash = name.rfind('-');
  auto subnet = dash == std::string::npos ? std::nullopt
                                          : knet::IPNet::parse(name.substr(0, dash) + "/" + name.substr(dash + 1));
  if (!subnet || subnet->first() != subnet->ip) throw knet::Error("key does not name a subnet (a.b.c.d-len)");
  if (!net.holds(*subnet)) throw knet::Error("subnet " + subnet->str() + " is not one of " + net.describe());
  cni::json doc = cni::parse_any(value, "lease");
  if (doc.is_discarded() || !doc.is_object()) throw knet::Error("value is not a JSON object");
  SubnetLease l;
  l.subnet = *subnet;
  try {
    auto public_ip = cni::get_string(doc, "PublicIP");
    auto ip = public_ip ? knet::IP::parse(*public_ip) : std::nullopt;
    if (!ip) throw knet::Error("\"PublicIP\" missing or not an IP address");
    if (ip->family != net.public_family) {
      throw knet::Error("\"PublicIP\" " + ip->str() + " is not " + (net.public_family == AF_INET ? "IPv4" : "IPv6") +
                        " like this node's underlay");
    }
    l.public_ip = *ip;
    std::string type = cni::get_string(doc, "BackendType").value_or("");
    if (type != "vxlan") throw knet::Error("\"BackendType\" is \"" + type + "\", not \"vxlan\"");
    const cni::json* data = cni::get_object(doc, "BackendData");
    if (!data) throw knet::Error("\"BackendData\" missing");
    l.vni = static_cast<uint32_t>(cni::get_int(*data, "VNI", "BackendData.VNI", 0, (1 << 24) - 1).value_or(0));
    if (l.vni != net.vni) {
      throw knet::Error("\"BackendData.VNI\" " + std::to_string(l.vni) + " is not the network's VNI " +
                        std::to_string(net.vni));
    }
    l.vtep_mac = cni::get_string(*data, "VtepMAC", "BackendData.VtepMAC").value_or("");
  } catch (const knet::Error& e) {
    throw knet::Error(e.msg());  // cni::Error's code means nothing here
  }
  return l;
}

}  // namespace knet::node
