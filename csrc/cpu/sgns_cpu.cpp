// Skip-gram with negative sampling over random walks (node2vec / DeepWalk embedding training).
//
// Mikolov et al., "Distributed Representations of Words and Phrases and their Compositionality"
// (NeurIPS 2013, https://arxiv.org/abs/1310.4546): for a centre node t and each context node c in
// a window around it, maximise  log s(<in_c, out_t>) + sum_k log s(-<in_c, out_nk>)  with negatives
// n_k drawn from the noise distribution (unigram^0.75, passed as `noise` weights).
//
// The update order and rules are gensim's (`word2vec_inner.pyx`, `train_batch_sg` +
// `w2v_fast_sentence_sg_neg`, the trainer PecanPy calls): frequent nodes are dropped with keep
// probability (sqrt(f / (s F)) + 1) (s F) / f before windowing; per centre i the window is shrunk
// by a uniform b in [0, window); for every (centre, context) pair in turn, K fresh negatives are
// drawn (a negative equal to the centre is skipped), each target's score f = <in_c, out_k> is
// skipped when |f| >= 6 (gensim's MAX_EXP), else out_k += g in_c at once with
// g = alpha (label - sigmoid(f)), and in_c receives the summed g out_k after the pair's targets.
// The learning rate decays linearly, alpha = lr - (lr - min_lr) * progress, over the walks.
//
// Updates are applied lock-free across threads (Hogwild, as word2vec and gensim), so the result
// is bit-reproducible with one thread only; walk w draws all of its random numbers from stream
// (seed, w).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "checks.h"
#include "cpu/alias_table.h"
#include "rng.h"

