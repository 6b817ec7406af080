// Hostile input for loopback (see hostile.h): it has no keys of its own,
// so only the cases every plugin shares.

#include "hostile.h"

namespace knet::test::rel {
namespace {

TEST_F(Hostile, Loopback) {
  const json base = {{"cniVersion", "1.0.0"}, {"name", "hostile"}, {"type", "loopback"}};
  expect_rejected("loopback", base, common_cases(base, true, regular_file()));
  expect_accepted("loopback", base);
}

}  // namespace
}  // namespace knet::test::rel
