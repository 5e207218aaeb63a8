// One argument check per op, called by every backend of that op (csrc/cpu/*, csrc/cuda/*), built
// from the primitives of checks.h.  Each returns the tensors the kernel may read: validated and
// contiguous (see checks.h for the contiguity policy), so a backend never re-checks or differs.
// CPU-only ops (gbp_*, paths, neighbor_sample) keep their one check function next to their only
// kernel; saint_random_walk reuses check_random_walk.
#pragma once
#include <ATen/OpMathType.h>

#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "checks.h"
#include "memo.h"
#include "negative_sample.h"

namespace gnnkit {

// Optional tensor argument -> defined tensor or undefined.
inline at::Tensor opt_arg(const c10::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? *t : at::Tensor();
}

// ---------------------------------------------------------------------------- spmm_sum
// rowptr [N+1], col [E] ids in [0, N_src), value None or [E, H] (dtype of x), x [N_src, H, D].
struct SpmmSumArgs {
  CsrArg csr;
  at::Tensor value, x;
  int64_t H = 0, D = 0;
};

inline SpmmSumArgs check_spmm_sum(const at::Tensor& rowptr, const at::Tensor& col,
                                  const c10::optional<at::Tensor>& value_opt, const at::Tensor& x) {
  const int64_t N = check_csr(rowptr, col);
  check_float_dtype(x, "x");
  check_dim(x, 3, "x", "[num_src_nodes, heads, channels]");
  check_same_device(x, rowptr, "x", "rowptr");
  SpmmSumArgs a;
  a.H = x.size(1);
  a.D = x.size(2);
  checked_mul(checked_mul(N, a.H, "out"), a.D, "out");
  at::Tensor value = opt_arg(value_opt);
  if (value.defined()) {
    check_same_device(value, rowptr, "value", "rowptr");
    check_same_dtype(value, x, "value", "x");
    TORCH_CHECK_VALUE(value.dim() == 2 && value.size(0) == col.numel() && value.size(1) == a.H,
                      "gnnkit: 'value' must have shape [num_edges, heads] = [", col.numel(), ", ", a.H,
                      "], got ", shape_str(value));
    a.value = contiguous_arg(value, "value");
  }
  a.csr = csr_arg(rowptr, col, x.size(0));
  a.x = contiguous_arg(x, "x");
  return a;
}

// ---------------------------------------------------------------------------- spmm_arg
// x [N_src, F]; value None or [E]; reduce 'max' | 'min'.
struct SpmmArgArgs {
  CsrArg csr;
  at::Tensor value, x;
  bool is_max = true;
};

inline SpmmArgArgs check_spmm_arg(const at::Tensor& rowptr, const at::Tensor& col,
                                  const c10::optional<at::Tensor>& value_opt, const at::Tensor& x,
                                  c10::string_view reduce) {
  const int64_t N = check_csr(rowptr, col);
  TORCH_CHECK_VALUE(reduce == "max" || reduce == "min", "gnnkit: spmm_arg: 'reduce' must be 'max' or 'min', got '",
                    std::string(reduce), "'");
  check_float_dtype(x, "x");
  check_dim(x, 2, "x", "[num_src_nodes, channels]");
  check_same_device(x, rowptr, "x", "rowptr");
  checked_mul(N, x.size(1), "out");
  SpmmArgArgs a;
  a.is_max = reduce == "max";
  at::Tensor value = opt_arg(value_opt);
  if (value.defined()) {
    check_same_device(value, rowptr, "value", "rowptr");
    check_same_dtype(value, x, "value", "x");
    TORCH_CHECK_VALUE(value.dim() == 1 && value.size(0) == col.numel(), "gnnkit: 'value' must have shape [",
                      col.numel(), "] for max/min aggregation, got ", shape_str(value));
    a.value = contiguous_arg(value, "value");
  }
  a.csr = csr_arg(rowptr, col, x.size(0));
  a.x = contiguous_arg(x, "x");
  return a;
}

// spmm_arg_backward: col [E] ids in [0, N_src); value None or [E]; x [N_src, F];
// grad_out [N, F] (dtype of x); arg int64 [N, F] in [-1, E).
struct SpmmArgBackwardArgs {
  at::Tensor col, value, x, grad_out, arg;
};

inline SpmmArgBackwardArgs check_spmm_arg_backward(const at::Tensor& col, const c10::optional<at::Tensor>& value_opt,
                                                   const at::Tensor& x, const at::Tensor& grad_out,
                                                   const at::Tensor& arg) {
  check_defined(col, "col");
  check_index_dtype(col, "col");
  check_dim(col, 1, "col", "[num_edges]");
  check_float_dtype(x, "x");
  check_dim(x, 2, "x", "[num_src_nodes, channels]");
  check_float_dtype(grad_out, "grad_out");
  check_dim(grad_out, 2, "grad_out", "[num_dst_nodes, channels]");
  check_same_dtype(grad_out, x, "grad_out", "x");
  TORCH_CHECK_VALUE(x.size(1) == grad_out.size(1), "gnnkit: 'x' has ", x.size(1), " channels but 'grad_out' has ",
                    grad_out.size(1));
  TORCH_CHECK_TYPE(arg.scalar_type() == at::kLong, "gnnkit: 'arg' must be int64, got ", arg.scalar_type());
  check_shape(arg, grad_out.sizes(), "arg");
  for (auto* t : {&x, &grad_out, &arg}) check_same_device(*t, col, t == &x ? "x" : t == &arg ? "arg" : "grad_out", "col");
  const int64_t E = col.numel();
  SpmmArgBackwardArgs a;
  at::Tensor value = opt_arg(value_opt);
  if (value.defined()) {
    check_same_device(value, col, "value", "col");
    check_same_dtype(value, x, "value", "x");
    TORCH_CHECK_VALUE(value.dim() == 1 && value.size(0) == E, "gnnkit: 'value' must have shape [", E, "], got ",
                      shape_str(value));
    a.value = contiguous_arg(value, "value");
  }
  a.col = contiguous_arg(col, "col");
  check_ids(a.col, x.size(0), "col");
  a.arg = contiguous_arg(arg, "arg");
  check_ids(a.arg, E, "arg", -1);
  a.x = contiguous_arg(x, "x");
  a.grad_out = contiguous_arg(grad_out, "grad_out");
  return a;
}

// ---------------------------------------------------------------------------- sddmm
// a [N, H, D], b [N_src, H, D] of one dtype.
struct SddmmArgs {
  CsrArg csr;
  at::Tensor a, b;
};

inline SddmmArgs check_sddmm(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& a,
                             const at::Tensor& b) {
  const int64_t N = check_csr(rowptr, col);
  check_float_dtype(a, "a");
  check_float_dtype(b, "b");
  check_dim(a, 3, "a", "[num_dst_nodes, heads, channels]");
  check_dim(b, 3, "b", "[num_src_nodes, heads, channels]");
  check_same_device(a, rowptr, "a", "rowptr");
  check_same_device(b, rowptr, "b", "rowptr");
  TORCH_CHECK_VALUE(a.size(0) == N, "gnnkit: 'a' must have one row per destination node (", N, "), got ",
                    shape_str(a));
  TORCH_CHECK_VALUE(a.size(1) == b.size(1) && a.size(2) == b.size(2), "gnnkit: 'a' ", shape_str(a), " and 'b' ",
                    shape_str(b), " must agree in heads and channels");
  check_same_dtype(b, a, "b", "a");
  checked_mul(col.numel(), a.size(1), "out");
  SddmmArgs r;
  r.csr = csr_arg(rowptr, col, b.size(0));
  r.a = contiguous_arg(a, "a");
  r.b = contiguous_arg(b, "b");
  return r;
}

// ---------------------------------------------------------------------------- edge_softmax
// rowptr [N+1] offsets into the E rows of scores [E, H].
inline std::pair<at::Tensor, at::Tensor> check_edge_softmax(const at::Tensor& rowptr, const at::Tensor& scores,
                                                            const char* name) {
  check_defined(rowptr, "rowptr");
  check_float_dtype(scores, name);
  check_dim(scores, 2, name, "[num_edges, heads]");
  check_same_device(scores, rowptr, name, "rowptr");
  const auto rp = contiguous_arg(rowptr, "rowptr");
  const std::string total = std::string("len(") + name + ")";
  check_offsets(rp, scores.size(0), "rowptr", total.c_str());
  return {rp, contiguous_arg(scores, name)};
}

// out [E, H] (softmax output), grad_out of the same shape and dtype.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> check_edge_softmax_backward(const at::Tensor& rowptr,
                                                                                  const at::Tensor& out,
                                                                                  const at::Tensor& grad_out) {
  auto ro = check_edge_softmax(rowptr, out, "out");
  check_float_dtype(grad_out, "grad_out");
  check_shape(grad_out, out.sizes(), "grad_out");
  check_same_dtype(grad_out, out, "grad_out", "out");
  check_same_device(grad_out, rowptr, "grad_out", "rowptr");
  return {ro.first, ro.second, contiguous_arg(grad_out, "grad_out")};
}

