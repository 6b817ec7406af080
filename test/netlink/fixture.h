#pragma once
// A sandbox "host" namespace with an rtnetlink socket in it: the starting
// point of every wrapper test.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "nlw/error.h"
#include "nlw/link.h"
#include "nlw/route.h"
#include "nlw/netns.h"
#include "nlw/socket.h"
#include "sandbox.h"

namespace knet::test {

class NetlinkTest : public ::testing::Test {
 protected:
  Sandbox sb;
  nlw::NetNS host = nlw::NetNS::open(sb.host());
  nlw::Socket sock = nlw::Socket::in(host);
};

// A vxlan device "vxlan1" (vni 1, local 192.0.2.1, up) in the sandbox host,
// and the i-th of a few thousand distinct peers for it: overlay address
// 10.200.x.y, MAC 02:00:00:00:x:y, subnet 10.<100 + i / 256>.<i % 256>.0/24.
class VxlanDeviceTest : public NetlinkTest {
 protected:
  void SetUp() override {
    // An onlink gateway is checked against the local table, which needs lo up.
    nlw::set_up(sock, nlw::get_link(sock, "lo").index);
    vx = nlw::create_vxlan(sock, "vxlan1", {.vni = 1, .local = knet::IP::parse("192.0.2.1")}).index;
    nlw::set_up(sock, vx);
  }

  static knet::IP overlay(int i) {
    return *knet::IP::parse("10.200." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  }
  static std::string mac(int i) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "02:00:00:00:%02x:%02x", (i / 256) & 0xff, i & 0xff);
    return buf;
  }
  static knet::IPNet subnet(int i) {
    return *knet::IPNet::parse("10." + std::to_string(100 + i / 256) + "." +
                              std::to_string(i % 256) + ".0/24");
  }
  nlw::RouteSpec route(int i) const {
    return {.dst = subnet(i), .gw = overlay(i), .oif = vx, .onlink = true};
  }

  int vx = 0;
};

// The message of the knet::Error `f` throws, or "" if it throws nothing.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const knet::Error& e) {
    return e.msg();
  }
  return "";
}

}  // namespace knet::test
