// CPU kernels for the fused GAT attention aggregation (Velickovic et al., ICLR 2018):
//   e[k,h]     = leaky_relu(a_dst[i,h] + a_src[j,h], slope)          for arc k: j -> i
//   alpha[k,h] = exp(e[k,h] - lse[i,h]),  lse[i,h] = log sum_{k in row i} exp(e[k,h])
//   out[i,h,:] = sum_{k in row i} m[k,h] alpha[k,h] x[j,h,:]          (m: inverted dropout mask)
// Messages [E,H,D] are never stored.  The forward keeps only lse [N,H]; the backward recomputes
// alpha per arc (flash-attention style) and the dropout mask from (seed, k, h), with O(N H)
// scratch and no per-arc buffer.
//
// Backward, with g = grad_out and delta[i,h] = <g[i,h,:], out[i,h,:]>:
//   grad_x[j,h,:]  = sum_{arcs k: j -> i} m alpha g[i,h,:]                       (pull over transpose)
//   t[k,h]         = alpha (m <g[i,h,:], x[j,h,:]> - delta[i,h]) * leaky'(raw)   (softmax + leaky)
//   grad_a_dst[i]  = sum_{k in row i} t[k];   grad_a_src[j] = sum_{arcs k out of j} t[k]
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "op_checks.h"
#include "parallel.h"
#include "cpu/huge_pages.h"
#include "cpu/vec.h"

