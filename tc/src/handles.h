#pragma once
// Owning pointers for the libnl traffic-control objects knet_tc uses, and the
// one way it sends a request and turns a failure into a knet::Error.

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

struct QdiscDeleter {
  void operator()(rtnl_qdisc* q) const { rtnl_qdisc_put(q); }
};
struct ClassDeleter {
  void operator()(rtnl_class* c) const { rtnl_class_put(c); }
};
struct ClsDeleter {
  void operator()(rtnl_cls* c) const { rtnl_cls_put(c); }
};
struct ActDeleter {
  void operator()(rtnl_act* a) const { rtnl_act_put(a); }
};
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using QdiscPtr = std::unique_ptr<rtnl_qdisc, QdiscDeleter>;
using ClassPtr = std::unique_ptr<rtnl_class, ClassDeleter>;
using ClsPtr = std::unique_ptr<rtnl_cls, ClsDeleter>;
using ActPtr = std::unique_ptr<rtnl_act, ActDeleter>;
using CachePtr = std::unique_ptr<nl_cache, CacheDeleter>;

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
