#include "cni/address.h"

#include <string>

#include "cni/error.h"

namespace cni {

knet::IP parse_ip(std::string_view s, std::string_view what) {
  auto ip = knet::IP::parse(s);
  if (!ip) {
    config_error("invalid \"" + std::string(what) + "\": \"" + std::string(s) +
                 "\" is not an IP address");
  }
  return *ip;
}

knet::IPNet parse_cidr(std::string_view cidr, std::string_view what) {
  auto n = knet::IPNet::parse(cidr);
  if (!n) {
    config_error("invalid \"" + std::string(what) + "\": \"" + std::string(cidr) +
                 "\" is not a CIDR");
  }
  return *n;
}

}  // namespace cni
