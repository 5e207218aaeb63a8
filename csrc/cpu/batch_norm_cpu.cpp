// BatchNorm1d fused with an optional ReLU over x [N, C] (CPU):
//   y = a((x - mu) * rsqrt(var + eps) * w + b),  a = ReLU (`relu`) or the identity,
// with (mu, var) the per-channel batch mean and biased variance (training: `mean`/`var` None) or
// the given running statistics (evaluation).  The backward reads the ReLU mask from the output
// (y > 0, as torch's threshold_backward of relu's output: a masked entry's gradient is exactly 0,
// whatever it was, inf and NaN included) and computes the standard BN gradient
//   g' = g [y > 0],  dx = w s (g' - mean(g') - xhat mean(g' xhat)),  s = rsqrt(var + eps),
//   dw = sum g' xhat,  db = sum g'        (evaluation: dx = w s g', the statistics are constants).
//
// * Statistics are two passes (sum, then sum of squared deviations from the mean): partial sums
//   over a block of kRowBlock rows in x's dtype, blocks added in float64.  Rows are cut into fixed blocks of kRowBlock rows; each
//   block's per-channel partial sums are formed in row order and the partials are added in block
//   order, so the result is bitwise the same for any thread count.  Blocks run on at::parallel_for
//   only above kSerialWork elements (the threading policy of gnnkit/_threads.py: a GIN batch of
//   [3200, 128] stays on the calling thread).
// * The element passes are y = x * alpha + beta (alpha = s w, beta = b - mu alpha; torch's own CPU
//   transform) and dx = (g' - mean(g')) * (s w) - (x - mu) * k, k = s^3 w mean(g' (x - mu)).
// * Every inner loop runs over the C contiguous channels of one row; the loops are compiled for the
//   x86-64 baseline, AVX2 and AVX-512 (picked at run time, or with GNNKIT_BN_ISA = generic | avx2 |
//   avx512) with fp-contract off, so every variant executes the same IEEE operations.
// * Running statistics are updated by batch_norm_update_stats (a separate in-place op: the fused
//   op is functional so that torch.library can register its autograd) exactly as torch's CPU
//   batch norm does: r = m * stat + (1 - m) * r in float64, running_var with the unbiased variance.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <string>
#include <tuple>
#include <vector>

#include "checks.h"
#include "cpu/isa.h"

namespace gnnkit {
namespace {

constexpr int64_t kRowBlock = 64;                  // rows per partial sum (fixes the reduction order)
constexpr int64_t kSerialWork = int64_t(1) << 18;  // elements below which one thread runs it all

// ------------------------------------------------------------------ the loops (rows [r0, r1))
// g if keep else +0, as a bitwise AND: branch-free and vectorised (a select compiles to a branch
// here; a multiply by [keep] would turn a masked inf / NaN gradient into NaN, torch gives 0).
template <typename T>
__attribute__((always_inline)) inline T masked(T g, bool keep) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(T) == sizeof(U), "float32 / float64 only");
  U u;
  std::memcpy(&u, &g, sizeof(T));
  u &= U(0) - static_cast<U>(keep);
  T r;
  std::memcpy(&r, &u, sizeof(T));
  return r;
}

// The reductions run over channel chunks of kLanes: the chunk's accumulators (x's dtype: a block
// has only kRowBlock rows; blocks are then added in float64) stay in registers across the rows of a block (a plain loop over all C channels per row would load and
// store every accumulator once per element); the C % kLanes tail channels use the same loop
// with a run-time width.  Either way each channel's sum is formed in row order.
constexpr int64_t kLanes = 16;

// acc[c] = sum_r x[r, c]
template <typename T, int64_t W>
__attribute__((always_inline)) inline void sum_chunk(const T* __restrict__ x, int64_t r0, int64_t r1, int64_t C,
                                                     int64_t c0, int64_t w, double* __restrict__ acc) {
  T a[kLanes] = {};
  const int64_t n = W > 0 ? W : w;
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict__ xr = x + r * C + c0;
#pragma omp simd
    for (int64_t l = 0; l < n; ++l) a[l] += xr[l];
  }
  for (int64_t l = 0; l < n; ++l) acc[c0 + l] = a[l];
}

