// Shared helpers for the CUDA kernels: launch configuration and per-arc row lookup.  Argument
// validation is csrc/op_checks.h (the same functions as the CPU kernels; on CUDA tensors the
// range checks of csrc/checks.h run as device reductions).
#pragma once
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "checks.h"

namespace gnnkit {
namespace cuda {

constexpr int kThreads = 256;

inline int64_t blocks_for(int64_t n) { return (n + kThreads - 1) / kThreads; }

// Destination row of arc k (largest r with rowptr[r] <= k), for per-arc kernels.
__device__ __forceinline__ int64_t row_of(const int64_t* rowptr, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n;  // invariant: rowptr[lo] <= k < rowptr[hi]
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (rowptr[mid] <= k) lo = mid; else hi = mid;
  }
  return lo;
}

}  // namespace cuda
}  // namespace gnnkit