// ---------------------------------------------------------------------------- fused GAT
// x [N_src, H, D], alpha_src [N_src, H], alpha_dst [N, H] of one dtype; dropout in [0, 1);
// negative_slope finite.
struct GatArgs {
  CsrArg csr;
  at::Tensor x, a_src, a_dst;
  int64_t N = 0, Ns = 0, E = 0, H = 0, D = 0;
};

inline GatArgs check_gat(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x,
                         const at::Tensor& a_src, const at::Tensor& a_dst, double slope, double p) {
  const int64_t N = check_csr(rowptr, col);
  check_float_dtype(x, "x");
  check_dim(x, 3, "x", "[num_src_nodes, heads, channels]");
  check_dim(a_src, 2, "alpha_src", "[num_src_nodes, heads]");
  check_dim(a_dst, 2, "alpha_dst", "[num_dst_nodes, heads]");
  check_same_device(x, rowptr, "x", "rowptr");
  check_same_device(a_src, rowptr, "alpha_src", "rowptr");
  check_same_device(a_dst, rowptr, "alpha_dst", "rowptr");
  TORCH_CHECK_VALUE(a_src.size(0) == x.size(0) && a_src.size(1) == x.size(1),
                    "gnnkit: 'alpha_src' must have shape [num_src_nodes, heads] = [", x.size(0), ", ", x.size(1),
                    "], got ", shape_str(a_src));
  TORCH_CHECK_VALUE(a_dst.size(0) == N && a_dst.size(1) == x.size(1),
                    "gnnkit: 'alpha_dst' must have shape [num_dst_nodes, heads] = [", N, ", ", x.size(1), "], got ",
                    shape_str(a_dst));
  check_same_dtype(a_src, x, "alpha_src", "x");
  check_same_dtype(a_dst, x, "alpha_dst", "x");
  TORCH_CHECK_VALUE(p >= 0.0 && p < 1.0, "gnnkit: attention 'dropout' must be in [0, 1), got ", p);
  TORCH_CHECK_VALUE(std::isfinite(slope), "gnnkit: 'negative_slope' must be finite, got ", slope);
  checked_mul(checked_mul(N, x.size(1), "out"), x.size(2), "out");
  checked_mul(col.numel(), x.size(1), "attention");
  GatArgs g;
  g.csr = csr_arg(rowptr, col, x.size(0));
  g.x = contiguous_arg(x, "x");
  g.a_src = contiguous_arg(a_src, "alpha_src");
  g.a_dst = contiguous_arg(a_dst, "alpha_dst");
  g.N = N;
  g.Ns = x.size(0);
  g.E = col.numel();
  g.H = x.size(1);
  g.D = x.size(2);
  return g;
}

