#pragma once
// What `knet inspect` reads and how it judges it: every attachment
// (network, container ID, ifname) that some object on the node names, the
// objects of attachments that are no longer alive (the orphans GC would
// remove), and what does not add up. Reading only: no lock is taken, no file
// is written, no kernel object is changed.

#include <base/owner.h>
#include <cni/json.h>

#include <optional>
#include <string>
#include <vector>

namespace knet::inspect {

struct Places {
  std::string data_dir = "/var/lib/cni/networks";  // host-local's dataDir
  std::string cache_dir = "/var/lib/cni";          // the runtime's cache (results/ under it)
  std::string run_dir = "/run/knet";               // knet's locks and the vxlan peersFile
  std::string netns_dir = "/var/run/netns";        // named network namespaces
};

struct Filter {
  std::string network;    // empty: all
  std::string container;  // empty: all
};

// One object on the node: a link, a chain, a reservation file, a cache entry.
struct Object {
  std::string
      kind;  // "veth", "ifb", "nft chain", "iptables chain", "ip reservation", "cache entry", ...
  std::string name;                    // the link / chain name, the address, the file
  std::string creator;                 // "knet" or "reference" (the containernetworking plugins)
  std::string detail;                  // bridge, qdiscs, rules: free text
  std::optional<knet::Owner> owner{};  // set when known
};

struct Attachment {
  knet::Owner owner;
  std::string netns;                         // path, "" if unknown
  std::string netns_state;                   // "exists", "gone", "unknown"
  std::string container_if;                  // name, "" if not seen
  std::vector<std::string> container_addrs;  // its addresses
  std::vector<Object> objects;               // host-side objects of this attachment
  bool live = false;
  std::vector<std::string> problems;
};

struct Report {
  std::vector<Attachment> attachments;
  std::vector<Object> orphans;  // objects of dead attachments and half-made ones
  std::vector<std::string> inconsistencies;
  std::vector<Object> unowned;         // objects knet recognises but cannot tie to an attachment
  std::vector<std::string> run_files;  // what the run dir holds (locks, peers files)
  std::vector<std::string> notes;      // what could not be read
};

Report inspect(const Places& places, const Filter& filter);

cni::json to_json(const Report& r);
std::string to_table(const Report& r);

}  // namespace knet::inspect
