#include "config.h"

#include <cni/error.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace knet::vxlan {
namespace {

constexpr uint32_t kMaxVni = (1u << 24) - 1;

bool is_multicast(const cni::IP& ip) {
  return ip.is_v4() ? (ip.bytes[0] & 0xf0) == 0xe0 : ip.bytes[0] == 0xff;
}

cni::IP parse_unicast(const std::string& s, const std::string& key) {
  cni::IP ip = cni::IP::parse_or_throw(s, key);
  if (is_multicast(ip)) cni::config_error("invalid \"" + key + "\" \"" + s + "\": multicast");
  return ip;
}

// Adds `n` to `out` unless it is there already; a vtep with a second subnet,
// or a subnet overlapping another node's, is an error naming `where`.
void merge_node(std::vector<Node>& out, const Node& n, const std::string& where) {
  for (const Node& o : out) {
    if (o == n) return;
    if (o.vtep == n.vtep) {
      cni::config_error(where + "node " + n.vtep.str() + " has two subnets, " + o.subnet.str() +
                        " and " + n.subnet.str());
    }
    if (o.subnet.overlaps(n.subnet)) {
      cni::config_error(where + "subnet " + n.subnet.str() + " of node " + n.vtep.str() +
                        " overlaps " + o.subnet.str() + " of node " + o.vtep.str());
    }
  }
  out.push_back(n);
}

void merge_peer(std::vector<cni::IP>& out, const cni::IP& p) {
  if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
}

bool valid_link_name(const std::string& s) {
  return !s.empty() && s.size() <= 15 && s != "." && s != ".." &&
         s.find_first_of("/: \t\n") == std::string::npos;
}

}  // namespace

const char* to_string(Mode m) { return m == Mode::kL2 ? "l2" : "l3"; }

std::string Config::device() const { return "knetvx" + std::to_string(vni); }

Membership parse_members(const cni::json& obj, Mode mode, const std::string& where) {
  Membership m;
  const char* own = mode == Mode::kL2 ? "peers" : "nodes";
  const char* other = mode == Mode::kL2 ? "nodes" : "peers";
  if (cni::find_key(obj, other)) {
    cni::config_error(where + "\"" + other + "\" is not used in mode " + to_string(mode) +
                      " (use \"" + own + "\")");
  }
  if (mode == Mode::kL2) {
    auto peers = cni::get_string_list(obj, "peers");
    for (size_t i = 0; peers && i < peers->size(); ++i) {
      merge_peer(m.peers, parse_unicast((*peers)[i], where + cni::index_path("peers", i)));
    }
    return m;
  }
  const cni::json* nodes = cni::get_array(obj, "nodes", where + "nodes");
  for (size_t i = 0; nodes && i < nodes->size(); ++i) {
    std::string path = where + cni::index_path("nodes", i);
    const cni::json& e = (*nodes)[i];
    if (!e.is_object()) cni::config_error("invalid \"" + path + "\": expected an object");
    auto vtep = cni::get_string(e, "vtep", cni::join_path(path, "vtep"));
    auto subnet = cni::get_string(e, "subnet", cni::join_path(path, "subnet"));
    if (!vtep) cni::config_error("required \"" + cni::join_path(path, "vtep") + "\" missing");
    if (!subnet) cni::config_error("required \"" + cni::join_path(path, "subnet") + "\" missing");
    Node n;
    n.vtep = parse_unicast(*vtep, cni::join_path(path, "vtep"));
    n.subnet = cni::IPNet::parse_or_throw(*subnet, cni::join_path(path, "subnet")).network();
    // The network and the first host address are the overlay and gateway addresses.
    if (n.subnet.prefix > n.subnet.ip.bits() - 2) {
      cni::config_error("invalid \"" + cni::join_path(path, "subnet") + "\" \"" + *subnet +
                        "\": too small for a node (at most /" +
                        std::to_string(n.subnet.ip.bits() - 2) + ")");
    }
    merge_node(m.nodes, n, where);
  }
  return m;
}

