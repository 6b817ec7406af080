// knet's host-local binary against temporary dataDirs: every verb, requested
// addresses, bad input leaving nothing behind, and 50 parallel ADDs.

#include <cni/file.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "hl.h"

namespace knet::test::host_local {
namespace {

class HostLocal : public ::testing::Test {
 protected:
  TempDir data;
  std::string dir() const { return data.path() + "/hlnet"; }
  json single(const std::string& subnet = "10.10.0.0/24") {
    return conf(data.path(), {{"subnet", subnet}});
  }
};

TEST_F(HostLocal, AddGivesOneAddressPerRangeSetWithGatewayRoutesAndDns) {
  std::string rc = data.path() + "/resolv.conf";
  std::ofstream(rc) << "nameserver 192.0.2.53\nsearch a.test\ndomain d.test\noptions ndots:3\n";
  json c =
      conf(data.path(),
           {{"ranges", {{{{"subnet", "10.10.0.0/24"}}}, {{{"subnet", "fd00:10::/64"}}}}},
            {"routes", {{{"dst", "0.0.0.0/0"}}, {{"dst", "192.0.2.0/24"}, {"gw", "10.10.0.9"}}}},
            {"resolvConf", rc}});
  RunResult r = run(knet(), "ADD", c);
  ASSERT_EQ(r.code, 0) << describe(r);
  json want = json::parse(R"({
    "cniVersion": "1.1.0",
    "ips": [{"address": "10.10.0.2/24", "gateway": "10.10.0.1"},
            {"address": "fd00:10::2/64", "gateway": "fd00:10::1"}],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.0.2.0/24", "gw": "10.10.0.9"}],
    "dns": {"nameservers": ["192.0.2.53"], "domain": "d.test", "search": ["a.test"], "options": ["ndots:3"]}})");
  EXPECT_EQ(*r.json, want);
  EXPECT_EQ(slurp(dir() + "/10.10.0.2"), "c1\r\neth0");
  EXPECT_EQ(slurp(dir() + "/fd00:10::2"), "c1\r\neth0");
}

TEST_F(HostLocal, OlderVersionsGetTheirShape) {
  RunResult r =
      run(knet(), "ADD", conf(data.path(), {{"subnet", "10.10.0.0/24"}}, "hlnet", "0.3.1"));
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_EQ((*r.json)["ips"][0]["version"], "4");
  EXPECT_FALSE((*r.json)["ips"][0].contains("interface"));
}

TEST_F(HostLocal, ReAddReturnsTheExistingAllocation) {
  RunResult a = run(knet(), "ADD", single());
  RunResult b = run(knet(), "ADD", single());
  ASSERT_EQ(b.code, 0) << describe(b);
  EXPECT_EQ(*a.json, *b.json);
  // Another interface of the same container is another owner.
  RunResult c = run(knet(), "ADD", single(), "c1", "net1");
  EXPECT_EQ(ip_of(c), "10.10.0.3");
  EXPECT_EQ(files(dir()).size(), 5u);  // two addresses, last_reserved_ip.0, lock, knet.index
}

TEST_F(HostLocal, DelReleasesAndIsIdempotent) {
  ASSERT_EQ(run(knet(), "ADD", single()).code, 0);
  RunResult d = run(knet(), "DEL", single());
  ASSERT_EQ(d.code, 0) << describe(d);
  EXPECT_EQ(d.out, "");
  EXPECT_EQ(files(dir()), (std::set<std::string>{"last_reserved_ip.0", "lock"}));
  EXPECT_EQ(run(knet(), "DEL", single()).code, 0);
  EXPECT_EQ(run(knet(), "DEL", single(), "never-added").code, 0);
  // A DEL on a network that was never used creates nothing.
  json other = conf(data.path(), {{"subnet", "10.11.0.0/24"}}, "other");
  EXPECT_EQ(run(knet(), "DEL", other).code, 0);
  EXPECT_FALSE(std::filesystem::exists(data.path() + "/other"));
}

TEST_F(HostLocal, AllocationIsRoundRobin) {
  json c = conf(data.path(), {{"subnet", "10.10.0.0/29"}});  // .2 - .6
  std::vector<std::string> got;
  for (int i = 0; i < 7; ++i) {
    std::string cid = "c" + std::to_string(i);
    RunResult r = run(knet(), "ADD", c, cid);
    ASSERT_EQ(r.code, 0) << describe(r);
    got.push_back(ip_of(r));
    ASSERT_EQ(run(knet(), "DEL", c, cid).code, 0);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"10.10.0.2", "10.10.0.3", "10.10.0.4", "10.10.0.5",
                                           "10.10.0.6", "10.10.0.2", "10.10.0.3"}));
}

