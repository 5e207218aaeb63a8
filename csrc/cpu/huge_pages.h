// Transparent-huge-page hint for large kernel outputs.
//
// A fresh multi-hundred-MB output (e.g. spmm's [N, F] for N = 1M, F = 128: 512 MB) is first
// touched by the kernel itself, one 4 KiB page fault at a time: ~130k faults, measured at ~230 ms
// of a 450 ms forward on this project's machine.  madvise(MADV_HUGEPAGE) on the untouched range
// lets the kernel back it with 2 MiB pages (512x fewer faults), the same effect as PyTorch's
// THP_MEM_ALLOC_ENABLE=1, but only for the outputs we write.  It is a hint: a no-op when THP is
// "never", on non-Linux systems, or when the pages are already resident.
//
// Opt-out: the environment variable GNNKIT_HUGE_PAGES=0 disables the hint (unset, empty or 1:
// enabled; any other value raises ValueError).  It is read once, at the first large output,
// and cached for the life of the process.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace gnnkit {

// GNNKIT_HUGE_PAGES, read once (function-local static: thread-safe initialisation; a bad value
// throws and leaves it uninitialised, so every later call raises the same error).
inline bool huge_pages_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("GNNKIT_HUGE_PAGES");
    if (env == nullptr || env[0] == '\0') return true;
    const std::string v(env);
    TORCH_CHECK_VALUE(v == "0" || v == "1", "gnnkit: environment variable GNNKIT_HUGE_PAGES must be ",
                      "'0' or '1', got '", v, "'");
    return v == "1";
  }();
  return enabled;
}

inline void advise_huge_pages(const at::Tensor& t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  const uintptr_t nbytes = static_cast<uintptr_t>(t.nbytes());
  if (!t.is_cpu() || nbytes < 16 * kHuge) return;  // small outputs: not worth a syscall
  if (!huge_pages_enabled()) return;
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(t.data_ptr()) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t hi = (reinterpret_cast<uintptr_t>(t.data_ptr()) + nbytes) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // failure is harmless
#else
  (void)t;
#endif
}

}  // namespace gnnkit
