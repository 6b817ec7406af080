#pragma once
// Internal helpers shared by the wrapper's sources: owning pointers for libnl
// objects and conversions between libnl and knet value types.

#include <base/c_ptr.h>
#include <base/ip.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace nlw::detail {

using LinkPtr = knet::CPtr<rtnl_link, rtnl_link_put>;
using AddrPtr = knet::CPtr<nl_addr, nl_addr_put>;
using CachePtr = knet::CPtr<nl_cache, nl_cache_free>;
using MsgPtr = knet::CPtr<nl_msg, nlmsg_free>;

// A libnl address holding `ip` (and `prefix`, default the full length).
AddrPtr to_nl(const knet::IP& ip, std::optional<int> prefix = std::nullopt);
// The IP in a libnl address; nullopt for a null or non-IP address.
std::optional<knet::IP> from_nl(const nl_addr* a);
// A libnl link-layer address for "aa:bb:cc:dd:ee:ff"; throws
// nlw::InvalidArgument naming the string if malformed.
AddrPtr mac_to_nl(const std::string& mac);
// "aa:bb:cc:dd:ee:ff" for a libnl link-layer address, "" for none.
std::string mac_str(const nl_addr* a);
// The same for `len` raw bytes (an NDA_LLADDR / IFLA_ADDRESS payload).
std::string mac_str(const unsigned char* p, size_t len);
// Allocates a message or throws; libnl only fails here when out of memory.
MsgPtr alloc_msg(int type, int flags);
// The address in an attribute of 4 or 16 bytes (NDA_DST, RTA_GATEWAY, ...).
std::optional<knet::IP> ip_of(const nlattr* a);

}  // namespace nlw::detail

#include "nlw/socket.h"

namespace nlw::detail {

// Runs one dump of `type` on `sock`, read straight from the socket into one
// buffer the socket keeps (no libnl cache, no per-message copies: building
// a cache, or copying each message, costs more than the kernel's side for
// thousands of entries). The buffer is large, so the kernel fills each read
// with as many entries as it may (32 KiB): a dump resumed fewer times costs
// the kernel less, as it walks a vxlan FDB or neighbour table from the start
// at every resumption. The request carries `header` and what `attrs` adds (0
// or a negative libnl error); `parse` sees every reply message of this
// request. An exception from `parse` is carried out after the rest of the
// dump is read, so the socket's next request gets its own reply. A dump the
// kernel reports as interrupted (a concurrent change) is redone whole, after
// `restart`, up to 3 times. An error the kernel returns is thrown as
// throw_nl does, naming `what`; no reply for 30 s throws too.
void dump(Socket& sock, int type, const void* header, size_t header_len,
          const std::function<int(nl_msg*)>& attrs,
          const std::function<void(const nlmsghdr*)>& parse, const std::function<void()>& restart,
          const std::function<std::string()>& what);

}  // namespace nlw::detail

namespace nlw::detail {

// Runs one libnl request `f` (returning 0 or a negative libnl error) on
// `sock` and throws the error for `what` if it failed.
// `what` is the message or, where building it costs a lookup (a link's
// name), a callable that builds it only when the request failed.
template <class W, class F>
void request(Socket& sock, W&& what, F&& f) {
  sock.clear_error();
  int rc = f();
  if (rc >= 0) return;
  if constexpr (std::is_invocable_r_v<std::string, W>) {
    throw_nl(sock, rc, std::function<std::string()>(what));
  } else {
    throw_nl(sock, rc, std::string(what));
  }
}

}  // namespace nlw::detail
