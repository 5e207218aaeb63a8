// The argument-checking layer shared by every kernel and every backend (CPU and CUDA call the
// same functions; per-op check functions built from these live in csrc/op_checks.h).
//
// Every check names the argument, the value and its position, and raises a typed error:
//   TORCH_CHECK_TYPE  -> TypeError   (dtypes)
//   TORCH_CHECK_VALUE -> ValueError  (shapes, offset arrays, sizes that would overflow, devices)
//   TORCH_CHECK_INDEX -> IndexError  (ids out of range)
//   OutOfMemoryError  -> torch.OutOfMemoryError (a RuntimeError) naming the tensor and the bytes
// so that no kernel ever touches memory described by a malformed tensor.
//
// Contiguity policy (one rule for every op): kernels read tensors through raw pointers as dense
// row-major memory, so every tensor a kernel reads goes through contiguous_arg(), which returns a
// contiguous tensor -- the tensor itself when it already is, else a dense copy.  Strided views
// (`ei[1]` of a transposed tensor, `x[:, ::2]`) and expanded views (stride 0, e.g.
// `torch.zeros(1).expand(n)`) are therefore accepted and read correctly, never as if they were
// contiguous; the copy costs O(numel) like the range checks.  A view whose dense copy cannot be
// allocated (e.g. a zero-stride rowptr of 2**40 entries) raises OutOfMemoryError naming the
// argument and the bytes requested.  The one documented exception: gbp_push / gbp_correct read
// the feature block `x` in place when its columns have unit stride (any row stride), so that a
// column slice of a memory-mapped [N, F] array is not copied (gbp_cpu.cpp, check_x_block).
//
// Range checks (check_offsets, check_ids) are one pass, run in parallel above kParallelCheck (4M)
// entries, and always report the smallest bad position (independent of thread count).  On CUDA
// tensors they run as a few device reductions.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace gnnkit {

inline std::string shape_str(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

inline std::string shape_str(at::IntArrayRef sizes) {
  std::ostringstream s;
  s << sizes;
  return s.str();
}

// ---------------------------------------------------------------------------- dtypes, shapes
inline void check_defined(const at::Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(t.defined(), "gnnkit: '", name, "' is an undefined tensor");
}

inline void check_index_dtype(const at::Tensor& t, const char* name, bool allow_int32 = true) {
  const auto st = t.scalar_type();
  const bool ok = st == at::kLong || (allow_int32 && st == at::kInt);
  TORCH_CHECK_TYPE(ok, "gnnkit: '", name, "' must be ", allow_int32 ? "int32 or int64" : "int64",
                   ", got ", st);
}

inline void check_float_dtype(const at::Tensor& t, const char* name) {
  TORCH_CHECK_TYPE(at::isFloatingType(t.scalar_type()), "gnnkit: '", name,
                   "' must be a floating tensor, got ", t.scalar_type());
}

inline void check_same_dtype(const at::Tensor& t, const at::Tensor& ref, const char* name,
                             const char* ref_name) {
  TORCH_CHECK_TYPE(t.scalar_type() == ref.scalar_type(), "gnnkit: '", name, "' dtype ",
                   t.scalar_type(), " does not match '", ref_name, "' dtype ", ref.scalar_type());
}

inline void check_dim(const at::Tensor& t, int64_t dim, const char* name, const char* layout) {
  TORCH_CHECK_VALUE(t.dim() == dim, "gnnkit: '", name, "' must have shape ", layout, ", got ",
                    shape_str(t));
}

inline void check_shape(const at::Tensor& t, at::IntArrayRef want, const char* name) {
  TORCH_CHECK_VALUE(t.sizes() == want, "gnnkit: '", name, "' must have shape ", shape_str(want),
                    ", got ", shape_str(t));
}

inline void check_same_device(const at::Tensor& t, const at::Tensor& ref, const char* name,
                              const char* ref_name) {
  TORCH_CHECK_VALUE(t.device() == ref.device(), "gnnkit: '", name, "' is on ", t.device(),
                    " but '", ref_name, "' is on ", ref.device());
}

inline void check_cpu(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK_VALUE(t.device().is_cpu(), "gnnkit: ", op, " runs on CPU tensors; '", name,
                    "' is on ", t.device());
}

// ---------------------------------------------------------------------------- sizes, memory
// a * b for sizes, or ValueError naming `what` when it would overflow int64.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  TORCH_CHECK_VALUE(a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, &r), "gnnkit: the size of '",
                    what, "' overflows int64 (", a, " x ", b, ")");
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  TORCH_CHECK_VALUE(!__builtin_add_overflow(a, b, &r), "gnnkit: the size of '", what,
                    "' overflows int64 (", a, " + ", b, ")");
  return r;
}