template <typename T>
__attribute__((always_inline)) inline void sum_rows(const T* __restrict__ x, int64_t r0, int64_t r1, int64_t C,
                                                    double* __restrict__ acc) {
  int64_t c0 = 0;
  for (; c0 + kLanes <= C; c0 += kLanes) sum_chunk<T, kLanes>(x, r0, r1, C, c0, kLanes, acc);
  if (c0 < C) sum_chunk<T, 0>(x, r0, r1, C, c0, C - c0, acc);
}

// acc[c] = sum_r (x[r, c] - mu[c])^2
template <typename T, int64_t W>
__attribute__((always_inline)) inline void sqdev_chunk(const T* __restrict__ x, int64_t r0, int64_t r1, int64_t C,
                                                       int64_t c0, int64_t w, const double* __restrict__ mu,
                                                       double* __restrict__ acc) {
  T a[kLanes] = {}, m[kLanes] = {};
  const int64_t n = W > 0 ? W : w;
  for (int64_t l = 0; l < n; ++l) m[l] = static_cast<T>(mu[c0 + l]);
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict__ xr = x + r * C + c0;
#pragma omp simd
    for (int64_t l = 0; l < n; ++l) {
      const T d = xr[l] - m[l];
      a[l] += d * d;
    }
  }
  for (int64_t l = 0; l < n; ++l) acc[c0 + l] = a[l];
}

template <typename T>
__attribute__((always_inline)) inline void sqdev_rows(const T* __restrict__ x, int64_t r0, int64_t r1, int64_t C,
                                                      const double* __restrict__ mu, double* __restrict__ acc) {
  int64_t c0 = 0;
  for (; c0 + kLanes <= C; c0 += kLanes) sqdev_chunk<T, kLanes>(x, r0, r1, C, c0, kLanes, mu, acc);
  if (c0 < C) sqdev_chunk<T, 0>(x, r0, r1, C, c0, C - c0, mu, acc);
}

// y = a(x * alpha + beta)
template <typename T, bool kRelu>
__attribute__((always_inline)) inline void affine_rows(const T* __restrict__ x, T* __restrict__ y, int64_t r0,
                                                       int64_t r1, int64_t C, const T* __restrict__ alpha,
                                                       const T* __restrict__ beta) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict__ xr = x + r * C;
    T* __restrict__ yr = y + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const T v = xr[c] * alpha[c] + beta[c];
      yr[c] = kRelu ? (v > T(0) ? v : T(0)) : v;
    }
  }
}

// sg[c] = sum_r g'[r, c],  sgx[c] = sum_r g'[r, c] (x[r, c] - mu[c]),  g' = g [y > 0] (kRelu) or g
template <typename T, bool kRelu, int64_t W>
__attribute__((always_inline)) inline void grad_sums_chunk(const T* __restrict__ g, const T* __restrict__ y,
                                                           const T* __restrict__ x, int64_t r0, int64_t r1,
                                                           int64_t C, int64_t c0, int64_t w,
                                                           const double* __restrict__ mu, double* __restrict__ sg,
                                                           double* __restrict__ sgx) {
  T a[kLanes] = {}, b[kLanes] = {}, m[kLanes] = {};
  const int64_t n = W > 0 ? W : w;
  for (int64_t l = 0; l < n; ++l) m[l] = static_cast<T>(mu[c0 + l]);
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict__ gr = g + r * C + c0;
    const T* __restrict__ yr = y + r * C + c0;
    const T* __restrict__ xr = x + r * C + c0;
#pragma omp simd
    for (int64_t l = 0; l < n; ++l) {
      const T gm = kRelu ? masked(gr[l], yr[l] > T(0)) : gr[l];
      a[l] += gm;
      b[l] += gm * (xr[l] - m[l]);
    }
  }
  for (int64_t l = 0; l < n; ++l) {
    sg[c0 + l] = a[l];
    sgx[c0 + l] = b[l];
  }
}

