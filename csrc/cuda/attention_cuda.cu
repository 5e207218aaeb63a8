// CUDA kernels for sddmm, edge_softmax (+ backward) and the fused GAT attention (+ backward),
// with the semantics of the CPU files in csrc/cpu.  One thread per (row, head) for the
// row-wise kernels and per (arc, head) for sddmm.  The dropout mask comes from the same
// counter-based hash as on the CPU (parallel.h), so CPU and CUDA drop the same arcs.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "cuda/cuda_utils.cuh"
#include "op_checks.h"
#include "parallel.h"

namespace gnnkit {
namespace {

template <typename scalar_t, typename index_t>
__global__ void sddmm_kernel(const int64_t* __restrict__ rowptr, const index_t* __restrict__ col,
                             const scalar_t* __restrict__ a, const scalar_t* __restrict__ b,
                             scalar_t* __restrict__ out, int64_t N, int64_t E, int64_t H, int64_t D) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= E * H) return;
  const int64_t k = t / H, h = t % H;
  const int64_t i = cuda::row_of(rowptr, N, k);
  const int64_t j = col[k];
  acc_t s = 0;
  for (int64_t d = 0; d < D; ++d)
    s += static_cast<acc_t>(a[(i * H + h) * D + d]) * static_cast<acc_t>(b[(j * H + h) * D + d]);
  out[t] = static_cast<scalar_t>(s);
}

template <typename scalar_t>
__global__ void edge_softmax_kernel(const int64_t* __restrict__ rowptr, const scalar_t* __restrict__ s,
                                    scalar_t* __restrict__ out, int64_t N, int64_t H) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= N * H) return;
  const int64_t i = t / H, h = t % H;
  const int64_t lo = rowptr[i], hi = rowptr[i + 1];
  if (lo == hi) return;
  // torch.softmax semantics (as the CPU kernel): NaN, +inf or all -inf in the row -> NaN row
  acc_t mx = -INFINITY;
  bool poisoned = false;
  for (int64_t k = lo; k < hi; ++k) {
    const acc_t v = static_cast<acc_t>(s[k * H + h]);
    if (v != v) poisoned = true;
    else if (v > mx) mx = v;
  }
  if (isinf(mx)) poisoned = true;
  acc_t sum = 0;
  for (int64_t k = lo; k < hi; ++k) sum += exp(static_cast<acc_t>(s[k * H + h]) - mx);
  for (int64_t k = lo; k < hi; ++k)
    out[k * H + h] = static_cast<scalar_t>(poisoned ? acc_t(NAN) : exp(static_cast<acc_t>(s[k * H + h]) - mx) / sum);
}

template <typename scalar_t>
__global__ void edge_softmax_backward_kernel(const int64_t* __restrict__ rowptr, const scalar_t* __restrict__ y,
                                             const scalar_t* __restrict__ g, scalar_t* __restrict__ out,
                                             int64_t N, int64_t H) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= N * H) return;
  const int64_t i = t / H, h = t % H;
  const int64_t lo = rowptr[i], hi = rowptr[i + 1];
  acc_t dot = 0;
  for (int64_t k = lo; k < hi; ++k) dot += static_cast<acc_t>(y[k * H + h]) * static_cast<acc_t>(g[k * H + h]);
  for (int64_t k = lo; k < hi; ++k)
    out[k * H + h] = static_cast<scalar_t>(static_cast<acc_t>(y[k * H + h]) * (static_cast<acc_t>(g[k * H + h]) - dot));
}

template <typename acc_t>
__device__ __forceinline__ acc_t leaky(acc_t v, acc_t slope) { return v > 0 ? v : v * slope; }