TEST_F(HostLocal, RequestedAddresses) {
  json c = conf(data.path(),
                {{"ranges", {{{{"subnet", "10.10.0.0/24"}}}, {{{"subnet", "fd00:10::/64"}}}}}});
  RunResult r = run(knet(), "ADD", c, "c1", "eth0", "IP=10.10.0.50,fd00:10::50");
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_EQ(ip_of(r, 0), "10.10.0.50");
  EXPECT_EQ(ip_of(r, 1), "fd00:10::50");
  // Taken.
  RunResult taken = run(knet(), "ADD", c, "c2", "eth0", "IP=10.10.0.50");
  EXPECT_NE(taken.code, 0);
  EXPECT_NE(taken.out.find("10.10.0.50"), std::string::npos) << taken.out;
  // From the config's args and runtimeConfig.
  json c3 = c;
  c3["args"] = {{"cni", {{"ips", {"10.10.0.60"}}}}};
  c3["runtimeConfig"] = {{"ips", {"fd00:10::60/64"}}};
  RunResult r3 = run(knet(), "ADD", c3, "c3");
  ASSERT_EQ(r3.code, 0) << describe(r3);
  EXPECT_EQ(ip_of(r3, 0), "10.10.0.60");
  EXPECT_EQ(ip_of(r3, 1), "fd00:10::60");
  auto before = files(dir());
  for (std::string bad : {"IP=10.99.0.1", "IP=10.10.0.70,10.10.0.71", "IP=10.10.0.1"}) {
    RunResult e = run(knet(), "ADD", c, "c4", "eth0", bad);
    EXPECT_EQ(e.code, 1) << bad;
    EXPECT_EQ((*e.json)["code"], 7) << bad << ": " << e.out;
  }
  EXPECT_EQ(files(dir()), before);  // a failed ADD reserved nothing
}

TEST_F(HostLocal, CheckComparesTheStoreWithPrevResult) {
  RunResult a = run(knet(), "ADD", single());
  ASSERT_EQ(a.code, 0);
  json c = single();
  c["prevResult"] = *a.json;
  EXPECT_EQ(run(knet(), "CHECK", c).code, 0);
  json wrong = c;
  wrong["prevResult"]["ips"][0]["address"] = "10.10.0.77/24";
  RunResult w = run(knet(), "CHECK", wrong);
  EXPECT_NE(w.code, 0);
  EXPECT_NE(w.out.find("10.10.0.77"), std::string::npos) << w.out;
  RunResult unknown = run(knet(), "CHECK", c, "nobody");
  EXPECT_NE(unknown.code, 0);
  EXPECT_EQ((*unknown.json)["code"], 3);
}

TEST_F(HostLocal, GcReleasesEveryUnlistedAttachment) {
  for (const char* cid : {"keep", "drop1", "drop2"})
    ASSERT_EQ(run(knet(), "ADD", single(), cid).code, 0);
  ASSERT_EQ(run(knet(), "ADD", single(), "keep", "net1").code, 0);
  json c = single();
  c["cni.dev/valid-attachments"] = {{{"containerID", "keep"}, {"ifname", "eth0"}},
                                    {{"containerID", "drop1"}, {"ifname", "net9"}}};
  RunResult g = run(knet(), "GC", c, "");
  ASSERT_EQ(g.code, 0) << describe(g);
  std::set<std::string> held;
  for (const auto& f : files(dir()))
    if (knet::IP::parse(f)) held.insert(slurp(dir() + "/" + f));
  EXPECT_EQ(held, std::set<std::string>{"keep\r\neth0"});
  // The released addresses are free again.
  EXPECT_EQ(run(knet(), "ADD", single(), "new").code, 0);
}

