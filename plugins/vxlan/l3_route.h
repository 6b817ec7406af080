#pragma once
// The route an l3 node gets on the VXLAN device: shared by reconcile
// (overlay.cpp) and apply_delta (delta.cpp), which must add and delete the
// very same routes.

#include <nlw/route.h>

#include <cstdint>
#include <optional>

#include "config.h"

namespace knet::vxlan {

// The metric of an IPv4 node route: 0-255, a fold of the subnet's bytes.
// Why not one metric for all: the kernel shares a fib_info between IPv4
// routes alike in protocol, scope, preferred source, metric and device, and
// finds it through a hash of exactly those, searching the bucket linearly. Node
// routes differ only in dst and gateway, so with one metric they all share a
// bucket and adding n of them costs O(n^2): 0.55 s of kernel time for 5,000
// (ip -batch, 0.70 s against 0.15 s with 64 metrics). Spread over 256
// metrics the bucket is 256 times shorter. A metric only orders routes to the
// same prefix, and each node's subnet has one route here. IPv6 routes do not
// share such state and keep the kernel's default.
inline std::optional<uint32_t> l3_metric(const knet::IPNet& subnet) {  // network form
  if (!subnet.ip.is_v4()) return std::nullopt;
  uint32_t h = 0;
  for (size_t i = 0; i < subnet.ip.size(); ++i) h = h * 31 + subnet.ip.bytes[i];
  return h & 0xff;
}

inline nlw::RouteSpec l3_route(const Node& n, int dev_index) {
  nlw::RouteSpec r;
  r.dst = n.subnet;
  r.gw = overlay_ip(n);
  r.oif = dev_index;
  r.onlink = true;
  r.priority = l3_metric(n.subnet);
  return r;
}

}  // namespace knet::vxlan
