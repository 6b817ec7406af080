#include "nat/nft.h"

#include <arpa/inet.h>
#include <base/c_callback.h>
#include <base/error.h>
#include <base/owner.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>
#include <vector>

#include "nft_dump.h"

namespace knet::nat {
namespace {

using namespace detail;  // NOLINT: this file is the implementation of detail

[[noreturn]] void fail(const std::string& what, int err) {
  throw knet::Error(what + ": " + std::strerror(err), {}, err);
}

// The chain every rule of one knet table goes into.
struct ChainSpec {
  uint16_t family;
  const char* table;
  const char* chain;
  const char* type;
  uint32_t hook;
  int32_t prio;
};

constexpr int32_t kSrcNatPrio = 100;    // NF_IP_PRI_NAT_SRC, nft's "srcnat"
constexpr int32_t kBridgeEarly = -300;  // before the bridge's own prerouting work

ChainSpec nat_chain(int family) {
  return {static_cast<uint16_t>(family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6),
          kNatTable,
          "postrouting",
          "nat",
          NF_INET_POST_ROUTING,
          kSrcNatPrio};
}
// The bridge family numbers its hooks like inet (NF_BR_PRE_ROUTING == 0).
ChainSpec spoof_chain() {
  return {NFPROTO_BRIDGE, kSpoofTable, "prerouting", "filter", NF_INET_PRE_ROUTING, kBridgeEarly};
}

ExprPtr new_expr(const char* name) { return ExprPtr(checked(nftnl_expr_alloc(name), name)); }

// Expression builders: each appends one expression to `r` (which owns it then).
void load_payload(nftnl_rule* r, uint32_t base, uint32_t offset, uint32_t len) {
  ExprPtr e = new_expr("payload");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_rule_add_expr(r, e.release());
}
void mask_reg(nftnl_rule* r, const uint8_t* mask, uint32_t len) {
  std::vector<uint8_t> zero(len, 0);
  ExprPtr e = new_expr("bitwise");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, len);
  nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, mask, len);
  nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, zero.data(), len);
  nftnl_rule_add_expr(r, e.release());
}
void compare(nftnl_rule* r, uint32_t op, const void* data, uint32_t len) {
  ExprPtr e = new_expr("cmp");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data, len);
  nftnl_rule_add_expr(r, e.release());
}

// The prefix mask of `prefix` bits over `len` bytes.
std::vector<uint8_t> prefix_mask(int prefix, uint32_t len) {
  std::vector<uint8_t> m(len, 0);
  for (int i = 0; i < prefix && i < int(len * 8); ++i) m[i / 8] |= uint8_t(0x80 >> (i % 8));
  return m;
}

// "<dst field> & mask != net": the destination is outside `net`.
void daddr_outside(nftnl_rule* r, uint32_t offset, const knet::IPNet& net) {
  uint32_t len = static_cast<uint32_t>(net.ip.size());
  load_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len);
  std::vector<uint8_t> mask = prefix_mask(net.prefix, len);
  mask_reg(r, mask.data(), len);
  compare(r, NFT_CMP_NEQ, net.network().ip.bytes.data(), len);
}

void set_comment(nftnl_rule* r, const std::string& comment) {
  UdataPtr buf(checked(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN), "rule comment"));
  if (!nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_RULE_COMMENT, comment.c_str())) {
    throw knet::Error("rule comment too long: " + comment);
  }
  nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(buf.get()),
                      nftnl_udata_buf_len(buf.get()));
}

RulePtr alloc_rule() { return RulePtr(checked(nftnl_rule_alloc(), "rule")); }

RulePtr new_rule(const ChainSpec& c, const std::string& comment) {
  RulePtr r = alloc_rule();
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, c.family);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, c.table);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, c.chain);
  set_comment(r.get(), comment);
  return r;
}

// The masquerade map of a family's knet-nat table: container address ->
// `jump` to that container's chain.
constexpr const char* kMasqMap = "masq";
constexpr uint32_t kMasqMapId = 1;  // names the map inside its creating transaction

int family_of(const knet::IP& ip) { return ip.is_v4() ? AF_INET : AF_INET6; }

// The chain holding `comment`'s rules: named after the owner, so DEL finds it
// without walking every container's rules.
std::string owner_chain(const std::string& comment) {
  auto o = knet::parse_owner_tag(comment);
  if (!o) throw knet::Error("not an owner tag: " + comment);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(knet::owner_hash(*o)));
  return std::string("knet-") + hex;
}