template <typename T, bool kRelu>
__attribute__((always_inline)) inline void grad_sums_rows(const T* __restrict__ g, const T* __restrict__ y,
                                                          const T* __restrict__ x, int64_t r0, int64_t r1,
                                                          int64_t C, const double* __restrict__ mu,
                                                          double* __restrict__ sg, double* __restrict__ sgx) {
  int64_t c0 = 0;
  for (; c0 + kLanes <= C; c0 += kLanes)
    grad_sums_chunk<T, kRelu, kLanes>(g, y, x, r0, r1, C, c0, kLanes, mu, sg, sgx);
  if (c0 < C) grad_sums_chunk<T, kRelu, 0>(g, y, x, r0, r1, C, c0, C - c0, mu, sg, sgx);
}

// dx = (g' - mg) * a - (x - mu) * k
template <typename T, bool kRelu>
__attribute__((always_inline)) inline void grad_x_rows(const T* __restrict__ g, const T* __restrict__ y,
                                                       const T* __restrict__ x, T* __restrict__ dx, int64_t r0,
                                                       int64_t r1, int64_t C, const T* __restrict__ mg,
                                                       const T* __restrict__ a, const T* __restrict__ mu,
                                                       const T* __restrict__ k) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict__ gr = g + r * C;
    const T* __restrict__ yr = y + r * C;
    const T* __restrict__ xr = x + r * C;
    T* __restrict__ dr = dx + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const T gm = kRelu ? masked(gr[c], yr[c] > T(0)) : gr[c];
      dr[c] = (gm - mg[c]) * a[c] - (xr[c] - mu[c]) * k[c];
    }
  }
}

#define GNNKIT_BN_VARIANTS(SUFFIX, ATTR)                                                                  \
  template <typename T>                                                                                   \
  ATTR void sum_rows_##SUFFIX(const T* x, int64_t r0, int64_t r1, int64_t C, double* acc) {               \
    sum_rows<T>(x, r0, r1, C, acc);                                                                       \
  }                                                                                                       \
  template <typename T>                                                                                   \
  ATTR void sqdev_rows_##SUFFIX(const T* x, int64_t r0, int64_t r1, int64_t C, const double* mu,          \
                                double* acc) {                                                            \
    sqdev_rows<T>(x, r0, r1, C, mu, acc);                                                                 \
  }                                                                                                       \
  template <typename T, bool kRelu>                                                                       \
  ATTR void affine_rows_##SUFFIX(const T* x, T* y, int64_t r0, int64_t r1, int64_t C, const T* alpha,     \
                                 const T* beta) {                                                         \
    affine_rows<T, kRelu>(x, y, r0, r1, C, alpha, beta);                                                  \
  }                                                                                                       \
  template <typename T, bool kRelu>                                                                       \
  ATTR void grad_sums_rows_##SUFFIX(const T* g, const T* y, const T* x, int64_t r0, int64_t r1, int64_t C, \
                                    const double* mu, double* sg, double* sgx) {                         \
    grad_sums_rows<T, kRelu>(g, y, x, r0, r1, C, mu, sg, sgx);                                           \
  }                                                                                                       \
  template <typename T, bool kRelu>                                                                       \
  ATTR void grad_x_rows_##SUFFIX(const T* g, const T* y, const T* x, T* dx, int64_t r0, int64_t r1,       \
                                 int64_t C, const T* mg, const T* a, const T* mu, const T* k) {           \
    grad_x_rows<T, kRelu>(g, y, x, dx, r0, r1, C, mg, a, mu, k);                                          \
  }

