// One negative sample, shared by the CPU (csrc/cpu/negative_sample_cpu.cpp) and CUDA
// (csrc/cuda/negative_sample_cuda.cu) kernels of `negative_sample` (schema in csrc/gnnkit.cpp), so
// that both run the same algorithm; the host-side argument check and the typed errors are
// csrc/op_checks.h (check_negative_sample, raise_negative_sample_failure).
//
// The CSR passed here is grouped by the *anchor* (the endpoint that is kept): row a lists, sorted,
// the candidates b that form an existing edge with a.  Corrupting destinations passes the CSR
// grouped by source (gnnkit's transposed CSR), corrupting sources passes gnnkit's CSR itself.
//
//   anchor given [M], num_samples = K  ->  (a [M, K], b [M, K]): K negatives b for every anchor
//                                           (per-source negatives, citation2 style);
//   anchor None, num_samples = S       ->  (a [S], b [S]): S pairs uniform over the non-edges.
//
// Candidates are uniform over [0, num_candidates) or, with `weight` [num_candidates], drawn with
// probability proportional to the weight (word2vec's unigram^0.75 negatives pass degree^0.75).
// How a weighted candidate is drawn is the one thing a backend supplies (the `Draw` of Sampler):
// Vose's alias table on the CPU, the inverse CDF (binary search in prefix sums) on CUDA -- the same
// distribution, but a different use of the stream, so weighted outputs differ between devices
// while uniform ones are equal bit for bit.  strict: (a, b) must not be an edge (binary search in
// the sorted row of a); exclude_self: b != a.
//
// Dense rows never loop forever: a row whose degree is at least half of the candidates, or that
// rejected kTries draws, switches to exact enumeration of its non-neighbours (the r-th gap of the
// sorted row, or a weighted scan), which is uniform / weight-proportional over exactly the same
// set as rejection, so the switch does not change the distribution.  A row with no admissible
// candidate fails with kNoCandidate (a ValueError naming the anchor).  Global pairs take one of
// two paths (choose_path): pair rejection when a draw is accepted with probability >= 1/2 (not
// strict; or strict, unweighted, arcs + self pairs <= half of all pairs); otherwise (dense, or
// weighted and strict) the backend first computes the admissible count / weight of every row
// (Sampler::row_mass) and the anchor is drawn proportionally to it, so pairs stay uniform over the
// non-edges and a complete graph is reported instead of sampled forever.
//
// Determinism: sample i (anchor m, slot j: i = m*K + j; or global pair i) draws only from the
// counter-keyed stream (seed, i) of csrc/rng.h, so the output is identical for any thread count
// and launch configuration.
//
// Rows are bounds-checked when read (kBadRowptr) and a row that is counted or enumerated must be
// sorted with ids in [0, C) (kBadCol): the CPU op may skip its full CSR check through the
// validation memo (csrc/memo.h), so the kernel itself never reads outside the arrays.
#pragma once
#include <cstdint>

#include "parallel.h"  // GNNKIT_HD
#include "rng.h"

namespace gnnkit {
namespace neg {

constexpr int kTries = 32;
// Global pair rejection accepts with probability >= 1/2 (choose_path), so kMaxPairDraws rejections
// in a row have probability <= 2^-4096; a sample gives up with kStuck (an internal error) rather
// than spin.
constexpr int kMaxPairDraws = 4096;

// Failure codes of a sample (or a row of the mass pass); raised as typed errors on the host.
enum Fail : int { kNone = 0, kNoCandidate = 1, kBadRowptr = 2, kBadCol = 3, kStuck = 4 };

enum Path : int {
  kAnchored = 0,       // sample i keeps anchor[i / K]
  kPairRejection = 1,  // global: (a, b) uniform over rows x candidates, rejected until admissible
  kPairByMass = 2,     // global: a proportional to its row's admissible mass, then b in row a
};

// The path of a request: R rows, C candidates, E arcs.
inline Path choose_path(bool global, bool strict, bool weighted, bool exclude_self, int64_t R, int64_t C,
                        int64_t E) {
  if (!global) return kAnchored;
  const double pairs = static_cast<double>(R) * static_cast<double>(C);
  const bool tiny_self = exclude_self && R == 1 && C == 1;
  const bool rejection = !tiny_self && ((!strict && (!weighted || R >= 2)) ||
                                        (strict && !weighted && 2.0 * static_cast<double>(E) + 2.0 * R <= pairs));
  return rejection ? kPairRejection : kPairByMass;
}

// The sampler of one request.  `Draw` draws a weighted candidate: GNNKIT_HD int64_t
// operator()(rng::Xoshiro256&) const, called only when w != nullptr.  Plain data (pointers and
// scalars), so a CUDA kernel takes it by value.
template <typename index_t, typename Draw>
struct Sampler {
  const int64_t* rp;  // rowptr [R + 1]
  const index_t* cp;  // col [E], sorted rows
  int64_t R, C, E;
  const double* w;  // weight [C], or nullptr: uniform candidates
  double total;     // sum of w (when w != nullptr)
  Draw draw_weighted;
  bool strict, exclude_self;
  int path;  // Path
  uint64_t seed;
  const int64_t* anchor;  // kAnchored: [M]
  int64_t K;              // kAnchored: negatives per anchor
  const double* mass;     // kPairByMass: [R] admissible count / weight of every row (row_mass)
  const double* cum;      // kPairByMass: [R + 1] prefix sums of mass, cum[0] = 0

