// CPU negative sampling for link prediction and embeddings (schema in csrc/gnnkit.cpp).
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
// probability proportional to the weight (Vose's alias table; word2vec's unigram^0.75 negatives
// pass degree^0.75).  strict: (a, b) must not be an edge (binary search in the sorted row of a);
// exclude_self: b != a.
//
// Dense rows never loop forever: a row whose degree is at least half of the candidates, or that
// rejected kTries draws, switches to exact enumeration of its non-neighbours (the r-th gap of the
// sorted row, or a weighted scan), which is uniform / weight-proportional over exactly the same
// set as rejection, so the switch does not change the distribution.  A row with no admissible
// candidate raises a ValueError naming the anchor.  Global strict sampling of a dense graph
// (more arcs than half the pairs, or weighted candidates) first counts the admissible candidates
// of every row and draws the anchor proportionally, so pairs stay uniform over the non-edges and a
// complete graph is reported instead of sampled forever.
//
// Determinism: sample i (anchor m, slot j: i = m*K + j) draws only from the counter-keyed stream
// (seed, i) of csrc/rng.h, so the output is identical for any thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "checks.h"
#include "cpu/alias_table.h"
#include "cpu/first_failure.h"
#include "memo.h"
#include "rng.h"

namespace gnnkit {
namespace {

constexpr int kTries = 32;

// Failure codes recorded in the parallel region, raised (smallest sample id first) afterwards.
enum Fail : int { kNone = 0, kNoCandidate = 1, kBadRowptr = 2, kBadCol = 3 };

template <typename index_t>
struct Sampler {
  const int64_t* rp;
  const index_t* cp;
  int64_t R, C, E;
  const double* w;      // nullptr: uniform candidates
  const AliasTable* alias;   // built when w != nullptr
  bool strict, exclude_self;

  int64_t draw(rng::Xoshiro256& g) const {
    return alias ? alias->draw(g) : static_cast<int64_t>(g.below(static_cast<uint64_t>(C)));
  }

  bool in_row(int64_t lo, int64_t hi, int64_t b) const {
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      const int64_t v = static_cast<int64_t>(cp[mid]);
      if (v < b) lo = mid + 1; else if (v > b) hi = mid; else return true;
    }
    return false;
  }

  bool admissible(int64_t a, int64_t lo, int64_t hi, int64_t b) const {
    if (exclude_self && b == a) return false;
    return !strict || !in_row(lo, hi, b);
  }