// In the owner's chain: `ip saddr <ip> ip daddr != <subnet>
// ip daddr != 224.0.0.0/4 masquerade` (ip6: ff00::/8), the nft form of the
// reference's CNI-<hash> chain. The saddr match is redundant with the map
// but is where DEL reads the map key back from.
RulePtr masquerade_rule(const knet::IPNet& addr, const std::string& chain,
                        const std::string& comment) {
  bool v4 = addr.ip.is_v4();
  ChainSpec c = nat_chain(family_of(addr.ip));
  c.chain = chain.c_str();
  RulePtr r = new_rule(c, comment);
  uint32_t len = static_cast<uint32_t>(addr.ip.size());
  uint32_t saddr = v4 ? 12 : 8, daddr = v4 ? 16 : 24;
  load_payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, saddr, len);
  compare(r.get(), NFT_CMP_EQ, addr.ip.bytes.data(), len);
  daddr_outside(r.get(), daddr, addr.network());
  daddr_outside(r.get(), daddr, *knet::IPNet::parse(v4 ? "224.0.0.0/4" : "ff00::/8"));
  nftnl_rule_add_expr(r.get(), new_expr("masq").release());
  return r;
}

// In postrouting: `ip saddr vmap @masq`, one per family, made with the table.
RulePtr dispatch_rule(int family) {
  ChainSpec c = nat_chain(family);
  RulePtr r = alloc_rule();
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, c.family);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, c.table);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, c.chain);
  load_payload(r.get(), NFT_PAYLOAD_NETWORK_HEADER, family == AF_INET ? 12 : 8,
               family == AF_INET ? 4 : 16);
  ExprPtr e = new_expr("lookup");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, kMasqMap);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SET_ID, kMasqMapId);
  nftnl_rule_add_expr(r.get(), e.release());
  return r;
}

SetPtr masq_map(int family) {
  SetPtr s(checked(nftnl_set_alloc(), "set"));
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, nat_chain(family).family);
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kNatTable);
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, kMasqMap);
  return s;
}

// The map key of a rule made by masquerade_rule: the data of its first cmp.
std::optional<knet::IP> rule_saddr(nftnl_rule* r, int family) {
  std::optional<knet::IP> out;
  ExprIterPtr it(checked(nftnl_expr_iter_create(r), "expression iterator"));
  for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e; e = nftnl_expr_iter_next(it.get())) {
    if (std::string_view(nftnl_expr_get_str(e, NFTNL_EXPR_NAME)) != "cmp") continue;
    uint32_t len = 0;
    const void* d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
    knet::IP ip;
    ip.family = family;
    if (d && len == ip.size()) {
      std::memcpy(ip.bytes.data(), d, len);
      out = ip;
    }
    break;
  }
  return out;
}

std::vector<uint8_t> mac_bytes(const std::string& mac) {
  if (mac.size() != 17) throw knet::Error("malformed MAC " + mac);
  std::vector<uint8_t> b;
  for (size_t i = 0; i < 6; ++i) {
    b.push_back(static_cast<uint8_t>(std::stoul(mac.substr(i * 3, 2), nullptr, 16)));
  }
  return b;
}

// `iifname <ifname> ether saddr != <mac> drop`
RulePtr spoof_rule(const std::string& ifname, const std::string& mac, const std::string& comment) {
  RulePtr r = new_rule(spoof_chain(), comment);
  ExprPtr meta = new_expr("meta");
  nftnl_expr_set_u32(meta.get(), NFTNL_EXPR_META_KEY, NFT_META_IIFNAME);
  nftnl_expr_set_u32(meta.get(), NFTNL_EXPR_META_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r.get(), meta.release());
  char name[IFNAMSIZ] = {};
  std::strncpy(name, ifname.c_str(), IFNAMSIZ - 1);
  compare(r.get(), NFT_CMP_EQ, name, IFNAMSIZ);
  load_payload(r.get(), NFT_PAYLOAD_LL_HEADER, 6, 6);
  std::vector<uint8_t> m = mac_bytes(mac);
  compare(r.get(), NFT_CMP_NEQ, m.data(), 6);
  ExprPtr verdict = new_expr("immediate");
  nftnl_expr_set_u32(verdict.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(verdict.get(), NFTNL_EXPR_IMM_VERDICT, NF_DROP);
  nftnl_rule_add_expr(r.get(), verdict.release());
  return r;
}

std::string rule_comment(nftnl_rule* r) {
  uint32_t len = 0;
  const void* data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
  if (!data) return {};
  // The callback only records where the comment is: nothing in it can throw.
  std::string_view found;
  nftnl_udata_parse(
      data, len,
      [](const nftnl_udata* attr, void* out) -> int {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
          const char* v = static_cast<const char*>(nftnl_udata_get(attr));
          *static_cast<std::string_view*>(out) =
              std::string_view(v, strnlen(v, nftnl_udata_len(attr)));
        }
        return MNL_CB_OK;
      },
      &found);
  return std::string(found);
}

}  // namespace