template <typename scalar_t, typename index_t>
__global__ void gat_forward_kernel(const int64_t* __restrict__ rowptr, const index_t* __restrict__ col,
                                   const scalar_t* __restrict__ x, const scalar_t* __restrict__ as,
                                   const scalar_t* __restrict__ ad, scalar_t* __restrict__ out,
                                   at::opmath_type<scalar_t>* __restrict__ lse, int64_t N, int64_t H, int64_t D,
                                   float slope_f, float p, uint64_t seed, bool can_skip) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= N * H) return;
  const int64_t i = t / H, h = t % H;
  const acc_t slope = slope_f;
  const int64_t lo = rowptr[i], hi = rowptr[i + 1];
  if (lo == hi) return;
  const acc_t adi = static_cast<acc_t>(ad[i * H + h]);
  acc_t mx = -INFINITY;
  bool poisoned = false;
  for (int64_t k = lo; k < hi; ++k) {
    const acc_t e = leaky<acc_t>(adi + static_cast<acc_t>(as[static_cast<int64_t>(col[k]) * H + h]), slope);
    if (e != e) poisoned = true;
    else if (e > mx) mx = e;
  }
  scalar_t* o0 = out + (i * H + h) * D;
  if (poisoned || isinf(mx)) {  // torch.softmax semantics: NaN row (see csrc/cpu/gat_cpu.cpp)
    for (int64_t d = 0; d < D; ++d) o0[d] = static_cast<scalar_t>(acc_t(NAN));
    lse[t] = acc_t(NAN);
    return;
  }
  acc_t sum = 0;
  scalar_t* o = out + (i * H + h) * D;
  for (int64_t k = lo; k < hi; ++k) {
    const int64_t j = col[k];
    const acc_t w = exp(leaky<acc_t>(adi + static_cast<acc_t>(as[j * H + h]), slope) - mx);
    sum += w;
    const acc_t wm = w * dropout_scale(seed, k * H + h, p);
    if (wm == 0 && can_skip) continue;
    for (int64_t d = 0; d < D; ++d)
      o[d] = static_cast<scalar_t>(static_cast<acc_t>(o[d]) + wm * static_cast<acc_t>(x[(j * H + h) * D + d]));
  }
  for (int64_t d = 0; d < D; ++d) o[d] = static_cast<scalar_t>(static_cast<acc_t>(o[d]) / sum);
  lse[t] = mx + log(sum);
}

// t[k,h] of the backward (see csrc/cpu/gat_cpu.cpp); also returns alpha*m through `am`.
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ acc_t gat_arc_t(const scalar_t* x, const scalar_t* as, const scalar_t* ad,
                                           const scalar_t* g, const acc_t* lse, const acc_t* delta,
                                           int64_t i, int64_t j, int64_t k, int64_t h, int64_t H, int64_t D,
                                           acc_t slope, float p, uint64_t seed, bool can_skip, acc_t& am) {
  const acc_t raw = static_cast<acc_t>(ad[i * H + h]) + static_cast<acc_t>(as[j * H + h]);
  const acc_t alpha = exp(leaky<acc_t>(raw, slope) - lse[i * H + h]);
  const acc_t m = dropout_scale(seed, k * H + h, p);
  am = alpha * m;
  acc_t dot = 0;
  if (m != 0 || !can_skip)
    for (int64_t d = 0; d < D; ++d)
      dot += static_cast<acc_t>(g[(i * H + h) * D + d]) * static_cast<acc_t>(x[(j * H + h) * D + d]);
  return alpha * (m * dot - delta[i * H + h]) * (raw > 0 ? acc_t(1) : slope);
}

template <typename scalar_t>
__global__ void gat_delta_kernel(const scalar_t* __restrict__ g, const scalar_t* __restrict__ out,
                                 at::opmath_type<scalar_t>* __restrict__ delta, int64_t NH, int64_t D) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= NH) return;
  acc_t s = 0;
  for (int64_t d = 0; d < D; ++d) s += static_cast<acc_t>(g[t * D + d]) * static_cast<acc_t>(out[t * D + d]);
  delta[t] = s;
}

template <typename scalar_t, typename index_t>
__global__ void gat_backward_dst_kernel(const int64_t* __restrict__ rowptr, const index_t* __restrict__ col,
                                        const scalar_t* x, const scalar_t* as, const scalar_t* ad, const scalar_t* g,
                                        const at::opmath_type<scalar_t>* lse, const at::opmath_type<scalar_t>* delta,
                                        scalar_t* __restrict__ gad, int64_t N, int64_t H, int64_t D, float slope_f,
                                        float p, uint64_t seed, bool can_skip) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= N * H) return;
  const int64_t i = t / H, h = t % H;
  acc_t s = 0, am;
  for (int64_t k = rowptr[i]; k < rowptr[i + 1]; ++k)
    s += gat_arc_t<scalar_t, acc_t>(x, as, ad, g, lse, delta, i, col[k], k, h, H, D, slope_f, p, seed, can_skip, am);
  gad[t] = static_cast<scalar_t>(s);
}

