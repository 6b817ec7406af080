// libFuzzer target: CNI_ARGS ("K=V;K=V") parsing and the unknown-key check.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni/env.h"
#include "cni/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto a = cni::CniArgs::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    (void)a.get("IP");
    a.require_known({"IP", "MAC"});
  } catch (const cni::Error&) {
  }
  return 0;
}
