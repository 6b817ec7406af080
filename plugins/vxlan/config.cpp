#include "config.h"

#include <base/hash.h>
#include <cni/address.h>
#include <cni/error.h>
#include <cni/file.h>
#include <common/mac.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "hash_index.h"

namespace knet::vxlan {
namespace {

constexpr uint32_t kMaxVni = (1u << 24) - 1;

bool is_multicast(const knet::IP& ip) {
  return ip.is_v4() ? (ip.bytes[0] & 0xf0) == 0xe0 : ip.bytes[0] == 0xff;
}

// `key` builds the key's name for an error message: only when there is one
// (a peer list of thousands would otherwise format a path per entry).
template <class Key>
knet::IP parse_unicast_lazy(std::string_view s, Key&& key) {
  auto ip = knet::IP::parse(s);
  if (!ip) cni::parse_ip(s, key());
  if (is_multicast(*ip)) {
    cni::config_error("invalid \"" + key() + "\" \"" + std::string(s) + "\": multicast");
  }
  return *ip;
}

knet::IP parse_unicast(const std::string& s, const std::string& key) {
  return parse_unicast_lazy(s, [&] { return key; });
}

// A node's `mac`: a unicast MAC other than all zeros (an interface's).
template <class Key>
uint64_t parse_node_mac(std::string_view s, Key&& key) {
  auto mac = parse_mac(s);
  if (mac && is_unicast_mac(*mac)) return *mac;
  common::parse_unicast_mac(std::string(s), key());  // throws, saying why
  cni::config_error("invalid \"" + key() + "\" \"" + std::string(s) + "\": not a unicast MAC");
}

template <class Key>
knet::IPNet parse_subnet_lazy(std::string_view s, Key&& key) {
  auto net = knet::IPNet::parse(s);
  return (net ? *net : cni::parse_cidr(s, key())).network();
}

// The membership as text, before any value is checked: string views into
// the document it was read from.
struct RawNode {
  std::string_view vtep, subnet;
  std::optional<std::string_view> mac;
};
struct RawMembership {
  std::vector<std::string_view> peers;
  std::vector<RawNode> nodes;
  std::optional<std::string_view> network;
};

// The peersFile as knet-node writes it, read without building a JSON
// document (which costs more than everything else an ADD with thousands of
// nodes does): one object holding the mode's list and, in l3, "network";
// every string free of escapes and non-ASCII bytes; nodes objects of
// "vtep", "subnet" and "mac" only. Anything else (another key, a
// duplicate, null, a number, an escape, broken JSON) is nullopt: the file
// is then read as the JSON document it may still be, and what is wrong
// with it named.
class QuickReader {
 public:
  explicit QuickReader(std::string_view text) : s_(text) {}

  std::optional<RawMembership> read(Mode mode) {
    RawMembership r;
    bool list = false, network = false;
    bool ok = object([&](std::string_view key) {
      if (key == (mode == Mode::kL2 ? "peers" : "nodes") && !list) {
        list = true;
        if (mode == Mode::kL2) {
          return array([&] {
            auto p = str();
            if (p) r.peers.push_back(*p);
            return p.has_value();
          });
        }
        return array([&] { return node(r.nodes); });
      }
      if (key == "network" && mode == Mode::kL3 && !network) {
        network = true;
        r.network = str();
        return r.network.has_value();
      }
      return false;
    });
    ws();
    if (!ok || i_ != s_.size()) return std::nullopt;
    return r;
  }

 private:
  bool node(std::vector<RawNode>& out) {
    std::optional<std::string_view> vtep, subnet, mac;
    bool ok = object([&](std::string_view key) {
      std::optional<std::string_view>* v = key == "vtep" ? &vtep : key == "subnet" ? &subnet
                                         : key == "mac"    ? &mac
                                                           : nullptr;
      if (!v || *v) return false;
      *v = str();
      return v->has_value();
    });
    if (!ok || !vtep || !subnet) return false;
    out.push_back({*vtep, *subnet, mac});
    return true;
  }

  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ == s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  std::optional<std::string_view> str() {
    if (!eat('"')) return std::nullopt;
    for (size_t start = i_; i_ < s_.size(); ++i_) {
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return s_.substr(start, i_++ - start);
      if (c == '\\' || c < 0x20 || c >= 0x80) return std::nullopt;
    }
    return std::nullopt;
  }
  // `member(key)` reads the value of each member; false stops the reading.
  template <class Member>
  bool object(Member&& member) {
    if (!eat('{')) return false;
    if (eat('}')) return true;
    do {
      auto key = str();
      if (!key || !eat(':') || !member(*key)) return false;
    } while (eat(','));
    return eat('}');
  }
  template <class Element>
  bool array(Element&& element) {
    if (!eat('[')) return false;
    if (eat(']')) return true;
    do {
      if (!element()) return false;
    } while (eat(','));
    return eat(']');
  }

