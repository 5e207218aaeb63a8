// CUDA kernels for spmm_sum / spmm_arg / spmm_arg_backward (same semantics as csrc/cpu/spmm_cpu.cpp).
// One thread per (destination row, channel): consecutive threads read consecutive channels of the
// same source row, so loads of x are coalesced; rows are pulled, so the forward needs no atomics.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "cuda/cuda_utils.cuh"
#include "op_checks.h"

namespace gnnkit {
namespace {

template <typename scalar_t, typename index_t>
__global__ void spmm_sum_kernel(const int64_t* __restrict__ rowptr, const index_t* __restrict__ col,
                                const scalar_t* __restrict__ value, const scalar_t* __restrict__ x,
                                scalar_t* __restrict__ out, int64_t N, int64_t H, int64_t D, bool mean) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t F = H * D;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= N * F) return;
  const int64_t i = t / F, f = t % F, h = f / D;
  const int64_t lo = rowptr[i], hi = rowptr[i + 1];
  acc_t acc = 0;
  for (int64_t k = lo; k < hi; ++k) {
    const acc_t w = value ? static_cast<acc_t>(value[k * H + h]) : acc_t(1);
    acc += w * static_cast<acc_t>(x[static_cast<int64_t>(col[k]) * F + f]);
  }
  if (mean && hi > lo) acc /= static_cast<acc_t>(hi - lo);
  out[t] = static_cast<scalar_t>(acc);
}

template <typename scalar_t, typename index_t>
__global__ void spmm_arg_kernel(const int64_t* __restrict__ rowptr, const index_t* __restrict__ col,
                                const scalar_t* __restrict__ value, const scalar_t* __restrict__ x,
                                scalar_t* __restrict__ out, int64_t* __restrict__ arg, int64_t N, int64_t F,
                                bool is_max) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= N * F) return;
  const int64_t i = t / F, f = t % F;
  const int64_t lo = rowptr[i], hi = rowptr[i + 1];
  acc_t best = 0;
  int64_t a = -1;
  for (int64_t k = lo; k < hi; ++k) {
    const acc_t w = value ? static_cast<acc_t>(value[k]) : acc_t(1);
    const acc_t v = w * static_cast<acc_t>(x[static_cast<int64_t>(col[k]) * F + f]);
    // first arc, a strict improvement, or the first NaN (NaN wins as in torch.amax / amin)
    if (a < 0 || (is_max ? v > best : v < best) || (v != v && best == best)) { best = v; a = k; }
  }
  out[t] = static_cast<scalar_t>(best);
  arg[t] = a;
}

template <typename scalar_t, typename index_t>
__global__ void spmm_arg_backward_kernel(const index_t* __restrict__ col, const scalar_t* __restrict__ value,
                                         const scalar_t* __restrict__ x, const scalar_t* __restrict__ g,
                                         const int64_t* __restrict__ arg, scalar_t* __restrict__ gx,
                                         scalar_t* __restrict__ gv, int64_t N, int64_t F) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= N * F) return;
  const int64_t k = arg[t];
  if (k < 0) return;
  const int64_t f = t % F;
  const int64_t j = col[k];
  const scalar_t w = value ? value[k] : scalar_t(1);
  // Several rows may select the same source: atomics (order of float additions is not fixed on GPU).
  if (gx) atomicAdd(gx + j * F + f, w * g[t]);
  if (gv) atomicAdd(gv + k, g[t] * x[j * F + f]);
}