  GNNKIT_HD int64_t draw(rng::Xoshiro256& g) const {
    return w ? draw_weighted(g) : static_cast<int64_t>(g.below(static_cast<uint64_t>(C)));
  }

  // Row a's CSR range [*lo, *hi); false when rowptr is malformed there.
  GNNKIT_HD bool row(int64_t a, int64_t* lo, int64_t* hi) const {
    *lo = rp[a];
    *hi = rp[a + 1];
    return *lo >= 0 && *hi >= *lo && *hi <= E;
  }

  GNNKIT_HD bool in_row(int64_t lo, int64_t hi, int64_t b) const {
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      const int64_t v = static_cast<int64_t>(cp[mid]);
      if (v < b) lo = mid + 1; else if (v > b) hi = mid; else return true;
    }
    return false;
  }

  GNNKIT_HD bool admissible(int64_t a, int64_t lo, int64_t hi, int64_t b) const {
    if (exclude_self && b == a) return false;
    return !strict || !in_row(lo, hi, b);
  }

  // Number of admissible candidates of row a (unweighted) or their total weight (weighted), in
  // O(degree).  Sets *bad to a malformed CSR position (unsorted row or id outside [0, C)).
  GNNKIT_HD double available(int64_t a, int64_t lo, int64_t hi, int64_t* bad) const {
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
    double left = total - taken_w;
    if (left <= 1e-9 * total) {
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
  GNNKIT_HD int64_t select(int64_t a, int64_t lo, int64_t hi, double r) const {
    int64_t k = lo;
    const bool self_blocked = exclude_self && a < C;
    if (w == nullptr) {
      // walk the gaps between blocked ids (sorted row entries and a itself)
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

  // One admissible candidate *b for anchor a: kTries rejection draws unless the row is dense, then
  // exact enumeration.  Returns kNone, or a Fail code with *where = the row / CSR position.
  GNNKIT_HD int sample_row(int64_t a, rng::Xoshiro256& g, int64_t* b, int64_t* where) const {
    int64_t lo, hi;
    if (!row(a, &lo, &hi)) { *where = a; return kBadRowptr; }
    const bool dense = strict && 2 * (hi - lo) >= C;
    if (!dense) {
      for (int t = 0; t < kTries; ++t) {
        const int64_t c = draw(g);
        if (admissible(a, lo, hi, c)) { *b = c; return kNone; }
      }
    }
    int64_t bad = -1;
    const double avail = available(a, lo, hi, &bad);
    if (bad >= 0) { *where = bad; return kBadCol; }
    if (!(avail > 0)) { *where = a; return kNoCandidate; }
    const double r = w == nullptr ? static_cast<double>(g.below(static_cast<uint64_t>(avail)))
                                  : g.uniform() * avail;
    *b = select(a, lo, hi, r);
    return kNone;
  }

  // kPairByMass, pass 1: *m = the admissible count / weight of row a.  Returns kNone, kBadRowptr
  // (*where = a) or kBadCol (*where = the CSR position).
  GNNKIT_HD int row_mass(int64_t a, double* m, int64_t* where) const {
    int64_t lo, hi, bad = -1;
    *m = 0;
    if (!row(a, &lo, &hi)) { *where = a; return kBadRowptr; }
    *m = available(a, lo, hi, &bad);
    if (bad >= 0) { *where = bad; return kBadCol; }
    return kNone;
  }

  GNNKIT_HD bool has_mass(int64_t a) const { return mass[a] > 0 && cum[a + 1] > cum[a]; }

  // Sample i of the request: (*a, *b), or a Fail code with *where (-1 with kNoCandidate: the
  // whole graph has no admissible pair).
  GNNKIT_HD int sample(int64_t i, int64_t* a, int64_t* b, int64_t* where) const {
    rng::Xoshiro256 g(seed, static_cast<uint64_t>(i));
    if (path == kAnchored) {
      const int64_t x = anchor[i / K];
      *a = x;
      return sample_row(x, g, b, where);
    }
    if (path == kPairRejection) {
      for (int t = 0; t < kMaxPairDraws; ++t) {
        const int64_t x = static_cast<int64_t>(g.below(static_cast<uint64_t>(R)));
        const int64_t c = draw(g);
        int64_t lo, hi;
        if (!row(x, &lo, &hi)) { *where = x; return kBadRowptr; }
        if (admissible(x, lo, hi, c)) { *a = x; *b = c; return kNone; }
      }
      *where = i;
      return kStuck;
    }
    // kPairByMass: the first row with cum[a + 1] > u (upper bound over cum[1..R])
    const double total_mass = cum[R];
    if (!(total_mass > 0)) { *where = -1; return kNoCandidate; }  // complete graph
    const double u = g.uniform() * total_mass;
    int64_t lo = 1, hi = R + 1;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (cum[mid] > u) hi = mid; else lo = mid + 1;
    }
    int64_t r = lo - 1 < R - 1 ? lo - 1 : R - 1;
    // u rounded up to the total landed on an empty row: walk down to a row with mass (and up,
    // for prefix sums of a parallel scan that are not exactly monotone)
    while (r > 0 && !has_mass(r)) --r;
    while (r < R - 1 && !has_mass(r)) ++r;
    *a = r;
    return sample_row(r, g, b, where);
  }
};

}  // namespace neg
}  // namespace gnnkit
