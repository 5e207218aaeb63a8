// Vose's alias table: O(n) build, O(1) draws of index i with probability w[i] / sum(w) from a
// counter-keyed stream (csrc/rng.h).  Shared by the negative sampler (degree-biased candidates)
// and the skip-gram trainer (word2vec noise distribution).  Weights must be checked finite and
// >= 0 with a positive sum before the table is built.
#pragma once
#include <cstdint>
#include <vector>

#include "rng.h"

namespace gnnkit {

struct AliasTable {
  std::vector<double> prob;
  std::vector<int64_t> alias;
  int64_t n = 0;
  double total = 0;

  AliasTable(const double* w, int64_t n_) : prob(n_), alias(n_), n(n_) {
    for (int64_t i = 0; i < n; ++i) total += w[i];
    std::vector<int64_t> small, large;
    small.reserve(n);
    large.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      prob[i] = w[i] * n / total;
      alias[i] = i;
      (prob[i] < 1.0 ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty()) {
      const int64_t s = small.back(), l = large.back();
      small.pop_back();
      alias[s] = l;
      prob[l] = (prob[l] + prob[s]) - 1.0;
      if (prob[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (int64_t i : large) prob[i] = 1.0;
    for (int64_t i : small) prob[i] = 1.0;  // rounding leftovers
  }

  int64_t draw(rng::Xoshiro256& g) const {
    const int64_t i = static_cast<int64_t>(g.below(static_cast<uint64_t>(n)));
    return g.uniform() < prob[i] ? i : alias[i];
  }
};

}  // namespace gnnkit
