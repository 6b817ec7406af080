#pragma once
// Exceptions the wrapper throws. Both derive from cni::Error, so a caller that
// does not care still reports a proper CNI error; DEL paths catch NotFound.

#include <cni/error.h>

namespace nlw {

// The object (namespace path, link, address, route, neighbour) does not exist.
class NotFound : public cni::Error {
 public:
  using cni::Error::Error;
};

// The object to create already exists (EEXIST); callers that pick random
// names retry on this.
class Exists : public cni::Error {
 public:
  using cni::Error::Error;
};

}  // namespace nlw
