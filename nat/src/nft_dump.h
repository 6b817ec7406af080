#pragma once
// Internal to knet_nat (and its tests): owning pointers for libnftnl objects
// and the parser of one received chunk of an nftables rule dump.

#include <base/c_ptr.h>
#include <base/error.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace knet::nat::detail {

using RulePtr = knet::CPtr<nftnl_rule, nftnl_rule_free>;
using ChainPtr = knet::CPtr<nftnl_chain, nftnl_chain_free>;
using TablePtr = knet::CPtr<nftnl_table, nftnl_table_free>;
using SetPtr = knet::CPtr<nftnl_set, nftnl_set_free>;
using SetElemPtr = knet::CPtr<nftnl_set_elem, nftnl_set_elem_free>;
using ExprPtr = knet::CPtr<nftnl_expr, nftnl_expr_free>;
using ExprIterPtr = knet::CPtr<nftnl_expr_iter, nftnl_expr_iter_destroy>;
using UdataPtr = knet::CPtr<nftnl_udata_buf, nftnl_udata_buf_free>;

// Throws knet::Error "out of memory allocating an nftables <what>"
// when a libnftnl allocation returned null (their only failure); else `p`.
template <class T>
T* checked(T* p, const char* what) {
  if (!p)
    throw knet::Error(std::string("out of memory allocating an nftables ") + what);
  return p;
}

// What one received chunk of a dump said.
enum class DumpStep {
  kMore,         // rules appended; more chunks follow
  kDone,         // the dump is complete
  kNoTable,      // the kernel has no such table in this family: nothing to list
  kInterrupted,  // a concurrent ruleset change interrupted it (NLM_F_DUMP_INTR)
};

// Parses the `len` bytes of one received chunk of the NFT_MSG_GETRULE dump
// `seq` on port `portid`, appending each rule to `rules`. A rule that cannot
// be parsed, or any other failure, throws knet::Error naming `table` and the
// real cause: never an errno left over from an earlier call.
DumpStep parse_rule_dump(const char* buf, size_t len, uint32_t seq, uint32_t portid,
                         const char* table, std::vector<RulePtr>& rules);

}  // namespace knet::nat::detail
