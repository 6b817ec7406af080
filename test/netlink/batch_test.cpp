// nlw::Batch against the kernel: requests in windows, acks matched to them,
// a failure in the middle named while everything else is applied.

#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "fixture.h"
#include "nlw/error.h"
#include "nlw/link.h"
#include "nlw/neigh.h"
#include "nlw/route.h"

namespace knet::test {
namespace {

class BatchTest : public VxlanDeviceTest {
 protected:
  long count_routes() {
    auto rs = nlw::list_routes(sock, AF_INET);
    return std::count_if(rs.begin(), rs.end(), [&](const nlw::RouteSpec& r) { return r.oif == vx; });
  }
};

// 3 x 400 requests (several windows); one route in the middle whose gateway
// is unreachable and one neighbour on a missing device. Everything else is
// applied; the error names both failures, the first in full.
TEST_F(BatchTest, EveryRequestIsTriedAndTheFailureNamesItsObject) {
  constexpr int kPeers = 400;
  nlw::Batch batch(sock);
  for (int i = 0; i < kPeers; ++i) {
    nlw::add_fdb(batch, vx, mac(i), knet::IP::parse("198.18.0." + std::to_string(i % 250 + 1)));
    nlw::add_neigh(batch, vx, overlay(i), mac(i));
    nlw::add_route(batch, route(i), true);
    if (i == kPeers / 2) {
      // No onlink, no route to the gateway: the kernel refuses it.
      nlw::add_route(batch, {.dst = *knet::IPNet::parse("10.9.0.0/24"),
                             .gw = knet::IP::parse("10.8.0.1")});
      nlw::add_neigh(batch, 9999, *knet::IP::parse("10.7.0.1"), "02:00:00:00:00:01");
    }
  }
  std::string err;
  try {
    batch.finish();
  } catch (const nlw::NotFound&) {
    FAIL() << "classified by the second failure, not the first";
  } catch (const nlw::Error& e) {
    err = e.msg();
  }
  EXPECT_EQ(batch.sent(), 3u * kPeers + 2);
  EXPECT_EQ(err.rfind("failed to add route 10.9.0.0/24 via 10.8.0.1 in " + sb.host(), 0), 0u)
      << err;
  EXPECT_NE(err.find("unreachable"), std::string::npos) << err;
  EXPECT_NE(err.find("1 more of the batch's 1202 requests failed too: failed to add neighbour "
                     "10.7.0.1 lladdr 02:00:00:00:00:01 on ifindex 9999"),
            std::string::npos)
      << err;
  EXPECT_EQ(sock.last_errno(), ENETUNREACH);

  EXPECT_EQ(nlw::list_neighs(sock, vx, AF_INET).size(), size_t(kPeers));
  auto fdb = nlw::list_fdb(sock, vx);
  EXPECT_EQ(std::count_if(fdb.begin(), fdb.end(), [](const nlw::FdbEntry& e) { return e.dst; }),
            kPeers);
  EXPECT_EQ(count_routes(), kPeers);

  // The socket's own requests still get their own acks afterwards.
  nlw::add_neigh(sock, vx, *knet::IP::parse("10.201.0.1"), "02:00:00:01:00:01");
  EXPECT_TRUE(nlw::del_neigh(sock, vx, *knet::IP::parse("10.201.0.1")));
  EXPECT_THROW(nlw::add_route(sock, route(0)), nlw::Exists);
}

// Deletes of what is gone and, when asked, adds of what exists are success;
// the deletes remove what is there.
TEST_F(BatchTest, AcceptedFailuresAreSuccess) {
  nlw::add_neigh(sock, vx, overlay(1), mac(1));
  nlw::add_route(sock, route(1));
  nlw::add_route(sock, route(3));

  nlw::Batch batch(sock);
  nlw::add_route(batch, route(3), false, nlw::Batch::kAcceptExists);
  nlw::del_neigh(batch, vx, overlay(1));
  nlw::del_neigh(batch, vx, overlay(2));  // never there
  nlw::del_fdb(batch, vx, mac(2), knet::IP::parse("198.18.1.2"));
  nlw::del_route(batch, route(1));
  nlw::del_route(batch, route(2));
  EXPECT_NO_THROW(batch.finish());
  EXPECT_EQ(batch.sent(), 6u);
  EXPECT_TRUE(nlw::list_neighs(sock, vx, AF_INET).empty());
  EXPECT_EQ(count_routes(), 1);

  // Without the acceptance the same add is an error, classified as its own would be.
  nlw::Batch strict(sock);
  nlw::add_route(strict, route(3));
  EXPECT_THROW(strict.finish(), nlw::Exists);
  nlw::Batch missing(sock);
  nlw::add_neigh(missing, 9999, overlay(3), mac(3));
  EXPECT_THROW(missing.finish(), nlw::NotFound);
}

// A batch dropped before finish() sends nothing more, and leaves no ack
// behind to confuse the socket's next request.
TEST_F(BatchTest, DroppedBatchLeavesTheSocketUsable) {
  {
    nlw::Batch batch(sock);
    for (int i = 0; i < 300; ++i) nlw::add_neigh(batch, vx, overlay(i), mac(i));
    // More than a window: the first window went out when the queue filled.
    EXPECT_EQ(batch.sent(), nlw::Batch::kWindow);
  }
  EXPECT_EQ(nlw::list_neighs(sock, vx, AF_INET).size(), nlw::Batch::kWindow);
  nlw::add_route(sock, route(0));
  EXPECT_EQ(count_routes(), 1);
}

}  // namespace
}  // namespace knet::test
