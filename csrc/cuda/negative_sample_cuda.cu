// CUDA negative sampling: the `negative_sample` schema of csrc/gnnkit.cpp for CUDA tensors, with
// the semantics of csrc/cpu/negative_sample_cpu.cpp (read its header comment first).
//
// One thread per requested negative (grid-stride, so the launch size never matters): sample i
// (anchor m, slot j: i = m*K + j; or global pair i) draws only from the counter-keyed stream
// (seed, i) of csrc/rng.h, so the output does not depend on the launch configuration.
//
// Relation to the CPU output.  The device sampler below is a port of the CPU `Sampler`, step by
// step: the same rejection tries (kTries), the same dense-row switch to exact enumeration, the
// same global paths (pair rejection for sparse unweighted graphs, anchors proportional to their
// admissible count otherwise).  With uniform candidates (weight None) it consumes the streams in
// the same order and computes the same values (the row masses of the dense global path are integer
// counts, summed exactly in any order), so the CUDA output is meant to equal the CPU output bit
// for bit (tests/ops/test_negative_sampling.py asserts that on a GPU).  With
// `weight` the candidate draw differs: the CPU draws from Vose's alias table, this kernel inverts
// the CDF (binary search in the device prefix sums of `weight`), which is the same distribution
// but a different use of the stream, so weighted outputs differ bit-wise from the CPU's.
//
// Checked on the host before any launch (the CPU op's checks with the same messages; the device
// checks come first, as the dispatcher sends a call here when any tensor is on CUDA):
// num_samples >= 0; num_candidates >= 1; the CSR (csr_arg: dtypes, shapes, device, rowptr[0] = 0,
// non-decreasing, rowptr[-1] = len(col), col ids in [0, num_candidates): device reductions with a
// few syncs); anchor int32/int64, 1-D, on rowptr's device, every id in [0, num_rows) (one
// reduction + one sync); weight floating, 1-D, [num_candidates], on rowptr's device, finite and
// >= 0 with a positive (and, unlike the CPU op, finite) sum (two reductions, two syncs).  Checked
// in the kernels, as on the CPU: rows are re-bounds-checked when read (kBadRowptr) and the rows a
// strict enumeration walks must be sorted (kBadCol).
//
// Failures inside the kernels: a device record `fail` (int64 [3], INT64_MAX = none) keeps
//   fail[0] the smallest row with malformed offsets, fail[1] the smallest malformed CSR position
//   (both from the per-row pass of the dense global path), fail[2] the smallest failing sample;
// the failing sample writes its code (negated) and position into its own output slots.  One
// device-to-host copy after the launch reads the record and the host raises what the CPU op
// raises for the same failure (ValueError, "anchor node a has no admissible negative ...",
// "the graph is complete ...").
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cuda/cuda_utils.cuh"
#include "rng.h"

