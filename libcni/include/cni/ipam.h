#pragma once
// Delegating address management to the IPAM plugin named in "ipam.type".

#include "cni/env.h"
#include "cni/netconf.h"
#include "cni/result.h"

namespace cni {

// Runs the IPAM plugin with the current environment, CNI_COMMAND replaced by
// `command`, and the plugin's own stdin. Throws when there is no ipam.type.
Result ipam_add(const Env& env, const NetConf& conf);
void ipam_del(const Env& env, const NetConf& conf);
void ipam_check(const Env& env, const NetConf& conf);
void ipam_gc(const Env& env, const NetConf& conf);
void ipam_status(const Env& env, const NetConf& conf);

// Holds an IPAM allocation made during ADD and releases it (IPAM DEL, errors
// ignored) when destroyed before commit(), so a failed ADD leaves no reservation.
class IpamReservation {
 public:
  IpamReservation(const Env& env, const NetConf& conf) : env_(env), conf_(conf) {}
  ~IpamReservation();
  IpamReservation(const IpamReservation&) = delete;
  IpamReservation& operator=(const IpamReservation&) = delete;
  Result add();
  void commit() { active_ = false; }

 private:
  const Env& env_;
  const NetConf& conf_;
  bool active_ = false;
};

}  // namespace cni
