// host-local: hands out one address per configured range set and records each
// reservation as a file under dataDir/<network>, in the reference plugin's
// format, so the two can share a store. DEL frees what the container holds,
// CHECK compares the store with prevResult, GC frees what no attachment
// holds, STATUS fails once a range set is exhausted.

#include <cni/skel.h>
#include <ipam/config.h>
#include <ipam/host_local.h>

namespace ipam = knet::ipam;

namespace {

ipam::Config config(const cni::Env& env, const cni::NetConf& conf) {
  env.args.require_known({"IP"});
  return ipam::Config::parse(conf, env.args);
}

ipam::OwnerKey owner(const cni::Env& env) { return {env.container_id, env.ifname}; }

}  // namespace

int main() {
  return cni::plugin_main(cni::Plugin{
      "knet host-local: IP addresses from ranges, recorded on disk",
      [](const cni::Env& env, const cni::NetConf& conf) {
        return ipam::add(config(env, conf), owner(env));
      },
      [](const cni::Env& env, const cni::NetConf& conf) { ipam::del(config(env, conf), owner(env)); },
      [](const cni::Env& env, const cni::NetConf& conf) {
        ipam::check(config(env, conf), owner(env), conf.prev_result);
      },
      [](const cni::Env& env, const cni::NetConf& conf, const std::vector<cni::Attachment>& valid) {
        ipam::gc(config(env, conf), valid);
      },
      [](const cni::Env& env, const cni::NetConf& conf) { ipam::status(config(env, conf)); },
  });
}
