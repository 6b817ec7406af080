#include "config.h"

#include <base/hash.h>
#include <cni/address.h>
#include <cni/error.h>
#include <cni/file.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <tuple>

namespace knet::vxlan {
namespace {

constexpr uint32_t kMaxVni = (1u << 24) - 1;

bool is_multicast(const knet::IP& ip) {
  return ip.is_v4() ? (ip.bytes[0] & 0xf0) == 0xe0 : ip.bytes[0] == 0xff;
}

// `key` builds the key's name for an error message: only when there is one
// (a peer list of thousands would otherwise format a path per entry).
template <class Key>
knet::IP parse_unicast_lazy(const std::string& s, Key&& key) {
  auto ip = knet::IP::parse(s);
  if (!ip) cni::parse_ip(s, key());
  if (is_multicast(*ip)) cni::config_error("invalid \"" + key() + "\" \"" + s + "\": multicast");
  return *ip;
}

knet::IP parse_unicast(const std::string& s, const std::string& key) {
  return parse_unicast_lazy(s, [&] { return key; });
}

// A node as read, with the source that names it in errors ("" for the
// config, "peersFile <path>: " for the file).
struct SourcedNode {
  Node node;
  const std::string* where;
};

// `in` without duplicates, first occurrences in their order. Throws naming
// the source of the later entry when a vtep has two subnets or two subnets
// overlap. O(n log n): sorted once by vtep and once by subnet, only
// neighbours need comparing (subnets are prefixes: once the first i are
// disjoint, a later one can only overlap the last of them in address order).
std::vector<Node> merge_nodes(const std::vector<SourcedNode>& in) {
  std::vector<size_t> idx(in.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  auto node = [&](size_t i) -> const Node& { return in[i].node; };
  auto by_vtep = [&](size_t a, size_t b) {
    return std::tie(node(a).vtep, node(a).subnet.ip, node(a).subnet.prefix) <
           std::tie(node(b).vtep, node(b).subnet.ip, node(b).subnet.prefix);
  };
  std::stable_sort(idx.begin(), idx.end(), by_vtep);
  std::vector<size_t> kept;
  for (size_t k = 0; k < idx.size(); ++k) {
    if (k > 0 && node(idx[k - 1]).vtep == node(idx[k]).vtep) {
      if (node(idx[k - 1]) == node(idx[k])) continue;  // a duplicate: keep the first
      size_t a = std::min(idx[k - 1], idx[k]), b = std::max(idx[k - 1], idx[k]);
      cni::config_error(*in[b].where + "node " + node(b).vtep.str() + " has two subnets, " +
                        node(a).subnet.str() + " and " + node(b).subnet.str());
    }
    kept.push_back(idx[k]);
  }
  auto by_subnet = [&](size_t a, size_t b) {
    return std::tie(node(a).subnet.ip, node(a).subnet.prefix) <
           std::tie(node(b).subnet.ip, node(b).subnet.prefix);
  };
  std::sort(kept.begin(), kept.end(), by_subnet);
  for (size_t k = 1; k < kept.size(); ++k) {
    if (!node(kept[k - 1]).subnet.overlaps(node(kept[k]).subnet)) continue;
    size_t a = std::min(kept[k - 1], kept[k]), b = std::max(kept[k - 1], kept[k]);
    cni::config_error(*in[b].where + "subnet " + node(b).subnet.str() + " of node " +
                      node(b).vtep.str() + " overlaps " + node(a).subnet.str() + " of node " +
                      node(a).vtep.str());
  }
  std::sort(kept.begin(), kept.end());
  std::vector<Node> out;
  out.reserve(kept.size());
  for (size_t i : kept) out.push_back(node(i));
  return out;
}

// `in` without duplicates, first occurrences in their order; O(n log n).
std::vector<knet::IP> merge_peers(const std::vector<knet::IP>& in) {
  std::vector<size_t> idx(in.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return in[a] < in[b]; });
  auto dup = std::unique(idx.begin(), idx.end(), [&](size_t a, size_t b) { return in[a] == in[b]; });
  idx.erase(dup, idx.end());
  std::sort(idx.begin(), idx.end());
  std::vector<knet::IP> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(in[i]);
  return out;
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
      m.peers.push_back(
          parse_unicast_lazy((*peers)[i], [&] { return where + cni::index_path("peers", i); }));
    }
    m.peers = merge_peers(m.peers);
    return m;
  }
  const cni::json* nodes = cni::get_array(obj, "nodes", where + "nodes");
  std::vector<SourcedNode> read;
  for (size_t i = 0; nodes && i < nodes->size(); ++i) {
    // Paths name a key in messages only: built when something is wrong, not
    // for each of thousands of nodes.
    auto path = [&] { return where + cni::index_path("nodes", i); };
    auto key = [&](std::string_view k) { return cni::join_path(path(), k); };
    const cni::json& e = (*nodes)[i];
    if (!e.is_object()) cni::config_error("invalid \"" + path() + "\": expected an object");
    // A string member as it is; anything else goes through get_string for its error.
    auto member = [&](std::string_view k) -> std::string {
      const cni::json* v = cni::find_key(e, k);
      if (v && v->is_string()) return v->get_ref<const std::string&>();
      auto got = cni::get_string(e, k, key(k));
      if (!got) cni::config_error("required \"" + key(k) + "\" missing");
      return *got;
    };
    std::string vtep = member("vtep"), subnet = member("subnet");
    Node n;
    n.vtep = parse_unicast_lazy(vtep, [&] { return key("vtep"); });
    auto net = knet::IPNet::parse(subnet);
    n.subnet = (net ? *net : cni::parse_cidr(subnet, key("subnet"))).network();
    // The network and the first host address are the overlay and gateway addresses.
    if (n.subnet.prefix > n.subnet.ip.bits() - 2) {
      cni::config_error("invalid \"" + key("subnet") + "\" \"" + subnet +
                        "\": too small for a node (at most /" +
                        std::to_string(n.subnet.ip.bits() - 2) + ")");
    }
    read.push_back({n, &where});
  }
  m.nodes = merge_nodes(read);
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
    knet::IP g = cni::parse_ip(*group, "group");
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
  std::string text = cni::read_user_file(cfg.peers_file, cni::kMaxPeersFileBytes, "\"peersFile\"",
                                         cni::kInvalidNetworkConfig);
  cni::json doc;
  try {
    doc = cni::parse_object(text, "peersFile " + cfg.peers_file);
  } catch (const cni::Error& e) {
    cni::config_error(e.msg());  // a broken file is bad configuration, not bad stdin
  }
  Membership f = parse_members(doc, cfg.mode, where);
  // The file's list is merged already: with nothing inline it is the result
  // (merging thousands of entries again costs as much as parsing them).
  if (m.peers.empty() && m.nodes.empty()) return f;
  std::vector<knet::IP> peers = m.peers;
  peers.insert(peers.end(), f.peers.begin(), f.peers.end());
  m.peers = merge_peers(peers);
  const std::string inline_where;
  std::vector<SourcedNode> nodes;
  nodes.reserve(m.nodes.size() + f.nodes.size());
  for (const Node& n : m.nodes) nodes.push_back({n, &inline_where});
  for (const Node& n : f.nodes) nodes.push_back({n, &where});
  m.nodes = merge_nodes(nodes);
  return m;
}

