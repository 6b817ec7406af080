#pragma once
#include "cni/fd.h"

namespace nlw::detail {
using Fd = cni::Fd;
}  // namespace nlw::detail
