// CPU random walks: uniform, node2vec (rejection sampling, no alias tables) and walks with restart.
//
// Walks are split over threads with at::parallel_for; walk i draws only from the stream
// (seed, i) (csrc/rng.h), so the output is identical for any thread count.
//
// Input checks: check_random_walk (csrc/op_checks.h) checks the CSR in full (offsets monotone,
// every id in range: O(N + E)) only once per unchanged large (rowptr, col) -- the validation memo
// of csrc/memo.h -- because a walk batch costs O(num_walks * walk_length), and node2vec / DeepWalk
// loaders call this op once per batch on the same graph (62.6M arcs: ~70 ms of check against
// ~1 ms of walking).  The memo is allowed because the kernels check every row bound and column
// id before they follow it (walk_batch below, walk::walk_one): a CSR changed behind torch's
// version counter (a numpy alias, a file under a memory map) still ends in a typed error -- that
// of the smallest failing walk id, so it does not depend on the thread count -- never in an
// out-of-bounds read.  Edge weights are not an input (transitions are uniform over arcs).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>

#include "op_checks.h"
#include "random_walk.h"
#include "cpu/walk_errors.h"

namespace gnnkit {
namespace {


// Step-interleaved walks (latency hiding): a thread advances a batch of kBatch walks in lockstep,
// one step at a time, and prefetches the next row pointer / column entry of every walk before it
// reads any of them, so the cache misses of the batch overlap instead of queueing.  Each walk
// makes exactly the same draws, in the same order, as walk::walk_one (uniform: one below(deg) per
// step; node2vec: below(deg) then uniform() per proposal), so the output equals the one-walk-
// at-a-time code on CPU and on CUDA.
constexpr int kBatch = 32;

//
// Every row bound and column id is checked where it is read (the CSR may have been changed behind
// the validation memo, csrc/memo.h).  A walk that meets a malformed entry stops there and the
// others go on, so the failure returned is that of the batch's smallest failing walk (*fail_j,
// with its code and *where), whatever the batch boundaries -- i.e. whatever the thread count.
template <typename index_t>
int walk_batch(const int64_t* rp, const index_t* col, int64_t N, int64_t E, const int64_t* start, int64_t nb,
               int64_t L, const walk::Params& P, uint64_t seed, uint64_t first_id, int64_t* out, int64_t* where,
               int64_t* fail_j) {
  int fail_code = walk::kOk;
  *fail_j = nb;
  const auto fail = [&](int64_t j, int code, int64_t w) {
    if (j < *fail_j) {
      *fail_j = j;
      fail_code = code;
      *where = w;
    }
  };
  rng::Xoshiro256 gen[kBatch];
  int64_t cur[kBatch], prev[kBatch], kk[kBatch], lo_[kBatch], hi_[kBatch];
  bool alive[kBatch], done[kBatch];
  double uu[kBatch];
  for (int64_t j = 0; j < nb; ++j) {
    gen[j] = rng::Xoshiro256(seed, first_id + static_cast<uint64_t>(j));
    cur[j] = start[j];
    prev[j] = -1;
    alive[j] = true;
    out[j * (L + 1)] = start[j];
    __builtin_prefetch(rp + cur[j]);
  }
  const bool n2v = P.mode == walk::kNode2Vec;
  for (int64_t step = 1; step <= L; ++step) {
    // Stage 1: row bounds of every live walk (prefetched last step); dead ends pad with -1.
    for (int64_t j = 0; j < nb; ++j) {
      done[j] = !alive[j];
      if (!alive[j]) { out[j * (L + 1) + step] = -1; continue; }
      const int64_t c = cur[j];
      const int64_t lo = rp[c], hi = rp[c + 1];
      if (lo < 0 || hi < lo || hi > E) {  // malformed row: this walk stops, the others go on
        fail(j, walk::kBadRow, c);
        alive[j] = false;
        done[j] = true;
        continue;
      }
      if (hi == lo) {
        alive[j] = false;
        done[j] = true;
        out[j * (L + 1) + step] = -1;
        continue;
      }
      lo_[j] = lo;
      hi_[j] = hi;
    }
    // Stage 2..: propose (draw + prefetch the column entry), then read and accept, in rounds
    // until every live walk has moved (uniform and first node2vec steps accept at once).
    bool pending = true;
    while (pending) {
      pending = false;
      for (int64_t j = 0; j < nb; ++j) {
        if (done[j]) continue;
        kk[j] = lo_[j] + static_cast<int64_t>(gen[j].below(static_cast<uint64_t>(hi_[j] - lo_[j])));
        __builtin_prefetch(col + kk[j]);
        if (n2v && prev[j] >= 0) uu[j] = gen[j].uniform() * P.upper;
      }
      for (int64_t j = 0; j < nb; ++j) {
        if (done[j]) continue;
        const int64_t x = static_cast<int64_t>(col[kk[j]]);
        if (x < 0 || x >= N) {  // id out of range: this walk stops, the others go on
          fail(j, walk::kBadCol, kk[j]);
          alive[j] = false;
          done[j] = true;
          continue;
        }
        bool accept = true;
        if (n2v && prev[j] >= 0) {
          const double u = uu[j];
          if (!(u < P.lower)) {
            const int64_t t = prev[j];
            double a;
            if (x == t) a = P.inv_p;
            else if (walk::has_arc(col, rp[t], rp[t + 1], x)) a = 1.0;
            else a = P.inv_q;
            accept = u < a;
          }
        }
        if (!accept) { pending = true; continue; }
        done[j] = true;
        prev[j] = cur[j];
        cur[j] = x;
        out[j * (L + 1) + step] = x;
        __builtin_prefetch(rp + x);
      }
    }
  }
  return fail_code;
}

at::Tensor random_walk_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& start_in,
                           int64_t walk_length, double p, double q, double restart_prob, int64_t seed) {
  const auto A = check_random_walk(rowptr_in, col_in, start_in, walk_length, p, q, restart_prob);  // op_checks.h
  const at::Tensor& rowptr = A.csr.rowptr;
  const at::Tensor& col = A.csr.col;
  const at::Tensor& start = A.start;
  const int64_t N = A.csr.num_rows, E = A.csr.num_edges;
  const int64_t W = start.numel();
  const int64_t* sp = start.data_ptr<int64_t>();
  auto out = alloc("walks", {W, walk_length + 1}, start.options());
  if (W == 0) return out;

  walk::Params P;
  P.mode = restart_prob > 0 ? walk::kRestart : ((p == 1 && q == 1) ? walk::kUniform : walk::kNode2Vec);
  P.inv_p = 1.0 / p;
  P.inv_q = 1.0 / q;
  P.upper = std::max({P.inv_p, 1.0, P.inv_q});
  P.lower = std::min({P.inv_p, 1.0, P.inv_q});
  P.restart = restart_prob;
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  int64_t* op = out.data_ptr<int64_t>();
  const uint64_t useed = static_cast<uint64_t>(seed);
  FirstWalkError err;  // smallest failing walk id wins

  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "random_walk_cpu", [&] {
    const index_t* cp = col.data_ptr<index_t>();
    at::parallel_for(0, W, 256, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1;) {
        const int64_t w_first = w;
        int64_t where = 0, fail_j = 0;
        int code;
        int64_t nb = 1;
        if (P.mode == walk::kRestart) {
          code = walk::walk_one<index_t>(rp, cp, N, E, sp[w], walk_length, P, useed, static_cast<uint64_t>(w),
                                         op + w * (walk_length + 1), &where);
        } else {
          nb = std::min<int64_t>(kBatch, w1 - w);
          code = walk_batch<index_t>(rp, cp, N, E, sp + w, nb, walk_length, P, useed, static_cast<uint64_t>(w),
                                     op + w * (walk_length + 1), &where, &fail_j);
        }
        w += nb;
        if (code != walk::kOk) {
          err.report(w_first + fail_j, code, where);
          return;  // later walks of this chunk cannot hold a smaller failing id
        }
      }
    });
    err.raise_if_any(rp, cp, N, E);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) { m.impl("random_walk", &random_walk_cpu); }

}  // namespace gnnkit
