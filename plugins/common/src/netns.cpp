#include "common/netns.h"
#include <base/step.h>

#include <cni/error.h>
#include <nlw/error.h>

namespace knet::common {

nlw::NetNS open_container_netns(const std::string& path) {
  knet::Step step("open container netns");
  try {
    return nlw::NetNS::open(path);
  } catch (const nlw::NotFound& e) {
    throw cni::Error(cni::kUnknownContainer, e);
  } catch (const nlw::Error& e) {
    throw cni::Error(cni::kInvalidEnv, e);
  }
}

std::optional<nlw::NetNS> open_netns_for_del(const std::string& path) {
  knet::Step step("open container netns");
  if (path.empty()) return std::nullopt;
  try {
    return nlw::NetNS::open(path);
  } catch (const nlw::NotFound&) {
    return std::nullopt;
  } catch (const nlw::Error& e) {
    throw cni::Error(cni::kInvalidEnv, e);
  }
}

}  // namespace knet::common