// Container IDs have no length limit but their charset: an owner file of any
// length is read whole, so re-ADD, CHECK, GC and DEL all see the same owner.
TEST_F(HostLocal, LongContainerIdsKeepOneAddress) {
  for (size_t len : {size_t{4} << 10, size_t{100} << 10}) {
    SCOPED_TRACE(std::to_string(len) + "-byte container ID");
    std::string cid = "x" + std::string(len - 1, 'a');
    RunResult a = run(knet(), "ADD", single(), cid);
    ASSERT_EQ(a.code, 0) << describe(a).substr(0, 300);
    RunResult again = run(knet(), "ADD", single(), cid);
    ASSERT_EQ(again.code, 0) << describe(again).substr(0, 300);
    EXPECT_EQ(ip_of(again), ip_of(a));
    json ck = single();
    ck["prevResult"] = *a.json;
    RunResult c = run(knet(), "CHECK", ck, cid);
    EXPECT_EQ(c.code, 0) << describe(c).substr(0, 300);
    // GC with the attachment listed keeps it.
    ASSERT_EQ(run(knet(), "ADD", single(), "short").code, 0);
    json gc = single();
    gc["cni.dev/valid-attachments"] = {{{"containerID", cid}, {"ifname", "eth0"}}};
    RunResult g = run(knet(), "GC", gc, "");
    ASSERT_EQ(g.code, 0) << describe(g).substr(0, 300);
    std::vector<std::string> held;
    for (const auto& f : files(dir()))
      if (knet::IP::parse(f)) held.push_back(f);
    EXPECT_EQ(held, std::vector<std::string>{ip_of(a)});
    EXPECT_TRUE(slurp(dir() + "/" + ip_of(a)) == cid + "\r\neth0") << "owner file changed";
    RunResult d = run(knet(), "DEL", single(), cid);
    ASSERT_EQ(d.code, 0) << describe(d).substr(0, 300);
    EXPECT_EQ(files(dir()), (std::set<std::string>{"last_reserved_ip.0", "lock"}));
  }
}

// The address file is linked before last_reserved_ip.<set> is written; when
// that write fails, the ADD fails with a CNI error and keeps no address, in
// the failing set or in an earlier one.
TEST_F(HostLocal, FailedLastReservedWriteKeepsNoAddress) {
  json two = conf(data.path(),
                  {{"ranges", {{{{"subnet", "10.10.0.0/24"}}}, {{{"subnet", "fd00:10::/64"}}}}}});
  for (const char* blocked : {"last_reserved_ip.0", "last_reserved_ip.1"}) {
    SCOPED_TRACE(blocked);
    std::filesystem::remove_all(dir());
    std::filesystem::create_directories(dir() + "/" + blocked);  // not writable as a file
    RunResult r = run(knet(), "ADD", two);
    EXPECT_EQ(r.code, 1) << describe(r);
    ASSERT_TRUE(r.json) << describe(r);
    EXPECT_EQ((*r.json)["code"], 5) << r.out;
    EXPECT_NE(r.out.find(blocked), std::string::npos) << r.out;
    for (const auto& f : files(dir())) EXPECT_FALSE(knet::IP::parse(f)) << "left behind: " << f;
    // Once the path is writable again, the same ADD works and DEL frees it.
    std::filesystem::remove(dir() + "/" + blocked);
    ASSERT_EQ(run(knet(), "ADD", two).code, 0);
    ASSERT_EQ(run(knet(), "DEL", two).code, 0);
    for (const auto& f : files(dir())) EXPECT_FALSE(knet::IP::parse(f)) << "left behind: " << f;
  }
}

