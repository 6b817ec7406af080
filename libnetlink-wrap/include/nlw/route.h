#pragma once
// Routes in the main or any other table.

#include <base/ip.h>
#include <nlw/socket.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nlw {

// One route. `dst` is masked to its network when sent; 0.0.0.0/0 or ::/0 is
// the default route.
struct RouteSpec {
  knet::IPNet dst{};
  std::optional<knet::IP> gw{};
  int oif = 0;                         // output ifindex, 0 = let the kernel pick via gw
  bool onlink = false;                 // gw is reachable on oif without a covering route
  std::optional<uint32_t> priority{};  // metric
  std::optional<uint32_t> table{};     // RT_TABLE_MAIN when unset
  std::optional<uint32_t> mtu{};       // RTAX_MTU
  std::optional<uint32_t> advmss{};    // RTAX_ADVMSS
  std::optional<knet::IP> src{};        // preferred source address
  std::optional<int> scope{};          // link scope without gw, universe with gw when unset
  std::optional<int> protocol{};       // RTPROT_BOOT when unset
  int type = 1;                        // RTN_UNICAST

  // "0.0.0.0/0 via 10.1.0.1 dev 3 table 100": how error messages name a route.
  std::string describe() const;
};

// Adds `r`; with `replace` an existing route with the same key is replaced
// (NLM_F_REPLACE) instead of failing with nlw::Exists.
void add_route(Socket& sock, const RouteSpec& r, bool replace = false);
// Deletes the route matching `r` (dst, table and whatever else is set); false
// if there was none.
bool del_route(Socket& sock, const RouteSpec& r);
// Routes of `family` (AF_INET, AF_INET6, 0 = both) in `table` (0 = every
// table). Local/broadcast/multicast routes of the kernel's local table are
// included only when table is RT_TABLE_LOCAL or 0.
std::vector<RouteSpec> list_routes(Socket& sock, int family, uint32_t table = 254);
// The same passed to `fn` one by one as they are read; `restart` is called
// before every attempt of the dump (see nlw::for_each_neigh).
void for_each_route(Socket& sock, int family, uint32_t table,
                    const std::function<void(const RouteSpec&)>& fn,
                    const std::function<void()>& restart);
// add_route and del_route queued on a Batch (see nlw/socket.h); the delete
// accepts a route that is already gone, the add what `accept` says.
void add_route(Batch& batch, const RouteSpec& r, bool replace = false,
               unsigned accept = Batch::kAcceptNone);
void del_route(Batch& batch, const RouteSpec& r);
// The ifindex of the main-table default route of `family` with the lowest
// metric, or nullopt if there is none; the default master for macvlan/vxlan.
std::optional<int> default_route_link(Socket& sock, int family);

}  // namespace nlw