struct Nft::State {
  knet::CPtr<mnl_socket, mnl_socket_close> sock;
  uint32_t portid = 0;
  uint32_t seq = static_cast<uint32_t>(time(nullptr));
  int fd() const { return mnl_socket_get_fd(sock.get()); }
};

// Room reserved for each message while libnftnl builds it (it writes without
// bounds checks). The largest message knet builds, a rule with a 256-byte
// comment and its expressions, is below 1 KiB.
constexpr size_t kMaxMessage = 8192;
// The most sent in one batch when the caller allows splitting. Bytes: well
// below the socket's send buffer (net.core.wmem_default, 208 KiB). Messages:
// every message is acked, and each ack is its own skb charged ~1 KiB
// (truesize, not its 36 bytes) against the 208 KiB receive buffer; past ~200
// acks the kernel drops the rest (ENOBUFS) and the outcome is unknown.
constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kChunkMessages = 128;

// A transaction under construction. Messages go into a buffer that grows;
// commit() sends them between NFNL_MSG_BATCH_BEGIN and END. Unless the caller
// marks split points, everything is one batch: it applies completely or not
// at all. Where it marks them, a long transaction goes out as several
// batches of at most kChunkBytes and kChunkMessages each (one unit alone may
// be larger), cut only at split points.
class Batch {
 public:
  explicit Batch(uint32_t& seq) : seq_(seq) {}
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  // Starts the next message; the caller fills its payload, then calls next().
  nlmsghdr* begin_message(uint16_t type, uint16_t family, uint16_t flags) {
    if (buf_.size() < used_ + kMaxMessage)
      buf_.resize(std::max(2 * buf_.size(), used_ + kMaxMessage));
    ++count_;
    return nftnl_nlmsg_build_hdr(buf_.data() + used_, type, family, flags | NLM_F_ACK, seq_++);
  }
  // Ends the message begin_message() started.
  void next() {
    const nlmsghdr* h = message_at(used_);
    if (h->nlmsg_len > kMaxMessage) {
      // Written past the reserved room: memory is already corrupt.
      std::fprintf(stderr, "knet: nftables message of %u bytes overflowed its buffer\n",
                   h->nlmsg_len);
      std::abort();
    }
    used_ += NLMSG_ALIGN(h->nlmsg_len);
  }
  // Allows commit() to start a new batch here; the messages since the
  // previous split point are one unit.
  void split_point() {
    if (cuts_.empty() || cuts_.back() != used_) cuts_.push_back(used_);
  }
  // The table and base chain of `c`; with `excl` the transaction fails with
  // EEXIST when the table exists (how a caller learns it must bootstrap it).
  void add_chain(const ChainSpec& c, bool excl = false) {
    TablePtr t(checked(nftnl_table_alloc(), "table"));
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, c.family);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, c.table);
    nftnl_table_nlmsg_build_payload(
        begin_message(NFT_MSG_NEWTABLE, c.family, NLM_F_CREATE | (excl ? NLM_F_EXCL : 0)), t.get());
    next();
    ChainPtr ch = chain_ref(c.family, c.table, c.chain);
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, c.type);
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, c.hook);
    nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c.prio);
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nftnl_chain_nlmsg_build_payload(begin_message(NFT_MSG_NEWCHAIN, c.family, NLM_F_CREATE), ch.get());
    next();
  }
  // A regular chain (no hook) in `c.table`.
  void add_plain_chain(uint16_t family, const char* table, const std::string& name) {
    ChainPtr ch = chain_ref(family, table, name.c_str());
    nftnl_chain_nlmsg_build_payload(begin_message(NFT_MSG_NEWCHAIN, family, NLM_F_CREATE), ch.get());
    next();
  }
  // Deletes chain `name` and the rules in it.
  void del_chain(uint16_t family, const char* table, const std::string& name) {
    ChainPtr ch = chain_ref(family, table, name.c_str());
    nftnl_chain_nlmsg_build_payload(begin_message(NFT_MSG_DELCHAIN, family, 0), ch.get());
    next();
  }
  // The masquerade map of `family`'s knet-nat table.
  void add_masq_map(int family) {
    SetPtr m = masq_map(family);
    bool v4 = family == AF_INET;
    nftnl_set_set_u32(m.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
    nftnl_set_set_u32(m.get(), NFTNL_SET_KEY_TYPE, v4 ? 7 : 8);  // nft's ipv4_addr / ipv6_addr
    nftnl_set_set_u32(m.get(), NFTNL_SET_KEY_LEN, v4 ? 4 : 16);
    nftnl_set_set_u32(m.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    nftnl_set_set_u32(m.get(), NFTNL_SET_ID, kMasqMapId);
    uint16_t f = static_cast<uint16_t>(nftnl_set_get_u32(m.get(), NFTNL_SET_FAMILY));
    nftnl_set_nlmsg_build_payload(begin_message(NFT_MSG_NEWSET, f, NLM_F_CREATE), m.get());
    next();
  }
  // Adds (`add`) or removes `ip` -> jump `chain` in the masquerade map.
  void masq_element(const knet::IP& ip, const std::string& chain, bool add) {
    SetPtr m = masq_map(family_of(ip));
    SetElemPtr e(checked(nftnl_set_elem_alloc(), "set element"));
    nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, ip.bytes.data(),
                       static_cast<uint32_t>(ip.size()));
    if (add) {
      nftnl_set_elem_set_u32(e.get(), NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_JUMP));
      nftnl_set_elem_set_str(e.get(), NFTNL_SET_ELEM_CHAIN, chain.c_str());
    }
    nftnl_set_elem_add(m.get(), e.release());  // the set owns it from here
    uint16_t f = static_cast<uint16_t>(nftnl_set_get_u32(m.get(), NFTNL_SET_FAMILY));
    nftnl_set_elems_nlmsg_build_payload(
        begin_message(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, f, add ? NLM_F_CREATE : 0), m.get());
    next();
  }
  void add_rule(nftnl_rule* r) {
    uint16_t family = static_cast<uint16_t>(nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY));
    nftnl_rule_nlmsg_build_payload(begin_message(NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND), r);
    next();
  }
  // Deletes a dumped rule by its handle.
  void del_rule(nftnl_rule* dumped) {
    uint16_t family = static_cast<uint16_t>(nftnl_rule_get_u32(dumped, NFTNL_RULE_FAMILY));
    RulePtr r = alloc_rule();
    nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family);
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, nftnl_rule_get_str(dumped, NFTNL_RULE_TABLE));
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, nftnl_rule_get_str(dumped, NFTNL_RULE_CHAIN));
    nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, nftnl_rule_get_u64(dumped, NFTNL_RULE_HANDLE));
    nftnl_rule_nlmsg_build_payload(begin_message(NFT_MSG_DELRULE, family, 0), r.get());
    next();
  }
  size_t count() const { return count_; }
  // How many units (messages between split points) the batches sent by
  // the last commit() applied; all of them when it returned 0.
  size_t applied_units() const { return applied_units_; }

  // Sends the transaction; returns 0 or the first errno the kernel reported.
  // When split, the batches before the failing one stay applied.
  int commit(Nft::State& s) {
    applied_units_ = 0;
    split_point();
    size_t start = 0, end = 0, units = 0, messages = 0, end_messages = 0;
    size_t off = 0;
    for (size_t cut : cuts_) {
      size_t unit_messages = 0;
      for (; off < cut; off += NLMSG_ALIGN(message_at(off)->nlmsg_len)) ++unit_messages;
      messages += unit_messages;
      if ((cut - start > kChunkBytes || messages > kChunkMessages) && end > start) {
        if (int err = send_batch(s, start, end)) return err;
        applied_units_ += units;
        start = end;
        units = 0;
        messages -= end_messages;
      }
      end = cut;
      end_messages = messages;
      ++units;
    }
    if (end > start) {
      if (int err = send_batch(s, start, end)) return err;
      applied_units_ += units;
    }
    return 0;
  }

 private:
  const nlmsghdr* message_at(size_t off) const {
    return reinterpret_cast<const nlmsghdr*>(buf_.data() + off);
  }
  ChainPtr chain_ref(uint16_t family, const char* table, const char* name) {
    ChainPtr ch(checked(nftnl_chain_alloc(), "chain"));
    nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_FAMILY, family);
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, table);
    nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, name);
    return ch;
  }

  // Sends the messages in buf_[from, to) as one batch and reads the acks;
  // returns 0 or the first errno the kernel reported.
  int send_batch(Nft::State& s, size_t from, size_t to) {
    alignas(nlmsghdr) std::array<char, 64> begin{}, end{};
    uint32_t begin_seq = seq_++, end_seq = seq_++;
    nlmsghdr* b = nftnl_batch_begin(begin.data(), begin_seq);
    nlmsghdr* e = nftnl_batch_end(end.data(), end_seq);
    iovec iov[3] = {{b, b->nlmsg_len}, {buf_.data() + from, to - from}, {e, e->nlmsg_len}};
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    msghdr m{};
    m.msg_name = &kernel;
    m.msg_namelen = sizeof kernel;
    m.msg_iov = iov;
    m.msg_iovlen = 3;
    // The acks that belong to this batch: its messages' sequence numbers.
    size_t expected = 0;
    uint32_t first_seq = 0, last_seq = 0;
    for (size_t off = from; off < to; off += NLMSG_ALIGN(message_at(off)->nlmsg_len)) {
      uint32_t seq = message_at(off)->nlmsg_seq;
      if (expected++ == 0) first_seq = seq;
      last_seq = seq;
    }
    auto ours = [&](uint32_t seq) {
      return seq - first_seq <= last_seq - first_seq || seq == begin_seq || seq == end_seq;
    };
    ssize_t sent;
    do {
      sent = sendmsg(s.fd(), &m, 0);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return errno;
    // The kernel handles the whole batch inside sendmsg: every ack is queued
    // by now, so read until the queue is empty instead of waiting.
    int first_err = 0;
    size_t acks = 0;
    std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
    while (acks < expected) {
      ssize_t n = recv(s.fd(), rbuf.data(), rbuf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // a failed batch acks less
        return errno;  // ENOBUFS: acks were lost, the outcome is unknown
      }
      auto* nlh = reinterpret_cast<nlmsghdr*>(rbuf.data());
      int len = static_cast<int>(n);
      for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_type != NLMSG_ERROR || !ours(nlh->nlmsg_seq)) continue;
        ++acks;
        auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error && !first_err) first_err = -err->error;
      }
    }
    return first_err;
  }

  uint32_t& seq_;
  std::vector<char> buf_;
  size_t used_ = 0;
  std::vector<size_t> cuts_;  // offsets where a new batch may start
  size_t count_ = 0;
  size_t applied_units_ = 0;
};