  // Number of admissible candidates of row a (unweighted) or their total weight (weighted), in
  // O(degree).  Sets *bad to a malformed CSR position (unsorted row or id outside [0, C)).
  double available(int64_t a, int64_t lo, int64_t hi, int64_t* bad) const {
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
    double left = alias->total - taken_w;
    if (left <= 1e-9 * alias->total) {
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
  int64_t select(int64_t a, int64_t lo, int64_t hi, double r) const {
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

  // One admissible candidate for anchor a; returns -1 and sets *code / *where on failure.
  int64_t sample_row(int64_t a, rng::Xoshiro256& g, int* code, int64_t* where) const {
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

std::vector<at::Tensor> negative_sample_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                            const c10::optional<at::Tensor>& anchor_in, int64_t num_samples,
                                            int64_t num_candidates, const c10::optional<at::Tensor>& weight_in,
                                            bool strict, bool exclude_self, int64_t seed) {
  const int64_t C = num_candidates;
  TORCH_CHECK_VALUE(num_samples >= 0, "gnnkit: negative_sample: 'num_samples' must be >= 0, got ", num_samples);
  TORCH_CHECK_VALUE(C >= 1, "gnnkit: negative_sample: 'num_candidates' must be >= 1 (the graph has no "
                    "candidate nodes), got ", C);
  // the full CSR check (monotone rowptr, ids in [0, C)) runs even when nothing is drawn: a
  // malformed graph is refused, never silently accepted; strided views are copied.  Through the
  // validation memo (memo.h): the kernel bounds-checks every row it reads (kBadRowptr) and every id
  // it uses as an index (available(): kBadCol), so a per-batch call on the same large graph skips
  // the O(N + E) pass (18 ms per call at E = 10M, more than drawing 1024 negatives)
  const CsrArg csr = csr_arg_memo(rowptr_in, col_in, C);
  const int64_t R = csr.num_rows;
  const at::Tensor& rowptr = csr.rowptr;
  const at::Tensor& col = csr.col;
  const int64_t E = csr.num_edges;
  const bool global = !anchor_in.has_value();
  at::Tensor anchor;
  if (!global) {
    check_index_dtype(*anchor_in, "anchor");
    check_dim(*anchor_in, 1, "anchor", "[num_anchors]");
    check_same_device(*anchor_in, rowptr, "anchor", "rowptr");
    anchor = contiguous_arg(*anchor_in, "anchor").to(at::kLong);
    const int64_t* ap = anchor.data_ptr<int64_t>();
    for (int64_t i = 0; i < anchor.numel(); ++i)
      TORCH_CHECK_INDEX(ap[i] >= 0 && ap[i] < R, "gnnkit: negative_sample: anchor[", i, "] = ", ap[i],
                        " is out of range [0, ", R, ")");
  } else {
    TORCH_CHECK_VALUE(R >= 1 || num_samples == 0, "gnnkit: negative_sample: the graph has no nodes "
                      "('rowptr' has one entry); cannot draw ", num_samples, " negative pairs");
  }
  at::Tensor weight;
  const double* wp = nullptr;
  if (weight_in.has_value()) {
    check_float_dtype(*weight_in, "weight");
    check_dim(*weight_in, 1, "weight", "[num_candidates]");
    TORCH_CHECK_VALUE(weight_in->numel() == C, "gnnkit: negative_sample: 'weight' must have shape [",
                      C, "] (one per candidate), got ", shape_str(*weight_in));
    weight = weight_in->to(at::kDouble).contiguous();
    wp = weight.data_ptr<double>();
    double tot = 0;
    for (int64_t i = 0; i < C; ++i) {
      TORCH_CHECK_VALUE(std::isfinite(wp[i]) && wp[i] >= 0, "gnnkit: negative_sample: 'weight' must be "
                        "finite and >= 0, got weight[", i, "] = ", wp[i]);
      tot += wp[i];
    }
    TORCH_CHECK_VALUE(tot > 0, "gnnkit: negative_sample: 'weight' sums to 0; no candidate can be drawn");
  }
  const auto opts = rowptr.options().dtype(at::kLong);
  const int64_t M = global ? num_samples : anchor.numel();
  const int64_t K = global ? 1 : num_samples;
  at::Tensor out_a = global ? at::empty({M}, opts) : at::empty({M, K}, opts);
  at::Tensor out_b = at::empty_like(out_a);
  if (M * K == 0) return {out_a, out_b};
  std::unique_ptr<AliasTable> alias;
  if (wp) alias.reset(new AliasTable(wp, C));
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  int64_t* oa = out_a.data_ptr<int64_t>();
  int64_t* ob = out_b.data_ptr<int64_t>();
  const uint64_t useed = static_cast<uint64_t>(seed);
  FirstFailure fail;

  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "negative_sample_cpu", [&] {
    Sampler<index_t> S{rp, col.data_ptr<index_t>(), R, C, E, wp, alias.get(), strict, exclude_self};
    if (!global) {
      const int64_t* ap = anchor.data_ptr<int64_t>();
      at::parallel_for(0, M * K, 1024, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          rng::Xoshiro256 g(useed, static_cast<uint64_t>(i));
          const int64_t a = ap[i / K];
          int code = kNone;
          int64_t where = 0;
          oa[i] = a;
          ob[i] = S.sample_row(a, g, &code, &where);
          if (code != kNone) { fail.report(i, code, where); return; }
        }
      });
      return;
    }
    // Global pairs.  Sparse and unweighted (arcs <= half of all pairs): pair rejection accepts with
    // probability >= 1/2.  Otherwise: anchors proportional to their admissible count / weight.
    const double pairs = static_cast<double>(R) * static_cast<double>(C);
    const bool tiny_self = exclude_self && R == 1 && C == 1;
    const bool rejection = !tiny_self && ((!strict && (wp == nullptr || R >= 2)) ||
                                          (strict && wp == nullptr && 2.0 * static_cast<double>(E) + 2.0 * R <= pairs));
    if (rejection) {
      at::parallel_for(0, M, 1024, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          rng::Xoshiro256 g(useed, static_cast<uint64_t>(i));
          int64_t a, b;
          while (true) {
            a = static_cast<int64_t>(g.below(static_cast<uint64_t>(R)));
            b = S.draw(g);
            const int64_t lo = rp[a], hi = rp[a + 1];
            if (lo < 0 || hi < lo || hi > E) { fail.report(i, kBadRowptr, a); return; }
            if (S.admissible(a, lo, hi, b)) break;
          }
          oa[i] = a;
          ob[i] = b;
        }
      });
      return;
    }
    std::vector<double> cum(R + 1, 0.0);
    std::vector<int64_t> bad_at(R, -1);
    std::atomic<int64_t> bad_row{-1};
    at::parallel_for(0, R, 256, [&](int64_t r0, int64_t r1) {
      for (int64_t a = r0; a < r1; ++a) {
        const int64_t lo = rp[a], hi = rp[a + 1];
        if (lo < 0 || hi < lo || hi > E) { bad_row.store(a); cum[a + 1] = 0; continue; }
        int64_t bad = -1;
        cum[a + 1] = S.available(a, lo, hi, &bad);
        bad_at[a] = bad;
      }
    });
    if (bad_row.load() >= 0) { fail.report(0, kBadRowptr, bad_row.load()); return; }
    for (int64_t a = 0; a < R; ++a)
      if (bad_at[a] >= 0) { fail.report(0, kBadCol, bad_at[a]); return; }
    for (int64_t a = 0; a < R; ++a) cum[a + 1] += cum[a];
    if (!(cum[R] > 0)) { fail.report(0, kNoCandidate, -1); return; }
    at::parallel_for(0, M, 1024, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        rng::Xoshiro256 g(useed, static_cast<uint64_t>(i));
        const double u = g.uniform() * cum[R];
        int64_t a = static_cast<int64_t>(std::upper_bound(cum.begin() + 1, cum.end(), u) - cum.begin()) - 1;
        a = std::min(a, R - 1);
        while (a > 0 && !(cum[a + 1] > cum[a])) --a;  // rounding landed on an empty row
        int code = kNone;
        int64_t where = 0;
        oa[i] = a;
        ob[i] = S.sample_row(a, g, &code, &where);
        if (code != kNone) { fail.report(i, code, where); return; }
      }
    });
  });

  if (fail.code == kBadRowptr)
    bad_row(fail.where, rp[fail.where], rp[fail.where + 1], E);
  if (fail.code == kBadCol)
    TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: 'col' must hold sorted rows of ids in [0, ", C,
                      ") (num_candidates); the row containing col[", fail.where, "] is not");
  if (fail.code == kNoCandidate) {
    if (fail.where < 0)
      TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: cannot draw ", num_samples, " negative pairs: "
                        "the graph is complete (every pair is an edge", exclude_self ? " or a self-loop" : "",
                        "); use strict=False or a graph with non-edges");
    TORCH_CHECK_VALUE(false, "gnnkit: negative_sample: anchor node ", fail.where, " has no admissible "
                      "negative among the ", C, " candidates (it is linked to all of them",
                      exclude_self ? ", self excluded" : "", "); strict mode cannot meet the request");
  }
  return {out_a, out_b};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) { m.impl("negative_sample", &negative_sample_cpu); }

}  // namespace gnnkit
