#pragma once
// Addresses and prefixes read from config values: like knet::IP::parse and
// knet::IPNet::parse, but a value that is not one is a config error naming
// the key.

#include <string_view>

#include "base/ip.h"

namespace cni {

// Parses `s` or throws code 7 naming `what` ("ipam.gateway").
knet::IP parse_ip(std::string_view s, std::string_view what);
// Parses the CIDR `cidr` or throws code 7 naming `what` ("ipam.subnet").
knet::IPNet parse_cidr(std::string_view cidr, std::string_view what);

}  // namespace cni
