#pragma once
// The exception every layer of knet throws. Below the CNI protocol it has no
// CNI code: a kernel or process failure carries what failed, on what, why,
// and the errno behind it; the plugin layer decides what that means to a CNI
// caller (cni::Error, libcni/include/cni/error.h, adds the spec's code).

#include <stdexcept>
#include <string>

namespace knet {

class Error : public std::runtime_error {
 public:
  // `msg` names what failed and on what; `details` is optional extra text
  // (e.g. the kernel's extended ack); `sys_errno` the errno behind it, 0 when none.
  explicit Error(std::string msg, std::string details = {}, int sys_errno = 0)
      : std::runtime_error(msg),
        msg_(std::move(msg)),
        details_(std::move(details)),
        sys_errno_(sys_errno) {}
  const std::string& msg() const { return msg_; }
  const std::string& details() const { return details_; }
  int sys_errno() const { return sys_errno_; }

 private:
  std::string msg_;
  std::string details_;
  int sys_errno_;
};

}  // namespace knet
