// Inverted dropout with a counter-based mask (CPU):  y_i = a(x_i) * keep_i / (1 - p),
// a = identity or ReLU (`relu`), keep_i = [u_i >= t], u_i = rng::dropout_bits(seed, i) (csrc/rng.h),
// t = min(round(p * 2^32), 2^32 - 1).
//
// * The mask is a pure function of (seed, logical element index): nothing is stored, the result is
//   the same for any thread count and any instruction set, and the backward of the identity variant
//   is this op applied to the gradient with the same seed (dropout is linear in x).  The ReLU
//   variant's backward, dropout_relu_backward, needs no random bits: grad * s where y > 0.
// * P(keep) = (2^32 - t) / 2^32, which differs from 1 - p by at most 2^-33 (the 2^-32
//   quantisation of a 32-bit uniform; torch's own CPU dropout draws a float in [0, 1) per element).
// * Dropped entries are multiplied by 0 rather than replaced, so inf / NaN inputs give NaN as in
//   torch's dropout.  ReLU keeps NaN (x < 0 ? 0 : x), as torch.relu does.
// * float32 / float64 are computed in their own precision; bfloat16 / float16 are widened to fp32,
//   scaled once and rounded once to nearest-even (torch.rand_like(x_bf16) masks have 8-bit
//   uniforms and a bf16-rounded scale; this kernel has neither).
// * Every element is one independent load, a few integer ops (one 64-bit hash per two elements),
//   one multiply and one store; the loop is compiled for the x86-64 baseline, AVX2 and AVX-512
//   (picked at run time, or with GNNKIT_DROPOUT_ISA = generic | avx2 | avx512) and split over
//   at::parallel_for above kSerialWork elements (smaller tensors stay on the calling thread: the
//   threading policy of gnnkit/_threads.py).  Large outputs get the transparent-huge-page hint
//   (cpu/huge_pages.h) before their first touch.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "checks.h"
#include "cpu/huge_pages.h"
#include "rng.h"
#include "cpu/isa.h"

namespace gnnkit {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "dropout_cpu.cpp reads the two 32-bit words of a 64-bit hash as little-endian");

constexpr int64_t kSerialWork = int64_t(1) << 18;  // elements below which one thread runs it all
constexpr int64_t kGrain = int64_t(1) << 16;       // elements per parallel task at least
constexpr int64_t kBlock = 16;                     // elements per vector step (8 hashes)

// ------------------------------------------------------------------ element types
// load: storage -> compute type; store: compute -> storage (bf16: round to nearest even, NaN kept).
template <typename scalar_t> struct Elem {
  using acc_t = scalar_t;
  using raw_t = scalar_t;
  static inline acc_t load(raw_t v) { return v; }
  static inline raw_t store(acc_t v) { return v; }
};