namespace detail {

DumpStep parse_rule_dump(const char* buf, size_t len, uint32_t seq, uint32_t portid,
                         const char* table, std::vector<RulePtr>& rules) {
  struct Walk {
    std::vector<RulePtr>& rules;
    const char* table;
    knet::CallbackError error;
  } walk{rules, table, {}};
  // Runs inside libmnl: an exception is kept and rethrown after it returns.
  auto cb = [](const nlmsghdr* h, void* data) -> int {
    auto* w = static_cast<Walk*>(data);
    return w->error.guard(MNL_CB_ERROR, [&] {
      RulePtr r = alloc_rule();
      if (nftnl_rule_nlmsg_parse(h, r.get()) < 0) {
        throw knet::Error(std::string("failed to list nftables table ") + w->table +
                                             ": the kernel sent a rule libnftnl cannot parse");
      }
      w->rules.push_back(std::move(r));
      return MNL_CB_OK;
    });
  };
  int ret = mnl_cb_run(buf, len, seq, portid, cb, &walk);
  // A callback's failure is its own cause: errno was not set by it and may
  // hold anything (EINTR, ENOENT) from an earlier call.
  walk.error.rethrow_if_failed();
  if (ret == MNL_CB_STOP) return DumpStep::kDone;
  if (ret >= MNL_CB_OK) return DumpStep::kMore;
  // libmnl itself failed: it set errno (the kernel's error, a foreign
  // message, an interrupted dump).
  int err = errno;
  if (err == EINTR) return DumpStep::kInterrupted;
  if (err == ENOENT) return DumpStep::kNoTable;
  fail(std::string("failed to list nftables table ") + table, err);
}

}  // namespace detail

