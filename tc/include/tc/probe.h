#pragma once
// Whether the kernel can shape: STATUS asks before any ADD needs it.

#include <string>

namespace knet::tc {

// Empty when the kernel has everything shaping needs (ifb devices, the tbf and
// htb qdiscs, u32 filters, the ingress qdisc, the mirred action); otherwise a
// sentence naming what failed. It builds the whole set-up once in a
// throwaway network namespace of a child process, so the caller's namespace
// is never touched.
std::string probe_missing_support();

}  // namespace knet::tc
