#pragma once
// Owning pointers for the libnl traffic-control objects knet_tc uses, and the
// one way it sends a request and turns a failure into a knet::Error.

#include <base/c_ptr.h>
#include <base/error.h>
#include <netlink/cache.h>
#include <netlink/route/action.h>
#include <netlink/route/class.h>
#include <netlink/route/classifier.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <nlw/socket.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace knet::tc::detail {

using QdiscPtr = knet::CPtr<rtnl_qdisc, rtnl_qdisc_put>;
using ClassPtr = knet::CPtr<rtnl_class, rtnl_class_put>;
using ClsPtr = knet::CPtr<rtnl_cls, rtnl_cls_put>;
using ActPtr = knet::CPtr<rtnl_act, rtnl_act_put>;
using CachePtr = knet::CPtr<nl_cache, nl_cache_free>;

// Fresh objects of `kind` ("tbf", "htb", "u32", "mirred", "ingress"), or throw
// when libnl is out of memory or does not know the kind.
QdiscPtr new_qdisc(int ifindex, uint32_t parent, uint32_t handle, const char* kind);
ClassPtr new_class(int ifindex, uint32_t parent, uint32_t handle, const char* kind);
ClsPtr new_filter(int ifindex, uint32_t parent, uint16_t prio, uint16_t protocol, const char* kind);
ActPtr new_action(const char* kind);

// A link's name for error messages, looked up only if a message needs it:
// most requests succeed, and each lookup is a netlink round trip.
class LinkLabel {
 public:
  LinkLabel(nlw::Socket& sock, int ifindex) : sock_(sock), ifindex_(ifindex) {}
  const std::string& str() const;

 private:
  nlw::Socket& sock_;
  int ifindex_;
  mutable std::optional<std::string> name_;
};

// Runs one libnl request `f` (0 or a negative libnl error) and throws
// "failed to <what> in <ns>: <kernel's reason>" if it failed. `what` is the
// text or a callable that builds it (only then).
template <class W, class F>
void request(nlw::Socket& sock, W&& what, F&& f) {
  sock.clear_error();
  int rc = f();
  if (rc >= 0) return;
  if constexpr (std::is_invocable_r_v<std::string, W>) {
    nlw::throw_nl(sock, rc, std::function<std::string()>([&] { return "failed to " + what(); }));
  } else {
    nlw::throw_nl(sock, rc, "failed to " + std::string(what));
  }
}

// Runs `step`; if it throws, runs `undo` (whose own failure is swallowed: the
// first error is the one to report) and rethrows.
template <class F, class U>
void or_undo(F&& step, U&& undo) {
  try {
    step();
  } catch (...) {
    try {
      undo();
    } catch (const knet::Error&) {
    }
    throw;
  }
}

// The qdiscs, classes of link `ifindex`, or filters under `parent` on it.
CachePtr qdisc_cache(nlw::Socket& sock);
CachePtr class_cache(nlw::Socket& sock, int ifindex);
CachePtr filter_cache(nlw::Socket& sock, int ifindex, uint32_t parent);

// CHECK's failure: "<label>: <what differs>".
[[noreturn]] void mismatch(const std::string& label, const std::string& what);

// "1:10" for error messages.
std::string handle_str(uint32_t h);

}  // namespace knet::tc::detail