  std::string_view s_;
  size_t i_ = 0;
};

// A node as read, with the source that names it in errors ("" for the
// config, "peersFile <path>: " for the file).
struct SourcedNode {
  Node node;
  const std::string* where;
};

// A subnet as integers, sorted in address order: its family, its address
// as two big-endian words (IPv4 in the top of `hi`), its prefix length;
// `pos` last, so equal subnets keep the order of their positions.
struct SubnetKey {
  uint64_t hi = 0, lo = 0;
  uint32_t family = 0, prefix = 0;
  size_t pos = 0;

  SubnetKey(const knet::IPNet& n, size_t pos_)
      : family(static_cast<uint32_t>(n.ip.family)), prefix(static_cast<uint32_t>(n.prefix)), pos(pos_) {
    for (size_t i = 0; i < 8; ++i) hi = hi << 8 | n.ip.bytes[i];
    for (size_t i = 8; i < 16; ++i) lo = lo << 8 | n.ip.bytes[i];
  }
  bool operator<(const SubnetKey& o) const {
    if (family != o.family) return family < o.family;
    if (hi != o.hi) return hi < o.hi;
    if (lo != o.lo) return lo < o.lo;
    if (prefix != o.prefix) return prefix < o.prefix;
    return pos < o.pos;
  }
  // Whether this subnet (network form) holds the address of `a`.
  bool holds(const SubnetKey& a) const {
    if (family != a.family) return false;
    auto mask = [](uint32_t bits) { return bits == 0 ? 0 : bits >= 64 ? ~0ull : ~0ull << (64 - bits); };
    return (a.hi & mask(std::min<uint32_t>(prefix, 64))) == hi && (a.lo & mask(prefix > 64 ? prefix - 64 : 0)) == lo;
  }
};

// `in` without duplicates, first occurrences in their order (a duplicate
// may add the `mac` the first lacks). Throws naming the source of the
// later entry when a vtep has two subnets or two MACs, two subnets
// overlap, or two nodes have one VTEP MAC (derived or given: a MAC leads
// to one node only). O(n log n): duplicates are found by hash, overlaps
// by sorting once and comparing neighbours (subnets are prefixes: once the
// first i are disjoint, a later one can only overlap the last of them in
// address order).
std::vector<Node> merge_nodes(const std::vector<SourcedNode>& in, uint32_t vni) {
  auto node = [&](size_t i) -> const Node& { return in[i].node; };
  auto later = [&](size_t a, size_t b) -> const std::string& { return *in[std::max(a, b)].where; };
  std::vector<uint64_t> macs(in.size());
  std::vector<size_t> kept;
  kept.reserve(in.size());
  HashIndex by_vtep(in.size());
  for (size_t b = 0; b < in.size(); ++b) {
    uint64_t h = hash_ip(node(b).vtep);
    auto first = by_vtep.find(h, [&](size_t a) { return node(a).vtep == node(b).vtep; });
    if (!first) {
      by_vtep.add(h, b);
      kept.push_back(b);
      macs[b] = node(b).mac;
      continue;
    }
    size_t a = *first;
    if (node(b).subnet != node(a).subnet) {
      cni::config_error(later(a, b) + "node " + node(b).vtep.str() + " has two subnets, " +
                        node(a).subnet.str() + " and " + node(b).subnet.str());
    }
    if (node(b).mac && macs[a] && node(b).mac != macs[a]) {
      cni::config_error(later(a, b) + "node " + node(b).vtep.str() + " has two MACs, " +
                        mac_str(macs[a]) + " and " + mac_str(node(b).mac));
    }
    if (!macs[a]) macs[a] = node(b).mac;
  }

  std::vector<SubnetKey> subnets;
  subnets.reserve(kept.size());
  for (size_t i : kept) subnets.emplace_back(node(i).subnet, i);
  std::sort(subnets.begin(), subnets.end());
  for (size_t k = 1; k < subnets.size(); ++k) {
    if (!subnets[k - 1].holds(subnets[k])) continue;
    size_t a = std::min(subnets[k - 1].pos, subnets[k].pos), b = std::max(subnets[k - 1].pos, subnets[k].pos);
    cni::config_error(later(a, b) + "subnet " + node(b).subnet.str() + " of node " +
                      node(b).vtep.str() + " overlaps " + node(a).subnet.str() + " of node " +
                      node(a).vtep.str());
  }

  HashIndex by_mac(kept.size());
  std::vector<uint64_t> effective(in.size());
  for (size_t b : kept) {
    uint64_t mac = effective[b] = macs[b] ? macs[b] : vtep_mac_bits(vni, node(b).vtep);
    uint64_t h = hash_mix(0, mac);
    auto a = by_mac.find(h, [&](size_t i) { return effective[i] == mac; });
    if (!a) {
      by_mac.add(h, b);
      continue;
    }
    auto how = [&](size_t i) { return macs[i] ? std::string(" (\"mac\")") : std::string(" (derived)"); };
    cni::config_error(later(*a, b) + "node " + node(b).vtep.str() + " has VTEP MAC " + mac_str(mac) +
                      how(b) + ", as node " + node(*a).vtep.str() + how(*a) +
                      " does: a MAC leads to one node only, give each node its own \"mac\"");
  }

  std::vector<Node> out;
  out.reserve(kept.size());
  for (size_t i : kept) {
    out.push_back(node(i));
    out.back().mac = macs[i];
  }
  return out;
}

// Throws, `where` naming the source of "network", unless `network` holds
// every node's subnet.
void check_within(const std::vector<Node>& nodes, const knet::IPNet& network, const std::string& where) {
  SubnetKey net(network, 0);
  for (const Node& n : nodes) {
    if (n.subnet.prefix >= network.prefix && net.holds(SubnetKey(n.subnet, 0))) continue;
    cni::config_error(where + "subnet " + n.subnet.str() + " of node " + n.vtep.str() +
                      " is outside \"network\" " + network.str());
  }
}

// `in` without duplicates, first occurrences in their order; O(n).
std::vector<knet::IP> merge_peers(const std::vector<knet::IP>& in) {
  HashIndex seen(in.size());
  std::vector<knet::IP> out;
  out.reserve(in.size());
  for (const knet::IP& ip : in) {
    uint64_t h = hash_ip(ip);
    if (seen.find(h, [&](size_t i) { return out[i] == ip; })) continue;
    seen.add(h, out.size());
    out.push_back(ip);
  }
  return out;
}

// The membership `raw` describes, every value checked; `where` as for SourcedNode.
Membership build(const RawMembership& raw, Mode mode, uint32_t vni, const std::string& where) {
  Membership m;
  if (mode == Mode::kL2) {
    m.peers.reserve(raw.peers.size());
    for (size_t i = 0; i < raw.peers.size(); ++i) {
      m.peers.push_back(parse_unicast_lazy(raw.peers[i], [&] { return where + cni::index_path("peers", i); }));
    }
    m.peers = merge_peers(m.peers);
    return m;
  }
  std::vector<SourcedNode> read;
  read.reserve(raw.nodes.size());
  for (size_t i = 0; i < raw.nodes.size(); ++i) {
    // Key names are built when something is wrong, not for each of thousands of nodes.
    auto key = [&](std::string_view k) { return cni::join_path(where + cni::index_path("nodes", i), k); };
    const RawNode& r = raw.nodes[i];
    Node n;
    n.vtep = parse_unicast_lazy(r.vtep, [&] { return key("vtep"); });
    n.subnet = parse_subnet_lazy(r.subnet, [&] { return key("subnet"); });
    // The network and the first host address are the overlay and gateway addresses.
    if (n.subnet.prefix > n.subnet.ip.bits() - 2) {
      cni::config_error("invalid \"" + key("subnet") + "\" \"" + std::string(r.subnet) +
                        "\": too small for a node (at most /" +
                        std::to_string(n.subnet.ip.bits() - 2) + ")");
    }
    if (r.mac) n.mac = parse_node_mac(*r.mac, [&] { return key("mac"); });
    read.push_back({n, &where});
  }
  if (raw.network) m.network = parse_subnet_lazy(*raw.network, [&] { return where + "network"; });
  m.nodes = merge_nodes(read, vni);
  if (m.network) check_within(m.nodes, *m.network, where);
  return m;
}

// Reads `peers` (l2) or `nodes` and `network` (l3) from the JSON document
// `obj`, as build() does; a key of the other mode is an error.
Membership parse_members(const cni::json& obj, Mode mode, uint32_t vni, const std::string& where) {
  const char* own = mode == Mode::kL2 ? "peers" : "nodes";
  const char* other = mode == Mode::kL2 ? "nodes" : "peers";
  if (cni::find_key(obj, other)) {
    cni::config_error(where + "\"" + other + "\" is not used in mode " + to_string(mode) +
                      " (use \"" + own + "\")");
  }
  RawMembership raw;
  if (mode == Mode::kL2) {
    if (cni::find_key(obj, "network")) cni::config_error(where + "\"network\" is only used in mode l3");
    auto peers = cni::get_string_list(obj, "peers", where + "peers");
    for (size_t i = 0; peers && i < peers->size(); ++i) raw.peers.push_back((*peers)[i]);
    return build(raw, mode, vni, where);
  }
  // A string member as it is (a view into `obj`); anything else goes
  // through get_string for its error.
  auto string_member = [](const cni::json& e, std::string_view k, auto&& path) -> std::optional<std::string_view> {
    const cni::json* v = cni::find_key(e, k);
    if (!v) return std::nullopt;
    if (!v->is_string()) cni::get_string(e, k, path());
    return std::string_view(v->get_ref<const std::string&>());
  };
  raw.network = string_member(obj, "network", [&] { return where + "network"; });
  const cni::json* nodes = cni::get_array(obj, "nodes", where + "nodes");
  for (size_t i = 0; nodes && i < nodes->size(); ++i) {
    auto path = [&] { return where + cni::index_path("nodes", i); };
    const cni::json& e = (*nodes)[i];
    if (!e.is_object()) cni::config_error("invalid \"" + path() + "\": expected an object");
    RawNode r;
    for (auto [k, dst] : {std::pair{"vtep", &r.vtep}, std::pair{"subnet", &r.subnet}}) {
      auto key = [&] { return cni::join_path(path(), k); };
      auto v = string_member(e, k, key);
      if (!v) cni::config_error("required \"" + key() + "\" missing");
      *dst = *v;
    }
    r.mac = string_member(e, "mac", [&] { return cni::join_path(path(), "mac"); });
    raw.nodes.push_back(r);
  }
  return build(raw, mode, vni, where);
}

bool valid_link_name(const std::string& s) {
  return !s.empty() && s.size() <= 15 && s != "." && s != ".." &&
         s.find_first_of("/: \t\n") == std::string::npos;
}

}  // namespace

const char* to_string(Mode m) { return m == Mode::kL2 ? "l2" : "l3"; }

std::string Config::device() const { return "knetvx" + std::to_string(vni); }

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
  c.members = parse_members(raw, c.mode, c.vni, "");
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
  Membership f;
  if (auto quick = QuickReader(text).read(cfg.mode)) {
    f = build(*quick, cfg.mode, cfg.vni, where);
  } else {
    cni::json doc;
    try {
      doc = cni::parse_object(text, "peersFile " + cfg.peers_file);
    } catch (const cni::Error& e) {
      cni::config_error(e.msg());  // a broken file is bad configuration, not bad stdin
    }
    f = parse_members(doc, cfg.mode, cfg.vni, where);
  }
  // The file's list is merged already: with nothing inline it is the result
  // (merging thousands of entries again costs as much as parsing them).
  if (m.peers.empty() && m.nodes.empty() && !m.network) return f;
  std::vector<knet::IP> peers = m.peers;
  peers.insert(peers.end(), f.peers.begin(), f.peers.end());
  m.peers = merge_peers(peers);
  const std::string inline_where;
  std::vector<SourcedNode> nodes;
  nodes.reserve(m.nodes.size() + f.nodes.size());
  for (const Node& n : m.nodes) nodes.push_back({n, &inline_where});
  for (const Node& n : f.nodes) nodes.push_back({n, &where});
  m.nodes = merge_nodes(nodes, cfg.vni);
  if (m.network && f.network && *m.network != *f.network) {
    cni::config_error(where + "\"network\" " + f.network->str() + " differs from the config's \"network\" " +
                      m.network->str());
  }
  if (m.network) {
    check_within(m.nodes, *m.network, inline_where);
  } else if (f.network) {
    m.network = f.network;
    check_within(m.nodes, *m.network, where);
  }
  return m;
}