// Bytes of a tensor of these sizes and element size, overflow-checked.
inline int64_t checked_bytes(at::IntArrayRef sizes, int64_t itemsize, const char* what) {
  int64_t n = 1;
  for (auto s : sizes) {
    TORCH_CHECK_VALUE(s >= 0, "gnnkit: '", what, "' would have a negative size ", shape_str(sizes));
    n = checked_mul(n, s, what);
  }
  return checked_mul(n, itemsize, what);
}

[[noreturn]] inline void out_of_memory(const char* what, at::IntArrayRef sizes, int64_t bytes,
                                       const std::string& why) {
  TORCH_CHECK_WITH(OutOfMemoryError, false, "gnnkit: cannot allocate '", what, "' of shape ",
                   shape_str(sizes), " (", bytes, " bytes)", why.empty() ? "" : ": ", why);
  __builtin_unreachable();
}

inline int64_t physical_memory_bytes() {
  static const int64_t mem = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : std::numeric_limits<int64_t>::max();
  }();
  return mem;
}

// Run `make` (which allocates `bytes` for `what`), turning an allocation failure (c10's allocator
// error or std::bad_alloc) into OutOfMemoryError naming `what`.  CPU requests larger than the
// machine's physical memory are refused before trying (overcommit could otherwise hand out pages
// that the OOM killer later reclaims with a signal).
template <typename F>
inline auto guarded_alloc(const char* what, at::IntArrayRef sizes, int64_t bytes, bool cpu, const F& make)
    -> decltype(make()) {
  if (cpu && bytes > physical_memory_bytes())
    out_of_memory(what, sizes, bytes, "more than this machine's physical memory");
  try {
    return make();
  } catch (const c10::OutOfMemoryError&) {
    throw;
  } catch (const c10::Error& e) {
    out_of_memory(what, sizes, bytes, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    out_of_memory(what, sizes, bytes, "std::bad_alloc");
  }
}

// at::empty / at::zeros / at::full with overflow-checked sizes and a typed allocation error.
inline at::Tensor alloc(const char* what, at::IntArrayRef sizes, const at::TensorOptions& opt) {
  const int64_t bytes = checked_bytes(sizes, c10::elementSize(c10::typeMetaToScalarType(opt.dtype())), what);
  return guarded_alloc(what, sizes, bytes, opt.device().is_cpu(), [&] { return at::empty(sizes, opt); });
}
inline at::Tensor alloc_zeros(const char* what, at::IntArrayRef sizes, const at::TensorOptions& opt) {
  return alloc(what, sizes, opt).zero_();
}
inline at::Tensor alloc_full(const char* what, at::IntArrayRef sizes, const at::Scalar& v,
                             const at::TensorOptions& opt) {
  return alloc(what, sizes, opt).fill_(v);
}

// A std::vector<T> of n elements (value-initialised), typed error on failure.
template <typename T>
inline std::vector<T> alloc_vector(const char* what, int64_t n, const T& v = T()) {
  const int64_t bytes = checked_mul(n, static_cast<int64_t>(sizeof(T)), what);
  return guarded_alloc(what, {n}, bytes, true, [&] { return std::vector<T>(static_cast<size_t>(n), v); });
}

// The contiguity policy (see the header comment): `t` itself when contiguous, else a dense copy.
inline at::Tensor contiguous_arg(const at::Tensor& t, const char* name) {
  if (t.is_contiguous()) return t;
  const int64_t bytes = checked_bytes(t.sizes(), t.element_size(), name);
  return guarded_alloc(name, t.sizes(), bytes, t.device().is_cpu(), [&] { return t.contiguous(); });
}

// ---------------------------------------------------------------------------- ranges
// Entries per parallel chunk of a range check.  Large on purpose: a serial pass over 4M ids takes a
// few ms, while a parallel region on a loaded machine waits for every thread to get a core (measured
// on the 2-core team machine: 64K-entry chunks made the small bench_ops forward visibly slower).
constexpr int64_t kParallelCheck = int64_t(1) << 22;

// Smallest i in [0, n) with bad(i), or n when none; parallel above kParallelCheck entries.
template <typename Bad>
inline int64_t first_bad(int64_t n, const Bad& bad) {
  if (n <= kParallelCheck) {
    for (int64_t i = 0; i < n; ++i)
      if (bad(i)) return i;
    return n;
  }
  std::atomic<int64_t> first{n};
  at::parallel_for(0, n, kParallelCheck, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e && i < first.load(std::memory_order_relaxed); ++i)
      if (bad(i)) {
        int64_t cur = first.load();
        while (i < cur && !first.compare_exchange_weak(cur, i)) {}
        return;
      }
  });
  return first.load();
}

