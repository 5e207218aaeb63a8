// Work splitting for CSR kernels.  Rows are grouped into chunks of roughly equal edge count
// (power-law graphs make equal row counts badly unbalanced); every row is computed by exactly
// one thread in a fixed order, so results are identical for any thread count.
#pragma once
#include <ATen/Parallel.h>

#include "rng.h"  // rng::splitmix64_fmix (mix64 below)

#include <algorithm>
#include <vector>

#ifdef __CUDACC__
#define GNNKIT_HD __host__ __device__ __forceinline__
#else
#define GNNKIT_HD inline
#endif

namespace gnnkit {

// Chunk boundaries [b_0=0, ..., b_c=N] over rows so that each chunk has ~E/c edges + rows.
inline std::vector<int64_t> row_chunks(const int64_t* rowptr, int64_t N, int64_t cost_per_row = 1) {
  const int64_t E = N > 0 ? rowptr[N] : 0;
  const int64_t total = E + cost_per_row * N;
  const int64_t threads = at::get_num_threads();
  // Enough chunks for dynamic-ish balance, few enough that per-chunk overhead is nil.
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads * 16, total / 2048 + 1));
  chunks = std::min<int64_t>(chunks, std::max<int64_t>(N, 1));
  std::vector<int64_t> b(chunks + 1, N);
  b[0] = 0;
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t target = total * c / chunks;
    // first row r with rowptr[r] + cost*r >= target (binary search on a monotone function)
    int64_t lo = b[c - 1], hi = N;
    while (lo < hi) {
      int64_t mid = (lo + hi) / 2;
      if (rowptr[mid] + cost_per_row * mid < target) lo = mid + 1; else hi = mid;
    }
    b[c] = lo;
  }
  return b;
}

// Run f(row_begin, row_end) over edge-balanced chunks in parallel.
template <typename F>
inline void parallel_rows(const int64_t* rowptr, int64_t N, const F& f, int64_t cost_per_row = 1) {
  if (N <= 0) return;
  const auto b = row_chunks(rowptr, N, cost_per_row);
  const int64_t chunks = static_cast<int64_t>(b.size()) - 1;
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) f(b[c], b[c + 1]);
  });
}

// Counter-based random bits (splitmix64 finalizer): the same (seed, counter) always gives the same
// value, so attention dropout needs no stored mask and is identical in forward and backward.
GNNKIT_HD uint64_t mix64(uint64_t z) { return rng::splitmix64_fmix(z + rng::kSplitMixGamma); }

// Attention-dropout keep-scale for element `idx` (= arc k * H + head h): 0 (dropped) or 1/(1-p)
// (kept), with the keep decision of every gnnkit dropout (rng::dropout_keep; the kernels receive
// p as float32, so t is round(float(p) 2^32)).
GNNKIT_HD float dropout_scale(uint64_t seed, uint64_t idx, float p) {
  if (p <= 0.f) return 1.f;
  return rng::dropout_keep(seed, idx, rng::dropout_threshold(p)) ? 1.f / (1.f - p) : 0.f;
}

}  // namespace gnnkit
