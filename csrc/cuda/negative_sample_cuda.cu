// CUDA negative sampling: the `negative_sample` schema of csrc/gnnkit.cpp for CUDA tensors.  The
// per-sample algorithm is csrc/negative_sample.h (read its header comment first), the same code as
// the CPU kernel (csrc/cpu/negative_sample_cpu.cpp); argument checks and typed errors are the CPU
// op's (check_negative_sample, raise_negative_sample_failure in csrc/op_checks.h; on CUDA tensors
// the range checks run as device reductions with a few syncs, the weight total comes from the
// device prefix sums).
//
// One thread per requested negative (grid-stride, so the launch size never matters): sample i
// draws only from the counter-keyed stream (seed, i) of csrc/rng.h, so the output does not depend
// on the launch configuration.
//
// Relation to the CPU output.  With uniform candidates (weight None) both kernels run the same
// code on the same streams (the row masses of the dense global path are integer counts, summed
// exactly in any order), so the CUDA output is meant to equal the CPU output bit for bit
// (tests/ops/test_negative_sampling.py asserts that on a GPU).  With `weight` the candidate draw
// is the backend's own: the CPU draws from Vose's alias table, this kernel inverts the CDF (binary
// search in the device prefix sums of `weight`, CdfDraw below): the same distribution, but a
// different use of the stream, so weighted outputs differ bit-wise from the CPU's.
//
// Failures inside the kernels: a device record `fail` (int64 [3], INT64_MAX = none) keeps
//   fail[0] the smallest row with malformed offsets, fail[1] the smallest malformed CSR position
//   (both from the row-mass pass of the dense global path), fail[2] the smallest failing sample;
// the failing sample writes its position and code (negated) into its own output slots.  One
// device-to-host copy after the launch reads the record and the host raises what the CPU op
// raises for the same failure.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "cuda/cuda_utils.cuh"
#include "negative_sample.h"
#include "op_checks.h"
#include "rng.h"

namespace gnnkit {
namespace {

constexpr int64_t kNoFail = std::numeric_limits<int64_t>::max();

__device__ __forceinline__ void atomic_min_i64(int64_t* p, int64_t v) {
  // values are >= 0, so the unsigned order is the signed order
  atomicMin(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

// Sampler's weighted draw on the device: inverse CDF, the first b with cum[b] > u, u uniform in
// [0, total), total = cum[C - 1].  A zero-weight candidate has cum[b] == cum[b - 1] and is never
// the first; the guard below covers u rounding up to the total and prefix sums that are not
// exactly monotone after a parallel scan.
struct CdfDraw {
  const double* w;    // weight [C]
  const double* cum;  // inclusive prefix sums of w [C]
  int64_t C;
  double total;

  GNNKIT_HD int64_t operator()(rng::Xoshiro256& g) const {
    const double u = g.uniform() * total;
    int64_t lo = 0, hi = C;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (cum[mid] > u) hi = mid; else lo = mid + 1;
    }
    if (lo >= C) lo = C - 1;
    if (!(w[lo] > 0)) {
      int64_t b = lo;
      while (b < C && !(w[b] > 0)) ++b;
      if (b == C) { b = lo; while (b > 0 && !(w[b] > 0)) --b; }
      lo = b;
    }
    return lo;
  }
};

template <typename index_t>
using DeviceSampler = neg::Sampler<index_t, CdfDraw>;

// Every sample of the request (neg::Sampler::sample).  A failing sample i writes (where, -code)
// into its output slots and fail[2] keeps the smallest such i.
template <typename index_t>
__global__ void sample_kernel(DeviceSampler<index_t> S, int64_t n, int64_t* __restrict__ oa,
                              int64_t* __restrict__ ob, int64_t* __restrict__ fail) {
  // kPairByMass after a malformed row in the mass pass: reported by the host
  if (S.path == neg::kPairByMass && (fail[0] != kNoFail || fail[1] != kNoFail)) return;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    int64_t a = 0, b = 0, where = 0;
    const int code = S.sample(i, &a, &b, &where);
    if (code != neg::kNone) {
      a = where;
      b = -static_cast<int64_t>(code);
      atomic_min_i64(fail + 2, i);
    }
    oa[i] = a;
    ob[i] = b;
  }
}

// Global pairs, dense or weighted case, pass 1: the admissible count / weight of every row.
template <typename index_t>
__global__ void row_mass_kernel(DeviceSampler<index_t> S, double* __restrict__ mass, int64_t* __restrict__ fail) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t a = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; a < S.R; a += stride) {
    int64_t where = 0;
    const int code = S.row_mass(a, &mass[a], &where);
    // rows hold disjoint increasing position ranges, so the smallest bad position is the first bad
    // row's first bad position: the one the CPU op reports
    if (code != neg::kNone) atomic_min_i64(fail + (code == neg::kBadRowptr ? 0 : 1), where);
  }
}