Nft::Nft() : s_(std::make_unique<State>()) {
  s_->sock.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!s_->sock) fail("failed to open a netfilter netlink socket", errno);
  if (mnl_socket_bind(s_->sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    fail("failed to bind a netfilter netlink socket", errno);
  }
  s_->portid = mnl_socket_get_portid(s_->sock.get());
  // Error acks without a copy of the failed request: smaller in the receive
  // buffer. Best effort (before 4.3 the kernel lacks the option).
  int one = 1;
  setsockopt(s_->fd(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
}
Nft::~Nft() = default;
Nft::Nft(Nft&&) noexcept = default;
Nft& Nft::operator=(Nft&&) noexcept = default;

namespace {

// Creates `family`'s knet-nat table with its postrouting chain, map and
// dispatch rule. EXCL on the table: of two racing ADDs exactly one makes the
// dispatch rule; the other's EEXIST is success.
void bootstrap_nat(Nft::State& s, int family) {
  Batch b(s.seq);
  b.add_chain(nat_chain(family), true);
  b.add_masq_map(family);
  b.add_rule(dispatch_rule(family).get());
  int err = b.commit(s);
  if (err && err != EEXIST) {
    fail(std::string("failed to create nftables table ") + (family == AF_INET ? "ip " : "ip6 ") +
             kNatTable,
         err);
  }
}

}  // namespace

void Nft::add_masquerade(const std::vector<knet::IPNet>& addrs, const std::string& comment) {
  if (addrs.empty()) return;
  std::string chain = owner_chain(comment);
  // Tried as if the tables existed (the common case: one round trip); a
  // missing table makes the transaction fail with ENOENT, then it is created.
  for (int attempt = 0;; ++attempt) {
    Batch b(s_->seq);
    bool has_v4 = false, has_v6 = false;
    for (const auto& a : addrs) {
      bool& has_family = a.ip.is_v4() ? has_v4 : has_v6;
      if (!has_family) b.add_plain_chain(nat_chain(family_of(a.ip)).family, kNatTable, chain);
      has_family = true;
      b.add_rule(masquerade_rule(a, chain, comment).get());
      b.masq_element(a.ip, chain, true);
    }
    int err = b.commit(*s_);
    if (!err) return;
    if (err != ENOENT || attempt == 1) {
      fail(std::string("failed to add nftables masquerade rules to table ") + kNatTable + " for " +
               comment,
           err);
    }
    if (has_v4) bootstrap_nat(*s_, AF_INET);
    if (has_v6) bootstrap_nat(*s_, AF_INET6);
  }
}

void Nft::add_macspoof(const std::string& ifname, const std::string& mac,
                       const std::string& comment) {
  Batch b(s_->seq);
  b.add_chain(spoof_chain());
  b.add_rule(spoof_rule(ifname, mac, comment).get());
  if (int err = b.commit(*s_)) {
    fail(std::string("failed to add the nftables MAC spoof check for ") + ifname + " to table " +
             kSpoofTable,
         err);
  }
}

namespace {

constexpr size_t kDumpBuffer = 1 << 18;
// How often a delete whose rules a concurrent DEL removed first is retried.
constexpr int kDeleteAttempts = 5;

// The families knet uses `table` in.
std::vector<uint16_t> families_of(const char* table) {
  if (std::string_view(table) == kSpoofTable) return {NFPROTO_BRIDGE};
  return {NFPROTO_IPV4, NFPROTO_IPV6};
}

// Thrown by dump_family when a concurrent change interrupted the dump.
struct DumpInterrupted {};

// Appends the rules of `table` in `family` to `rules`. The kernel filters by
// table name, but a name filter stops its dump after the first family whose
// table matches: hence one dump per family.
void dump_family_once(Nft::State& s, uint16_t family, const char* table, const std::string& chain,
                      std::vector<RulePtr>& rules) {
  // The kernel sizes each dump chunk to the reader's buffer: a large one
  // means few round trips (it walks the chain from the start for each).
  std::vector<char> buf(kDumpBuffer);
  uint32_t seq = s.seq++;
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETRULE, family, NLM_F_DUMP, seq);
  RulePtr filter = alloc_rule();
  nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, table);
  if (!chain.empty()) nftnl_rule_set_str(filter.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_nlmsg_build_payload(nlh, filter.get());
  if (mnl_socket_sendto(s.sock.get(), nlh, nlh->nlmsg_len) < 0) {
    fail(std::string("failed to list nftables table ") + table, errno);
  }
  size_t start = rules.size();
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(s.sock.get(), buf.data(), buf.size());
    if (n < 0) fail(std::string("failed to list nftables table ") + table, errno);
    DumpStep step =
        parse_rule_dump(buf.data(), static_cast<size_t>(n), seq, s.portid, table, rules);
    if (step == DumpStep::kMore) continue;
    if (step != DumpStep::kInterrupted) return;  // done, or no such table: nothing to list
    // Another process changed the ruleset during the dump (NLM_F_DUMP_INTR):
    // drain the rest of this dump, then the caller's retry starts a fresh one.
    rules.resize(start);
    for (int chunks = 0; chunks < 100000; ++chunks) {
      bool done = false;
      int len = static_cast<int>(n);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(h, len);
           h = mnl_nlmsg_next(h, &len)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = true;
      }
      if (done) break;
      n = mnl_socket_recvfrom(s.sock.get(), buf.data(), buf.size());
      if (n < 0) fail(std::string("failed to list nftables table ") + table, errno);
    }
    throw DumpInterrupted{};
  }
}