GNNKIT_BN_VARIANTS(generic, GNNKIT_ISA_ATTR_GENERIC)
GNNKIT_BN_VARIANTS(avx2, GNNKIT_ISA_ATTR_AVX2)
GNNKIT_BN_VARIANTS(avx512, GNNKIT_ISA_ATTR_AVX512)
#undef GNNKIT_BN_VARIANTS

Isa isa() { return isa_from_env("GNNKIT_BN_ISA"); }

// Per-variant entry points: fn_at<kIsa, ...>(args) calls the variant compiled for kIsa.
#define GNNKIT_BN_ENTRY(NAME, TPARAMS, TARGS, PARAMS, ARGS)                         \
  template <Isa kIsa, TPARAMS>                                                       \
  inline void NAME##_at PARAMS {                                                          \
    if constexpr (kIsa == Isa::kAvx512) NAME##_avx512<TARGS> ARGS;                   \
    else if constexpr (kIsa == Isa::kAvx2) NAME##_avx2<TARGS> ARGS;                  \
    else NAME##_generic<TARGS> ARGS;                                                 \
  }
#define GNNKIT_COMMA ,
GNNKIT_BN_ENTRY(sum_rows, typename T, T, (const T* x, int64_t r0, int64_t r1, int64_t C, double* acc),
                (x, r0, r1, C, acc))
GNNKIT_BN_ENTRY(sqdev_rows, typename T, T,
                (const T* x, int64_t r0, int64_t r1, int64_t C, const double* mu, double* acc),
                (x, r0, r1, C, mu, acc))
GNNKIT_BN_ENTRY(affine_rows, typename T GNNKIT_COMMA bool kRelu, T GNNKIT_COMMA kRelu,
                (const T* x, T* y, int64_t r0, int64_t r1, int64_t C, const T* alpha, const T* beta),
                (x, y, r0, r1, C, alpha, beta))
GNNKIT_BN_ENTRY(grad_sums_rows, typename T GNNKIT_COMMA bool kRelu, T GNNKIT_COMMA kRelu,
                (const T* g, const T* y, const T* x, int64_t r0, int64_t r1, int64_t C, const double* mu,
                 double* sg, double* sgx),
                (g, y, x, r0, r1, C, mu, sg, sgx))
GNNKIT_BN_ENTRY(grad_x_rows, typename T GNNKIT_COMMA bool kRelu, T GNNKIT_COMMA kRelu,
                (const T* g, const T* y, const T* x, T* dx, int64_t r0, int64_t r1, int64_t C, const T* mg,
                 const T* a, const T* mu, const T* k),
                (g, y, x, dx, r0, r1, C, mg, a, mu, k))
#undef GNNKIT_COMMA
#undef GNNKIT_BN_ENTRY

// Run the statement(s) with the constant kIsa set to the chosen variant.
#define GNNKIT_BN_DISPATCH(VARIANT, ...)                       \
  switch (VARIANT) {                                            \
    case Isa::kAvx512: {                                        \
      constexpr Isa kIsa = Isa::kAvx512;                        \
      __VA_ARGS__;                                              \
    } break;                                                    \
    case Isa::kAvx2: {                                          \
      constexpr Isa kIsa = Isa::kAvx2;                          \
      __VA_ARGS__;                                              \
    } break;                                                    \
    default: {                                                  \
      constexpr Isa kIsa = Isa::kGeneric;                       \
      __VA_ARGS__;                                              \
    }                                                           \
  }

// Run f(block) for every row block of an [N, C] tensor; serial when small.
template <typename F>
void for_blocks(int64_t N, int64_t C, const F& f) {
  const int64_t nb = (N + kRowBlock - 1) / kRowBlock;
  if (N * C <= kSerialWork) {
    for (int64_t b = 0; b < nb; ++b) f(b);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kSerialWork / 4 / std::max<int64_t>(1, kRowBlock * C));
  at::parallel_for(0, nb, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) f(b);
  });
}