std::optional<uint64_t> parse_mac(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 17; i += 3) {
    if (i > 0 && s[i - 1] != ':' && s[i - 1] != '-') return std::nullopt;
    for (size_t j = i; j < i + 2; ++j) {
      char c = s[j];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<uint64_t>(d);
    }
  }
  return v;
}

std::string mac_str(uint64_t mac) {
  // By hand, not snprintf: an l3 ADD may format one per node, thousands.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "00:00:00:00:00:00";
  for (int i = 0; i < 6; ++i) {
    auto b = static_cast<unsigned>(mac >> (40 - 8 * i)) & 0xff;
    out[3 * i] = kHex[b >> 4];
    out[3 * i + 1] = kHex[b & 0xf];
  }
  return out;
}

uint64_t vtep_mac_bits(uint32_t vni, const knet::IP& vtep) {
  uint64_t h = knet::kFnvOffset;
  for (int shift = 24; shift >= 0; shift -= 8) h = knet::fnv1a_mix(h, static_cast<uint8_t>(vni >> shift));
  for (size_t i = 0; i < vtep.size(); ++i) h = knet::fnv1a_mix(h, vtep.bytes[i]);
  return uint64_t{0x02} << 40 | (h & 0xffffffffff);  // 02 and the hash's low five bytes
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