std::string vtep_mac(uint32_t vni, const knet::IP& vtep) {
  uint64_t h = knet::kFnvOffset;
  for (int shift = 24; shift >= 0; shift -= 8) h = knet::fnv1a_mix(h, static_cast<uint8_t>(vni >> shift));
  for (size_t i = 0; i < vtep.size(); ++i) h = knet::fnv1a_mix(h, vtep.bytes[i]);
  // By hand, not snprintf: an l3 ADD computes one per node, thousands.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "02:00:00:00:00:00";
  for (int i = 0; i < 5; ++i) {
    auto b = static_cast<unsigned>(h >> (32 - 8 * i)) & 0xff;
    out[3 + 3 * i] = kHex[b >> 4];
    out[4 + 3 * i] = kHex[b & 0xf];
  }
  return out;
}

std::optional<knet::IPNet> cluster_cidr(const std::vector<Node>& nodes, int family) {
  std::vector<knet::IPNet> nets;
  for (const auto& n : nodes) {
    if ((n.subnet.ip.is_v4() ? AF_INET : AF_INET6) == family) nets.push_back(n.subnet);
  }
  if (nets.empty()) return std::nullopt;
  int prefix = nets[0].prefix;
  for (const auto& n : nets) prefix = std::min(prefix, n.prefix);
  for (; prefix >= 0; --prefix) {
    knet::IPNet cand = knet::IPNet{nets[0].ip, prefix}.network();
    if (std::all_of(nets.begin(), nets.end(), [&](const auto& n) { return cand.contains(n.ip); })) {
      return cand;
    }
  }
  return std::nullopt;  // unreachable: /0 covers everything of one family
}

}  // namespace knet::vxlan