// out[c] = sum over blocks, in block order, of part[b * C + c]
void reduce_blocks(const std::vector<double>& part, int64_t nb, int64_t C, double* out) {
  for (int64_t c = 0; c < C; ++c) out[c] = 0.0;
  for (int64_t b = 0; b < nb; ++b) {
    const double* p = part.data() + b * C;
    for (int64_t c = 0; c < C; ++c) out[c] += p[c];
  }
}

// ------------------------------------------------------------------ checks
// x: dense CPU float32/float64 [N, C]; weight/bias: None or [C] of x's dtype; mean/var: both None
// (training: N >= 2) or both [C] of x's dtype.
void check_bn_args(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const at::Tensor& mean,
                   const at::Tensor& var, double eps, const char* op) {
  check_defined(x, "x");
  TORCH_CHECK_VALUE(x.layout() == at::kStrided, "gnnkit: ", op, ": 'x' must be a dense (strided) tensor, got ",
                    "layout ", x.layout());
  check_cpu(x, op, "x");
  TORCH_CHECK_TYPE(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, "gnnkit: ", op,
                   ": 'x' must be float32 or float64, got ", x.scalar_type());
  TORCH_CHECK_VALUE(x.dim() == 2, "gnnkit: ", op, ": 'x' must have shape [num_rows, channels], got ",
                    shape_str(x));
  const int64_t C = x.size(1);
  const std::pair<const at::Tensor*, const char*> vecs[] = {{&w, "weight"}, {&b, "bias"}, {&mean, "mean"},
                                                           {&var, "var"}};
  for (const auto& [t, name] : vecs) {
    if (!t->defined()) continue;
    check_cpu(*t, op, name);
    check_same_dtype(*t, x, name, "x");
    TORCH_CHECK_VALUE(t->dim() == 1 && t->size(0) == C, "gnnkit: ", op, ": '", name, "' must have shape [", C,
                      "] (one entry per channel of 'x' ", shape_str(x), "), got ", shape_str(*t));
  }
  TORCH_CHECK_VALUE(mean.defined() == var.defined(), "gnnkit: ", op, ": pass both 'mean' and 'var' ",
                    "(evaluation) or neither (training), got only '", mean.defined() ? "mean" : "var", "'");
  TORCH_CHECK_VALUE(mean.defined() || x.size(0) >= 2, "gnnkit: ", op, ": training needs more than one value ",
                    "per channel (batch statistics of 'x' ", shape_str(x), "), as torch.nn.BatchNorm1d does");
  TORCH_CHECK_VALUE(std::isfinite(eps) && eps >= 0, "gnnkit: ", op, ": 'eps' must be finite and >= 0, got ", eps);
}

at::Tensor opt_tensor(const c10::optional<at::Tensor>& t) { return t.has_value() ? *t : at::Tensor(); }

// Per-channel statistics as float64 vectors: the batch's (training) or the given ones.
void channel_stats(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& var, Isa variant,
                   std::vector<double>& mu, std::vector<double>& v) {
  const int64_t N = x.size(0), C = x.size(1);
  mu.assign(C, 0.0);
  v.assign(C, 0.0);
  if (mean.defined()) {
    const at::Tensor m64 = mean.to(at::kDouble).contiguous(), v64 = var.to(at::kDouble).contiguous();
    std::copy(m64.data_ptr<double>(), m64.data_ptr<double>() + C, mu.begin());
    std::copy(v64.data_ptr<double>(), v64.data_ptr<double>() + C, v.begin());
    return;
  }
  const int64_t nb = (N + kRowBlock - 1) / kRowBlock;
  std::vector<double> part = alloc_vector<double>("batch_norm partial sums", checked_mul(nb, C, "partials"));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gnnkit_batch_norm_stats", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    for_blocks(N, C, [&](int64_t b) {
      const int64_t r0 = b * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      GNNKIT_BN_DISPATCH(variant, sum_rows_at<kIsa, scalar_t>(xp, r0, r1, C, part.data() + b * C));
    });
    reduce_blocks(part, nb, C, mu.data());
    for (int64_t c = 0; c < C; ++c) mu[c] /= static_cast<double>(N);
    for_blocks(N, C, [&](int64_t b) {
      const int64_t r0 = b * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      GNNKIT_BN_DISPATCH(variant, sqdev_rows_at<kIsa, scalar_t>(xp, r0, r1, C, mu.data(), part.data() + b * C));
    });
    reduce_blocks(part, nb, C, v.data());
    for (int64_t c = 0; c < C; ++c) v[c] /= static_cast<double>(N);
  });
}

