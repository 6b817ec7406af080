#pragma once
// The CNI result in its current (1.x) shape, read from and written to every
// version the spec defines (1.1.0 … 0.1.0), converting as libcni does.

#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "cni/json.h"

namespace cni {

struct DNS {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool empty() const { return nameservers.empty() && domain.empty() && search.empty() && options.empty(); }
  static DNS from_json(const json& j, std::string_view path);
  json to_json() const;
  // Adds what `o` has that this lacks (nameservers/search/options deduplicated, domain if unset).
  void merge(const DNS& o);
  bool operator==(const DNS&) const = default;
};

struct Interface {
  std::string name;
  std::string mac;
  std::optional<int> mtu;
  std::string sandbox;  // netns path for container interfaces, empty for host ones
  std::string socket_path;
  std::string pci_id;
  bool operator==(const Interface&) const = default;
};

struct IPConfig {
  knet::IPNet address;
  std::optional<knet::IP> gateway;
  std::optional<int> interface;  // index into Result::interfaces
  bool operator==(const IPConfig&) const = default;
};

struct Route {
  knet::IPNet dst;
  std::optional<knet::IP> gw;
  // Spec 1.1 fields; written only when set and the version has them.
  std::optional<int> mtu, advmss, priority, table, scope;
  static Route from_json(const json& j, std::string_view path);
  json to_json(bool with_v11_fields) const;
  bool operator==(const Route&) const = default;
};

struct Result {
  std::string cni_version;
  std::vector<Interface> interfaces;
  std::vector<IPConfig> ips;
  std::vector<Route> routes;
  DNS dns;

  // Reads a result of any supported version (its "cniVersion" decides the shape;
  // `fallback_version` is used when the document has none). Throws code 6/7.
  static Result from_json(const json& j, std::string_view fallback_version = "");
  // Writes the result in `version`'s shape. Throws code 1 when the result cannot
  // be expressed there (0.2.0/0.1.0 with no IP address).
  json to_json(std::string_view version) const;
  std::string dump(std::string_view version) const { return dump_json(to_json(version)); }
  bool operator==(const Result&) const = default;
};

}  // namespace cni
