#include "util.h"

#include "nlw/error.h"
#include <netlink/errno.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <exception>

namespace nlw::detail {

AddrPtr to_nl(const knet::IP& ip, std::optional<int> prefix) {
  AddrPtr a(nl_addr_build(ip.is_v4() ? AF_INET : AF_INET6, ip.bytes.data(), ip.size()));
  if (!a) throw Error("out of memory building address " + ip.str());
  nl_addr_set_prefixlen(a.get(), prefix.value_or(ip.bits()));
  return a;
}

std::optional<knet::IP> from_nl(const nl_addr* a) {
  if (!a) return std::nullopt;
  int family = nl_addr_get_family(a);
  unsigned len = nl_addr_get_len(a);
  if (!((family == AF_INET && len == 4) || (family == AF_INET6 && len == 16))) return std::nullopt;
  knet::IP ip;
  ip.family = family;
  std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(a), len);
  return ip;
}

AddrPtr mac_to_nl(const std::string& mac) {
  unsigned b[6];
  char tail;
  if (std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                  &b[5], &tail) != 6 ||
      mac.size() != 17) {
    throw InvalidArgument("invalid MAC address \"" + mac + "\"", {}, EINVAL);
  }
  unsigned char bytes[6];
  for (int i = 0; i < 6; i++) bytes[i] = static_cast<unsigned char>(b[i]);
  AddrPtr a(nl_addr_build(AF_LLC, bytes, sizeof bytes));
  if (!a) throw Error("out of memory building MAC address " + mac);
  return a;
}

std::string mac_str(const nl_addr* a) {
  if (!a) return {};
  return mac_str(static_cast<const unsigned char*>(nl_addr_get_binary_addr(a)),
                 nl_addr_get_len(a));
}

std::string mac_str(const unsigned char* p, size_t len) {
  // By hand, not snprintf: a dump of thousands of FDB entries formats each MAC.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len ? 3 * len - 1 : 0, ':');
  for (size_t i = 0; i < len; i++) {
    out[3 * i] = kHex[p[i] >> 4];
    out[3 * i + 1] = kHex[p[i] & 0xf];
  }
  return out;
}

std::optional<knet::IP> ip_of(const nlattr* a) {
  if (!a) return std::nullopt;
  int len = nla_len(a);
  if (len != 4 && len != 16) return std::nullopt;
  knet::IP ip;
  ip.family = len == 4 ? AF_INET : AF_INET6;
  std::memcpy(ip.bytes.data(), nla_data(a), static_cast<size_t>(len));
  return ip;
}

MsgPtr alloc_msg(int type, int flags) {
  MsgPtr m(nlmsg_alloc_simple(type, flags));
  if (!m) throw Error("out of memory allocating a netlink message");
  return m;
}

}  // namespace nlw::detail