// An offset array: int64 1-D with >= 1 entry, ptr[0] == 0, non-decreasing, ptr[-1] == total
// (total < 0: any last entry, for offsets whose total is not passed, e.g. gbp_correct's rowptr).
// `name` is the array, `total_desc` says what `total` counts (e.g. "len(col)").  ptr must be
// contiguous (pass it through contiguous_arg first).
inline void check_offsets(const at::Tensor& ptr, int64_t total, const char* name, const char* total_desc) {
  TORCH_CHECK_TYPE(ptr.scalar_type() == at::kLong, "gnnkit: '", name, "' must be int64, got ", ptr.scalar_type());
  check_dim(ptr, 1, name, "[num_rows + 1]");
  TORCH_CHECK_VALUE(ptr.numel() >= 1, "gnnkit: '", name, "' must have at least one entry ([num_rows + 1] ",
                    "offsets, ", name, "[0] = 0), got an empty tensor");
  TORCH_CHECK_VALUE(ptr.is_contiguous(), "gnnkit: internal: '", name, "' must be made contiguous before checking");
  const int64_t n = ptr.numel() - 1;
  if (ptr.device().is_cpu()) {
    const int64_t* p = ptr.data_ptr<int64_t>();
    TORCH_CHECK_VALUE(p[0] == 0, "gnnkit: ", name, "[0] must be 0, got ", p[0]);
    TORCH_CHECK_VALUE(total < 0 || p[n] == total, "gnnkit: ", name, "[-1] = ", p[n], " must equal ", total_desc,
                      " = ", total, " (", name, " has ", n + 1, " entries)");
    const int64_t i = first_bad(n, [&](int64_t k) { return p[k + 1] < p[k]; });
    TORCH_CHECK_VALUE(i == n, "gnnkit: ", name, " is not a valid CSR offset array at row ", i, ": ", name, "[",
                      i, "] = ", (i < n ? p[i] : 0), " > ", name, "[", i + 1, "] = ", (i < n ? p[i + 1] : 0),
                      " (must be non-decreasing)");
    return;
  }
  const int64_t first = ptr[0].item<int64_t>(), last = ptr[n].item<int64_t>();
  TORCH_CHECK_VALUE(first == 0, "gnnkit: ", name, "[0] must be 0, got ", first);
  TORCH_CHECK_VALUE(total < 0 || last == total, "gnnkit: ", name, "[-1] = ", last, " must equal ", total_desc,
                    " = ", total, " (", name, " has ", n + 1, " entries)");
  if (n > 0) {
    const auto dec = ptr.diff() < 0;
    if (dec.any().item<bool>()) {
      const int64_t i = dec.nonzero()[0][0].item<int64_t>();
      TORCH_CHECK_VALUE(false, "gnnkit: ", name, " is not a valid CSR offset array at row ", i, ": ", name, "[", i,
                        "] = ", ptr[i].item<int64_t>(), " > ", name, "[", i + 1, "] = ", ptr[i + 1].item<int64_t>(),
                        " (must be non-decreasing)");
    }
  }
}

// Ids: every entry of the contiguous integer tensor `ids` in [lo, n) (lo = 0, or -1 where -1 is a
// documented "none" marker).  IndexError names the first bad position and its value.
inline void check_ids(const at::Tensor& ids, int64_t n, const char* name, int64_t lo = 0) {
  TORCH_CHECK_VALUE(ids.is_contiguous(), "gnnkit: internal: '", name, "' must be made contiguous before checking");
  const int64_t m = ids.numel();
  if (m == 0) return;
  if (ids.device().is_cpu()) {
    AT_DISPATCH_INDEX_TYPES(ids.scalar_type(), "gnnkit_check_ids", [&] {
      const index_t* p = ids.data_ptr<index_t>();
      const int64_t i = first_bad(m, [&](int64_t k) {
        const int64_t v = static_cast<int64_t>(p[k]);
        return v < lo || v >= n;
      });
      TORCH_CHECK_INDEX(i == m, "gnnkit: ", name, "[", i, "] = ", (i < m ? static_cast<int64_t>(p[i]) : 0),
                        " is out of range [", lo, ", ", n, ")");
    });
    return;
  }
  const auto flat = ids.reshape({-1});
  const auto bad = (flat < lo).logical_or_(flat >= n);
  if (bad.any().item<bool>()) {
    const int64_t i = bad.nonzero()[0][0].item<int64_t>();
    TORCH_CHECK_INDEX(false, "gnnkit: ", name, "[", i, "] = ", flat[i].item<int64_t>(), " is out of range [", lo,
                      ", ", n, ")");
  }
}