template <> struct Elem<c10::BFloat16> {
  using acc_t = float;
  using raw_t = uint16_t;
  static inline float load(uint16_t b) {
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static inline uint16_t store(float f) {  // c10::BFloat16's round_to_nearest_even, branch-free
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? uint16_t(0x7FC0) : static_cast<uint16_t>(rounded);
  }
};

template <> struct Elem<c10::Half> {
  using acc_t = float;
  using raw_t = c10::Half;
  static inline float load(c10::Half v) { return static_cast<float>(v); }
  static inline c10::Half store(float v) { return c10::Half(v); }
};

// ------------------------------------------------------------------ the loops
// Forward over elements [i0, i1) (i0 even): y = a(x) * (u >= t ? s : 0).
template <typename scalar_t, bool kRelu>
__attribute__((always_inline)) inline void dropout_span(const void* xv, void* yv, int64_t i0, int64_t i1,
                                                        uint64_t seed, uint32_t t, double scale) {
  using E = Elem<scalar_t>;
  using acc_t = typename E::acc_t;
  using raw_t = typename E::raw_t;
  const raw_t* __restrict__ x = static_cast<const raw_t*>(xv);
  raw_t* __restrict__ y = static_cast<raw_t*>(yv);
  const acc_t s = static_cast<acc_t>(scale);
  int64_t i = i0;
  for (; i + kBlock <= i1; i += kBlock) {
    uint64_t h[kBlock / 2];
    const uint64_t base = seed + (static_cast<uint64_t>(i >> 1) + 1) * rng::kSplitMixGamma;
#pragma omp simd
    for (int l = 0; l < kBlock / 2; ++l) h[l] = rng::splitmix64_fmix(base + l * rng::kSplitMixGamma);
    uint32_t u[kBlock];  // u[2l] = low word of h[l], u[2l + 1] = high word (little-endian)
    std::memcpy(u, h, sizeof(h));
#pragma omp simd
    for (int k = 0; k < kBlock; ++k) {
      acc_t v = E::load(x[i + k]);
      if (kRelu) v = v < acc_t(0) ? acc_t(0) : v;
      y[i + k] = E::store(v * (u[k] >= t ? s : acc_t(0)));
    }
  }
  for (; i < i1; ++i) {
    acc_t v = E::load(x[i]);
    if (kRelu) v = v < acc_t(0) ? acc_t(0) : v;
    y[i] = E::store(v * (rng::dropout_bits(seed, static_cast<uint64_t>(i)) >= t ? s : acc_t(0)));
  }
}

// ReLU-variant backward over [i0, i1): gx = y > 0 ? g * s : 0.
template <typename scalar_t>
__attribute__((always_inline)) inline void relu_backward_span(const void* gv, const void* yv, void* ov,
                                                              int64_t i0, int64_t i1, double scale) {
  using E = Elem<scalar_t>;
  using acc_t = typename E::acc_t;
  using raw_t = typename E::raw_t;
  const raw_t* __restrict__ g = static_cast<const raw_t*>(gv);
  const raw_t* __restrict__ y = static_cast<const raw_t*>(yv);
  raw_t* __restrict__ o = static_cast<raw_t*>(ov);
  const acc_t s = static_cast<acc_t>(scale);
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i)
    o[i] = E::store(E::load(y[i]) > acc_t(0) ? E::load(g[i]) * s : acc_t(0));
}

// One function per (instruction set, loop); fp-contract is irrelevant (one multiply per element)
// but kept off like the other kernels, so every variant executes the same IEEE operations.
#define GNNKIT_DROPOUT_VARIANTS(SUFFIX, ATTR)                                                        \
  template <typename scalar_t, bool kRelu>                                                           \
  ATTR void dropout_span_##SUFFIX(const void* x, void* y, int64_t i0, int64_t i1, uint64_t seed,     \
                                  uint32_t t, double s) {                                           \
    dropout_span<scalar_t, kRelu>(x, y, i0, i1, seed, t, s);                                        \
  }                                                                                                 \
  template <typename scalar_t>                                                                      \
  ATTR void relu_backward_span_##SUFFIX(const void* g, const void* y, void* o, int64_t i0, int64_t i1, \
                                        double s) {                                                 \
    relu_backward_span<scalar_t>(g, y, o, i0, i1, s);                                               \
  }

GNNKIT_DROPOUT_VARIANTS(generic, GNNKIT_ISA_ATTR_GENERIC)
GNNKIT_DROPOUT_VARIANTS(avx2, GNNKIT_ISA_ATTR_AVX2)
GNNKIT_DROPOUT_VARIANTS(avx512, GNNKIT_ISA_ATTR_AVX512)
#undef GNNKIT_DROPOUT_VARIANTS

Isa isa() { return isa_from_env("GNNKIT_DROPOUT_ISA"); }

// Run f(i0, i1) over [0, n) in chunks whose starts are multiples of kBlock; serial when small.
template <typename F>
void for_chunks(int64_t n, const F& f) {
  if (n <= kSerialWork) {
    f(0, n);
    return;
  }
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  at::parallel_for(0, blocks, kGrain / kBlock, [&](int64_t b0, int64_t b1) {
    f(b0 * kBlock, std::min(b1 * kBlock, n));
  });
}

// ------------------------------------------------------------------ checks
void check_p(double p, const char* op) {
  TORCH_CHECK_VALUE(std::isfinite(p) && p >= 0.0 && p < 1.0, "gnnkit: ", op,
                    ": 'p' must be in [0, 1), got ", p);
}

