#pragma once
// Shaping what a link receives: the kernel only shapes on egress, so
// everything arriving on the link is redirected (a match-all u32 filter with
// a mirred action, on the link's ingress qdisc) to the egress of an ifb,
// where a shaper sits. knet's filter lives beside any other tool's filters on
// that qdisc; what proves a filter is knet's is where it redirects to.

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace nlw {
class Socket;
}

namespace knet::tc {

// Adds a filter redirecting every packet link `ifindex` receives to the
// egress of link `ifb_index`, on the link's ingress qdisc (or clsact), which
// is created if there is none. Filters already there stay; if the kernel
// refuses knet's filter beside them (another tool holds its priority with a
// filter of another kind or protocol), throws naming the link. On failure
// nothing of it is left on the link.
void redirect_ingress(nlw::Socket& sock, int ifindex, int ifb_index);
// Removes the filters on link `ifindex`'s ingress that redirect to
// `ifb_index`; false if there was none. Other filters stay, and so does the
// ingress qdisc: nothing proves it knet's, an empty one passes everything,
// deleting it costs an RCU grace period, and the link's deletion takes it along.
// `before_deleting`, if given, runs once, after the filters are found and
// before they are deleted (also when there are none): the place to delete
// the ifb itself, which the filters then no longer name (see
// knet::bandwidth::remove for why that order).
bool remove_redirect(nlw::Socket& sock, int ifindex, int ifb_index,
                     const std::function<void()>& before_deleting = {});
// True if link `ifindex` has a filter on its ingress redirecting everything to `ifb_index`.
bool redirects_to(nlw::Socket& sock, int ifindex, int ifb_index);
// For every link in sock's namespace that redirects its ingress somewhere:
// target ifindex -> the links redirecting to it. One qdisc dump, then one
// filter dump per link with an ingress qdisc.
std::map<int, std::vector<int>> redirects_by_target(nlw::Socket& sock);
// Throws knet::Error naming `label` unless link `ifindex` has a filter on its
// ingress redirecting everything to `ifb_index`.
void verify_redirect(nlw::Socket& sock, int ifindex, int ifb_index, const std::string& label);

}  // namespace knet::tc