// Host wrappers: every argument goes through the op's one check function (csrc/op_checks.h),
// the same the CPU kernels call.
at::Tensor spmm_sum_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                         const c10::optional<at::Tensor>& value_opt, const at::Tensor& x_in, bool mean) {
  c10::cuda::CUDAGuard guard(x_in.device());
  const auto A = check_spmm_sum(rowptr_in, col_in, value_opt, x_in);
  const auto& rowptr = A.csr.rowptr;
  const auto& col = A.csr.col;
  const auto& value = A.value;
  const auto& x = A.x;
  const int64_t N = A.csr.num_rows, H = A.H, D = A.D;
  auto out = alloc_zeros("out", {N, H, D}, x.options());
  const int64_t total = N * H * D;
  if (total == 0) return out;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "spmm_sum_cuda", [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "spmm_sum_cuda", [&] {
      spmm_sum_kernel<scalar_t, index_t><<<cuda::blocks_for(total), cuda::kThreads, 0, stream>>>(
          rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(),
          value.defined() ? value.data_ptr<scalar_t>() : nullptr, x.data_ptr<scalar_t>(),
          out.data_ptr<scalar_t>(), N, H, D, mean);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> spmm_arg_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                 const c10::optional<at::Tensor>& value_opt,
                                                 const at::Tensor& x_in, c10::string_view reduce) {
  c10::cuda::CUDAGuard guard(x_in.device());
  const auto A = check_spmm_arg(rowptr_in, col_in, value_opt, x_in, reduce);
  const auto& rowptr = A.csr.rowptr;
  const auto& col = A.csr.col;
  const auto& value = A.value;
  const auto& x = A.x;
  const int64_t N = A.csr.num_rows, F = x.size(1);
  auto out = alloc_zeros("out", {N, F}, x.options());
  auto arg = alloc_full("arg", {N, F}, -1, x.options().dtype(at::kLong));
  if (N * F == 0) return {out, arg};
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "spmm_arg_cuda", [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "spmm_arg_cuda", [&] {
      spmm_arg_kernel<scalar_t, index_t><<<cuda::blocks_for(N * F), cuda::kThreads, 0, stream>>>(
          rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(),
          value.defined() ? value.data_ptr<scalar_t>() : nullptr, x.data_ptr<scalar_t>(),
          out.data_ptr<scalar_t>(), arg.data_ptr<int64_t>(), N, F, A.is_max);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return {out, arg};
}

std::tuple<at::Tensor, at::Tensor> spmm_arg_backward_cuda(const at::Tensor& col_in,
                                                          const c10::optional<at::Tensor>& value_opt,
                                                          const at::Tensor& x_in, const at::Tensor& g_in,
                                                          const at::Tensor& arg_in, bool need_x,
                                                          bool need_value) {
  c10::cuda::CUDAGuard guard(x_in.device());
  // the same check as the CPU backward, grad dtype included
  const auto A = check_spmm_arg_backward(col_in, value_opt, x_in, g_in, arg_in);
  const auto& col = A.col;
  const auto& value = A.value;
  const auto& x = A.x;
  const auto& g = A.grad_out;
  const auto& arg = A.arg;
  TORCH_CHECK_TYPE(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
                   "gnnkit: max/min backward on CUDA supports float32/float64 (atomicAdd), got ", x.scalar_type());
  auto gx = need_x ? alloc_zeros("grad_x", x.sizes(), x.options()) : at::Tensor();
  auto gv = (need_value && value.defined()) ? alloc_zeros("grad_value", {col.numel()}, x.options()) : at::Tensor();
  const int64_t N = g.size(0), F = g.size(1);
  if (N * F == 0) return {gx, gv};
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "spmm_arg_backward_cuda", [&] {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "spmm_arg_backward_cuda", [&] {
      spmm_arg_backward_kernel<scalar_t, index_t><<<cuda::blocks_for(N * F), cuda::kThreads, 0, stream>>>(
          col.data_ptr<index_t>(), value.defined() ? value.data_ptr<scalar_t>() : nullptr,
          x.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), arg.data_ptr<int64_t>(),
          gx.defined() ? gx.data_ptr<scalar_t>() : nullptr, gv.defined() ? gv.data_ptr<scalar_t>() : nullptr,
          N, F);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return {gx, gv};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CUDA, m) {
  m.impl("spmm_sum", &spmm_sum_cuda);
  m.impl("spmm_arg", &spmm_arg_cuda);
  m.impl("spmm_arg_backward", &spmm_arg_backward_cuda);
}

}  // namespace gnnkit
