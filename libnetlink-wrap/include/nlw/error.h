#pragma once
// Exceptions the wrapper throws. They carry the errno behind the failure
// (knet::Error::sys_errno) and the kernel's extended ack in the message;
// what a failure means to a CNI caller is the plugin layer's decision
// (plugins/common maps them to CNI codes). DEL paths catch NotFound.

#include <base/error.h>

namespace nlw {

// A kernel or netlink request failed.
class Error : public knet::Error {
 public:
  using knet::Error::Error;
};

// The object (namespace path, link, address, route, neighbour) does not exist.
class NotFound : public Error {
 public:
  using Error::Error;
};

// The object to create already exists (EEXIST); callers that pick random
// names retry on this.
class Exists : public Error {
 public:
  using Error::Error;
};

// A value handed to the wrapper is malformed (a MAC address string, a sysctl
// key): the caller's input, not the kernel, is at fault.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

}  // namespace nlw
