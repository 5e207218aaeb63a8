// The first failure of a parallel batch of walks (walk::walk_one's error codes), shared by the
// CPU walk kernels (random_walk, saint_random_walk).  The error raised after the parallel loop is
// that of the smallest failing walk id, so the message does not depend on thread timing.
#pragma once

#include <cstdint>
#include <mutex>

#include "checks.h"
#include "random_walk.h"

namespace gnnkit {

class FirstWalkError {
 public:
  explicit FirstWalkError(int64_t num_walks) : walk_(num_walks), none_(num_walks) {}

  // A walk returned `code` != kOk at CSR row / position `where`.
  void report(int64_t walk, int code, int64_t where) {
    std::lock_guard<std::mutex> lock(mu_);
    if (walk < walk_) {
      walk_ = walk;
      where_ = where;
      code_ = code;
    }
  }

  // Throws the typed error (bad row: ValueError, bad column: IndexError) if any walk failed.
  template <typename index_t>
  void raise_if_any(const int64_t* rp, const index_t* cp, int64_t N, int64_t E) const {
    if (walk_ >= none_) return;
    if (code_ == walk::kBadRow) bad_row(where_, rp[where_], rp[where_ + 1], E);
    bad_col(where_, static_cast<int64_t>(cp[where_]), N);
  }

 private:
  int64_t walk_, none_;
  int64_t where_ = 0;
  int code_ = walk::kOk;
  std::mutex mu_;
};

}  // namespace gnnkit