namespace gnnkit {
namespace {

// True when every element of the contiguous tensor t is finite (one parallel pass).
bool all_finite(const at::Tensor& t) {
  bool ok = true;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t.scalar_type(), "gat_all_finite", [&] {
    const scalar_t* p = t.data_ptr<scalar_t>();
    ok = first_bad(t.numel(), [&](int64_t k) { return !std::isfinite(static_cast<double>(p[k])); }) == t.numel();
  });
  return ok;
}

template <typename acc_t>
inline acc_t leaky(acc_t v, acc_t slope) { return v > 0 ? v : v * slope; }

std::tuple<at::Tensor, at::Tensor> gat_attention_cpu(
    const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x_in, const at::Tensor& as_in,
    const at::Tensor& ad_in, double slope_d, double p_d, int64_t seed, const c10::optional<at::Tensor>&,
    const c10::optional<at::Tensor>&, const c10::optional<at::Tensor>&) {
  const auto S = check_gat(rowptr, col, x_in, as_in, ad_in, slope_d, p_d);  // csrc/op_checks.h
  const auto& x = S.x;
  const auto& as = S.a_src;
  const auto& ad = S.a_dst;
  const int64_t N = S.N, Ns = S.Ns, E = S.E, H = S.H, D = S.D, F = H * D;
  auto out = alloc("out", {N, H, D}, x.options());  // every row is written below (empty rows: 0)
  advise_huge_pages(out);
  auto lse = alloc_zeros("lse", {N, H}, x.options().dtype(at::toOpMathType(x.scalar_type())));
  // A dropped arc (mask 0) adds nothing -- unless x holds inf/NaN, where torch's 0 * x[j] is NaN:
  // then nothing is skipped, so the result matches the unfused computation.
  const bool can_skip = p_d > 0 && all_finite(x);
  const int64_t* rp = S.csr.rowptr.data_ptr<int64_t>();
  const float p = static_cast<float>(p_d);
  AT_DISPATCH_INDEX_TYPES(S.csr.col.scalar_type(), "gat_attention_cpu", [&] {
    const index_t* cp = S.csr.col.data_ptr<index_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gat_attention_cpu", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const acc_t slope = static_cast<acc_t>(slope_d);
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* asp = as.data_ptr<scalar_t>();
      const scalar_t* adp = ad.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      acc_t* lp = lse.data_ptr<acc_t>();
      parallel_rows(rp, N, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> mx(H), sum(H), acc(F);
        std::vector<char> poisoned(H);
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t lo = rp[i], hi = rp[i + 1];
          if (lo == hi) {
            std::fill(op + i * F, op + (i + 1) * F, scalar_t(0));
            for (int64_t h = 0; h < H; ++h) lp[i * H + h] = acc_t(0);
            continue;
          }
          std::fill(mx.begin(), mx.end(), -std::numeric_limits<acc_t>::infinity());
          std::fill(sum.begin(), sum.end(), acc_t(0));
          std::fill(acc.begin(), acc.end(), acc_t(0));
          std::fill(poisoned.begin(), poisoned.end(), 0);
          for (int64_t k = lo; k < hi; ++k) {  // pass 1: row max of scores (cheap: H floats per arc)
            const int64_t j = cp[k];
            for (int64_t h = 0; h < H; ++h) {
              const acc_t e = leaky<acc_t>(static_cast<acc_t>(adp[i * H + h]) + static_cast<acc_t>(asp[j * H + h]), slope);
              if (e != e) poisoned[h] = 1;
              else if (e > mx[h]) mx[h] = e;
            }
          }
          // torch.softmax semantics: a NaN or +inf score, or all scores -inf, makes the row NaN
          for (int64_t h = 0; h < H; ++h)
            if (std::isinf(mx[h])) poisoned[h] = 1;
          for (int64_t k = lo; k < hi; ++k) {  // pass 2: exp-weights and weighted feature sum
            const int64_t j = cp[k];
            if (k + 2 < hi) {
              const int64_t jn = cp[k + 2];
              if (jn >= 0 && jn < Ns) prefetch_row(xp + jn * F, F);
            }
            const scalar_t* xr = xp + j * F;
            for (int64_t h = 0; h < H; ++h) {
              const acc_t w = std::exp(leaky<acc_t>(static_cast<acc_t>(adp[i * H + h]) +
                                                    static_cast<acc_t>(asp[j * H + h]), slope) - mx[h]);
              sum[h] += w;
              const acc_t wm = w * dropout_scale(static_cast<uint64_t>(seed), k * H + h, p);
              if (wm == 0 && can_skip) continue;
              acc_t* ah = acc.data() + h * D;
              const scalar_t* xh = xr + h * D;
              axpy<acc_t, scalar_t>(ah, wm, xh, D);
            }
          }
          for (int64_t h = 0; h < H; ++h) {
            if (poisoned[h]) {
              lp[i * H + h] = std::numeric_limits<acc_t>::quiet_NaN();
              for (int64_t d = 0; d < D; ++d) op[i * F + h * D + d] = std::numeric_limits<scalar_t>::quiet_NaN();
              continue;
            }
            lp[i * H + h] = mx[h] + std::log(sum[h]);
            const acc_t inv = acc_t(1) / sum[h];
            for (int64_t d = 0; d < D; ++d) op[i * F + h * D + d] = static_cast<scalar_t>(acc[h * D + d] * inv);
          }
        }
      });
    });
  });
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> gat_attention_backward_cpu(
    const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& t_rowptr,
    const at::Tensor& t_col, const at::Tensor& t_perm, const at::Tensor& x_in, const at::Tensor& as_in,
    const at::Tensor& ad_in, const at::Tensor& out_in, const at::Tensor& lse_in, const at::Tensor& g_in,
    double slope_d, double p_d, int64_t seed) {
  const auto B = check_gat_backward(rowptr, col, t_rowptr, t_col, t_perm, x_in, as_in, ad_in, out_in, lse_in,
                                    g_in, slope_d, p_d);  // csrc/op_checks.h
  const auto& S = B.fwd;
  const int64_t N = S.N, Ns = S.Ns, E = S.E, H = S.H, D = S.D, F = H * D;
  const auto& x = S.x;
  const auto& as = S.a_src;
  const auto& ad = S.a_dst;
  const auto& g = B.grad_out;
  const auto& outc = B.out;
  const auto& lse = B.lse;
  // every row of each gradient is written exactly once below
  auto gx = alloc("grad_x", x.sizes(), x.options());
  advise_huge_pages(gx);
  auto gas = alloc("grad_alpha_src", as.sizes(), as.options());
  auto gad = alloc("grad_alpha_dst", ad.sizes(), ad.options());
  const int64_t* rp = S.csr.rowptr.data_ptr<int64_t>();
  const int64_t* trp = B.t.t_rowptr.data_ptr<int64_t>();
  const int64_t* tpp = B.t.t_perm.data_ptr<int64_t>();
  // dropped arcs are skipped only when no 0 * inf can arise (see the forward)
  const bool can_skip = p_d > 0 && all_finite(x) && all_finite(g);
  const float p = static_cast<float>(p_d);
  AT_DISPATCH_INDEX_TYPES(S.csr.col.scalar_type(), "gat_attention_backward_cpu", [&] {
    const index_t* cp = S.csr.col.data_ptr<index_t>();
    const index_t* tcp = B.t.t_col.data_ptr<index_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gat_attention_backward_cpu", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const acc_t slope = static_cast<acc_t>(slope_d);
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* asp = as.data_ptr<scalar_t>();
      const scalar_t* adp = ad.data_ptr<scalar_t>();
      const scalar_t* gp = g.data_ptr<scalar_t>();
      const scalar_t* outp = outc.data_ptr<scalar_t>();
      const acc_t* lp = lse.data_ptr<acc_t>();
      // Per destination i and head h, packed so that pass B gets them with one or two cache
      // lines per arc: [alpha_dst[i,h], lse[i,h], delta[i,h] = <g[i,h,:], out[i,h,:]>].
      auto node_buf = alloc_vector<acc_t>("gat backward node terms [N, 3, H]", checked_mul(N, 3 * H, "node terms"));
      acc_t* const node_p = node_buf.data();  // fully written below
      at::parallel_for(0, N, 1024, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t h = 0; h < H; ++h) {
            acc_t* nd = node_p + (i * 3 * H) + 3 * h;
            nd[0] = static_cast<acc_t>(adp[i * H + h]);
            nd[1] = lp[i * H + h];
            nd[2] = dot<acc_t, scalar_t>(gp + i * F + h * D, outp + i * F + h * D, D);
          }
      });
      // t[k,h] = alpha (m <g[i,h,:], x[j,h,:]> - delta[i,h]) leaky'(raw) for arc k: j -> i;
      // also returns alpha * m.  Both passes recompute it (an exp and a D-dot per arc and head)
      // rather than keeping two [E, H] buffers: the recomputation is cheaper than their memory
      // (2 E H floats, 0.7 GB at 10M arcs x 8 heads) and their random reads in pass B.
      auto arc_t = [&](int64_t i, int64_t j, int64_t k, int64_t h, acc_t& alpha_m) -> acc_t {
        const acc_t* nd = node_p + (i * 3 * H) + 3 * h;
        const acc_t raw = nd[0] + static_cast<acc_t>(asp[j * H + h]);
        const acc_t alpha = std::exp(leaky<acc_t>(raw, slope) - nd[1]);
        const acc_t m = dropout_scale(static_cast<uint64_t>(seed), k * H + h, p);
        alpha_m = alpha * m;
        const acc_t gx_dot = (m != 0 || !can_skip) ? dot<acc_t, scalar_t>(gp + i * F + h * D, xp + j * F + h * D, D)
                                                   : acc_t(0);
        return alpha * (m * gx_dot - nd[2]) * (raw > 0 ? acc_t(1) : slope);
      };
      // Pass A (rows = destinations): grad_a_dst[i] is the row sum of t.
      scalar_t* gadp = gad.data_ptr<scalar_t>();
      parallel_rows(rp, N, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> s(H);
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t lo = rp[i], hi = rp[i + 1];
          if (lo < 0 || hi < lo || hi > E) bad_row(i, lo, hi, E);
          std::fill(s.begin(), s.end(), acc_t(0));
          for (int64_t k = lo; k < hi; ++k) {
            const int64_t j = cp[k];
            if (j < 0 || j >= Ns) bad_col(k, j, Ns);
            if (k + 2 < hi) {  // the <g, x[j]> dots gather source rows: fetch ahead
              const int64_t jn = cp[k + 2];
              if (jn >= 0 && jn < Ns) prefetch_row(xp + jn * F, F);
            }
            for (int64_t h = 0; h < H; ++h) {
              acc_t am;
              s[h] += arc_t(i, j, k, h, am);
            }
          }
          for (int64_t h = 0; h < H; ++h) gadp[i * H + h] = static_cast<scalar_t>(s[h]);
        }
      });
      // Pass B (rows = sources, over the transpose): grad_x[j] and grad_a_src[j] from the same
      // per-arc terms, in transposed-CSR order (fixed, so the sums are thread-invariant).
      scalar_t* gxp = gx.data_ptr<scalar_t>();
      scalar_t* gasp = gas.data_ptr<scalar_t>();
      parallel_rows(trp, Ns, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> s(H), acc(F);
        for (int64_t j = r0; j < r1; ++j) {
          const int64_t lo = trp[j], hi = trp[j + 1];
          if (lo < 0 || hi < lo || hi > E) bad_row(j, lo, hi, E);
          std::fill(s.begin(), s.end(), acc_t(0));
          std::fill(acc.begin(), acc.end(), acc_t(0));
          for (int64_t t = lo; t < hi; ++t) {
            const int64_t i = tcp[t], k = tpp[t];
            if (i < 0 || i >= N) bad_col(t, i, N);
            TORCH_CHECK_INDEX(k >= 0 && k < E, "gnnkit: t_perm[", t, "] = ", k, " out of range [0, ", E, ")");
            if (t + 3 < hi) {  // random destination rows: fetch g and the packed terms ahead
              const int64_t in = tcp[t + 3];
              if (in >= 0 && in < N) {
                prefetch_row(gp + in * F, F);
                prefetch_row(node_p + in * 3 * H, 3 * H);
              }
            }
            for (int64_t h = 0; h < H; ++h) {
              acc_t am;
              s[h] += arc_t(i, j, k, h, am);
              if (am != 0 || !can_skip) axpy<acc_t, scalar_t>(acc.data() + h * D, am, gp + i * F + h * D, D);
            }
          }
          for (int64_t h = 0; h < H; ++h) gasp[j * H + h] = static_cast<scalar_t>(s[h]);
          for (int64_t f = 0; f < F; ++f) gxp[j * F + f] = static_cast<scalar_t>(acc[f]);
        }
      });
    });
  });
  return {gx, gas, gad};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) {
  m.impl("gat_attention", &gat_attention_cpu);
  m.impl("gat_attention_backward", &gat_attention_backward_cpu);
}

}  // namespace gnnkit
