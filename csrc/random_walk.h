// One random walk, shared by the CPU (csrc/cpu/random_walk_cpu.cpp) and CUDA
// (csrc/cuda/random_walk_cuda.cu) kernels so that both produce identical walks for a seed.
//
// The CSR passed here is grouped by the node a walk leaves: row v lists the nodes a step from v
// may go to, sorted ascending (the node2vec neighbour test binary-searches it).  random_walk
// passes the *transposed* gnnkit CSR (row v = heads of the out-arcs v -> x); GraphSAINT's
// saint_random_walk (csrc/cpu/saint_cpu.cpp) passes the gnnkit CSR itself (row v = sources of
// the in-arcs j -> v), so its steps go to uniform in-neighbours.
#pragma once
#include <cstdint>

#include "rng.h"

namespace gnnkit {
namespace walk {

enum Mode : int { kUniform = 0, kNode2Vec = 1, kRestart = 2 };

// Error codes returned by walk_one (the CPU caller turns them into typed exceptions).
enum Err : int { kOk = 0, kBadRow = 1, kBadCol = 2 };

struct Params {
  int mode;
  double inv_p, inv_q;   // node2vec unnormalised weights 1/p (return) and 1/q (move away)
  double upper, lower;   // max / min of {1/p, 1, 1/q}: rejection envelope and pre-accept bound
  double restart;        // restart probability (kRestart)
  // uniform / node2vec: a node without out-arcs keeps the walk where it is (torch_cluster's
  // semantics, used by GraphSAINT) instead of ending it with -1 padding.  Ignored by kRestart.
  bool stay_on_dead_end = false;
};

// x in the sorted row [lo, hi) of `col`?  (binary search)
template <typename index_t>
GNNKIT_RNG_HD bool has_arc(const index_t* col, int64_t lo, int64_t hi, int64_t x) {
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    const int64_t v = static_cast<int64_t>(col[mid]);
    if (v < x) lo = mid + 1; else if (v > x) hi = mid; else return true;
  }
  return false;
}

// Writes L + 1 node ids to out.  Walk `id` uses stream (seed, id) only.
//   uniform / node2vec: a node without out-arcs ends the walk; the remaining entries are -1,
//            or that node when P.stay_on_dead_end (the walk stays put; no draws are made).
//   restart: each step jumps back to `start` with probability `restart`, and a node without
//            out-arcs also jumps back (a start without out-arcs therefore stays put).
// Returns kOk, or kBadRow / kBadCol with *where = the row / CSR position that is malformed.
template <typename index_t>
GNNKIT_RNG_HD int walk_one(const int64_t* rp, const index_t* col, int64_t N, int64_t E, int64_t start,
                           int64_t L, const Params& P, uint64_t seed, uint64_t id, int64_t* out,
                           int64_t* where) {
  rng::Xoshiro256 g(seed, id);
  out[0] = start;
  int64_t prev = -1, cur = start;
  for (int64_t step = 1; step <= L; ++step) {
    if (P.mode == kRestart && g.uniform() < P.restart) {
      prev = cur;
      cur = start;
      out[step] = cur;
      continue;
    }
    const int64_t lo = rp[cur], hi = rp[cur + 1];
    if (lo < 0 || hi < lo || hi > E) { *where = cur; return kBadRow; }
    const int64_t deg = hi - lo;
    if (deg == 0) {
      if (P.mode == kRestart) {
        prev = cur;
        cur = start;
        out[step] = cur;
        continue;
      }
      // No arcs leave cur, so the walk can never move again: fill the rest at once.
      const int64_t fill = P.stay_on_dead_end ? cur : -1;
      for (int64_t s = step; s <= L; ++s) out[s] = fill;
      return kOk;
    }
    int64_t next;
    if (P.mode != kNode2Vec || prev < 0) {
      const int64_t k = lo + static_cast<int64_t>(g.below(static_cast<uint64_t>(deg)));
      next = static_cast<int64_t>(col[k]);
      if (next < 0 || next >= N) { *where = k; return kBadCol; }
    } else {
      // KnightKing-style rejection: propose a uniform out-arc x of cur, accept with probability
      // alpha(prev, x) / upper, alpha = 1/p if x == prev, 1 if prev -> x is an arc, else 1/q.
      const int64_t plo = rp[prev], phi = rp[prev + 1];
      for (;;) {
        const int64_t k = lo + static_cast<int64_t>(g.below(static_cast<uint64_t>(deg)));
        const int64_t x = static_cast<int64_t>(col[k]);
        if (x < 0 || x >= N) { *where = k; return kBadCol; }
        const double u = g.uniform() * P.upper;
        if (u < P.lower) { next = x; break; }  // below every alpha: accept without the test
        double a;
        if (x == prev) a = P.inv_p;
        else if (has_arc(col, plo, phi, x)) a = 1.0;
        else a = P.inv_q;
        if (u < a) { next = x; break; }
      }
    }
    prev = cur;
    cur = next;
    out[step] = cur;
  }
  return kOk;
}

}  // namespace walk
}  // namespace gnnkit
