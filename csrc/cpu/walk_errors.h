// The first failure of a parallel batch of walks (walk::walk_one's error codes), shared by the
// CPU walk kernels (random_walk, saint_random_walk).  The error raised after the parallel loop is
// that of the smallest failing walk id, so the message does not depend on thread timing.
#pragma once

#include <cstdint>

#include "checks.h"
#include "cpu/first_failure.h"
#include "random_walk.h"

namespace gnnkit {

class FirstWalkError {
 public:
  // A walk returned `code` != kOk at CSR row / position `where`.
  void report(int64_t walk, int code, int64_t where) { first_.report(walk, code, where); }

  // Throws the typed error (bad row: ValueError, bad column: IndexError) if any walk failed.
  template <typename index_t>
  void raise_if_any(const int64_t* rp, const index_t* cp, int64_t N, int64_t E) const {
    if (!first_.any()) return;
    const int64_t w = first_.where;
    if (first_.code == walk::kBadRow) bad_row(w, rp[w], rp[w + 1], E);
    bad_col(w, static_cast<int64_t>(cp[w]), N);
  }

 private:
  FirstFailure first_;
};

}  // namespace gnnkit