// The backward also takes the transpose (checked to BE the transpose), the forward's out
// [N, H, D] and lse [N, H], and grad_out [N, H, D] (any floating dtype: cast to x's).
struct GatBackwardArgs {
  GatArgs fwd;
  TransposeArg t;
  at::Tensor out, lse, grad_out;
};

inline GatBackwardArgs check_gat_backward(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& t_rowptr,
                                          const at::Tensor& t_col, const at::Tensor& t_perm, const at::Tensor& x,
                                          const at::Tensor& a_src, const at::Tensor& a_dst, const at::Tensor& out,
                                          const at::Tensor& lse, const at::Tensor& grad_out, double slope, double p) {
  GatBackwardArgs b;
  b.fwd = check_gat(rowptr, col, x, a_src, a_dst, slope, p);
  const auto& f = b.fwd;
  check_defined(t_perm, "t_perm");
  b.t = transpose_arg(f.csr, f.Ns, t_rowptr, t_col, &t_perm);
  for (auto* t : {&out, &grad_out}) {
    const char* name = t == &out ? "out" : "grad_out";
    check_float_dtype(*t, name);
    check_shape(*t, {f.N, f.H, f.D}, name);
    check_same_device(*t, rowptr, name, "rowptr");
  }
  check_float_dtype(lse, "lse");
  check_shape(lse, {f.N, f.H}, "lse");
  check_same_device(lse, rowptr, "lse", "rowptr");
  const auto st = x.scalar_type();
  b.out = contiguous_arg(out, "out").to(st);
  b.grad_out = contiguous_arg(grad_out, "grad_out").to(st);
  b.lse = contiguous_arg(lse, "lse").to(at::toOpMathType(st));
  return b;
}

