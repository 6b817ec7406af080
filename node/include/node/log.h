#pragma once
// knet-node's JSON log: the same file format and rules as the plugins'
// (cni/log.h), one line per event: "event" says what happened ("agent" for
// what also goes to stderr, "membership" for nodes joining and leaving,
// "store error" for failed etcd calls), "msg" the details. Safe from any
// thread. Nothing is written until open_log is called with a file.

#include <cni/log.h>

#include <string>
#include <string_view>

namespace knet::vxlan {
struct Membership;
}

namespace knet::node {

// Sends the events from now on to `config`'s file (an empty file: nowhere).
void open_log(const cni::LogConfig& config);
// One JSON line at `level`, if the log takes that level.
void log_event(cni::LogLevel level, std::string_view event, std::string_view msg);
// A failed etcd call: on stderr as log_line does, and as an "error" line.
void log_store_error(const std::string& msg);
// Logs the nodes (l3) or peers (l2) that joined and left since the previous
// call, one "membership" line each, at info; nothing when nothing changed.
void log_membership(const vxlan::Membership& m);
// The same from a change alone (MembershipDelta's `before` and `after`: the
// members that left or changed, and those that joined or changed), after a
// log_membership of the membership it changes. O(change · log N).
void log_membership_change(const vxlan::Membership& before, const vxlan::Membership& after);

}  // namespace knet::node