// dump_family_once, started again (a bounded number of times) when a
// concurrent ruleset change interrupts it.
void dump_family(Nft::State& s, uint16_t family, const char* table, const std::string& chain,
                 std::vector<RulePtr>& rules) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    try {
      dump_family_once(s, family, table, chain, rules);
      return;
    } catch (const DumpInterrupted&) {
    }
  }
  fail(std::string("failed to list nftables table ") + table, EINTR);
}

std::vector<RulePtr> dump_rules(Nft::State& s, const char* table) {
  std::vector<RulePtr> rules;
  for (uint16_t family : families_of(table)) dump_family(s, family, table, "", rules);
  return rules;
}

std::vector<RulePtr> dump_chain(Nft::State& s, uint16_t family, const char* table,
                                const std::string& chain) {
  std::vector<RulePtr> rules;
  dump_family(s, family, table, chain, rules);
  return rules;
}

}  // namespace

size_t Nft::delete_rules(const char* table, const std::function<bool(std::string_view)>& match) {
  // Each rule is its own unit: many rules go out in bounded batches. A rule
  // that vanishes between dump and delete (a concurrent DEL) aborts its batch
  // with ENOENT: dump again, a bounded number of times.
  size_t removed = 0;
  for (int attempt = 0;; ++attempt) {
    Batch b(s_->seq);
    for (auto& r : dump_rules(*s_, table)) {
      if (!match(rule_comment(r.get()))) continue;
      b.del_rule(r.get());
      b.split_point();
    }
    if (b.count() == 0) return removed;
    int err = b.commit(*s_);
    removed += b.applied_units();
    if (!err) return removed;
    if (err != ENOENT || attempt == kDeleteAttempts - 1) {
      fail(std::string("failed to delete rules from nftables table ") + table, err);
    }
  }
}

