#pragma once
// Shaping what a link receives: the kernel only shapes on egress, so
// everything arriving on the link is redirected (ingress qdisc, a match-all
// u32 filter, a mirred action) to the egress of an ifb, where a shaper sits.

#include <string>

namespace nlw {
class Socket;
}

namespace knet::tc {

// Adds the ingress qdisc (ffff:) to link `ifindex` with a filter that
// redirects every packet to the egress of link `ifb_index`. On failure
// nothing of it is left on the link.
void redirect_ingress(nlw::Socket& sock, int ifindex, int ifb_index);
// Removes the ingress qdisc, and its filters with it; false if there was none.
bool remove_redirect(nlw::Socket& sock, int ifindex);
// True if link `ifindex` has the ingress qdisc and a filter redirecting
// everything to `ifb_index`.
bool redirects_to(nlw::Socket& sock, int ifindex, int ifb_index);
// Throws cni::Error naming `label` unless link `ifindex` has the ingress
// qdisc and a filter redirecting everything to `ifb_index`.
void verify_redirect(nlw::Socket& sock, int ifindex, int ifb_index, const std::string& label);

}  // namespace knet::tc
