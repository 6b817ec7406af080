#include "common/owner.h"

#include <cni/error.h>

#include <string>

namespace knet::common {

knet::Owner owner_of(const cni::Env& env, const cni::NetConf& conf) {
  return {conf.name, env.container_id, env.ifname};
}

void require_owner_tag_fits(const knet::Owner& o) {
  size_t n = knet::owner_tag(o).size();
  if (n <= knet::kMaxOwnerTagBytes) return;
  throw cni::Error(cni::kInvalidNetworkConfig,
                   "network name (" + std::to_string(o.network.size()) + " bytes), CNI_CONTAINERID (" +
                       std::to_string(o.container_id.size()) + ") and CNI_IFNAME (" +
                       std::to_string(o.ifname.size()) + ") are too long together: knet tags what it " +
                       "creates with \"knet:<network>:<container id>:<ifname>\", at most " +
                       std::to_string(knet::kMaxOwnerTagBytes) + " bytes, and this one would be " +
                       std::to_string(n));
}

}  // namespace knet::common