// Blocks for n items (grid-stride loops above; the output does not depend on this choice).
unsigned int grid_for(int64_t n) {
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min<int64_t>(cuda::blocks_for(n), int64_t(1) << 16)));
}

std::vector<at::Tensor> negative_sample_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                             const c10::optional<at::Tensor>& anchor_in, int64_t num_samples,
                                             int64_t num_candidates, const c10::optional<at::Tensor>& weight_in,
                                             bool strict, bool exclude_self, int64_t seed) {
  const int64_t C = num_candidates;
  // devices first (inside the check): the dispatcher sends the call here when ANY tensor is on CUDA
  const NegativeSampleArgs A =
      check_negative_sample(rowptr_in, col_in, anchor_in, num_samples, C, weight_in, strict, exclude_self);
  TORCH_CHECK_VALUE(A.csr.rowptr.is_cuda(), "gnnkit: negative_sample: the CUDA kernel needs 'rowptr' on a CUDA "
                    "device, got ", A.csr.rowptr.device());
  const c10::cuda::CUDAGuard guard(A.csr.rowptr.device());
  const int64_t R = A.csr.num_rows;
  const auto opts = A.csr.rowptr.options().dtype(at::kLong);
  at::Tensor out_a = alloc("negatives", A.out_sizes, opts);
  at::Tensor out_b = alloc("negatives", A.out_sizes, opts);
  if (A.n == 0) return {out_a, out_b};

  auto fail = at::full({3}, kNoFail, opts);
  int64_t* fp = fail.data_ptr<int64_t>();
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const double* wp = A.weight.defined() ? A.weight.data_ptr<double>() : nullptr;
  const CdfDraw cdf{wp, A.weight_cum.defined() ? A.weight_cum.data_ptr<double>() : nullptr, C, A.weight_total};
  at::Tensor mass, cum;  // dense global path only; alive until the record is read

  AT_DISPATCH_INDEX_TYPES(A.csr.col.scalar_type(), "negative_sample_cuda", [&] {
    DeviceSampler<index_t> S{A.csr.rowptr.data_ptr<int64_t>(), A.csr.col.data_ptr<index_t>(), R, C,
                             A.csr.num_edges, wp, A.weight_total, cdf, strict, exclude_self, A.path,
                             static_cast<uint64_t>(seed), A.anchor.defined() ? A.anchor.data_ptr<int64_t>() : nullptr,
                             A.K, nullptr, nullptr};
    if (A.path == neg::kPairByMass) {
      mass = alloc("negative_sample row masses", {R}, opts.dtype(at::kDouble));
      cum = alloc_zeros("negative_sample row masses", {R + 1}, opts.dtype(at::kDouble));
      row_mass_kernel<index_t><<<grid_for(R), cuda::kThreads, 0, stream>>>(S, mass.data_ptr<double>(), fp);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      // integer counts (unweighted) are summed exactly in any order, so cum equals the CPU's
      at::Tensor tail = cum.narrow(0, 1, R);
      at::cumsum_out(tail, mass, 0);
      S.mass = mass.data_ptr<double>();
      S.cum = cum.data_ptr<double>();
    }
    sample_kernel<index_t><<<grid_for(A.n), cuda::kThreads, 0, stream>>>(S, A.n, out_a.data_ptr<int64_t>(),
                                                                         out_b.data_ptr<int64_t>(), fp);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });

  // the one synchronisation of a successful call
  const auto rec = fail.cpu();
  const int64_t* r = rec.data_ptr<int64_t>();
  if (r[0] != kNoFail) raise_negative_sample_failure(neg::kBadRowptr, r[0], 0, A, num_samples, C, exclude_self);
  if (r[1] != kNoFail) raise_negative_sample_failure(neg::kBadCol, r[1], 0, A, num_samples, C, exclude_self);
  if (r[2] != kNoFail)
    raise_negative_sample_failure(static_cast<int>(-out_b.view(-1)[r[2]].item<int64_t>()),
                                  out_a.view(-1)[r[2]].item<int64_t>(), r[2], A, num_samples, C, exclude_self);
  return {out_a, out_b};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CUDA, m) { m.impl("negative_sample", &negative_sample_cuda); }

}  // namespace gnnkit
