#include "inspect.h"

#include <base/hash.h>
#include <base/ip.h>
#include <cni/runtime.h>
#include <fcntl.h>
#include <ipam/store.h>
#include <linux/netfilter.h>
#include <linux/pkt_sched.h>
#include <nat/nft.h>
#include <nlw/addr.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>
#include <shaping.h>  // the bandwidth plugin's ifb names
#include <sys/stat.h>
#include <tc/shaper.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

namespace knet::inspect {
namespace {

namespace fs = std::filesystem;
using Key = std::tuple<std::string, std::string, std::string>;

// Bounds on what a directory listing may hold before inspect stops reading it.
constexpr size_t kMaxEntries = 65536;
constexpr size_t kMaxReservationBytes = 4096;

std::string owner_text(const knet::Owner& o) {
  return o.network + "/" + o.container_id + "/" + o.ifname;
}

// The reference plugins' iptables chain of (network, container):
// "CNI-" and the first 24 hex digits of SHA-512(network + container ID).
std::string reference_chain(const std::string& network, const std::string& container_id) {
  return "CNI-" + knet::sha512_hex(network + container_id, 12);
}

// The content of a small regular file, or nullopt (not regular, too big, unreadable).
std::optional<std::string> read_small(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<size_t>(st.st_size) <= kMaxReservationBytes) {
    std::string data(static_cast<size_t>(st.st_size), '\0');
    ssize_t n = ::read(fd, data.data(), data.size());
    if (n >= 0) {
      data.resize(static_cast<size_t>(n));
      out = std::move(data);
    }
  }
  ::close(fd);
  return out;
}

std::vector<fs::directory_entry> list_dir(const std::string& dir) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (out.size() >= kMaxEntries) break;
    out.push_back(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Collector {
 public:
  Collector(const Places& places, const Filter& filter) : places_(places), filter_(filter) {}

  Report run() {
    nlw::Socket host = nlw::Socket::current();
    read_links(host);
    read_nft();
    read_reservations();
    read_cache();
    resolve_netns(host);
    match_reference();
    judge();
    read_run_dir();
    return std::move(report_);
  }

 private:
  struct Work {
    Attachment a;
    std::optional<int> peer_netnsid;
    bool veth = false;
    bool reservation = false;
    bool cached = false;
  };

  bool wanted(const knet::Owner& o) const {
    return (filter_.network.empty() || o.network == filter_.network) &&
           (filter_.container.empty() || o.container_id == filter_.container);
  }

  Work& get(const knet::Owner& o) {
    Work& w = at_[{o.network, o.container_id, o.ifname}];
    w.a.owner = o;
    return w;
  }

  std::string qdiscs_of(int ifindex) const {
    std::string out;
    auto it = qdiscs_.find(ifindex);
    if (it == qdiscs_.end()) return out;
    for (const auto& q : it->second) out += (out.empty() ? "" : ", ") + q;
    return out;
  }

  void read_links(nlw::Socket& host) {
    std::vector<nlw::LinkInfo> links = nlw::list_links(host);
    std::map<int, std::string> names;
    std::map<int, std::string> kinds;
    for (const auto& l : links) {
      names[l.index] = l.name;
      kinds[l.index] = l.kind;
    }
    try {
      for (const auto& q : tc::list_qdiscs(host)) {
        if (q.kind == "noqueue" || q.kind.empty()) continue;
        qdiscs_[q.ifindex].push_back(q.kind + (q.parent == TC_H_ROOT ? " (root)" : ""));
      }
    } catch (const knet::Error& e) {
      report_.notes.push_back("qdiscs: " + e.msg());
    }
    for (const auto& l : links) {
      std::optional<knet::Owner> owner =
          l.alias.empty() ? std::nullopt : knet::parse_owner_tag(l.alias);
      std::string detail = l.master ? "on bridge " + names[l.master] : "";
      std::string q = qdiscs_of(l.index);
      if (!q.empty()) detail += (detail.empty() ? "" : "; ") + std::string("qdiscs ") + q;
      if (owner && (l.kind == "veth" || l.kind == "ifb")) {
        if (owner->ifname == "gw")
          continue;  // a bridge's VLAN gateway port: the network's, not a container's
        if (!wanted(*owner)) continue;
        Work& w = get(*owner);
        w.a.objects.push_back({l.kind, l.name, "knet", detail, owner});
        if (l.kind == "veth") {
          w.veth = true;
          w.peer_netnsid = l.link_netnsid;
          host_veth_[{owner->network, owner->container_id, owner->ifname}] = l.name;
        }
        continue;
      }
      bool knet_named = l.name.size() == 15 &&
                        ((l.kind == "veth" && knet::is_owner_ifname("veth", l.name)) ||
                         (l.kind == "ifb" && knet::is_owner_ifname(bandwidth::kIfbPrefix, l.name)));
      if (l.alias.empty() && knet_named) {
        if (filter_.network.empty() && filter_.container.empty())
          report_.orphans.push_back(
              {l.kind, l.name, "knet",
               detail + (detail.empty() ? "" : "; ") +
                   "no owner tag: an ADD killed between creating and tagging it"});
        continue;
      }
      if (l.kind == "ifb" && l.name.rfind("bwp", 0) == 0) {
        reference_ifbs_[l.name] = detail;
        continue;
      }
      if (l.kind == "veth" && l.alias.empty() && l.master && kinds[l.master] == "bridge" &&
          filter_.network.empty() && filter_.container.empty()) {
        report_.unowned.push_back(
            {"veth", l.name, "reference",
             detail + "; no owner tag (the reference bridge plugin or another tool)"});
      }
    }
  }

  void read_nft() {
    try {
      nat::Nft nft;
      std::map<Key, int> masq, spoof;
      for (const auto& c : nft.comments(nat::kNatTable))
        if (auto o = knet::parse_owner_tag(c); o && wanted(*o))
          ++masq[{o->network, o->container_id, o->ifname}];
      for (const auto& c : nft.comments(nat::kSpoofTable))
        if (auto o = knet::parse_owner_tag(c); o && wanted(*o))
          ++spoof[{o->network, o->container_id, o->ifname}];
      for (const auto& [k, n] : masq) {
        knet::Owner o{std::get<0>(k), std::get<1>(k), std::get<2>(k)};
        get(o).a.objects.push_back({"nft chain", std::string(nat::kNatTable) + " masquerade",
                                    "knet", std::to_string(n) + " rule(s)", o});
      }
      for (const auto& [k, n] : spoof) {
        knet::Owner o{std::get<0>(k), std::get<1>(k), std::get<2>(k)};
        get(o).a.objects.push_back(
            {"nft rule", std::string(nat::kSpoofTable), "knet", std::to_string(n) + " rule(s)", o});
      }
      for (const auto& c : nft.chains()) {
        if (c.chain.rfind("CNI-", 0) == 0 || c.table == "cni_plugins_masquerade") {
          std::string family = c.family == NFPROTO_IPV4   ? "ip"
                               : c.family == NFPROTO_IPV6 ? "ip6"
                                                          : "other";
          reference_chains_.push_back({c.chain, family + " " + c.table + " " + c.chain});
        }
      }
    } catch (const knet::Error& e) {
      report_.notes.push_back("nftables: " + e.msg());
    }
  }

  void read_reservations() {
    for (const auto& net : list_dir(places_.data_dir)) {
      std::error_code ec;
      if (!net.is_directory(ec)) continue;
      std::string network = net.path().filename().string();
      for (const auto& f : list_dir(net.path().string())) {
        std::string name = f.path().filename().string();
        if (!knet::IP::parse(name)) continue;  // lock, last_reserved_ip.N, knet.index
        auto content = read_small(f.path().string());
        auto key = content ? ipam::OwnerKey::parse(*content) : std::nullopt;
        if (!key) {
          report_.notes.push_back("unreadable reservation " + f.path().string());
          continue;
        }
        knet::Owner o{network, key->container_id, key->ifname};
        if (!wanted(o)) continue;
        Work& w = get(o);
        w.reservation = true;
        w.a.objects.push_back({"ip reservation", name,
                               "host-local (knet or reference: shared store)", f.path().string(),
                               o});
      }
    }
  }

  void read_cache() {
    cni::ResultCache cache(places_.cache_dir);
    for (const auto& c : cache.list()) {
      knet::Owner o{c.network, c.container_id, c.ifname};
      cached_networks_.insert(c.network);
      if (!wanted(o)) continue;
      Work& w = get(o);
      w.cached = true;
      if (!c.netns.empty()) w.a.netns = c.netns;
      w.a.objects.push_back({"cache entry", c.path, "runtime",
                             c.netns.empty() ? "no netns recorded" : "netns " + c.netns, o});
    }
  }

  // Which named namespace each attachment lives in, whether it still exists,
  // and its interface there.
  void resolve_netns(nlw::Socket& host) {
    struct Named {
      std::string path;
      std::vector<nlw::LinkInfo> links;
    };
    std::map<int, std::string> by_id;
    std::map<std::string, Named> named;
    for (const auto& e : list_dir(places_.netns_dir)) {
      std::string path = e.path().string();
      try {
        nlw::NetNS ns = nlw::NetNS::open(path);
        if (auto id = nlw::netnsid_of(host, ns)) by_id[*id] = path;
        nlw::Socket s = nlw::Socket::in(ns);
        named[path] = {path, nlw::list_links(s)};
        // A tagged link inside (a macvlan) names its attachment.
        for (const auto& l : named[path].links) {
          auto o = l.alias.empty() ? std::nullopt : knet::parse_owner_tag(l.alias);
          if (o && o->ifname == l.name && wanted(*o)) {
            Work& w = get(*o);
            if (w.a.netns.empty()) w.a.netns = path;
          }
        }
      } catch (const knet::Error&) {
        // not a network namespace, or gone meanwhile
      }
    }
    for (auto& [k, w] : at_) {
      Attachment& a = w.a;
      if (w.veth && w.peer_netnsid) {
        auto it = by_id.find(*w.peer_netnsid);
        if (it != by_id.end()) a.netns = it->second;
      }
      if (a.netns.empty()) {
        a.netns_state = w.veth ? "exists" : "unknown";  // a veth's peer lives in a live namespace
      } else {
        try {
          nlw::NetNS ns = nlw::NetNS::open(a.netns);
          a.netns_state = "exists";
          nlw::Socket s = nlw::Socket::in(ns);
          if (auto l = nlw::find_link(s, a.owner.ifname)) {
            a.container_if = l->name;
            for (const auto& addr : nlw::list_addresses(s, l->index))
              if (addr.scope == 0) a.container_addrs.push_back(addr.net.str());
          }
        } catch (const knet::Error&) {
          a.netns_state = "gone";
        }
      }
      a.live = a.netns_state == "exists";
    }
  }

  void match_reference() {
    for (auto& [k, w] : at_) {
      const knet::Owner& o = w.a.owner;
      std::string ifb = bandwidth::reference_ifb_name(o.network, o.container_id);
      if (auto it = reference_ifbs_.find(ifb); it != reference_ifbs_.end()) {
        w.a.objects.push_back({"ifb", ifb, "reference", it->second, o});
        reference_ifbs_.erase(it);
      }
      std::string chain = reference_chain(o.network, o.container_id);
      for (auto it = reference_chains_.begin(); it != reference_chains_.end();) {
        if (it->first == chain) {
          w.a.objects.push_back({"iptables chain", it->second, "reference", "", o});
          it = reference_chains_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (!filter_.network.empty() || !filter_.container.empty()) return;
    for (const auto& [name, detail] : reference_ifbs_)
      report_.unowned.push_back(
          {"ifb", name, "reference", detail + (detail.empty() ? "" : "; ") + "owner unknown"});
    for (const auto& [name, where] : reference_chains_)
      report_.unowned.push_back({"iptables chain", where, "reference", "owner unknown"});
  }

  void judge() {
    for (auto& [k, w] : at_) {
      Attachment& a = w.a;
      if (!a.live) {
        for (const Object& o : a.objects) {
          report_.orphans.push_back(o);
          if (o.kind == "ip reservation")
            a.problems.push_back("IP " + o.name + " reserved with no veth and no live netns");
          else if (o.kind == "ifb")
            a.problems.push_back("ifb " + o.name + " whose veth is gone");
          else if (o.kind == "cache entry")
            a.problems.push_back(a.netns_state == "gone"
                                     ? "cache entry whose netns " + a.netns + " is gone"
                                     : "cache entry with no netns and no veth");
          else
            a.problems.push_back(o.kind + " " + o.name + " whose veth is gone");
        }
      } else {
        if (w.veth && !w.reservation && a.container_addrs.empty() && !a.container_if.empty())
          a.problems.push_back("veth with no IP");
        if (w.reservation && a.container_if.empty() && !a.netns.empty())
          a.problems.push_back("IP reserved but no " + a.owner.ifname + " in " + a.netns);
        if (!w.cached && cached_networks_.count(a.owner.network))
          a.problems.push_back(
              "no cache entry: an ADD that did not finish, or a runtime that keeps no cache");
      }
      for (const auto& p : a.problems)
        report_.inconsistencies.push_back(owner_text(a.owner) + ": " + p);
      report_.attachments.push_back(std::move(a));
    }
  }

  void read_run_dir() {
    for (const auto& e : list_dir(places_.run_dir)) report_.run_files.push_back(e.path().string());
  }

  const Places& places_;
  const Filter& filter_;
  Report report_;
  std::map<Key, Work> at_;
  std::map<Key, std::string> host_veth_;
  std::map<int, std::vector<std::string>> qdiscs_;
  std::map<std::string, std::string> reference_ifbs_;  // name -> detail
  std::vector<std::pair<std::string, std::string>>
      reference_chains_;  // chain -> "family table chain"
  std::set<std::string> cached_networks_;
};

cni::json object_json(const Object& o) {
  cni::json j = {{"kind", o.kind}, {"name", o.name}, {"creator", o.creator}};
  if (!o.detail.empty()) j["detail"] = o.detail;
  if (o.owner) {
    j["network"] = o.owner->network;
    j["containerID"] = o.owner->container_id;
    j["ifname"] = o.owner->ifname;
  }
  return j;
}

}  // namespace

Report inspect(const Places& places, const Filter& filter) {
  return Collector(places, filter).run();
}

cni::json to_json(const Report& r) {
  cni::json out = {{"attachments", cni::json::array()},
                   {"orphans", cni::json::array()},
                   {"inconsistencies", r.inconsistencies},
                   {"unowned", cni::json::array()},
                   {"runDir", r.run_files},
                   {"notes", r.notes}};
  for (const auto& a : r.attachments) {
    cni::json j = {{"network", a.owner.network},
                   {"containerID", a.owner.container_id},
                   {"ifname", a.owner.ifname},
                   {"live", a.live},
                   {"netns", {{"path", a.netns}, {"state", a.netns_state}}},
                   {"objects", cni::json::array()},
                   {"problems", a.problems}};
    if (!a.container_if.empty())
      j["containerInterface"] = {{"name", a.container_if}, {"addresses", a.container_addrs}};
    for (const auto& o : a.objects) j["objects"].push_back(object_json(o));
    out["attachments"].push_back(std::move(j));
  }
  for (const auto& o : r.orphans) out["orphans"].push_back(object_json(o));
  for (const auto& o : r.unowned) out["unowned"].push_back(object_json(o));
  return out;
}

std::string to_table(const Report& r) {
  std::string s;
  auto line = [&s](const std::string& x) { s += x + "\n"; };
  line("ATTACHMENTS (" + std::to_string(r.attachments.size()) + ")");
  for (const auto& a : r.attachments) {
    line("  " + owner_text(a.owner) + (a.live ? "  live" : "  DEAD"));
    line("    netns      " + (a.netns.empty() ? "-" : a.netns) + " (" + a.netns_state + ")");
    if (!a.container_if.empty()) {
      std::string addrs;
      for (const auto& x : a.container_addrs) addrs += " " + x;
      line("    interface  " + a.container_if + (addrs.empty() ? " (no address)" : addrs));
    }
    for (const auto& o : a.objects)
      line("    " + o.kind + ": " + o.name + " [" + o.creator + "]" +
           (o.detail.empty() ? "" : " " + o.detail));
    for (const auto& p : a.problems) line("    ! " + p);
  }
  line("ORPHANS (" + std::to_string(r.orphans.size()) + "): what GC would remove");
  for (const auto& o : r.orphans)
    line("  " + o.kind + ": " + o.name + " [" + o.creator + "]" +
         (o.owner ? " of " + owner_text(*o.owner) : "") + (o.detail.empty() ? "" : " " + o.detail));
  line("INCONSISTENCIES (" + std::to_string(r.inconsistencies.size()) + ")");
  for (const auto& i : r.inconsistencies) line("  " + i);
  if (!r.unowned.empty()) {
    line("NOT KNET'S, OWNER UNKNOWN (" + std::to_string(r.unowned.size()) + ")");
    for (const auto& o : r.unowned)
      line("  " + o.kind + ": " + o.name + " [" + o.creator + "] " + o.detail);
  }
  for (const auto& n : r.notes) line("note: " + n);
  return s;
}

}  // namespace knet::inspect