namespace gnnkit {
namespace {

constexpr int kTries = 32;  // as csrc/cpu/negative_sample_cpu.cpp
// Global pair rejection accepts with probability >= 1/2 (see the path choice below); the CPU loops
// until it accepts, a GPU thread gives up after this many draws (probability <= 2^-4096) and
// reports kStuck rather than spin.
constexpr int kMaxPairDraws = 4096;
constexpr int64_t kNoFail = std::numeric_limits<int64_t>::max();

enum Fail : int { kNone = 0, kNoCandidate = 1, kBadRowptr = 2, kBadCol = 3, kStuck = 4 };

__device__ __forceinline__ void atomic_min_i64(int64_t* p, int64_t v) {
  // values are >= 0, so the unsigned order is the signed order
  atomicMin(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

// Device port of `Sampler` (csrc/cpu/negative_sample_cpu.cpp); keep the two in step.
template <typename index_t>
struct DeviceSampler {
  const int64_t* rp;
  const index_t* cp;
  int64_t R, C, E;
  const double* w;    // nullptr: uniform candidates
  const double* cum;  // inclusive prefix sums of w [C] when w != nullptr; cum[C - 1] is the total
  bool strict, exclude_self;

  __device__ double total() const { return cum[C - 1]; }

  // Inverse CDF: the first b with cum[b] > u, u uniform in [0, total).  A zero-weight candidate
  // has cum[b] == cum[b - 1] and is never the first; the guard below covers u rounding up to the
  // total and prefix sums that are not exactly monotone after a parallel scan.
  __device__ int64_t draw(rng::Xoshiro256& g) const {
    if (w == nullptr) return static_cast<int64_t>(g.below(static_cast<uint64_t>(C)));
    const double u = g.uniform() * total();
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

  __device__ bool in_row(int64_t lo, int64_t hi, int64_t b) const {
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      const int64_t v = static_cast<int64_t>(cp[mid]);
      if (v < b) lo = mid + 1; else if (v > b) hi = mid; else return true;
    }
    return false;
  }

  __device__ bool admissible(int64_t a, int64_t lo, int64_t hi, int64_t b) const {
    if (exclude_self && b == a) return false;
    return !strict || !in_row(lo, hi, b);
  }

  // Number (unweighted) or total weight (weighted) of the admissible candidates of row a, in
  // O(degree); *bad = a malformed CSR position (unsorted row or id outside [0, C)).
  __device__ double available(int64_t a, int64_t lo, int64_t hi, int64_t* bad) const {
    int64_t taken = 0;
    double taken_w = 0;
    bool self_taken = false;
    if (strict) {
      int64_t prev = -1;
      for (int64_t k = lo; k < hi; ++k) {
        const int64_t v = static_cast<int64_t>(cp[k]);
        if (v < prev || v >= C) { *bad = k; return 0; }
        if (v == prev) continue;
        prev = v;
        ++taken;
        if (w) taken_w += w[v];
        if (v == a) self_taken = true;
      }
    }
    if (exclude_self && a < C && !self_taken) {
      ++taken;
      if (w) taken_w += w[a];
    }
    if (w == nullptr) return static_cast<double>(C - taken);
    double left = total() - taken_w;
    if (left <= 1e-9 * total()) {
      // cancellation: recount exactly over the non-neighbours, O(C) (rare: near-full rows)
      left = 0;
      int64_t k = lo;
      for (int64_t b = 0; b < C; ++b) {
        bool skip = exclude_self && b == a;
        if (strict) {
          while (k < hi && static_cast<int64_t>(cp[k]) < b) ++k;
          if (k < hi && static_cast<int64_t>(cp[k]) == b) skip = true;
        }
        if (!skip) left += w[b];
      }
    }
    return left;
  }

  // The admissible candidate selected by `r` (an integer rank, or a weight offset) in row a.
  __device__ int64_t select(int64_t a, int64_t lo, int64_t hi, double r) const {
    int64_t k = lo;
    const bool self_blocked = exclude_self && a < C;
    if (w == nullptr) {
      int64_t rank = static_cast<int64_t>(r);
      int64_t b = 0;
      while (b < C) {
        int64_t nb = C;
        if (strict) {
          while (k < hi && static_cast<int64_t>(cp[k]) < b) ++k;
          if (k < hi) nb = static_cast<int64_t>(cp[k]);
        }
        if (self_blocked && a >= b && a < nb) nb = a;
        if (rank < nb - b) return b + rank;
        rank -= nb - b;
        b = nb + 1;
      }
      return C - 1;  // unreachable when r < available()
    }
    int64_t last = -1;
    for (int64_t b = 0; b < C; ++b) {
      bool skip = exclude_self && b == a;
      if (strict) {
        while (k < hi && static_cast<int64_t>(cp[k]) < b) ++k;
        if (k < hi && static_cast<int64_t>(cp[k]) == b) skip = true;
      }
      if (skip || w[b] <= 0) continue;
      last = b;
      if (r < w[b]) return b;
      r -= w[b];
    }
    return last;  // rounding: the last admissible candidate
  }

  // One admissible candidate for anchor a; returns -1 and sets *code / *where on failure.
  __device__ int64_t sample_row(int64_t a, rng::Xoshiro256& g, int* code, int64_t* where) const {
    const int64_t lo = rp[a], hi = rp[a + 1];
    if (lo < 0 || hi < lo || hi > E) { *code = kBadRowptr; *where = a; return -1; }
    const bool dense = strict && 2 * (hi - lo) >= C;
    if (!dense) {
      for (int t = 0; t < kTries; ++t) {
        const int64_t b = draw(g);
        if (admissible(a, lo, hi, b)) return b;
      }
    }
    int64_t bad = -1;
    const double avail = available(a, lo, hi, &bad);
    if (bad >= 0) { *code = kBadCol; *where = bad; return -1; }
    if (!(avail > 0)) { *code = kNoCandidate; *where = a; return -1; }
    const double r = w == nullptr ? static_cast<double>(g.below(static_cast<uint64_t>(avail)))
                                  : g.uniform() * avail;
    return select(a, lo, hi, r);
  }
};

// Sample i failed: its output slots carry (where, -code) and fail[2] keeps the smallest such i.
__device__ __forceinline__ void report(int64_t* oa, int64_t* ob, int64_t* fail, int64_t i, int code,
                                       int64_t where) {
  oa[i] = where;
  ob[i] = -static_cast<int64_t>(code);
  atomic_min_i64(fail + 2, i);
}

// Per-anchor negatives: sample i keeps anchor[i / K].
template <typename index_t>
__global__ void anchored_kernel(DeviceSampler<index_t> S, const int64_t* __restrict__ anchor, int64_t n,
                                int64_t K, uint64_t seed, int64_t* __restrict__ oa, int64_t* __restrict__ ob,
                                int64_t* __restrict__ fail) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    rng::Xoshiro256 g(seed, static_cast<uint64_t>(i));
    const int64_t a = anchor[i / K];
    int code = kNone;
    int64_t where = 0;
    const int64_t b = S.sample_row(a, g, &code, &where);
    if (code != kNone) { report(oa, ob, fail, i, code, where); continue; }
    oa[i] = a;
    ob[i] = b;
  }
}

// Global pairs, sparse case: (a, b) uniform over rows x candidates, rejected until admissible.
template <typename index_t>
__global__ void pair_rejection_kernel(DeviceSampler<index_t> S, int64_t n, uint64_t seed,
                                      int64_t* __restrict__ oa, int64_t* __restrict__ ob,
                                      int64_t* __restrict__ fail) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    rng::Xoshiro256 g(seed, static_cast<uint64_t>(i));
    int code = kStuck;
    int64_t where = 0, a = 0, b = 0;
    for (int t = 0; t < kMaxPairDraws; ++t) {
      a = static_cast<int64_t>(g.below(static_cast<uint64_t>(S.R)));
      b = S.draw(g);
      const int64_t lo = S.rp[a], hi = S.rp[a + 1];
      if (lo < 0 || hi < lo || hi > S.E) { code = kBadRowptr; where = a; break; }
      if (S.admissible(a, lo, hi, b)) { code = kNone; break; }
    }
    if (code != kNone) { report(oa, ob, fail, i, code, where); continue; }
    oa[i] = a;
    ob[i] = b;
  }
}