// ---------------------------------------------------------------------------- random_walk
// The CSR of the walk graph (rows = the node a step leaves, ids in [0, N)), start ids in
// [0, N), walk_length >= 0, p and q positive finite, restart_prob in [0, 1] (only with p = q = 1).
// The CSR goes through the validation memo on the CPU (csrc/memo.h): the walk kernels do
// O(num_walks * walk_length) work and check every row / id they read (walk::walk_one and
// random_walk_cpu.cpp's walk_batch), so the O(N + E) pass runs once per unchanged large CSR.
// start (O(num_walks)) is always checked in full.
struct RandomWalkArgs {
  CsrArg csr;
  at::Tensor start;  // int64, contiguous
};

inline RandomWalkArgs check_random_walk(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& start,
                                        int64_t walk_length, double p, double q, double restart_prob) {
  const int64_t N = check_csr(rowptr, col);
  check_defined(start, "start");
  check_index_dtype(start, "start");
  check_dim(start, 1, "start", "[num_walks]");
  check_same_device(start, rowptr, "start", "rowptr");
  TORCH_CHECK_VALUE(walk_length >= 0, "gnnkit: random_walk: 'walk_length' must be >= 0, got ", walk_length);
  checked_mul(start.numel(), checked_add(walk_length, 1, "walks"), "walks");
  TORCH_CHECK_VALUE(p > 0 && std::isfinite(p), "gnnkit: random_walk: 'p' must be a positive finite number, got ", p);
  TORCH_CHECK_VALUE(q > 0 && std::isfinite(q), "gnnkit: random_walk: 'q' must be a positive finite number, got ", q);
  TORCH_CHECK_VALUE(restart_prob >= 0 && restart_prob <= 1,
                    "gnnkit: random_walk: 'restart_prob' must be in [0, 1], got ", restart_prob);
  TORCH_CHECK_VALUE(restart_prob == 0 || (p == 1 && q == 1),
                    "gnnkit: random_walk: walks with restart are uniform; p and q must be 1, got p=", p, ", q=", q);
  RandomWalkArgs a;
  a.csr = csr_arg_memo(rowptr, col, N);
  a.start = contiguous_arg(start, "start").to(at::kLong);
  check_ids(a.start, N, "start");
  return a;
}


// ---------------------------------------------------------------------------- negative_sample
// num_samples >= 0, num_candidates C >= 1; the CSR of the anchor rows (ids in [0, C), through
// the validation memo on the CPU: csrc/memo.h); anchor None, or int32/int64 [M] on rowptr's
// device with every id in [0, num_rows); without anchor, at least one row unless num_samples is
// 0; weight None, or floating [C] on rowptr's device, finite and >= 0 with a positive finite sum.
// Device checks come first: the dispatcher sends a call to the CUDA kernel when ANY tensor
// argument is on CUDA.  Shared by csrc/cpu/negative_sample_cpu.cpp and
// csrc/cuda/negative_sample_cuda.cu.
struct NegativeSampleArgs {
  CsrArg csr;
  at::Tensor anchor;      // int64, contiguous; undefined: global pairs
  at::Tensor weight;      // float64, contiguous; undefined: uniform candidates
  at::Tensor weight_cum;  // CUDA only: inclusive prefix sums of weight (its last entry is weight_total)
  double weight_total = 0;
  int64_t M = 0, K = 0, n = 0;    // M rows of K samples, n = M * K
  std::vector<int64_t> out_sizes;  // [M, K] per anchor, [M] global
  int path = 0;                    // neg::Path
};