// ------------------------------------------------------------------ ops
std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_relu_cpu(
    const at::Tensor& x_in, const c10::optional<at::Tensor>& weight_opt, const c10::optional<at::Tensor>& bias_opt,
    const c10::optional<at::Tensor>& mean_opt, const c10::optional<at::Tensor>& var_opt, double eps, bool relu) {
  const at::Tensor w = opt_tensor(weight_opt), b = opt_tensor(bias_opt);
  const at::Tensor mean = opt_tensor(mean_opt), var = opt_tensor(var_opt);
  check_bn_args(x_in, w, b, mean, var, eps, "batch_norm_relu");
  const at::Tensor x = contiguous_arg(x_in, "x");
  const int64_t N = x.size(0), C = x.size(1);
  const Isa variant = isa();
  std::vector<double> mu, v;
  channel_stats(x, mean, var, variant, mu, v);
  at::Tensor out = alloc("out", x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  at::Tensor save_mean = alloc("save_mean", {C}, x.options());
  at::Tensor save_var = alloc("save_var", {C}, x.options());
  const at::Tensor wc = w.defined() ? w.contiguous() : w, bc = b.defined() ? b.contiguous() : b;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gnnkit_batch_norm_relu", [&] {
    std::vector<scalar_t> alpha(C), beta(C);
    const scalar_t* wp = wc.defined() ? wc.data_ptr<scalar_t>() : nullptr;
    const scalar_t* bp = bc.defined() ? bc.data_ptr<scalar_t>() : nullptr;
    scalar_t* sm = save_mean.data_ptr<scalar_t>();
    scalar_t* sv = save_var.data_ptr<scalar_t>();
    for (int64_t c = 0; c < C; ++c) {
      const double s = 1.0 / std::sqrt(v[c] + eps);
      const double a = wp ? s * static_cast<double>(wp[c]) : s;
      const double bb = bp ? static_cast<double>(bp[c]) : 0.0;
      alpha[c] = static_cast<scalar_t>(a);
      beta[c] = static_cast<scalar_t>(bb - mu[c] * a);
      sm[c] = static_cast<scalar_t>(mu[c]);
      sv[c] = static_cast<scalar_t>(v[c]);
    }
    if (N == 0) return;
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* yp = out.data_ptr<scalar_t>();
    for_blocks(N, C, [&](int64_t blk) {
      const int64_t r0 = blk * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      if (relu) {
        GNNKIT_BN_DISPATCH(variant, affine_rows_at<kIsa, scalar_t, true>(xp, yp, r0, r1, C, alpha.data(), beta.data()));
      } else {
        GNNKIT_BN_DISPATCH(variant, affine_rows_at<kIsa, scalar_t, false>(xp, yp, r0, r1, C, alpha.data(), beta.data()));
      }
    });
  });
  return {out, save_mean, save_var};
}