// ---------------------------------------------------------------------------- CSR arguments
// A validated CSR: contiguous int64 rowptr [N+1] (rowptr[0] = 0, non-decreasing, rowptr[N] = E)
// and contiguous int32/int64 col [E] with every id in [0, num_cols).
struct CsrArg {
  at::Tensor rowptr, col;
  int64_t num_rows = 0, num_edges = 0;
};

// Dtype / shape / device checks only (O(1)); returns N.  Used where the full check follows.
inline int64_t check_csr(const at::Tensor& rowptr, const at::Tensor& col, const char* rp_name = "rowptr",
                         const char* col_name = "col") {
  check_defined(rowptr, rp_name);
  check_defined(col, col_name);
  TORCH_CHECK_TYPE(rowptr.scalar_type() == at::kLong, "gnnkit: '", rp_name, "' must be int64, got ",
                   rowptr.scalar_type());
  check_dim(rowptr, 1, rp_name, "[num_nodes + 1]");
  TORCH_CHECK_VALUE(rowptr.numel() >= 1, "gnnkit: '", rp_name, "' must have at least one entry ",
                    "([num_nodes + 1] offsets), got an empty tensor");
  check_index_dtype(col, col_name);
  check_dim(col, 1, col_name, "[num_edges]");
  check_same_device(col, rowptr, col_name, rp_name);
  return rowptr.numel() - 1;
}

// The full O(N + E) check; num_cols < 0 skips the col range check (callers that check it later).
inline CsrArg csr_arg(const at::Tensor& rowptr, const at::Tensor& col, int64_t num_cols,
                      const char* rp_name = "rowptr", const char* col_name = "col") {
  CsrArg c;
  c.num_rows = check_csr(rowptr, col, rp_name, col_name);
  c.rowptr = contiguous_arg(rowptr, rp_name);
  c.col = contiguous_arg(col, col_name);
  c.num_edges = c.col.numel();
  const std::string total = std::string("the number of edges (len(") + col_name + "))";
  check_offsets(c.rowptr, c.num_edges, rp_name, total.c_str());
  if (num_cols >= 0) check_ids(c.col, num_cols, col_name);
  return c;
}

// The transposed CSR of `fwd` (rows = the num_cols sources, t_col = destinations, t_perm = CSR
// position of each transposed entry), checked fully: shapes, dtypes, offsets, id ranges and --
// with t_perm -- that it IS the transpose: t_perm is a permutation of [0, E) and transposed entry
// t of row j names an arc k = t_perm[t] with col[k] == j whose row is t_col[t].  A transpose of
// another graph would otherwise make a backward pass silently use a different graph.
struct TransposeArg {
  at::Tensor t_rowptr, t_col, t_perm;  // t_perm undefined when not given
};

