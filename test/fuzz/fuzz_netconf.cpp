// libFuzzer target: the network config reader every plugin runs on stdin.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni/error.h"
#include "cni/netconf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    cni::NetConf c = cni::NetConf::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (c.prev_result) (void)c.prev_result->to_json("1.1.0");
  } catch (const cni::Error&) {
    // Rejecting input is the expected outcome for most of it.
  }
  return 0;
}
