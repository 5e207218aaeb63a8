// Validation memo: remember that a large input passed its full O(N + E) check.
//
// The checks of checks.h read the whole CSR (offsets monotone, every id in range), and transpose
// and weight checks read every arc again.  For an op whose own work is O(batch) on a large graph
// -- the neighbour sampler, called once per mini-batch on the same graph -- those passes cost
// more than the sampling itself (62.6M arcs: ~90 ms per call against ~100 ms of sampling).  Such
// an op may remember what passed, and then skip the full pass for the very same tensors:
//
//  * the key holds, per tensor, a weak reference to its TensorImpl (so the object's memory cannot
//    be reused by another tensor while the entry exists: no false hit after a free), its data
//    pointer, storage offset, size and version counter (every in-place torch write bumps it), and
//    the check's own parameters (e.g. the id bound);
//  * only contiguous, CPU, non-inference tensors with >= kMemoMinEntries entries in total are
//    remembered: small inputs are always checked in full;
//  * writes that bypass torch (a numpy alias of the tensor, a file changed under a memory map)
//    are not seen by the key.  So only ops whose kernels ALSO bounds-check every row and id they
//    read may use the memo (neighbor_sample's sample_hop: bad_row / bad_col and weights on
//    read; negative_sample: kBadRowptr / kBadCol; the walk ops random_walk / saint_random_walk:
//    walk::walk_one and walk_batch, kBadRow / kBadCol): memory is never read unchecked, and a
//    corrupted input still ends in a typed error when the op touches the corrupted part.
#pragma once
#include <ATen/ATen.h>
#include <c10/core/UndefinedTensorImpl.h>
#include <c10/util/intrusive_ptr.h>

#include <cstring>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <vector>

#include "checks.h"

namespace gnnkit {
namespace memo {

constexpr int64_t kMemoMinEntries = int64_t{1} << 20;
constexpr size_t kMemoCapacity = 16;

struct Ref {
  c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl> impl;
  const void* data;
  int64_t offset, numel, version;
  explicit Ref(const at::Tensor& t)
      : impl(t.getIntrusivePtr()), data(t.data_ptr()), offset(t.storage_offset()), numel(t.numel()),
        version(t._version()) {}
  bool same(const at::Tensor& t) const {
    return impl._unsafe_get_target() == t.unsafeGetTensorImpl() && data == t.data_ptr() &&
           offset == t.storage_offset() && numel == t.numel() && version == t._version();
  }
};

struct Entry {
  const char* tag;
  std::vector<int64_t> params;
  std::vector<Ref> refs;
};

inline std::mutex& lock() {
  static std::mutex m;
  return m;
}
inline std::deque<Entry>& entries() {
  static std::deque<Entry> e;
  return e;
}

// Whether the tensors may be remembered at all (defined, CPU, contiguous, tracked by a version
// counter) and are large enough for the full check to matter.
inline bool eligible(std::initializer_list<at::Tensor> ts) {
  int64_t total = 0;
  for (const at::Tensor& t : ts) {
    if (!t.defined() || !t.device().is_cpu() || !t.is_contiguous() || t.is_inference()) return false;
    total += t.numel();
  }
  return total >= kMemoMinEntries;
}

inline bool matches(const Entry& e, const char* tag, std::initializer_list<at::Tensor> ts,
                    std::initializer_list<int64_t> params) {
  if (std::strcmp(e.tag, tag) != 0 || e.refs.size() != ts.size() ||
      !std::equal(params.begin(), params.end(), e.params.begin(), e.params.end()))
    return false;
  size_t i = 0;
  for (const at::Tensor& t : ts)
    if (!e.refs[i++].same(t)) return false;
  return true;
}

// True when (tag, tensors, params) passed its check before and none of the tensors changed.
inline bool seen(const char* tag, std::initializer_list<at::Tensor> ts, std::initializer_list<int64_t> params) {
  if (!eligible(ts)) return false;
  std::lock_guard<std::mutex> g(lock());
  for (const Entry& e : entries())
    if (matches(e, tag, ts, params)) return true;
  return false;
}

// Record that (tag, tensors, params) passed (oldest entry evicted beyond kMemoCapacity).
inline void remember(const char* tag, std::initializer_list<at::Tensor> ts, std::initializer_list<int64_t> params) {
  if (!eligible(ts)) return;
  Entry e{tag, std::vector<int64_t>(params), {}};
  for (const at::Tensor& t : ts) e.refs.emplace_back(t);
  std::lock_guard<std::mutex> g(lock());
  entries().push_front(std::move(e));
  if (entries().size() > kMemoCapacity) entries().pop_back();
}

}  // namespace memo

// csr_arg (checks.h) through the memo: the full O(N + E) check once per unchanged large
// (rowptr, col, bound); the O(1) dtype / shape checks always.  Only for kernels that bounds-check
// every row and id they read (see the top of this file).
inline CsrArg csr_arg_memo(const at::Tensor& rowptr, const at::Tensor& col, int64_t bound) {
  if (memo::seen("csr", {rowptr, col}, {bound})) {
    check_csr(rowptr, col);
    CsrArg c;
    c.rowptr = rowptr;
    c.col = col;
    c.num_rows = rowptr.numel() - 1;
    c.num_edges = col.numel();
    return c;
  }
  CsrArg c = csr_arg(rowptr, col, bound);
  memo::remember("csr", {rowptr, col}, {bound});
  return c;
}

}  // namespace gnnkit