namespace gnnkit {
namespace {

#define GNNKIT_AI inline __attribute__((always_inline))

GNNKIT_AI float vdot(const float* __restrict__ a, const float* __restrict__ b, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

// AVX2 dot product with four independent accumulators: one accumulator would chain all D / 8
// fused multiply-adds on each other's latency, the largest cost of the trainer.
__attribute__((target("avx2,fma"))) float vdot_avx2(const float* __restrict__ a,
                                                    const float* __restrict__ b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 32 <= n; d += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 16), _mm256_loadu_ps(b + d + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 24), _mm256_loadu_ps(b + d + 24), s3);
  }
  for (; d + 8 <= n; d += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float r = _mm_cvtss_f32(h);
  for (; d < n; ++d) r += a[d] * b[d];
  return r;
}

GNNKIT_AI void vaxpy(float* __restrict__ y, float w, const float* __restrict__ x, int64_t n) {
#pragma omp simd
  for (int64_t d = 0; d < n; ++d) y[d] += w * x[d];
}

// gensim's EXP_TABLE: sigmoid at kSigSize points of [-kMaxExp, kMaxExp); scores outside are skipped.
constexpr float kMaxExp = 6.f;
constexpr int kSigSize = 1000;
constexpr float kSigScale = kSigSize / kMaxExp / 2;

const float* sigmoid_table() {
  static const std::vector<float> t = [] {
    std::vector<float> v(kSigSize);
    for (int i = 0; i < kSigSize; ++i) {
      const float e = std::exp((static_cast<float>(i) / kSigSize * 2 - 1) * kMaxExp);
      v[i] = e / (e + 1);
    }
    return v;
  }();
  return t.data();
}

// work += w * o and o += w * x in one pass over o (the output row is read once).
GNNKIT_AI void vaxpy2(float* __restrict__ work, float* __restrict__ o, float w, const float* __restrict__ x,
                      int64_t n) {
#pragma omp simd
  for (int64_t d = 0; d < n; ++d) {
    const float od = o[d];
    work[d] += w * od;
    o[d] = od + w * x[d];
  }
}

// Everything one walk range needs (the kernel's checked arguments).
struct Ctx {
  const int64_t* wp;
  int64_t L, N, D;
  float* in;
  float* out;
  const float* kp;
  const AliasTable* table;
  int64_t window, negatives;
  double lr, min_lr;
  int64_t walk_offset, total_walks;
  uint64_t useed;
};

// Trains walks [w0, w1); returns the number of (centre, context) pairs.  Compiled twice (generic
// and AVX2+FMA, picked at run time): the inner products and updates are the whole cost.
template <float (*Dot)(const float*, const float*, int64_t)>
GNNKIT_AI int64_t train_walks(const Ctx& cx, int64_t w0, int64_t w1) {
    const int64_t* wp = cx.wp;
    const int64_t L = cx.L, D = cx.D, window = cx.window, negatives = cx.negatives;
    const int64_t walk_offset = cx.walk_offset, total_walks = cx.total_walks;
    const double lr = cx.lr, min_lr = cx.min_lr;
    const uint64_t useed = cx.useed;
    float* in = cx.in;
    float* out = cx.out;
    const float* kp = cx.kp;
    const AliasTable& table = *cx.table;
    const float* sig = sigmoid_table();
    std::vector<int64_t> tok(L), ctx(2 * window);
    std::vector<float> work(D);
    int64_t local_pairs = 0;
    for (int64_t w = w0; w < w1; ++w) {
      rng::Xoshiro256 g(useed, static_cast<uint64_t>(walk_offset + w));
      const double progress = static_cast<double>(walk_offset + w) / static_cast<double>(total_walks);
      const float alpha = static_cast<float>(lr - (lr - min_lr) * progress);
      int64_t n = 0;
      for (int64_t j = 0; j < L; ++j) {
        const int64_t v = wp[w * L + j];
        if (v < 0) break;
        if (kp && kp[v] < 1.f && g.uniform() >= kp[v]) continue;
        tok[n++] = v;
      }
      for (int64_t i = 0; i < n; ++i) {
        const int64_t cw = window - static_cast<int64_t>(g.below(static_cast<uint64_t>(window)));
        const int64_t t = tok[i];
        int64_t C = 0;
        for (int64_t j = std::max<int64_t>(0, i - cw); j <= std::min<int64_t>(n - 1, i + cw); ++j)
          if (j != i) ctx[C++] = tok[j];
        for (int64_t c = 0; c < C; ++c) {
          float* x = in + ctx[c] * D;
          std::fill(work.begin(), work.end(), 0.f);
          for (int64_t k = 0; k <= negatives; ++k) {
            const int64_t target = k == 0 ? t : table.draw(g);
            if (k > 0 && target == t) continue;
            float* o = out + target * D;
            const float f = Dot(x, o, D);
            if (f <= -kMaxExp || f >= kMaxExp) continue;
            const float gk = alpha * ((k == 0 ? 1.f : 0.f) - sig[std::min(static_cast<int>((f + kMaxExp) * kSigScale), kSigSize - 1)]);
            vaxpy2(work.data(), o, gk, x, D);
          }
          vaxpy(x, 1.f, work.data(), D);
        }
        local_pairs += C;
      }
    }
    return local_pairs;
}

int64_t train_walks_generic(const Ctx& c, int64_t w0, int64_t w1) { return train_walks<vdot>(c, w0, w1); }

__attribute__((target("avx2,fma"))) int64_t train_walks_avx2(const Ctx& c, int64_t w0, int64_t w1) {
  return train_walks<vdot_avx2>(c, w0, w1);
}

// Returns the number of (centre, context) pairs trained.
int64_t sgns_train_cpu(const at::Tensor& walks_in, at::Tensor emb_in, at::Tensor emb_out, const at::Tensor& noise_in,
                       const c10::optional<at::Tensor>& keep_in, int64_t window, int64_t negatives, double lr,
                       double min_lr, int64_t walk_offset, int64_t total_walks, int64_t seed) {
  TORCH_CHECK_TYPE(walks_in.scalar_type() == at::kLong, "gnnkit: sgns_train: 'walks' must be int64, got ",
                   walks_in.scalar_type());
  check_dim(walks_in, 2, "walks", "[num_walks, walk_length + 1]");
  for (auto* t : {&emb_in, &emb_out}) {
    const char* name = t == &emb_in ? "emb_in" : "emb_out";
    TORCH_CHECK_TYPE(t->scalar_type() == at::kFloat, "gnnkit: sgns_train: '", name, "' must be float32, got ",
                     t->scalar_type());
    check_dim(*t, 2, name, "[num_nodes, dim]");
    TORCH_CHECK_VALUE(t->is_contiguous(), "gnnkit: sgns_train: '", name, "' must be contiguous (it is updated in place)");
  }
  TORCH_CHECK_VALUE(emb_in.sizes() == emb_out.sizes(), "gnnkit: sgns_train: 'emb_in' ", shape_str(emb_in),
                    " and 'emb_out' ", shape_str(emb_out), " must have the same shape");
  const int64_t N = emb_in.size(0), D = emb_in.size(1);
  check_float_dtype(noise_in, "noise");
  check_dim(noise_in, 1, "noise", "[num_nodes]");
  TORCH_CHECK_VALUE(noise_in.numel() == N, "gnnkit: sgns_train: 'noise' must have shape [", N, "], got ",
                    shape_str(noise_in));
  TORCH_CHECK_VALUE(window >= 1, "gnnkit: sgns_train: 'window' must be >= 1, got ", window);
  TORCH_CHECK_VALUE(negatives >= 0, "gnnkit: sgns_train: 'negatives' must be >= 0, got ", negatives);
  TORCH_CHECK_VALUE(lr > 0 && std::isfinite(lr) && min_lr >= 0 && min_lr <= lr, "gnnkit: sgns_train: need "
                    "0 <= min_lr <= lr, got lr=", lr, ", min_lr=", min_lr);
  TORCH_CHECK_VALUE(walk_offset >= 0 && total_walks >= walk_offset + walks_in.size(0), "gnnkit: sgns_train: "
                    "'walk_offset' + len(walks) must be <= 'total_walks', got ", walk_offset, " + ",
                    walks_in.size(0), " > ", total_walks);
  const auto walks = contiguous_arg(walks_in, "walks");
  const int64_t W = walks.size(0), L = walks.size(1);
  const int64_t* wp = walks.data_ptr<int64_t>();
  for (int64_t i = 0; i < W * L; ++i)
    TORCH_CHECK_INDEX(wp[i] >= -1 && wp[i] < N, "gnnkit: sgns_train: walks[", i / L, ", ", i % L, "] = ", wp[i],
                      " is out of range [-1, ", N, ")");
  const auto noise = noise_in.to(at::kDouble).contiguous();
  const double* np_ = noise.data_ptr<double>();
  double tot = 0;
  for (int64_t i = 0; i < N; ++i) {
    TORCH_CHECK_VALUE(std::isfinite(np_[i]) && np_[i] >= 0, "gnnkit: sgns_train: 'noise' must be finite and "
                      ">= 0, got noise[", i, "] = ", np_[i]);
    tot += np_[i];
  }
  TORCH_CHECK_VALUE(tot > 0 || negatives == 0, "gnnkit: sgns_train: 'noise' sums to 0");
  at::Tensor keep;
  const float* kp = nullptr;
  if (keep_in.has_value()) {
    check_float_dtype(*keep_in, "keep");
    TORCH_CHECK_VALUE(keep_in->dim() == 1 && keep_in->numel() == N, "gnnkit: sgns_train: 'keep' must have "
                      "shape [", N, "], got ", shape_str(*keep_in));
    keep = keep_in->to(at::kFloat).contiguous();
    kp = keep.data_ptr<float>();
  }
  if (W == 0 || L < 2 || N == 0) return 0;
  AliasTable table(np_, N);
  float* in = emb_in.data_ptr<float>();
  float* out = emb_out.data_ptr<float>();
  const uint64_t useed = static_cast<uint64_t>(seed);
  std::atomic<int64_t> pairs{0};

  Ctx c{wp, L, N, D, in, out, kp, &table, window, negatives, lr, min_lr, walk_offset, total_walks, useed};
  static const bool use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  at::parallel_for(0, W, 16, [&](int64_t w0, int64_t w1) {
    pairs += use_avx2 ? train_walks_avx2(c, w0, w1) : train_walks_generic(c, w0, w1);
  });
  return pairs.load();
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) { m.impl("sgns_train", &sgns_train_cpu); }

}  // namespace gnnkit