inline TransposeArg transpose_arg(const CsrArg& fwd, int64_t num_cols, const at::Tensor& t_rowptr,
                                  const at::Tensor& t_col, const at::Tensor* t_perm) {
  TransposeArg t;
  const CsrArg tc = csr_arg(t_rowptr, t_col, fwd.num_rows, "t_rowptr", "t_col");
  TORCH_CHECK_VALUE(tc.num_rows == num_cols, "gnnkit: 't_rowptr' must have num_src_nodes + 1 = ", num_cols + 1,
                    " entries (the transposed CSR), got ", shape_str(t_rowptr));
  TORCH_CHECK_VALUE(tc.num_edges == fwd.num_edges, "gnnkit: 't_col' must have len(col) = ", fwd.num_edges,
                    " entries (the transposed CSR), got ", shape_str(t_col));
  check_same_dtype(tc.col, fwd.col, "t_col", "col");
  check_same_device(tc.rowptr, fwd.rowptr, "t_rowptr", "rowptr");
  t.t_rowptr = tc.rowptr;
  t.t_col = tc.col;
  if (t_perm == nullptr || !t_perm->defined()) return t;
  TORCH_CHECK_TYPE(t_perm->scalar_type() == at::kLong, "gnnkit: 't_perm' must be int64, got ", t_perm->scalar_type());
  check_dim(*t_perm, 1, "t_perm", "[num_edges]");
  check_same_device(*t_perm, fwd.rowptr, "t_perm", "rowptr");
  TORCH_CHECK_VALUE(t_perm->numel() == fwd.num_edges, "gnnkit: 't_perm' must have len(col) = ", fwd.num_edges,
                    " entries, got ", shape_str(*t_perm));
  t.t_perm = contiguous_arg(*t_perm, "t_perm");
  const int64_t E = fwd.num_edges;
  check_ids(t.t_perm, E, "t_perm");
  if (E == 0) return t;
  if (!fwd.rowptr.device().is_cpu()) {
    // device: the same conditions as tensor reductions
    const auto rows = at::repeat_interleave(at::arange(num_cols, fwd.rowptr.options()), t.t_rowptr.diff(), E);
    const auto dst = at::repeat_interleave(at::arange(fwd.num_rows, fwd.rowptr.options()), fwd.rowptr.diff(), E);
    const auto bad = (fwd.col.index_select(0, t.t_perm).to(at::kLong) != rows)
                         .logical_or_(dst.index_select(0, t.t_perm) != t.t_col.to(at::kLong));
    const auto hits = at::zeros({E}, fwd.rowptr.options()).index_add_(0, t.t_perm, at::ones({E}, fwd.rowptr.options()));
    TORCH_CHECK_VALUE(!bad.any().item<bool>() && (hits == 1).all().item<bool>(),
                      "gnnkit: (t_rowptr, t_col, t_perm) is not the transpose of (rowptr, col)");
    return t;
  }
  auto seen = alloc_vector<uint8_t>("t_perm check bitmap", E, 0);
  const int64_t* trp = t.t_rowptr.data_ptr<int64_t>();
  const int64_t* tpp = t.t_perm.data_ptr<int64_t>();
  const int64_t* rp = fwd.rowptr.data_ptr<int64_t>();
  AT_DISPATCH_INDEX_TYPES(fwd.col.scalar_type(), "gnnkit_check_transpose", [&] {
    const index_t* cp = fwd.col.data_ptr<index_t>();
    const index_t* tcp = t.t_col.data_ptr<index_t>();
    // (with duplicated arcs the position reported for "named twice" depends on thread timing)
    const int64_t bad = first_bad(E, [&](int64_t q) {
      const int64_t k = tpp[q];
      const int64_t i = static_cast<int64_t>(tcp[q]);
      if (k < rp[i] || k >= rp[i + 1]) return true;  // arc k is not in row t_col[q]
      if (__atomic_exchange_n(&seen[k], uint8_t(1), __ATOMIC_RELAXED) != 0) return true;  // k twice
      // col[k] must be the transposed row j holding q (t_rowptr[j] <= q < t_rowptr[j + 1])
      const int64_t j = static_cast<int64_t>(cp[k]);
      return q < trp[j] || q >= trp[j + 1];
    });
    TORCH_CHECK_VALUE(bad == E, "gnnkit: (t_rowptr, t_col, t_perm) is not the transpose of (rowptr, col): ",
                      "t_perm[", bad, "] = ", (bad < E ? tpp[bad] : 0), " with t_col[", bad, "] = ",
                      (bad < E ? static_cast<int64_t>(tcp[bad]) : 0),
                      " names no arc of that row and source, or an arc named twice");
  });
  return t;
}

// ---------------------------------------------------------------------------- older entry points
// O(1) checks of rowptr's two ends (CPU); kept for kernels written against the first API.  New
// code: csr_arg(), which also checks monotonicity and col ranges in one pass.
inline void check_csr_ends_cpu(const at::Tensor& rowptr, int64_t E) {
  const auto rp = contiguous_arg(rowptr, "rowptr");
  check_offsets(rp, E, "rowptr", "the number of edges (len(col))");
}

inline void check_edge_tensor(const at::Tensor& v, int64_t E, const char* name) {
  TORCH_CHECK_VALUE((v.dim() == 1 || v.dim() == 2) && v.size(0) == E, "gnnkit: '", name,
                    "' must have shape [num_edges] or [num_edges, heads] with num_edges = ", E,
                    ", got ", shape_str(v));
}

[[noreturn]] inline void bad_row(int64_t i, int64_t lo, int64_t hi, int64_t E) {
  TORCH_CHECK_VALUE(false, "gnnkit: rowptr is not a valid CSR offset array at row ", i,
                    ": rowptr[", i, "] = ", lo, ", rowptr[", i + 1, "] = ", hi,
                    " (must be non-decreasing and within [0, ", E, "])");
  __builtin_unreachable();
}

[[noreturn]] inline void bad_col(int64_t k, int64_t j, int64_t n) {
  TORCH_CHECK_INDEX(false, "gnnkit: col[", k, "] = ", j, " is out of range [0, ", n, ")");
  __builtin_unreachable();
}

}  // namespace gnnkit
