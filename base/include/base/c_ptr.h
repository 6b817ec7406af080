#pragma once
// Owning pointers for objects of C libraries (libnl, libnftnl): a
// std::unique_ptr whose deleter is the library's own free or put function.

#include <memory>

namespace knet {

// Calls `Free` on the pointer: a deleter for std::unique_ptr.
template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

// A `T*` released with `Free`, e.g. CPtr<rtnl_link, rtnl_link_put>.
template <typename T, auto Free>
using CPtr = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace knet
