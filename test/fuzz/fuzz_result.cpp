// libFuzzer target: reading a result of any version and writing it in every other.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/version.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cni::json doc;
  try {
    doc = cni::parse_any(std::string_view(reinterpret_cast<const char*>(data), size), "result");
  } catch (const cni::Error&) {
    return 0;  // nested too deep
  }
  if (doc.is_discarded()) return 0;
  try {
    cni::Result r = cni::Result::from_json(doc);
    for (const auto& v : cni::supported_versions()) {
      try {
        cni::Result back = cni::Result::from_json(r.to_json(v));
        (void)back;
      } catch (const cni::Error&) {
        // 0.2.0 cannot hold a result without addresses.
      }
    }
  } catch (const cni::Error&) {
  }
  return 0;
}