inline NegativeSampleArgs check_negative_sample(const at::Tensor& rowptr, const at::Tensor& col,
                                                const c10::optional<at::Tensor>& anchor_opt, int64_t num_samples,
                                                int64_t C, const c10::optional<at::Tensor>& weight_opt,
                                                bool strict, bool exclude_self) {
  TORCH_CHECK_VALUE(num_samples >= 0, "gnnkit: negative_sample: 'num_samples' must be >= 0, got ", num_samples);
  TORCH_CHECK_VALUE(C >= 1, "gnnkit: negative_sample: 'num_candidates' must be >= 1 (the graph has no "
                    "candidate nodes), got ", C);
  check_csr(rowptr, col);
  const at::Tensor anchor = opt_arg(anchor_opt), weight = opt_arg(weight_opt);
  if (anchor.defined()) check_same_device(anchor, rowptr, "anchor", "rowptr");
  if (weight.defined()) check_same_device(weight, rowptr, "weight", "rowptr");
  NegativeSampleArgs A;
  // the full CSR check (monotone rowptr, ids in [0, C)) runs even when nothing is drawn: a
  // malformed graph is refused, never silently accepted; strided views are copied.  Through the
  // validation memo on the CPU (memo.h): the kernel bounds-checks every row it reads (kBadRowptr)
  // and every id it uses as an index (kBadCol), so a per-batch call on the same large graph skips
  // the O(N + E) pass (18 ms per call at E = 10M, more than drawing 1024 negatives)
  A.csr = csr_arg_memo(rowptr, col, C);
  const int64_t R = A.csr.num_rows;
  if (anchor.defined()) {
    check_index_dtype(anchor, "anchor");
    check_dim(anchor, 1, "anchor", "[num_anchors]");
    A.anchor = contiguous_arg(anchor, "anchor").to(at::kLong);
    check_ids(A.anchor, R, "negative_sample: anchor");
  } else {
    TORCH_CHECK_VALUE(R >= 1 || num_samples == 0, "gnnkit: negative_sample: the graph has no nodes "
                      "('rowptr' has one entry); cannot draw ", num_samples, " negative pairs");
  }
  if (weight.defined()) {
    check_float_dtype(weight, "weight");
    check_dim(weight, 1, "weight", "[num_candidates]");
    TORCH_CHECK_VALUE(weight.numel() == C, "gnnkit: negative_sample: 'weight' must have shape [", C,
                      "] (one per candidate), got ", shape_str(weight));
    A.weight = weight.to(at::kDouble).contiguous();
    int64_t first = C;
    if (A.weight.device().is_cpu()) {
      const double* wp = A.weight.data_ptr<double>();
      for (int64_t i = 0; i < C && first == C; ++i) {
        if (!(std::isfinite(wp[i]) && wp[i] >= 0)) first = i;
        else A.weight_total += wp[i];  // in index order: AliasTable's total, bit for bit
      }
    } else {
      const auto bad = A.weight.isfinite().logical_and_(A.weight >= 0).logical_not_();
      const auto ids = at::arange(C, A.weight.options().dtype(at::kLong));
      first = at::where(bad, ids, at::full({}, C, ids.options())).min().item<int64_t>();
    }
    TORCH_CHECK_VALUE(first == C, "gnnkit: negative_sample: 'weight' must be finite and >= 0, got weight[",
                      first, "] = ", (first < C ? A.weight[first].item<double>() : 0.0));
    if (!A.weight.device().is_cpu()) {
      A.weight_cum = at::cumsum(A.weight, 0);
      A.weight_total = A.weight_cum[C - 1].item<double>();
    }
    TORCH_CHECK_VALUE(A.weight_total > 0, "gnnkit: negative_sample: 'weight' sums to 0; no candidate can be drawn");
    TORCH_CHECK_VALUE(std::isfinite(A.weight_total), "gnnkit: negative_sample: 'weight' sums to ", A.weight_total,
                      " (overflow); rescale the weights");
  }
  const bool global = !anchor.defined();
  A.M = global ? num_samples : A.anchor.numel();
  A.K = global ? 1 : num_samples;
  A.n = checked_mul(A.M, A.K, "negatives");
  A.out_sizes = global ? std::vector<int64_t>{A.M} : std::vector<int64_t>{A.M, A.K};
  A.path = neg::choose_path(global, strict, weight.defined(), exclude_self, R, C, A.csr.num_edges);
  return A;
}

// The typed error of a failed negative_sample kernel: code (neg::Fail) at `where` (a row, a CSR
// position, or -1: the whole graph) for sample `item`; returns when code is neg::kNone.
inline void raise_negative_sample_failure(int code, int64_t where, int64_t item, const NegativeSampleArgs& A,
                                          int64_t num_samples, int64_t C, bool exclude_self) {
  if (code == neg::kBadRowptr) {
    const at::Tensor& rp = A.csr.rowptr;
    bad_row(where, rp[where].item<int64_t>(), rp[where + 1].item<int64_t>(), A.csr.num_edges);
  }
  if (code == neg::kBadCol)
    TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: 'col' must hold sorted rows of ids in [0, ", C,
                      ") (num_candidates); the row containing col[", where, "] is not");
  if (code == neg::kNoCandidate) {
    if (where < 0)
      TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: cannot draw ", num_samples, " negative pairs: "
                        "the graph is complete (every pair is an edge", exclude_self ? " or a self-loop" : "",
                        "); use strict=False or a graph with non-edges");
    TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: anchor node ", where, " has no admissible "
                      "negative among the ", C, " candidates (it is linked to all of them",
                      exclude_self ? ", self excluded" : "", "); strict mode cannot meet the request");
  }
  TORCH_CHECK(code != neg::kStuck, "gnnkit: negative_sample: internal: pair ", item, " was rejected ",
              neg::kMaxPairDraws, " times although each draw is accepted with probability >= 1/2");
  TORCH_CHECK(code == neg::kNone, "gnnkit: negative_sample: internal: unknown failure code ", code);
}

}  // namespace gnnkit