// Global pairs, dense or weighted case, pass 1: the admissible count / weight of every row.
template <typename index_t>
__global__ void row_available_kernel(DeviceSampler<index_t> S, double* __restrict__ avail,
                                     int64_t* __restrict__ fail) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t a = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; a < S.R; a += stride) {
    const int64_t lo = S.rp[a], hi = S.rp[a + 1];
    if (lo < 0 || hi < lo || hi > S.E) { avail[a] = 0; atomic_min_i64(fail + 0, a); continue; }
    int64_t bad = -1;
    avail[a] = S.available(a, lo, hi, &bad);
    // rows hold disjoint increasing position ranges, so the smallest bad position is the first bad
    // row's first bad position: the one the CPU op reports
    if (bad >= 0) atomic_min_i64(fail + 1, bad);
  }
}

// Pass 2: the anchor drawn proportionally to its row's mass (cum [R + 1], cum[0] = 0), then one
// admissible candidate of that row.
template <typename index_t>
__global__ void pair_weighted_kernel(DeviceSampler<index_t> S, const double* __restrict__ avail,
                                     const double* __restrict__ cum, int64_t n, uint64_t seed,
                                     int64_t* __restrict__ oa, int64_t* __restrict__ ob,
                                     int64_t* __restrict__ fail) {
  if (fail[0] != kNoFail || fail[1] != kNoFail) return;  // a malformed row: reported by the host
  const int64_t R = S.R;
  const double mass = cum[R];
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    if (!(mass > 0)) { report(oa, ob, fail, i, kNoCandidate, -1); continue; }  // complete graph
    rng::Xoshiro256 g(seed, static_cast<uint64_t>(i));
    const double u = g.uniform() * mass;
    // upper_bound over cum[1..R]: the first row a with cum[a + 1] > u
    int64_t lo = 1, hi = R + 1;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (cum[mid] > u) hi = mid; else lo = mid + 1;
    }
    int64_t a = lo - 1;
    if (a > R - 1) a = R - 1;
    // rounding landed on an empty row (the CPU walks down; up as well covers a non-monotone scan)
    while (a > 0 && !(avail[a] > 0)) --a;
    while (a < R - 1 && !(avail[a] > 0)) ++a;
    int code = kNone;
    int64_t where = 0;
    const int64_t b = S.sample_row(a, g, &code, &where);
    if (code != kNone) { report(oa, ob, fail, i, code, where); continue; }
    oa[i] = a;
    ob[i] = b;
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
  TORCH_CHECK_VALUE(num_samples >= 0, "gnnkit: negative_sample: 'num_samples' must be >= 0, got ", num_samples);
  TORCH_CHECK_VALUE(C >= 1, "gnnkit: negative_sample: 'num_candidates' must be >= 1 (the graph has no "
                    "candidate nodes), got ", C);
  // devices first: the dispatcher sends the call here when ANY tensor argument is on CUDA
  check_csr(rowptr_in, col_in);
  const bool global = !(anchor_in.has_value() && anchor_in->defined());
  const bool weighted = weight_in.has_value() && weight_in->defined();
  if (!global) check_same_device(*anchor_in, rowptr_in, "anchor", "rowptr");
  if (weighted) check_same_device(*weight_in, rowptr_in, "weight", "rowptr");
  TORCH_CHECK_VALUE(rowptr_in.is_cuda(), "gnnkit: negative_sample: the CUDA kernel needs 'rowptr' on a CUDA "
                    "device, got ", rowptr_in.device());
  const c10::cuda::CUDAGuard guard(rowptr_in.device());
  const CsrArg csr = csr_arg(rowptr_in, col_in, C);  // device reductions
  const int64_t R = csr.num_rows;
  const at::Tensor& rowptr = csr.rowptr;
  const at::Tensor& col = csr.col;
  const int64_t E = csr.num_edges;
  at::Tensor anchor;
  if (!global) {
    check_index_dtype(*anchor_in, "anchor");
    check_dim(*anchor_in, 1, "anchor", "[num_anchors]");
    anchor = contiguous_arg(*anchor_in, "anchor").to(at::kLong);
    if (anchor.numel() > 0) {
      const auto bad = (anchor < 0).logical_or_(anchor >= R);
      if (bad.any().item<bool>()) {
        const int64_t i = bad.nonzero()[0][0].item<int64_t>();
        TORCH_CHECK_INDEX(false, "gnnkit: negative_sample: anchor[", i, "] = ", anchor[i].item<int64_t>(),
                          " is out of range [0, ", R, ")");
      }
    }
  } else {
    TORCH_CHECK_VALUE(R >= 1 || num_samples == 0, "gnnkit: negative_sample: the graph has no nodes "
                      "('rowptr' has one entry); cannot draw ", num_samples, " negative pairs");
  }
  at::Tensor weight, cum_w;
  if (weighted) {
    check_float_dtype(*weight_in, "weight");
    check_dim(*weight_in, 1, "weight", "[num_candidates]");
    TORCH_CHECK_VALUE(weight_in->numel() == C, "gnnkit: negative_sample: 'weight' must have shape [",
                      C, "] (one per candidate), got ", shape_str(*weight_in));
    weight = weight_in->to(at::kDouble).contiguous();
    const auto bad = weight.isfinite().logical_and_(weight >= 0).logical_not_();
    const auto ids = at::arange(C, weight.options().dtype(at::kLong));
    const int64_t first = at::where(bad, ids, at::full({}, C, ids.options())).min().item<int64_t>();
    TORCH_CHECK_VALUE(first == C, "gnnkit: negative_sample: 'weight' must be finite and >= 0, got weight[",
                      first, "] = ", (first < C ? weight[first].item<double>() : 0.0));
    cum_w = at::cumsum(weight, 0);
    const double tot = cum_w[C - 1].item<double>();
    TORCH_CHECK_VALUE(tot > 0, "gnnkit: negative_sample: 'weight' sums to 0; no candidate can be drawn");
    TORCH_CHECK_VALUE(std::isfinite(tot), "gnnkit: negative_sample: 'weight' sums to ", tot,
                      " (overflow); rescale the weights");
  }
  const auto opts = rowptr.options().dtype(at::kLong);
  const int64_t M = global ? num_samples : anchor.numel();
  const int64_t K = global ? 1 : num_samples;
  const int64_t n = checked_mul(M, K, "negatives");
  at::Tensor out_a = global ? alloc("negatives", {M}, opts) : alloc("negatives", {M, K}, opts);
  at::Tensor out_b = alloc("negatives", out_a.sizes(), opts);
  if (n == 0) return {out_a, out_b};

  auto fail = at::full({3}, kNoFail, opts);
  int64_t* fp = fail.data_ptr<int64_t>();
  int64_t* oa = out_a.data_ptr<int64_t>();
  int64_t* ob = out_b.data_ptr<int64_t>();
  const uint64_t useed = static_cast<uint64_t>(seed);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const double* wp = weighted ? weight.data_ptr<double>() : nullptr;
  const double* cp_w = weighted ? cum_w.data_ptr<double>() : nullptr;
  at::Tensor avail, cum;  // dense global path only; alive until the record is read

  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "negative_sample_cuda", [&] {
    const DeviceSampler<index_t> S{rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(), R, C, E, wp, cp_w,
                                   strict, exclude_self};
    if (!global) {
      anchored_kernel<index_t><<<grid_for(n), cuda::kThreads, 0, stream>>>(S, anchor.data_ptr<int64_t>(), n, K,
                                                                           useed, oa, ob, fp);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      return;
    }
    // The CPU op's path choice, verbatim: pair rejection when it accepts with probability >= 1/2
    // (not strict: only self pairs are rejected; strict, unweighted: arcs <= half of all pairs),
    // otherwise anchors proportional to their admissible count / weight.
    const double pairs = static_cast<double>(R) * static_cast<double>(C);
    const bool tiny_self = exclude_self && R == 1 && C == 1;
    const bool rejection = !tiny_self && ((!strict && (!weighted || R >= 2)) ||
                                          (strict && !weighted && 2.0 * static_cast<double>(E) + 2.0 * R <= pairs));
    if (rejection) {
      pair_rejection_kernel<index_t><<<grid_for(n), cuda::kThreads, 0, stream>>>(S, n, useed, oa, ob, fp);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      return;
    }
    avail = alloc("negative_sample row masses", {R}, opts.dtype(at::kDouble));
    cum = alloc_zeros("negative_sample row masses", {R + 1}, opts.dtype(at::kDouble));
    row_available_kernel<index_t><<<grid_for(R), cuda::kThreads, 0, stream>>>(S, avail.data_ptr<double>(), fp);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    // integer counts (unweighted) are summed exactly in any order, so cum equals the CPU's
    at::Tensor tail = cum.narrow(0, 1, R);
    at::cumsum_out(tail, avail, 0);
    pair_weighted_kernel<index_t><<<grid_for(n), cuda::kThreads, 0, stream>>>(
        S, avail.data_ptr<double>(), cum.data_ptr<double>(), n, useed, oa, ob, fp);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });

  // the one synchronisation of a successful call
  const auto rec = fail.cpu();
  const int64_t* r = rec.data_ptr<int64_t>();
  if (r[0] != kNoFail)
    bad_row(r[0], rowptr[r[0]].item<int64_t>(), rowptr[r[0] + 1].item<int64_t>(), E);
  int code = kNone;
  int64_t where = 0;
  if (r[1] != kNoFail) {
    code = kBadCol;
    where = r[1];
  } else if (r[2] != kNoFail) {
    where = out_a.view(-1)[r[2]].item<int64_t>();
    code = static_cast<int>(-out_b.view(-1)[r[2]].item<int64_t>());
  }
  if (code == kBadRowptr)
    bad_row(where, rowptr[where].item<int64_t>(), rowptr[where + 1].item<int64_t>(), E);
  if (code == kBadCol)
    TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: 'col' must hold sorted rows of ids in [0, ", C,
                      ") (num_candidates); the row containing col[", where, "] is not");
  if (code == kNoCandidate) {
    if (where < 0)
      TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: cannot draw ", num_samples, " negative pairs: "
                        "the graph is complete (every pair is an edge", exclude_self ? " or a self-loop" : "",
                        "); use strict=False or a graph with non-edges");
    TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: anchor node ", where, " has no admissible "
                      "negative among the ", C, " candidates (it is linked to all of them",
                      exclude_self ? ", self excluded" : "", "); strict mode cannot meet the request");
  }
  TORCH_CHECK(code != kStuck, "gnnkit: negative_sample: internal: pair ", r[2], " was rejected ", kMaxPairDraws,
              " times although each draw is accepted with probability >= 1/2");
  TORCH_CHECK(code == kNone, "gnnkit: negative_sample: internal: unknown failure code ", code);
  return {out_a, out_b};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CUDA, m) { m.impl("negative_sample", &negative_sample_cuda); }

}  // namespace gnnkit
