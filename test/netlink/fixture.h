#pragma once
// A sandbox "host" namespace with an rtnetlink socket in it: the starting
// point of every wrapper test.

#include <gtest/gtest.h>

#include <string>

#include "nlw/error.h"
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
