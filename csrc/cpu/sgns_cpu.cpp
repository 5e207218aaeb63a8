// Skip-gram with negative sampling over random walks (node2vec / DeepWalk embedding training).
//
// Mikolov et al., "Distributed Representations of Words and Phrases and their Compositionality"
// (NeurIPS 2013, https://arxiv.org/abs/1310.4546): for a centre node t and each context node c in
// a window around it, maximise  log s(<in_c, out_t>) + sum_k log s(-<in_c, out_nk>)  with negatives
// n_k drawn from the noise distribution (unigram^0.75, passed as `noise` weights).  As in word2vec
// and gensim, the window is shrunk by a uniform b in [0, window) per centre, frequent nodes are
// down-sampled with keep probability (sqrt(f / (s F)) + 1) (s F) / f, and the learning rate decays
// linearly from lr to min_lr over the walks.
//
// Batching follows pWord2Vec (Ji et al., "Parallelizing Word2Vec in Shared and Distributed
// Memory", arXiv:1604.04661): the K negatives of a centre are shared by all of its context nodes,
// which turns the per-window updates into three small dense products (scores [C, 1+K],
// in-gradients [C, D], out-gradients [1+K, D]) that reuse every loaded row.  Updates are applied
// lock-free across threads (Hogwild, as word2vec and gensim), so the result is bit-reproducible
// with one thread only; walk w draws all of its random numbers from stream (seed, w).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

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

GNNKIT_AI void vaxpy(float* __restrict__ y, float w, const float* __restrict__ x, int64_t n) {
#pragma omp simd
  for (int64_t d = 0; d < n; ++d) y[d] += w * x[d];
}

GNNKIT_AI float sigmoid(float x) {
  if (x > 8.f) return 1.f;
  if (x < -8.f) return 0.f;
  return 1.f / (1.f + std::exp(-x));
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
    const int64_t K1 = negatives + 1;
    std::vector<int64_t> tok(L), ctx(2 * window), tgt(K1);
    std::vector<float> S(2 * window * K1), gin(2 * window * D), gout(K1 * D);
    int64_t local_pairs = 0;
    for (int64_t w = w0; w < w1; ++w) {
      rng::Xoshiro256 g(useed, static_cast<uint64_t>(walk_offset + w));
      const double progress = static_cast<double>(walk_offset + w) / static_cast<double>(total_walks);
      const float alpha = static_cast<float>(std::max(min_lr, lr * (1.0 - progress)));
      int64_t n = 0;
      for (int64_t j = 0; j < L; ++j) {
        const int64_t v = wp[w * L + j];
        if (v < 0) break;
        if (kp && kp[v] < 1.f && g.uniform() >= kp[v]) continue;
        tok[n++] = v;
      }
      for (int64_t i = 0; i < n; ++i) {
        const int64_t b = static_cast<int64_t>(g.below(static_cast<uint64_t>(window)));
        const int64_t cw = window - b;
        int64_t C = 0;
        for (int64_t j = std::max<int64_t>(0, i - cw); j <= std::min<int64_t>(n - 1, i + cw); ++j)
          if (j != i) ctx[C++] = tok[j];
        if (C == 0) continue;
        tgt[0] = tok[i];
        for (int64_t k = 1; k < K1; ++k) tgt[k] = table.draw(g);
        // scores and gradient coefficients: S[c, k] = alpha * (label - sigmoid(<in_c, out_k>))
        for (int64_t c = 0; c < C; ++c) {
          const float* x = in + ctx[c] * D;
          for (int64_t k = 0; k < K1; ++k) {
            if (k > 0 && tgt[k] == tgt[0]) { S[c * K1 + k] = 0.f; continue; }
            const float f = vdot(x, out + tgt[k] * D, D);
            S[c * K1 + k] = alpha * ((k == 0 ? 1.f : 0.f) - sigmoid(f));
          }
        }
        // gradients from the pre-update rows, then apply (in-rows, then out-rows)
        std::fill(gin.begin(), gin.begin() + C * D, 0.f);
        std::fill(gout.begin(), gout.end(), 0.f);
        for (int64_t c = 0; c < C; ++c) {
          const float* x = in + ctx[c] * D;
          for (int64_t k = 0; k < K1; ++k) {
            const float s = S[c * K1 + k];
            if (s == 0.f) continue;
            vaxpy(gin.data() + c * D, s, out + tgt[k] * D, D);
            vaxpy(gout.data() + k * D, s, x, D);
          }
        }
        for (int64_t c = 0; c < C; ++c) vaxpy(in + ctx[c] * D, 1.f, gin.data() + c * D, D);
        for (int64_t k = 0; k < K1; ++k) vaxpy(out + tgt[k] * D, 1.f, gout.data() + k * D, D);
        local_pairs += C;
      }
    }
    return local_pairs;
}

int64_t train_walks_generic(const Ctx& c, int64_t w0, int64_t w1) { return train_walks(c, w0, w1); }

__attribute__((target("avx2,fma"))) int64_t train_walks_avx2(const Ctx& c, int64_t w0, int64_t w1) {
  return train_walks(c, w0, w1);
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
