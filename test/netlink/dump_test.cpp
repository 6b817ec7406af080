// The wrapper's dump reader against the kernel: thousands of routes,
// neighbours and FDB entries read over many reads, each entry once; a reader
// that throws leaves the socket usable.

#include <linux/neighbour.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "fixture.h"
#include "nlw/link.h"
#include "nlw/neigh.h"
#include "nlw/route.h"

namespace knet::test {
namespace {

class DumpTest : public VxlanDeviceTest {
 protected:
  // Enough entries of each kind for ~10 reads of 32 KiB per dump.
  static constexpr int kEntries = 3000;

  void SetUp() override {
    VxlanDeviceTest::SetUp();
    nlw::Batch batch(sock);
    for (int i = 0; i < kEntries; ++i) {
      nlw::add_route(batch, route(i));
      nlw::add_neigh(batch, vx, overlay(i), mac(i));
      nlw::add_fdb(batch, vx, mac(i), knet::IP::parse("198.18." + std::to_string(i / 256) + "." +
                                                      std::to_string(i % 256)));
    }
    batch.finish();
  }
};

TEST_F(DumpTest, ThousandsOfEachKindReadOnceOverManyReads) {
  int restarts = 0;
  std::set<std::string> routes, neighs, fdb;
  size_t route_calls = 0, neigh_calls = 0, fdb_calls = 0;
  nlw::for_each_route(
      sock, AF_INET, 254,
      [&](const nlw::RouteSpec& r) {
        if (r.oif != vx || !r.gw) return;
        ++route_calls;
        routes.insert(r.dst.str() + " via " + r.gw->str());
      },
      [&] { ++restarts; });
  nlw::for_each_neigh(
      sock, vx, 0,
      [&](const nlw::NeighView& n) {
        if (!(n.state & NUD_PERMANENT)) return;
        ++neigh_calls;
        neighs.insert(n.ip->str() + " " + n.mac());
      },
      [&] { ++restarts; });
  nlw::for_each_fdb(
      sock, vx,
      [&](const nlw::NeighView& e) {
        if (!(e.flags & NTF_SELF) || !e.ip) return;
        ++fdb_calls;
        fdb.insert(e.mac() + " " + e.ip->str());
      },
      [&] { ++restarts; });
  // One call per attempt, no attempt repeated on an idle namespace.
  EXPECT_EQ(restarts, 3);
  EXPECT_EQ(route_calls, static_cast<size_t>(kEntries));
  EXPECT_EQ(neigh_calls, static_cast<size_t>(kEntries));
  EXPECT_EQ(fdb_calls, static_cast<size_t>(kEntries));
  for (int i : {0, 1, kEntries / 2, kEntries - 1}) {
    EXPECT_TRUE(routes.count(subnet(i).str() + " via " + overlay(i).str())) << i;
    EXPECT_TRUE(neighs.count(overlay(i).str() + " " + mac(i))) << i;
  }
  EXPECT_EQ(routes.size(), static_cast<size_t>(kEntries));
  EXPECT_EQ(neighs.size(), static_cast<size_t>(kEntries));
  EXPECT_EQ(fdb.size(), static_cast<size_t>(kEntries));
  // The vector forms list the same, and iproute2 agrees on the count.
  auto listed = nlw::list_neighs(sock, vx);
  EXPECT_EQ(std::count_if(listed.begin(), listed.end(), [](const nlw::NeighInfo& n) { return n.permanent(); }),
            kEntries);
  auto entries = nlw::list_fdb(sock, vx);
  EXPECT_EQ(std::count_if(entries.begin(), entries.end(), [](const nlw::FdbEntry& e) { return e.self && e.dst; }),
            kEntries);
  auto shown = sb.exec_in(sb.host(), "ip -4 route show dev vxlan1 | grep -c via");
  EXPECT_EQ(shown.out, std::to_string(kEntries) + "\n");
  // A libnl request right after the dumps gets its own reply.
  EXPECT_EQ(nlw::get_link(sock, "vxlan1").index, vx);
}

// An exception from the reader is thrown after the rest of the dump is read
// (the reader sees nothing more): the next dump and request on the socket
// get their own replies.
TEST_F(DumpTest, ThrowingReaderLeavesTheSocketUsable) {
  int seen = 0;
  EXPECT_THROW(nlw::for_each_fdb(
                   sock, vx,
                   [&](const nlw::NeighView&) {
                     if (++seen == 10) throw std::runtime_error("reader gives up");
                   },
                   [] {}),
               std::runtime_error);
  EXPECT_EQ(seen, 10);
  // libnl's own request first: it must not meet the rest of the dump.
  EXPECT_EQ(nlw::get_link(sock, "vxlan1").index, vx);
  auto entries = nlw::list_fdb(sock, vx);
  EXPECT_EQ(std::count_if(entries.begin(), entries.end(), [](const nlw::FdbEntry& e) { return e.self && e.dst; }),
            kEntries);
}

// A dump of a device that does not exist is empty (the kernel filters by
// index without looking the device up), read to its end in one read.
TEST_F(DumpTest, UnknownDeviceListsNothing) {
  EXPECT_TRUE(nlw::list_fdb(sock, 999999).empty());
  EXPECT_TRUE(nlw::list_neighs(sock, 999999).empty());
  EXPECT_EQ(nlw::get_link(sock, "vxlan1").index, vx);
}

}  // namespace
}  // namespace knet::test
