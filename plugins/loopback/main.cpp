// loopback: brings the container's `lo` up on ADD and down on DEL, and checks
// it is up on CHECK. CNI_IFNAME is ignored: this plugin only ever touches lo.

#include <cni/error.h>
#include <cni/skel.h>
#include <common/netns.h>
#include <nlw/addr.h>
#include <nlw/error.h>
#include <nlw/link.h>
#include <nlw/netns.h>
#include <nlw/socket.h>
#include <sys/socket.h>

#include <optional>

namespace common = knet::common;
namespace {

constexpr const char* kLo = "lo";

bool is_loopback(const knet::IP& ip) {
  static const knet::IPNet v4 = *knet::IPNet::parse("127.0.0.0/8");
  static const knet::IP v6 = *knet::IP::parse("::1");
  return ip.is_v4() ? v4.contains(ip) : ip == v6;
}

// The first address of `family` on lo; every address there must be a
// loopback one, or lo is not what this plugin thinks it is.
std::optional<knet::IPNet> first_loopback_address(nlw::Socket& sock, int index, int family) {
  std::optional<knet::IPNet> first;
  for (const auto& a : nlw::list_addresses(sock, index, family)) {
    if (!is_loopback(a.net.ip))
      throw cni::Error(cni::kInternal,
                       "loopback interface found with non-loopback address " + a.net.str());
    if (!first) first = a.net;
  }
  return first;
}

cni::Result add(const cni::Env& env, const cni::NetConf& conf) {
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket sock = nlw::Socket::in(cont);
  nlw::LinkInfo lo = nlw::get_link(sock, kLo);
  nlw::set_up(sock, lo.index);
  auto v4 = first_loopback_address(sock, lo.index, AF_INET);
  auto v6 = first_loopback_address(sock, lo.index, AF_INET6);

  // Chained after another plugin, loopback passes the previous result through.
  if (conf.prev_result) return *conf.prev_result;
  cni::Result result;
  result.interfaces.push_back(cni::Interface{kLo, "00:00:00:00:00:00", {}, env.netns, {}, {}});
  for (const auto& addr : {v4, v6})
    if (addr) result.ips.push_back(cni::IPConfig{*addr, std::nullopt, 0});
  return result;
}

void del(const cni::Env& env, const cni::NetConf&) {
  std::optional<nlw::NetNS> cont = common::open_netns_for_del(env.netns);
  if (!cont) return;  // the namespace, and its lo with it, is already gone
  nlw::Socket sock = nlw::Socket::in(*cont);
  if (auto lo = nlw::find_link(sock, kLo)) nlw::set_down(sock, lo->index);
}

void check(const cni::Env& env, const cni::NetConf&) {
  nlw::NetNS cont = common::open_container_netns(env.netns);
  nlw::Socket sock = nlw::Socket::in(cont);
  if (!nlw::get_link(sock, kLo).up)
    throw cni::Error(cni::kInternal, "loopback interface is down in " + env.netns);
}

}  // namespace

int main() {
  return cni::plugin_main(cni::Plugin{"knet loopback plugin", add, del, check, nullptr, nullptr});
}
