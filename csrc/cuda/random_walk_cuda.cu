// CUDA random walks: one thread per walk, running the same walk_one (csrc/random_walk.h) and the
// same counter-keyed streams (csrc/rng.h) as the CPU kernel, so a seed gives identical walks on
// both devices.  Uniform, node2vec (rejection) and restart walks.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>

#include "cuda/cuda_utils.cuh"
#include "op_checks.h"
#include "random_walk.h"

namespace gnnkit {
namespace {

template <typename index_t>
__global__ void random_walk_kernel(const int64_t* __restrict__ rowptr, const index_t* __restrict__ col,
                                   const int64_t* __restrict__ start, int64_t W, int64_t N, int64_t E,
                                   int64_t L, walk::Params P, uint64_t seed, int64_t* __restrict__ out,
                                   int* __restrict__ err) {
  const int64_t w = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (w >= W) return;
  int64_t where = 0;
  const int code = walk::walk_one<index_t>(rowptr, col, N, E, start[w], L, P, seed, static_cast<uint64_t>(w),
                                           out + w * (L + 1), &where);
  if (code != walk::kOk) atomicExch(err, code);
}

at::Tensor random_walk_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& start_in,
                            int64_t walk_length, double p, double q, double restart_prob, int64_t seed) {
  const c10::cuda::CUDAGuard guard(rowptr_in.device());
  // the same check function as the CPU kernel (csrc/op_checks.h)
  const auto A = check_random_walk(rowptr_in, col_in, start_in, walk_length, p, q, restart_prob);
  const at::Tensor& rowptr = A.csr.rowptr;
  const at::Tensor& col = A.csr.col;
  const at::Tensor& start = A.start;
  const int64_t N = A.csr.num_rows, E = A.csr.num_edges;
  const int64_t W = start.numel();
  auto out = alloc("walks", {W, walk_length + 1}, start.options());
  if (W == 0) return out;
  walk::Params P;
  P.mode = restart_prob > 0 ? walk::kRestart : ((p == 1 && q == 1) ? walk::kUniform : walk::kNode2Vec);
  P.inv_p = 1.0 / p;
  P.inv_q = 1.0 / q;
  P.upper = std::max({P.inv_p, 1.0, P.inv_q});
  P.lower = std::min({P.inv_p, 1.0, P.inv_q});
  P.restart = restart_prob;
  auto err = at::zeros({1}, start.options().dtype(at::kInt));
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "random_walk_cuda", [&] {
    random_walk_kernel<index_t><<<cuda::blocks_for(W), cuda::kThreads, 0, stream>>>(
        rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(), start.data_ptr<int64_t>(), W, N, E, walk_length, P,
        static_cast<uint64_t>(seed), out.data_ptr<int64_t>(), err.data_ptr<int>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  // The CSR was validated above, so a kernel-side error is unreachable; check it anyway.
  TORCH_CHECK_VALUE(err.item<int>() == 0, "gnnkit: random_walk: malformed CSR met during a walk");
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CUDA, m) { m.impl("random_walk", &random_walk_cuda); }

}  // namespace gnnkit
