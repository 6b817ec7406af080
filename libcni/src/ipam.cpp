#include "cni/ipam.h"
#include <base/step.h>

#include "cni/error.h"
#include "cni/exec.h"

namespace cni {
namespace {

json run_ipam(const Env& env, const NetConf& conf, Command cmd) {
  knet::Step step("ipam");
  if (conf.ipam_type.empty()) config_error("missing \"ipam.type\": this plugin needs an IPAM plugin");
  std::string bin = find_plugin(env.path, conf.ipam_type);
  auto vars = knet::environ_with({{"CNI_COMMAND", std::string(command_name(cmd))}});
  return delegate_plugin(bin, conf.ipam_type, vars, dump_json(conf.raw));
}

}  // namespace

Result ipam_add(const Env& env, const NetConf& conf) {
  json out = run_ipam(env, conf, Command::Add);
  if (!out.is_object()) throw Error(kDecodingFailure, "IPAM plugin " + conf.ipam_type + " returned no result");
  Result r = Result::from_json(out, conf.cni_version);
  if (r.ips.empty()) throw Error(kInternal, "IPAM plugin " + conf.ipam_type + " returned no IP addresses");
  return r;
}

void ipam_del(const Env& env, const NetConf& conf) { run_ipam(env, conf, Command::Del); }
void ipam_check(const Env& env, const NetConf& conf) { run_ipam(env, conf, Command::Check); }
void ipam_gc(const Env& env, const NetConf& conf) { run_ipam(env, conf, Command::GC); }
void ipam_status(const Env& env, const NetConf& conf) { run_ipam(env, conf, Command::Status); }

Result IpamReservation::add() {
  Result r = ipam_add(env_, conf_);
  active_ = true;
  return r;
}

IpamReservation::~IpamReservation() {
  if (!active_) return;
  try {
    ipam_del(env_, conf_);
  } catch (...) {
    // Best effort: the ADD is already failing with its own error.
  }
}

}  // namespace cni