// grad, x, out: [N, C]; mean / var: the statistics the forward used ([C], x's dtype); training: they
// are the batch's (the full BN gradient), else constants.  Returns (grad_x, grad_weight, grad_bias).
std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_relu_backward_cpu(
    const at::Tensor& grad_in, const at::Tensor& x_in, const at::Tensor& out_in,
    const c10::optional<at::Tensor>& weight_opt, const at::Tensor& mean, const at::Tensor& var, double eps,
    bool relu, bool training) {
  const char* op = "batch_norm_relu_backward";
  const at::Tensor w = opt_tensor(weight_opt);
  check_bn_args(x_in, w, at::Tensor(), mean, var, eps, op);
  for (const auto& [t, name] : {std::pair<const at::Tensor*, const char*>{&grad_in, "grad"}, {&out_in, "out"}}) {
    check_defined(*t, name);
    check_cpu(*t, op, name);
    check_same_dtype(*t, x_in, name, "x");
    TORCH_CHECK_VALUE(t->sizes() == x_in.sizes(), "gnnkit: ", op, ": '", name, "' has shape ", shape_str(*t),
                      " but 'x' has shape ", shape_str(x_in), "; they must match");
  }
  const at::Tensor g = contiguous_arg(grad_in, "grad"), x = contiguous_arg(x_in, "x");
  const at::Tensor y = relu ? contiguous_arg(out_in, "out") : x;  // read only when relu
  const int64_t N = x.size(0), C = x.size(1);
  const Isa variant = isa();
  at::Tensor gx = alloc("grad_x", x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  at::Tensor gw = alloc("grad_weight", {C}, x.options());
  at::Tensor gb = alloc("grad_bias", {C}, x.options());
  const at::Tensor m64 = mean.to(at::kDouble).contiguous(), v64 = var.to(at::kDouble).contiguous();
  const at::Tensor w64 = w.defined() ? w.to(at::kDouble).contiguous() : at::Tensor();
  const double* mu = m64.data_ptr<double>();
  const double* vv = v64.data_ptr<double>();
  const int64_t nb = (N + kRowBlock - 1) / kRowBlock;
  std::vector<double> part = alloc_vector<double>("batch_norm partial sums", checked_mul(2 * nb, C, "partials"));
  std::vector<double> sg(C), sgx(C);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gnnkit_batch_norm_relu_backward", [&] {
    const scalar_t* gp = g.data_ptr<scalar_t>();
    const scalar_t* yp = y.data_ptr<scalar_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    for_blocks(N, C, [&](int64_t blk) {
      const int64_t r0 = blk * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      double* s0 = part.data() + blk * C;
      double* s1 = part.data() + (nb + blk) * C;
      if (relu) {
        GNNKIT_BN_DISPATCH(variant, grad_sums_rows_at<kIsa, scalar_t, true>(gp, yp, xp, r0, r1, C, mu, s0, s1));
      } else {
        GNNKIT_BN_DISPATCH(variant, grad_sums_rows_at<kIsa, scalar_t, false>(gp, yp, xp, r0, r1, C, mu, s0, s1));
      }
    });
    for (int64_t c = 0; c < C; ++c) sg[c] = sgx[c] = 0.0;
    for (int64_t blk = 0; blk < nb; ++blk)
      for (int64_t c = 0; c < C; ++c) {
        sg[c] += part[blk * C + c];
        sgx[c] += part[(nb + blk) * C + c];
      }
    std::vector<scalar_t> mg(C), a(C), mu_t(C), k(C);
    scalar_t* gwp = gw.data_ptr<scalar_t>();
    scalar_t* gbp = gb.data_ptr<scalar_t>();
    for (int64_t c = 0; c < C; ++c) {
      const double s = 1.0 / std::sqrt(vv[c] + eps);
      const double wc = w64.defined() ? w64.data_ptr<double>()[c] : 1.0;
      gwp[c] = static_cast<scalar_t>(sgx[c] * s);
      gbp[c] = static_cast<scalar_t>(sg[c]);
      a[c] = static_cast<scalar_t>(s * wc);
      mu_t[c] = static_cast<scalar_t>(mu[c]);
      mg[c] = static_cast<scalar_t>(training ? sg[c] / static_cast<double>(N) : 0.0);
      k[c] = static_cast<scalar_t>(training ? s * s * s * wc * sgx[c] / static_cast<double>(N) : 0.0);
    }
    if (N == 0) return;
    scalar_t* dp = gx.data_ptr<scalar_t>();
    for_blocks(N, C, [&](int64_t blk) {
      const int64_t r0 = blk * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      if (relu) {
        GNNKIT_BN_DISPATCH(variant, grad_x_rows_at<kIsa, scalar_t, true>(gp, yp, xp, dp, r0, r1, C, mg.data(), a.data(),
                       mu_t.data(), k.data()));
      } else {
        GNNKIT_BN_DISPATCH(variant, grad_x_rows_at<kIsa, scalar_t, false>(gp, yp, xp, dp, r0, r1, C, mg.data(), a.data(),
                       mu_t.data(), k.data()));
      }
    });
  });
  return {gx, gw, gb};
}

