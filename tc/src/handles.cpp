#include "handles.h"

#include <base/error.h>
#include <nlw/link.h>

namespace knet::tc::detail {
namespace {

[[noreturn]] void oom(const char* what) {
  throw knet::Error(std::string("out of memory allocating a ") + what);
}

void set_kind(rtnl_tc* tc, const char* kind) {
  if (rtnl_tc_set_kind(tc, kind) < 0) {
    throw knet::Error(std::string("libnl does not support tc kind ") + kind);
  }
}

void set_common(rtnl_tc* tc, int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  rtnl_tc_set_ifindex(tc, ifindex);
  rtnl_tc_set_parent(tc, parent);
  if (handle) rtnl_tc_set_handle(tc, handle);
  set_kind(tc, kind);
}

}  // namespace

QdiscPtr new_qdisc(int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  QdiscPtr q(rtnl_qdisc_alloc());
  if (!q) oom("qdisc");
  set_common(TC_CAST(q.get()), ifindex, parent, handle, kind);
  return q;
}

ClassPtr new_class(int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  ClassPtr c(rtnl_class_alloc());
  if (!c) oom("class");
  set_common(TC_CAST(c.get()), ifindex, parent, handle, kind);
  return c;
}

ClsPtr new_filter(int ifindex, uint32_t parent, uint16_t prio, uint16_t protocol,
                  const char* kind) {
  ClsPtr c(rtnl_cls_alloc());
  if (!c) oom("filter");
  set_common(TC_CAST(c.get()), ifindex, parent, 0, kind);
  rtnl_cls_set_prio(c.get(), prio);
  rtnl_cls_set_protocol(c.get(), protocol);
  return c;
}

ActPtr new_action(const char* kind) {
  ActPtr a(rtnl_act_alloc());
  if (!a) oom("tc action");
  set_kind(TC_CAST(a.get()), kind);
  return a;
}

CachePtr qdisc_cache(nlw::Socket& sock) {
  nl_cache* c = nullptr;
  request(sock, "list qdiscs", [&] { return rtnl_qdisc_alloc_cache(sock.get(), &c); });
  return CachePtr(c);
}

CachePtr class_cache(nlw::Socket& sock, int ifindex) {
  nl_cache* c = nullptr;
  request(sock, "list tc classes", [&] { return rtnl_class_alloc_cache(sock.get(), ifindex, &c); });
  return CachePtr(c);
}

CachePtr filter_cache(nlw::Socket& sock, int ifindex, uint32_t parent) {
  nl_cache* c = nullptr;
  request(sock, "list tc filters",
          [&] { return rtnl_cls_alloc_cache(sock.get(), ifindex, parent, &c); });
  return CachePtr(c);
}

const std::string& LinkLabel::str() const {
  if (!name_) name_ = nlw::link_label(sock_, ifindex_);
  return *name_;
}

void mismatch(const std::string& label, const std::string& what) {
  throw knet::Error(label + ": " + what);
}

std::string handle_str(uint32_t h) {
  char buf[32];
  return rtnl_tc_handle2str(h, buf, sizeof buf);
}

}  // namespace knet::tc::detail