template <typename scalar_t, typename index_t>
__global__ void gat_backward_src_kernel(const int64_t* __restrict__ t_rowptr, const index_t* __restrict__ t_col,
                                        const int64_t* __restrict__ t_perm, const scalar_t* x, const scalar_t* as,
                                        const scalar_t* ad, const scalar_t* g, const at::opmath_type<scalar_t>* lse,
                                        const at::opmath_type<scalar_t>* delta, scalar_t* __restrict__ gx,
                                        scalar_t* __restrict__ gas, int64_t Ns, int64_t H, int64_t D,
                                        float slope_f, float p, uint64_t seed, bool can_skip) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= Ns * H) return;
  const int64_t j = t / H, h = t % H;
  acc_t s = 0;
  scalar_t* gxo = gx + (j * H + h) * D;
  for (int64_t q = t_rowptr[j]; q < t_rowptr[j + 1]; ++q) {
    const int64_t i = t_col[q], k = t_perm[q];
    acc_t am;
    s += gat_arc_t<scalar_t, acc_t>(x, as, ad, g, lse, delta, i, j, k, h, H, D, slope_f, p, seed, can_skip, am);
    if (am == 0 && can_skip) continue;
    for (int64_t d = 0; d < D; ++d)
      gxo[d] = static_cast<scalar_t>(static_cast<acc_t>(gxo[d]) + am * static_cast<acc_t>(g[(i * H + h) * D + d]));
  }
  gas[t] = static_cast<scalar_t>(s);
}

