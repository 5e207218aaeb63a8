// The failure with the smallest item index of a parallel loop (a walk, a sample): the error raised
// after the loop is that item's, so the message does not depend on thread timing.  Shared by the
// walk kernels (walk_errors.h) and the negative sampler.
#pragma once

#include <cstdint>
#include <limits>
#include <mutex>

namespace gnnkit {

class FirstFailure {
 public:
  int64_t item = std::numeric_limits<int64_t>::max();  // smallest failing item, or max: none
  int code = 0;                                         // the kernel's error code (0: none)
  int64_t where = 0;                                    // the kernel's position (row, arc, node)

  void report(int64_t i, int c, int64_t w) {
    std::lock_guard<std::mutex> lock(mu_);
    if (i < item) {
      item = i;
      code = c;
      where = w;
    }
  }
  bool any() const { return item != std::numeric_limits<int64_t>::max(); }

 private:
  std::mutex mu_;
};

}  // namespace gnnkit