void check_dense_cpu(const at::Tensor& t, const char* op, const char* name) {
  check_defined(t, name);
  TORCH_CHECK_VALUE(t.layout() == at::kStrided, "gnnkit: ", op, ": '", name,
                    "' must be a dense (strided) tensor, got layout ", t.layout());
  check_cpu(t, op, name);
  TORCH_CHECK_TYPE(at::isFloatingType(t.scalar_type()), "gnnkit: ", op, ": '", name,
                   "' must be a floating tensor (float32, float64, bfloat16, float16), got ", t.scalar_type());
}

// ------------------------------------------------------------------ ops
at::Tensor dropout_cpu(const at::Tensor& x_in, double p, int64_t seed_in, bool relu) {
  check_dense_cpu(x_in, "dropout", "x");
  check_p(p, "dropout");
  const at::Tensor x = contiguous_arg(x_in, "x");
  at::Tensor out = alloc("out", x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  const int64_t n = x.numel();
  if (n == 0) return out;
  advise_huge_pages(out);  // before the first touch: a [150k, 128] output is ~19k 4 KiB faults
  const uint64_t seed = static_cast<uint64_t>(seed_in);
  const uint32_t t = rng::dropout_threshold(p);  // keep iff u >= t (csrc/rng.h)
  const double s = 1.0 / (1.0 - p);
  const Isa variant = isa();
  const void* xp = x.data_ptr();
  void* op = out.data_ptr();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "gnnkit_dropout", [&] {
    for_chunks(n, [&](int64_t i0, int64_t i1) {
      switch (variant) {
        case Isa::kAvx512:
          relu ? dropout_span_avx512<scalar_t, true>(xp, op, i0, i1, seed, t, s)
               : dropout_span_avx512<scalar_t, false>(xp, op, i0, i1, seed, t, s);
          break;
        case Isa::kAvx2:
          relu ? dropout_span_avx2<scalar_t, true>(xp, op, i0, i1, seed, t, s)
               : dropout_span_avx2<scalar_t, false>(xp, op, i0, i1, seed, t, s);
          break;
        default:
          relu ? dropout_span_generic<scalar_t, true>(xp, op, i0, i1, seed, t, s)
               : dropout_span_generic<scalar_t, false>(xp, op, i0, i1, seed, t, s);
      }
    });
  });
  return out;
}

at::Tensor dropout_relu_backward_cpu(const at::Tensor& grad_in, const at::Tensor& out_in, double p) {
  check_dense_cpu(grad_in, "dropout_relu_backward", "grad");
  check_dense_cpu(out_in, "dropout_relu_backward", "out");
  check_p(p, "dropout_relu_backward");
  check_same_dtype(out_in, grad_in, "out", "grad");
  TORCH_CHECK_VALUE(grad_in.sizes() == out_in.sizes(), "gnnkit: dropout_relu_backward: 'grad' has shape ",
                    shape_str(grad_in), " but 'out' has shape ", shape_str(out_in), "; they must match");
  const at::Tensor g = contiguous_arg(grad_in, "grad");
  const at::Tensor y = contiguous_arg(out_in, "out");
  at::Tensor gx = alloc("grad_x", g.sizes(), g.options().memory_format(at::MemoryFormat::Contiguous));
  const int64_t n = g.numel();
  if (n == 0) return gx;
  advise_huge_pages(gx);
  const double s = 1.0 / (1.0 - p);
  const Isa variant = isa();
  const void* gp = g.data_ptr();
  const void* yp = y.data_ptr();
  void* op = gx.data_ptr();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, g.scalar_type(), "gnnkit_dropout_relu_backward", [&] {
    for_chunks(n, [&](int64_t i0, int64_t i1) {
      switch (variant) {
        case Isa::kAvx512: relu_backward_span_avx512<scalar_t>(gp, yp, op, i0, i1, s); break;
        case Isa::kAvx2: relu_backward_span_avx2<scalar_t>(gp, yp, op, i0, i1, s); break;
        default: relu_backward_span_generic<scalar_t>(gp, yp, op, i0, i1, s);
      }
    });
  });
  return gx;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) {
  m.impl("dropout", &dropout_cpu);
  m.impl("dropout_relu_backward", &dropout_relu_backward_cpu);
}

}  // namespace gnnkit
