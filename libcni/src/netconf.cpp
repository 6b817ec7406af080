#include "cni/netconf.h"

#include "cni/env.h"
#include "cni/error.h"
#include "cni/version.h"

namespace cni {

NetConf NetConf::parse(std::string_view bytes) {
  if (bytes.size() > kMaxStdinBytes)
    throw Error(kIOFailure, "network config on stdin is larger than " + std::to_string(kMaxStdinBytes) + " bytes");
  return from_json(parse_object(bytes));
}

NetConf NetConf::from_json(json doc) {
  NetConf c;
  c.cni_version = get_string(doc, "cniVersion").value_or("");
  c.name = get_string(doc, "name").value_or("");
  if (c.name.empty()) config_error("missing network name (\"name\")");
  if (!valid_cni_name(c.name))
    config_error("invalid \"name\" \"" + c.name +
                 "\": must start with a letter or digit and contain only letters, digits, '_', '.' and '-'");
  c.type = get_string(doc, "type").value_or("");
  c.ip_masq = get_bool(doc, "ipMasq").value_or(false);
  if (const json* ipam = get_object(doc, "ipam")) {
    c.ipam = *ipam;
    c.ipam_type = get_string(*ipam, "type", "ipam.type").value_or("");
  }
  if (const json* dns = get_object(doc, "dns")) c.dns = DNS::from_json(*dns, "dns");
  if (const json* args = get_object(doc, "args")) c.args = *args;
  if (const json* rc = get_object(doc, "runtimeConfig")) c.runtime_config = *rc;
  if (const json* prev = find_key(doc, "prevResult")) {
    if (!prev->is_object()) config_error("invalid \"prevResult\": expected an object");
    // A prevResult without its own cniVersion is in the config's version.
    c.prev_result = Result::from_json(*prev, c.cni_version);
  }
  c.raw = std::move(doc);
  return c;
}

}  // namespace cni
