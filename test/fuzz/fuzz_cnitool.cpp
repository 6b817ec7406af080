// libFuzzer target: what cnitool reads from users: a network configuration
// list (a .conflist file) and CAP_ARGS, combined into each plugin's stdin.
// Input: the conflist bytes, a NUL byte, then the CAP_ARGS bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni/error.h"
#include "cni/json.h"
#include "cni/runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view list_bytes = in.substr(0, nul);
  std::string_view cap_bytes = nul == std::string_view::npos ? std::string_view{} : in.substr(nul + 1);
  try {
    cni::NetworkConfigList list = cni::NetworkConfigList::parse(list_bytes, "fuzz.conflist");
    cni::json cap = cap_bytes.empty() ? cni::json::object() : cni::parse_object(cap_bytes, "CAP_ARGS");
    for (const auto& p : list.plugins) {
      std::string stdin_bytes = cni::dump_json(cni::build_plugin_config(list, p, nullptr, cap));
      (void)cni::parse_object(stdin_bytes);
    }
  } catch (const cni::Error&) {
  }
  return 0;
}