Config Config::parse(const cni::NetConf& conf) {
  const cni::json& raw = conf.raw;
  Config c;
  auto vni = cni::get_int(raw, "vni", "vni", 1, kMaxVni);
  if (!vni) cni::config_error("required \"vni\" missing (1 ... 16777215)");
  c.vni = static_cast<uint32_t>(*vni);
  c.port = static_cast<uint16_t>(cni::get_int(raw, "port", "port", 1, 65535).value_or(4789));
  c.underlay = cni::get_string(raw, "underlay").value_or("");
  if (!c.underlay.empty() && !valid_link_name(c.underlay)) {
    cni::config_error("invalid \"underlay\" \"" + c.underlay + "\": not an interface name");
  }
  if (auto local = cni::get_string(raw, "local")) c.local = parse_unicast(*local, "local");

  std::string mode = cni::get_string(raw, "mode").value_or("l2");
  if (mode == "l2") {
    c.mode = Mode::kL2;
  } else if (mode == "l3") {
    c.mode = Mode::kL3;
  } else {
    cni::config_error("invalid \"mode\" \"" + mode + "\": expected \"l2\" or \"l3\"");
  }
  c.bridge = cni::get_string(raw, "bridge").value_or("knetbr" + std::to_string(c.vni));
  if (!valid_link_name(c.bridge)) {
    cni::config_error("invalid \"bridge\" \"" + c.bridge +
                      "\": not an interface name (1-15 bytes, no '/', ':' or spaces)");
  }
  c.members = parse_members(raw, c.mode, "");
  c.peers_file = cni::get_string(raw, "peersFile").value_or("");
  if (!c.peers_file.empty() && c.peers_file.front() != '/') {
    cni::config_error("invalid \"peersFile\" \"" + c.peers_file + "\": must be an absolute path");
  }
  if (auto group = cni::get_string(raw, "group")) {
    cni::IP g = cni::IP::parse_or_throw(*group, "group");
    if (!is_multicast(g)) {
      cni::config_error("invalid \"group\" \"" + *group + "\": not a multicast address");
    }
    if (c.mode != Mode::kL2) cni::config_error("\"group\" is only used in mode l2");
    if (!c.members.peers.empty() || !c.peers_file.empty()) {
      cni::config_error(
          "\"group\" and \"peers\"/\"peersFile\" exclude each other: flooding "
          "goes either to a multicast group or to a list of peers");
    }
    c.group = g;
  }
  if (c.local && c.group && c.local->family != c.group->family) {
    cni::config_error("\"group\" " + c.group->str() + " and \"local\" " + c.local->str() +
                      " are of different address families");
  }
  c.mtu = static_cast<unsigned>(cni::get_int(raw, "mtu", "mtu", 68, 65535).value_or(0));
  c.learning = cni::get_bool(raw, "learning").value_or(c.mode == Mode::kL2);
  c.ttl = static_cast<int>(cni::get_int(raw, "ttl", "ttl", 0, 255).value_or(0));
  c.has_ipam = !conf.ipam_type.empty();
  if (c.mode == Mode::kL3 && !c.has_ipam) {
    cni::config_error("required \"ipam.type\" missing: mode l3 routes a subnet per node");
  }
  return c;
}

Membership load_members(const Config& cfg) {
  Membership m = cfg.members;
  if (cfg.peers_file.empty()) return m;
  std::string where = "peersFile " + cfg.peers_file + ": ";
  std::ifstream in(cfg.peers_file);
  if (!in) cni::config_error("cannot read \"peersFile\" " + cfg.peers_file);
  std::stringstream buf;
  buf << in.rdbuf();
  cni::json doc;
  try {
    doc = cni::parse_object(buf.str(), "peersFile " + cfg.peers_file);
  } catch (const cni::Error& e) {
    cni::config_error(e.msg());  // a broken file is bad configuration, not bad stdin
  }
  Membership f = parse_members(doc, cfg.mode, where);
  for (const auto& p : f.peers) merge_peer(m.peers, p);
  for (const auto& n : f.nodes) merge_node(m.nodes, n, where);
  return m;
}

std::string vtep_mac(uint32_t vni, const cni::IP& vtep) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&](uint8_t b) { h = (h ^ b) * 1099511628211ull; };
  for (int shift = 24; shift >= 0; shift -= 8) mix(static_cast<uint8_t>(vni >> shift));
  for (size_t i = 0; i < vtep.size(); ++i) mix(vtep.bytes[i]);
  char out[18];
  std::snprintf(out, sizeof out, "02:%02x:%02x:%02x:%02x:%02x", unsigned(h >> 32) & 0xff,
                unsigned(h >> 24) & 0xff, unsigned(h >> 16) & 0xff, unsigned(h >> 8) & 0xff,
                unsigned(h) & 0xff);
  return out;
}

std::optional<cni::IPNet> cluster_cidr(const std::vector<Node>& nodes, int family) {
  std::vector<cni::IPNet> nets;
  for (const auto& n : nodes) {
    if ((n.subnet.ip.is_v4() ? AF_INET : AF_INET6) == family) nets.push_back(n.subnet);
  }
  if (nets.empty()) return std::nullopt;
  int prefix = nets[0].prefix;
  for (const auto& n : nets) prefix = std::min(prefix, n.prefix);
  for (; prefix >= 0; --prefix) {
    cni::IPNet cand = cni::IPNet{nets[0].ip, prefix}.network();
    if (std::all_of(nets.begin(), nets.end(), [&](const auto& n) { return cand.contains(n.ip); })) {
      return cand;
    }
  }
  return std::nullopt;  // unreachable: /0 covers everything of one family
}

}  // namespace knet::vxlan
