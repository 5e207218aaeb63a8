// One argument check per op, called by every backend of that op (csrc/cpu/*, csrc/cuda/*), built
// from the primitives of checks.h.  Each returns the tensors the kernel may read: validated and
// contiguous (see checks.h for the contiguity policy), so a backend never re-checks or differs.
// CPU-only ops (gbp_*, paths, neighbor_sample, saint_random_walk) keep their one check function
// next to their only kernel.
#pragma once
#include <ATen/OpMathType.h>

#include <cmath>
#include <string>
#include <tuple>
#include <utility>

#include "checks.h"

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
  a.csr = csr_arg(rowptr, col, N);
  a.start = contiguous_arg(start, "start").to(at::kLong);
  check_ids(a.start, N, "start");
  return a;
}

}  // namespace gnnkit