// Host wrappers: every argument goes through the op's one check function (csrc/op_checks.h),
// the same the CPU kernels call.
at::Tensor sddmm_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& a_in,
                      const at::Tensor& b_in) {
  c10::cuda::CUDAGuard guard(a_in.device());
  const auto A = check_sddmm(rowptr_in, col_in, a_in, b_in);
  const auto& rowptr = A.csr.rowptr;
  const auto& col = A.csr.col;
  const auto& a = A.a;
  const auto& b = A.b;
  const int64_t N = A.csr.num_rows, E = A.csr.num_edges, H = a.size(1), D = a.size(2);
  auto out = alloc_zeros("out", {E, H}, a.options());
  if (E * H == 0) return out;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "sddmm_cuda", [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "sddmm_cuda", [&] {
      sddmm_kernel<scalar_t, index_t><<<cuda::blocks_for(E * H), cuda::kThreads, 0, stream>>>(
          rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(), a.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(),
          out.data_ptr<scalar_t>(), N, E, H, D);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

at::Tensor edge_softmax_cuda(const at::Tensor& rowptr_in, const at::Tensor& s_in) {
  c10::cuda::CUDAGuard guard(s_in.device());
  const auto checked = check_edge_softmax(rowptr_in, s_in, "scores");
  const at::Tensor& rowptr = checked.first;
  const at::Tensor& s = checked.second;
  auto out = alloc_zeros("out", s.sizes(), s.options());
  const int64_t N = rowptr.numel() - 1, H = s.size(1);
  if (N * H == 0) return out;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.scalar_type(), "edge_softmax_cuda", [&] {
    edge_softmax_kernel<scalar_t><<<cuda::blocks_for(N * H), cuda::kThreads, 0, stream>>>(
        rowptr.data_ptr<int64_t>(), s.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), N, H);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

at::Tensor edge_softmax_backward_cuda(const at::Tensor& rowptr_in, const at::Tensor& y_in, const at::Tensor& g_in) {
  c10::cuda::CUDAGuard guard(y_in.device());
  const auto checked = check_edge_softmax_backward(rowptr_in, y_in, g_in);
  const at::Tensor& rowptr = std::get<0>(checked);
  const at::Tensor& y = std::get<1>(checked);
  const at::Tensor& g = std::get<2>(checked);
  auto out = alloc_zeros("grad_scores", y.sizes(), y.options());
  const int64_t N = rowptr.numel() - 1, H = y.size(1);
  if (N * H == 0) return out;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, y.scalar_type(), "edge_softmax_backward_cuda", [&] {
    edge_softmax_backward_kernel<scalar_t><<<cuda::blocks_for(N * H), cuda::kThreads, 0, stream>>>(
        rowptr.data_ptr<int64_t>(), y.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), N, H);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> gat_attention_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                      const at::Tensor& x_in, const at::Tensor& as_in,
                                                      const at::Tensor& ad_in, double slope, double p,
                                                      int64_t seed, const c10::optional<at::Tensor>&,
                                                      const c10::optional<at::Tensor>&,
                                                      const c10::optional<at::Tensor>&) {
  c10::cuda::CUDAGuard guard(x_in.device());
  const auto S = check_gat(rowptr_in, col_in, x_in, as_in, ad_in, slope, p);
  const auto& rowptr = S.csr.rowptr;
  const auto& col = S.csr.col;
  const auto& x = S.x;
  const auto& as = S.a_src;
  const auto& ad = S.a_dst;
  const int64_t N = S.N, H = S.H, D = S.D;
  auto out = alloc_zeros("out", {N, H, D}, x.options());
  auto lse = alloc_zeros("lse", {N, H}, x.options().dtype(at::toOpMathType(x.scalar_type())));
  if (N * H == 0) return {out, lse};
  // dropped arcs are skipped only when x is finite (0 * inf is NaN in the unfused computation)
  const bool can_skip = p > 0 && at::isfinite(x).all().item<bool>();
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "gat_attention_cuda", [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gat_attention_cuda", [&] {
      gat_forward_kernel<scalar_t, index_t><<<cuda::blocks_for(N * H), cuda::kThreads, 0, stream>>>(
          rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(), x.data_ptr<scalar_t>(), as.data_ptr<scalar_t>(),
          ad.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), lse.data_ptr<at::opmath_type<scalar_t>>(), N, H, D,
          static_cast<float>(slope), static_cast<float>(p), static_cast<uint64_t>(seed), can_skip);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> gat_attention_backward_cuda(
    const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& t_rowptr_in, const at::Tensor& t_col_in,
    const at::Tensor& t_perm_in, const at::Tensor& x_in, const at::Tensor& as_in, const at::Tensor& ad_in,
    const at::Tensor& out_in, const at::Tensor& lse_in, const at::Tensor& g_in, double slope, double p,
    int64_t seed) {
  c10::cuda::CUDAGuard guard(x_in.device());
  const auto B = check_gat_backward(rowptr_in, col_in, t_rowptr_in, t_col_in, t_perm_in, x_in, as_in, ad_in, out_in,
                                    lse_in, g_in, slope, p);
  const auto& S = B.fwd;
  const auto& rowptr = S.csr.rowptr;
  const auto& col = S.csr.col;
  const auto& t_rowptr = B.t.t_rowptr;
  const auto& t_col = B.t.t_col;
  const auto& t_perm = B.t.t_perm;
  const auto& x = S.x;
  const auto& as = S.a_src;
  const auto& ad = S.a_dst;
  const auto& g = B.grad_out;
  const auto& outc = B.out;
  const auto& lse = B.lse;
  const int64_t N = S.N, Ns = S.Ns, H = S.H, D = S.D;
  const bool can_skip = p > 0 && at::isfinite(x).all().item<bool>() && at::isfinite(g).all().item<bool>();
  auto gx = alloc_zeros("grad_x", x.sizes(), x.options());
  auto gas = alloc_zeros("grad_alpha_src", as.sizes(), as.options());
  auto gad = alloc_zeros("grad_alpha_dst", ad.sizes(), ad.options());
  auto delta = alloc_zeros("delta", {N, H}, lse.options());
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "gat_attention_backward_cuda", [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gat_attention_backward_cuda", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      if (N * H > 0) {
        gat_delta_kernel<scalar_t><<<cuda::blocks_for(N * H), cuda::kThreads, 0, stream>>>(
            g.data_ptr<scalar_t>(), outc.data_ptr<scalar_t>(), delta.data_ptr<acc_t>(), N * H, D);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
        gat_backward_dst_kernel<scalar_t, index_t><<<cuda::blocks_for(N * H), cuda::kThreads, 0, stream>>>(
            rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(), x.data_ptr<scalar_t>(), as.data_ptr<scalar_t>(),
            ad.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), lse.data_ptr<acc_t>(), delta.data_ptr<acc_t>(),
            gad.data_ptr<scalar_t>(), N, H, D, static_cast<float>(slope), static_cast<float>(p),
            static_cast<uint64_t>(seed), can_skip);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      }
      if (Ns * H > 0) {
        gat_backward_src_kernel<scalar_t, index_t><<<cuda::blocks_for(Ns * H), cuda::kThreads, 0, stream>>>(
            t_rowptr.data_ptr<int64_t>(), t_col.data_ptr<index_t>(), t_perm.data_ptr<int64_t>(),
            x.data_ptr<scalar_t>(), as.data_ptr<scalar_t>(), ad.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(),
            lse.data_ptr<acc_t>(), delta.data_ptr<acc_t>(), gx.data_ptr<scalar_t>(), gas.data_ptr<scalar_t>(), Ns,
            H, D, static_cast<float>(slope), static_cast<float>(p), static_cast<uint64_t>(seed), can_skip);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      }
    });
  });
  return {gx, gas, gad};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CUDA, m) {
  m.impl("sddmm", &sddmm_cuda);
  m.impl("edge_softmax", &edge_softmax_cuda);
  m.impl("edge_softmax_backward", &edge_softmax_backward_cuda);
  m.impl("gat_attention", &gat_attention_cuda);
  m.impl("gat_attention_backward", &gat_attention_backward_cuda);
}

}  // namespace gnnkit
