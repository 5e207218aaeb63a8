// Counter-keyed random streams shared by the CPU and CUDA kernels of the random-walk engine and
// the GBP precompute.
//
// Every random walk owns a stream keyed by (seed, stream id): xoshiro256** whose 256-bit state is
// filled by splitmix64 from the key.  The seed comes from torch's generator (Python side), and the
// stream id is a walk's index (or a (target, walk) pair), never a thread id, so the same seed gives
// the same walks for any thread count and on CPU and CUDA alike.  (Contrast: torch_cluster's CUDA
// node2vec seeds curand with time(NULL); see STYLE.md section 6.)
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define GNNKIT_RNG_HD __host__ __device__ __forceinline__
#else
#define GNNKIT_RNG_HD inline
#endif

namespace gnnkit {
namespace rng {

// SplitMix64 (Steele, Lea & Flood, OOPSLA 2014; Java's SplittableRandom): the state advances by
// the golden-ratio increment and each output is the finaliser of the new state.  The one copy of
// the finaliser in csrc/: the walk streams, the dropout bits below and the GAT attention-dropout
// hash (parallel.h) all call it.
constexpr uint64_t kSplitMixGamma = 0x9E3779B97F4A7C15ULL;

GNNKIT_RNG_HD uint64_t splitmix64_fmix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

GNNKIT_RNG_HD uint64_t splitmix64(uint64_t& x) { return splitmix64_fmix(x += kSplitMixGamma); }

GNNKIT_RNG_HD uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256** (Blackman & Vigna), seeded from (seed, stream) through splitmix64.
struct Xoshiro256 {
  uint64_t s[4];

  Xoshiro256() = default;
  GNNKIT_RNG_HD Xoshiro256(uint64_t seed, uint64_t stream) {
    uint64_t k = seed;
    const uint64_t a = splitmix64(k);
    uint64_t x = a ^ (stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
    // Mix the stream id in twice so that neighbouring ids give unrelated states.
    (void)splitmix64(x);
    x ^= stream;
    for (int i = 0; i < 4; ++i) s[i] = splitmix64(x);
  }

  GNNKIT_RNG_HD uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  // Uniform double in [0, 1) with 53 random bits.
  GNNKIT_RNG_HD double uniform() { return (next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), n >= 1, exactly unbiased (Lemire's multiply-shift with rejection).
  GNNKIT_RNG_HD uint64_t below(uint64_t n) {
    uint64_t x = next();
#ifdef __CUDA_ARCH__
    uint64_t hi = __umul64hi(x, n);
    uint64_t lo = x * n;
#else
    __uint128_t m = static_cast<__uint128_t>(x) * n;
    uint64_t hi = static_cast<uint64_t>(m >> 64);
    uint64_t lo = static_cast<uint64_t>(m);
#endif
    if (lo < n) {
      const uint64_t thresh = (0 - n) % n;
      while (lo < thresh) {
        x = next();
#ifdef __CUDA_ARCH__
        hi = __umul64hi(x, n);
        lo = x * n;
#else
        m = static_cast<__uint128_t>(x) * n;
        hi = static_cast<uint64_t>(m >> 64);
        lo = static_cast<uint64_t>(m);
#endif
      }
    }
    return hi;
  }
};

// ---------------------------------------------------------------------------- dropout bits
// Counter-based 32-bit uniforms for the dropout op (csrc/cpu/dropout_cpu.cpp) and GAT's attention
// dropout (csrc/parallel.h dropout_scale, on the CPU and the GPU): element i of a
// call keyed by `seed` reads word (i & 1) (0 = low 32 bits) of output number i >> 1 of the
// SplitMix64 stream started at `seed`, i.e. of fmix64(seed + ((i >> 1) + 1) * gamma).  SplitMix64
// (Steele, Lea & Flood, OOPSLA 2014; Java's SplittableRandom) passes BigCrush; each output is a
// pure function of (seed, counter), so no state is carried between elements, threads or the
// forward and backward passes.  Two calls with seeds s1 != s2 share outputs only if
// s2 - s1 = k * gamma (mod 2^64) with |k| below the element count: probability ~ n / 2^63 for
// seeds drawn from torch's generator.
// The 32-bit uniform of element i (see above); the vectorised kernel computes the same words.
GNNKIT_RNG_HD uint32_t dropout_bits(uint64_t seed, uint64_t i) {
  const uint64_t h = splitmix64_fmix(seed + ((i >> 1) + 1) * kSplitMixGamma);
  return static_cast<uint32_t>((i & 1) ? (h >> 32) : h);
}

// Every dropout mask in gnnkit (the dropout op; GAT's attention dropout on the CPU and the GPU):
// element i of a call keyed by `seed` is kept iff dropout_bits(seed, i) >= dropout_threshold(p),
// t = min(round(p 2^32), 2^32 - 1), so P(keep) = (2^32 - t) / 2^32 is within 2^-33 of 1 - p.
GNNKIT_RNG_HD uint32_t dropout_threshold(double p) {
  const double t = rint(p * 4294967296.0);  // round half to even (the default rounding mode)
  return t >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(t);
}

GNNKIT_RNG_HD bool dropout_keep(uint64_t seed, uint64_t i, uint32_t threshold) {
  return dropout_bits(seed, i) >= threshold;
}

}  // namespace rng
}  // namespace gnnkit