namespace {

// Rules of chain `chain` (empty: every chain) of `table` in `family`.
std::vector<RulePtr> dump_chain(Nft::State& s, uint16_t family, const char* table,
                                const std::string& chain);

using OwnerChains = std::vector<std::pair<std::string, std::vector<RulePtr>>>;

// Deletes owner chains (name -> their rules) of `family`'s knet-nat table
// and their map elements; each chain with its elements is one unit of the
// transaction (a chain cannot go while the map still jumps to it). Returns
// 0 or the kernel's errno; `removed` counts the chains deleted.
int delete_owner_chains(Nft::State& s, int family, const OwnerChains& chains, size_t& removed) {
  Batch b(s.seq);
  for (const auto& [name, rules] : chains) {
    for (const auto& r : rules) {
      if (auto ip = rule_saddr(r.get(), family)) b.masq_element(*ip, name, false);
    }
    b.del_chain(nat_chain(family).family, kNatTable, name);
    b.split_point();
  }
  if (!b.count()) return 0;
  int err = b.commit(s);
  removed += b.applied_units();
  return err;
}

}  // namespace

size_t Nft::del_masquerade(const std::string& comment) {
  std::string chain = owner_chain(comment);
  size_t removed = 0;
  for (int family : {AF_INET, AF_INET6}) {
    // Only this owner's chain is read: the cost does not grow with the
    // number of containers.
    OwnerChains found;
    found.emplace_back(chain, dump_chain(*s_, nat_chain(family).family, kNatTable, chain));
    if (found[0].second.empty()) continue;
    size_t chains = 0;
    int err = delete_owner_chains(*s_, family, found, chains);
    if (!err) removed += found[0].second.size();
    // ENOENT: a concurrent DEL of the same owner won.
    if (err && err != ENOENT) {
      fail(std::string("failed to delete nftables masquerade rules for ") + comment, err);
    }
  }
  return removed;
}

