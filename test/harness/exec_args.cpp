#include "exec_args.h"

namespace knet::test {

ExecArgs::ExecArgs(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env)
    : args_(argv) {
  for (const auto& [k, v] : env) env_.push_back(k + "=" + v);
  for (auto& a : args_) argv_.push_back(a.data());
  argv_.push_back(nullptr);
  for (auto& e : env_) envp_.push_back(e.data());
  envp_.push_back(nullptr);
}

}  // namespace knet::test
