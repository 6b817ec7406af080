#include "nat/iptables.h"

#include <base/error.h>
#include <base/hash.h>
#include <base/spawn.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace knet::nat {
namespace {

std::string binary_for(int family) {
  const char* name = family == AF_INET ? "iptables" : "ip6tables";
  const char* path = std::getenv("PATH");
  std::vector<std::string> dirs = knet::split_path(path ? path : "");
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.emplace_back(d);
  if (std::optional<std::string> bin = knet::find_executable(dirs, name)) return *bin;
  throw knet::Error(std::string("ipMasqBackend \"iptables\" needs ") + name +
                    ", which is not on PATH or in /usr/sbin");
}

// Runs `<iptables> --wait -t nat <args>`; returns the exit status and output.
knet::ExecOutput run(int family, std::vector<std::string> args) {
  std::string bin = binary_for(family);
  args.insert(args.begin(), {bin, "--wait", "-t", "nat"});
  return knet::exec_argv(args, knet::environ_with({}), "");
}

void run_or_throw(int family, const std::vector<std::string>& args, const std::string& what) {
  knet::ExecOutput o = run(family, args);
  if (o.status != 0) {
    std::string msg = o.err.empty() ? o.out : o.err;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw knet::Error(what + ": " + msg);
  }
}

int family_of(const knet::IPNet& n) { return n.ip.is_v4() ? AF_INET : AF_INET6; }

std::vector<std::string> with_comment(std::vector<std::string> args, const std::string& c) {
  args.insert(args.end(), {"-m", "comment", "--comment", c});
  return args;
}

// Appends `rule` to `chain` unless an identical rule is there (-C first).
void append_unique(int family, const std::string& chain, const std::vector<std::string>& rule) {
  std::vector<std::string> check = {"-C", chain};
  check.insert(check.end(), rule.begin(), rule.end());
  if (run(family, check).status == 0) return;
  std::vector<std::string> add = {"-A", chain};
  add.insert(add.end(), rule.begin(), rule.end());
  run_or_throw(family, add, "failed to append to iptables chain " + chain);
}

void remove_chain(int family, const std::string& chain) {
  run(family, {"-F", chain});
  run(family, {"-X", chain});
}

// Splits an `iptables -S` line into words, undoing its "..." quoting.
std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '\\' && i + 1 < line.size()) {
        cur += line[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = in_word = true;
    } else if (c == ' ') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

}  // namespace

std::string chain_name(const std::string& network, const std::string& container_id) {
  // The reference's name: "CNI-" and the first 12 bytes of SHA-512(network + ID) in hex.
  return "CNI-" + knet::sha512_hex(network + container_id, 12);
}

std::string comment(const std::string& network, const std::string& container_id) {
  return "name: \"" + network + "\" id: \"" + container_id + "\"";
}

void iptables_setup(const knet::IPNet& addr, const std::string& chain, const std::string& c) {
  int family = family_of(addr);
  knet::ExecOutput o = run(family, {"-N", chain});
  if (o.status != 0 && o.err.find("exists") == std::string::npos) {
    run_or_throw(family, {"-N", chain}, "failed to create iptables chain " + chain);
  }
  append_unique(family, chain, with_comment({"-d", addr.network().str(), "-j", "ACCEPT"}, c));
  std::string multicast = family == AF_INET ? "224.0.0.0/4" : "ff00::/8";
  append_unique(family, chain, with_comment({"!", "-d", multicast, "-j", "MASQUERADE"}, c));
  append_unique(family, "POSTROUTING", with_comment({"-s", addr.ip.str(), "-j", chain}, c));
}

void iptables_teardown(const knet::IPNet& addr, const std::string& chain, const std::string& c) {
  int family = family_of(addr);
  run(family, with_comment({"-D", "POSTROUTING", "-s", addr.ip.str(), "-j", chain}, c));
  remove_chain(family, chain);
}

std::vector<IptablesMasq> iptables_list(int family) {
  knet::ExecOutput o;
  try {
    o = run(family, {"-S", "POSTROUTING"});
  } catch (const knet::Error&) {
    return {};  // no iptables binary: nothing can have been set up with it
  }
  std::vector<IptablesMasq> out;
  size_t pos = 0;
  while (pos < o.out.size()) {
    size_t end = o.out.find('\n', pos);
    if (end == std::string::npos) end = o.out.size();
    std::vector<std::string> w = split_words(std::string_view(o.out).substr(pos, end - pos));
    pos = end + 1;
    IptablesMasq m;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      if (w[i] == "-s") {
        if (auto n = knet::IPNet::parse(w[i + 1])) m.source = *n;
      } else if (w[i] == "-j") {
        m.chain = w[i + 1];
      } else if (w[i] == "--comment") {
        m.comment = w[i + 1];
      }
    }
    if (m.chain.rfind("CNI-", 0) == 0 && m.source.ip.valid()) out.push_back(m);
  }
  return out;
}

void iptables_remove(int family, const IptablesMasq& m) {
  std::vector<std::string> del = {"-D", "POSTROUTING", "-s", m.source.str(), "-j", m.chain};
  run(family, m.comment.empty() ? del : with_comment(del, m.comment));
  remove_chain(family, m.chain);
}

}  // namespace knet::nat
