#include "etcd/config.h"

#include <unistd.h>

#include "etcd/error.h"

namespace etcd {
namespace {

void fail(const std::string& what) { throw Error(Cause::kConfig, "client config", "", what); }

void check_readable(const std::string& path, const char* name) {
  if (!path.empty() && ::access(path.c_str(), R_OK) != 0)
    fail(std::string(name) + " " + path + " is not readable");
}

}  // namespace

void validate(const ClientConfig& config) {
  if (config.endpoints.empty()) fail("no endpoint given");
  for (const auto& ep : config.endpoints) {
    auto scheme_end = ep.find("://");
    std::string scheme = scheme_end == std::string::npos ? "" : ep.substr(0, scheme_end);
    if (scheme != "http" && scheme != "https")
      fail("endpoint \"" + ep + "\" is not an http:// or https:// URL");
    std::string rest = ep.substr(scheme_end + 3);
    if (rest.empty() || rest.front() == '/' || rest.find_first_of("?#@ ") != std::string::npos)
      fail("endpoint \"" + ep + "\" has no usable host[:port]");
  }
  if (config.cert_file.empty() != config.key_file.empty())
    fail("a client certificate needs both cert_file and key_file");
  check_readable(config.ca_file, "ca_file");
  check_readable(config.cert_file, "cert_file");
  check_readable(config.key_file, "key_file");
  if (config.request_timeout.count() <= 0 || config.connect_timeout.count() <= 0 ||
      config.call_deadline.count() <= 0)
    fail("timeouts must be positive");
  if (config.max_rounds == 0) fail("max_rounds must be at least 1");
}

std::string join_endpoints(const std::vector<std::string>& endpoints) {
  std::string s;
  for (const auto& e : endpoints) s += (s.empty() ? "" : ",") + e;
  return s;
}

}  // namespace etcd