// ipam.resolvConf is read only if it is a regular file within the cap: a FIFO
// neither blocks the ADD nor is read, a device or a huge file is refused, and
// the error names the key, the path and the reason; nothing is reserved.
TEST_F(HostLocal, ResolvConfMustBeASmallRegularFile) {
  std::string fifo = data.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string big = data.path() + "/big.conf";
  {
    std::ofstream out(big);
    std::string line = "nameserver 192.0.2.53\n";
    for (size_t n = 0; n <= cni::kMaxResolvConfBytes; n += line.size()) out << line;
  }
  std::vector<std::pair<std::string, std::string>> bad = {
      {fifo, "FIFO"},
      {"/dev/zero", "character device"},
      {data.path(), "directory"},
      {big, "limit"},
      {data.path() + "/missing", "No such file"}};
  for (const auto& [path, why] : bad) {
    RunResult r =
        run(knet(), "ADD", conf(data.path(), {{"subnet", "10.10.0.0/24"}, {"resolvConf", path}}));
    EXPECT_FALSE(r.timed_out) << path;
    EXPECT_EQ(r.code, 1) << path << ": " << describe(r);
    ASSERT_TRUE(r.json) << path << ": " << describe(r);
    EXPECT_EQ((*r.json)["code"], 5) << r.out;
    std::string msg = (*r.json)["msg"];
    for (const std::string& part : {std::string("ipam.resolvConf"), path, why})
      EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
  for (const auto& f : files(dir())) EXPECT_FALSE(knet::IP::parse(f)) << "left behind: " << f;
}

TEST_F(HostLocal, StatusFailsOnlyWhenARangeSetIsExhausted) {
  json c = conf(data.path(),
                {{"ranges", {{{{"subnet", "10.10.0.0/30"}}}, {{{"subnet", "fd00:10::/64"}}}}}});
  RunResult s = run(knet(), "STATUS", c, "");
  EXPECT_EQ(s.code, 0) << describe(s);
  EXPECT_FALSE(std::filesystem::exists(dir()));
  ASSERT_EQ(run(knet(), "ADD", c).code, 0);
  s = run(knet(), "STATUS", c, "");
  ASSERT_EQ(s.code, 1) << describe(s);
  EXPECT_EQ((*s.json)["code"], 50);
  // The exhausted set makes ADD fail, and the failed ADD keeps no IPv6 address.
  auto before = files(dir());
  EXPECT_NE(run(knet(), "ADD", c, "c2").code, 0);
  EXPECT_EQ(files(dir()), before);
  ASSERT_EQ(run(knet(), "DEL", c).code, 0);
  EXPECT_EQ(run(knet(), "STATUS", c, "").code, 0);
}

TEST_F(HostLocal, BadInputFailsAndCreatesNothing) {
  std::vector<std::pair<json, std::string>> bad = {
      {{{"subnet", "10.10.0.0/33"}}, "ipam.subnet"},
      {{{"subnet", "10.10.0.0"}}, "ipam.subnet"},
      {{{"subnet", "10.10.0.0/24"}, {"gateway", "10.20.0.1"}}, "ipam.gateway"},
      {{{"subnet", "10.10.0.0/24"}, {"rangeStart", "10.10.0.9"}, {"rangeEnd", "10.10.0.8"}},
       "rangeEnd"},
      {{{"ranges", {{{{"subnet", "10.10.0.0/24"}}}, {{{"subnet", "10.10.0.128/25"}}}}}},
       "overlaps"},
      {{{"ranges", {{{{"subnet", "fd00::/129"}}}}}}, "ipam.ranges[0][0].subnet"},
      {{{"routes", "x"}, {"subnet", "10.10.0.0/24"}}, "ipam.routes"},
  };
  for (const auto& [ipam, key] : bad) {
    RunResult r = run(knet(), "ADD", conf(data.path(), ipam));
    EXPECT_EQ(r.code, 1) << ipam.dump();
    ASSERT_TRUE(r.json) << r.out;
    EXPECT_EQ((*r.json)["code"], 7) << r.out;
    EXPECT_NE(r.out.find(key), std::string::npos) << r.out;
  }
  for (std::string name : {"a/b", "..", "../up", "a/../b"}) {
    RunResult r = run(knet(), "ADD", conf(data.path(), {{"subnet", "10.10.0.0/24"}}, name));
    EXPECT_EQ(r.code, 1) << name;
    EXPECT_EQ((*r.json)["code"], 7) << r.out;
  }
  EXPECT_TRUE(files(data.path()).empty());
}

TEST_F(HostLocal, FiftyParallelAddsGetFiftyAddresses) {
  json c = single("10.10.0.0/16");
  auto res = parallel(50, [&](int i) { return run(knet(), "ADD", c, "par" + std::to_string(i)); });
  std::set<std::string> ips;
  for (const auto& r : res) {
    ASSERT_EQ(r.code, 0) << describe(r);
    ips.insert(ip_of(r));
  }
  EXPECT_EQ(ips.size(), 50u);
  int held = 0;
  for (const auto& f : files(dir())) held += knet::IP::parse(f).has_value();
  EXPECT_EQ(held, 50);
}

TEST_F(HostLocal, LargeV6RangesAllocateWithoutEnumerating) {
  json c = conf(data.path(), {{"subnet", "2001:db8:10::/64"},
                              {"rangeStart", "2001:db8:10::ffff:ffff:ffff:fffe"}});
  RunResult a = run(knet(), "ADD", c, "a");
  RunResult b = run(knet(), "ADD", c, "b");
  ASSERT_EQ(b.code, 0) << describe(b);
  EXPECT_EQ(ip_of(a), "2001:db8:10:0:ffff:ffff:ffff:fffe");
  EXPECT_EQ(ip_of(b), "2001:db8:10:0:ffff:ffff:ffff:ffff");
  RunResult x = run(knet(), "ADD", c, "x");
  EXPECT_NE(x.code, 0);  // the range holds exactly two addresses
  EXPECT_EQ(run(knet(), "STATUS", conf(data.path(), {{"subnet", "2001:db8:10::/64"}}), "").code, 0);
}

}  // namespace
}  // namespace knet::test::host_local