size_t Nft::gc_masquerade(const std::function<bool(std::string_view)>& stale) {
  size_t removed = 0;
  for (int family : {AF_INET, AF_INET6}) {
    // Thousands of stale owners go out in bounded batches. One whose chain a
    // concurrent DEL removed first fails its batch with ENOENT (earlier
    // batches stay applied): look again, a bounded number of times.
    for (int attempt = 0;; ++attempt) {
      OwnerChains found;
      for (auto& r : dump_chain(*s_, nat_chain(family).family, kNatTable, "")) {
        std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
        if (chain.rfind("knet-", 0) != 0 || !stale(rule_comment(r.get()))) continue;
        if (found.empty() || found.back().first != chain) {
          found.emplace_back(chain, std::vector<RulePtr>());
        }
        found.back().second.push_back(std::move(r));
      }
      int err = delete_owner_chains(*s_, family, found, removed);
      if (!err) break;
      if (err != ENOENT || attempt == kDeleteAttempts - 1) {
        fail("failed to delete stale nftables masquerade rules", err);
      }
    }
  }
  return removed;
}

std::vector<std::string> Nft::comments(const char* table) {
  std::vector<std::string> out;
  for (auto& r : dump_rules(*s_, table)) out.push_back(rule_comment(r.get()));
  return out;
}

std::vector<Nft::ChainName> Nft::chains() {
  std::vector<ChainName> out;
  for (int attempt = 0; attempt < 50; ++attempt) {
    out.clear();
    std::vector<char> buf(kDumpBuffer);
    uint32_t seq = s_->seq++;
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
    if (mnl_socket_sendto(s_->sock.get(), nlh, nlh->nlmsg_len) < 0) fail("failed to list nftables chains", errno);
    auto cb = [](const nlmsghdr* h, void* data) -> int {
      auto* list = static_cast<std::vector<ChainName>*>(data);
      ChainPtr ch(nftnl_chain_alloc());
      if (!ch || nftnl_chain_nlmsg_parse(h, ch.get()) < 0) return MNL_CB_ERROR;
      const char* table = nftnl_chain_get_str(ch.get(), NFTNL_CHAIN_TABLE);
      const char* name = nftnl_chain_get_str(ch.get(), NFTNL_CHAIN_NAME);
      list->push_back({static_cast<uint16_t>(nftnl_chain_get_u32(ch.get(), NFTNL_CHAIN_FAMILY)),
                       table ? table : "", name ? name : ""});
      return MNL_CB_OK;
    };
    int ret = MNL_CB_OK;
    while (ret > MNL_CB_STOP) {
      ssize_t n = mnl_socket_recvfrom(s_->sock.get(), buf.data(), buf.size());
      if (n < 0) fail("failed to list nftables chains", errno);
      ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, s_->portid, cb, &out);
    }
    if (ret == MNL_CB_STOP) return out;
    if (errno != EINTR) fail("failed to list nftables chains", errno);
    // Interrupted by a concurrent change: drain what is left of the dump, then start again.
    for (int chunks = 0; chunks < 100000; ++chunks) {
      ssize_t n = mnl_socket_recvfrom(s_->sock.get(), buf.data(), buf.size());
      if (n <= 0) break;
      bool done = false;
      int len = static_cast<int>(n);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len))
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = true;
      if (done) break;
    }
  }
  fail("failed to list nftables chains", EINTR);
}

}  // namespace knet::nat