// running_mean = m * mean + (1 - m) * running_mean;  running_var = m * var * n / (n - 1) + (1 - m) *
// running_var (float64 arithmetic, rounded once: torch's batch_norm_cpu_update_stats_template).
void batch_norm_update_stats_cpu(const at::Tensor& running_mean, const at::Tensor& running_var,
                                 const at::Tensor& mean, const at::Tensor& var, int64_t n, double momentum) {
  const char* op = "batch_norm_update_stats";
  const std::pair<const at::Tensor*, const char*> args[] = {
      {&running_mean, "running_mean"}, {&running_var, "running_var"}, {&mean, "mean"}, {&var, "var"}};
  for (const auto& [t, name] : args) {
    check_defined(*t, name);
    check_cpu(*t, op, name);
    check_float_dtype(*t, name);
    TORCH_CHECK_VALUE(t->dim() == 1 && t->size(0) == mean.size(0), "gnnkit: ", op, ": '", name,
                      "' must have shape [", mean.size(0), "] like 'mean', got ", shape_str(*t));
  }
  TORCH_CHECK_VALUE(running_mean.is_contiguous() && running_var.is_contiguous(), "gnnkit: ", op,
                    ": 'running_mean' and 'running_var' must be contiguous (they are updated in place)");
  TORCH_CHECK_VALUE(n >= 2, "gnnkit: ", op, ": 'n' (rows in the batch) must be >= 2, got ", n);
  TORCH_CHECK_VALUE(std::isfinite(momentum), "gnnkit: ", op, ": 'momentum' must be finite, got ", momentum);
  check_same_dtype(running_var, running_mean, "running_var", "running_mean");
  check_same_dtype(mean, running_mean, "mean", "running_mean");
  check_same_dtype(var, running_mean, "var", "running_mean");
  const at::Tensor mc = mean.contiguous(), vc = var.contiguous();
  const int64_t C = mean.size(0);
  const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
  AT_DISPATCH_FLOATING_TYPES(running_mean.scalar_type(), "gnnkit_bn_update_stats", [&] {
    scalar_t* rm = running_mean.data_ptr<scalar_t>();
    scalar_t* rv = running_var.data_ptr<scalar_t>();
    const scalar_t* mp = mc.data_ptr<scalar_t>();
    const scalar_t* vp = vc.data_ptr<scalar_t>();
    for (int64_t c = 0; c < C; ++c) {
      rm[c] = static_cast<scalar_t>(momentum * static_cast<double>(mp[c]) + (1 - momentum) * static_cast<double>(rm[c]));
      rv[c] = static_cast<scalar_t>(momentum * (static_cast<double>(vp[c]) * unbias) +
                                    (1 - momentum) * static_cast<double>(rv[c]));
    }
  });
}

#undef GNNKIT_BN_DISPATCH

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) {
  m.impl("batch_norm_relu", &batch_norm_relu_cpu);
  m.impl("batch_norm_relu_backward", &batch_norm_relu_backward_cpu);
  m.impl("batch_norm_update_stats", &batch_norm_update_stats_cpu);
}

}  // namespace gnnkit
