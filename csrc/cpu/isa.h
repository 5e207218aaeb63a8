// Run-time choice among the generic / AVX2 / AVX-512 builds of a CPU kernel.
//
// Kernels whose inner loops are compiled three times (`__attribute__((target(...)))`, no FMA
// contraction, so all variants give bitwise-identical results) pick the best one the CPU supports
// once per process; an environment variable named by the kernel (GNNKIT_SPMM_ISA,
// GNNKIT_DROPOUT_ISA, GNNKIT_BN_ISA) = auto | generic | avx2 | avx512 pins a variant, which the
// tests use to check that all variants agree. Asking for one the CPU lacks raises ValueError.
#pragma once

#include <c10/util/Exception.h>

#include <cstdlib>
#include <string>

namespace gnnkit {

enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

// The function attributes of the three builds, for every such kernel.  FMA contraction is off in
// all (bitwise-equal results).  On other architectures the AVX2 / AVX-512 builds compile as the
// baseline (isa_supported() never selects them there), so a kernel's code needs no #if.
#define GNNKIT_ISA_ATTR_GENERIC __attribute__((optimize("fp-contract=off")))
#if defined(__x86_64__) && defined(__GNUC__)
#define GNNKIT_ISA_ATTR_AVX2 __attribute__((target("avx2"), optimize("fp-contract=off")))
#define GNNKIT_ISA_ATTR_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"), optimize("fp-contract=off")))
#else
#define GNNKIT_ISA_ATTR_AVX2 GNNKIT_ISA_ATTR_GENERIC
#define GNNKIT_ISA_ATTR_AVX512 GNNKIT_ISA_ATTR_GENERIC
#endif

inline const char* isa_name(Isa isa) {
  return isa == Isa::kAvx512 ? "avx512" : isa == Isa::kAvx2 ? "avx2" : "generic";
}

// The best variant this CPU runs (detected once).
inline Isa isa_supported() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const Isa best = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return Isa::kAvx512;
    if (__builtin_cpu_supports("avx2")) return Isa::kAvx2;
    return Isa::kGeneric;
  }();
  return best;
#else
  return Isa::kGeneric;
#endif
}

// The variant to run: the best supported one, or the one the environment variable `var` names
// (read on every call: cheap next to a kernel launch, and tests can switch it).
inline Isa isa_from_env(const char* var) {
  const Isa best = isa_supported();
  const char* env = std::getenv(var);
  if (env == nullptr || env[0] == '\0' || std::string(env) == "auto") return best;
  const std::string v(env);
  Isa want;
  if (v == "generic") want = Isa::kGeneric;
  else if (v == "avx2") want = Isa::kAvx2;
  else if (v == "avx512") want = Isa::kAvx512;
  else TORCH_CHECK_VALUE(false, "gnnkit: environment variable ", var, " must be 'auto', 'generic', ",
                         "'avx2' or 'avx512', got '", v, "'");
  TORCH_CHECK_VALUE(static_cast<int>(want) <= static_cast<int>(best), "gnnkit: ", var, "='", v,
                    "' but this CPU supports at most '", isa_name(best), "'");
  return want;
}

}  // namespace gnnkit
