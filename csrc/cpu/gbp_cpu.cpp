// CPU kernels of GBP's bidirectional propagation (Chen et al., NeurIPS 2020, arXiv 2010.15421,
// Algorithm 1):
//
//   gbp_walk_matrix  random walks from the targets -> sparse S^(k)(s, u) = fraction of the n_r
//                    walks from s that stand at u after k steps (k = 1..L); shared by every column.
//   gbp_push         for one block of feature columns: level-wise reverse push of the residues
//                    H^(0) = D^-r x with threshold r_max * ||D^-r x_c||_1 over sparse frontiers.
//                    Returns the exact part sum_l w_l H^(l)(s) at the targets and the residues
//                    R_t (t = 1..L-1) that stayed below the threshold, as sorted sparse records.
//   gbp_correct      the walk correction sum_k sum_u S^(k)(s, u) sum_{t <= L-k} w_{t+k} R_t(u),
//                    evaluated directly at the walk-matrix entries; R_0 = D^-r x below the
//                    threshold is read from x itself (never copied).
//
// Notation (see gnnkit/precompute/gbp.py for the full derivation): M = D^-1 A is the walk matrix
// over in-arcs (row v of the gnnkit CSR), d = max(in-degree, 1).  H^(l) is the residue arriving at
// level l; the nodes with |H^(l)(u)| > threshold are pushed to level l + 1 (H^(l+1) = M Q_l) and the
// rest, R_l, stays.  By induction M^l H^(0) = H^(l) + sum_{t<l} M^(l-t) R_t, and (M^k R_t)(s) is the
// mean of R_t over the k-th node of walks from s, which S^(k) estimates without bias.
//
// Work: level 0 reads x once (threshold, frontier); a level t >= 1 touches only the out-arcs of the
// frontier (scatter push) or, when the frontier's arcs outnumber the graph's, one pull over the
// in-arcs; memory is O(touched nodes * B) per level plus two int32 [N] maps, never [L, N, B].
//
// Determinism: push (scatter, ascending source) and pull (gather over the in-arcs, ascending
// source) add the same terms in the same order, so the choice between them (made from the frontier
// size, never from the thread count) does not change a value.  Rows, columns and targets are each
// owned by one thread; reductions use a fixed chunking; every column is computed independently of
// the others, so block size and column slicing do not change a bit either.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "op_checks.h"
#include "parallel.h"
#include "rng.h"

namespace gnnkit {
namespace {

// Below this much work (element operations) a loop runs on the calling thread: on a busy machine a
// parallel region costs far more than a small loop (threads wait for cores at every barrier).
constexpr int64_t kSerialWork = int64_t(1) << 18;
// Fixed number of chunks for ordered reductions / ordered list building (thread-count independent).
constexpr int64_t kChunks = 256;

// parallel_for over [0, n) with about `cost` operations per item, serial when the total is small.
template <typename F>
void par_for(int64_t n, int64_t cost, const F& f) {
  if (n <= 0) return;
  cost = std::max<int64_t>(cost, 1);
  if (n * cost < kSerialWork) {
    f(0, n);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, (kSerialWork / 4) / cost);
  at::parallel_for(0, n, grain, f);
}

constexpr uint64_t kGbpWalkDomain = 0x6762705f77616c6bULL;  // "gbp_walk": decorrelates from random_walk

// The level weights w_0..w_L as a contiguous float64 tensor, after checking them and r.
at::Tensor check_weights(const at::Tensor& weights, double r, const char* op) {
  check_float_dtype(weights, "weights");
  check_cpu(weights, op, "weights");
  check_dim(weights, 1, "weights", "[num_levels + 1]");
  TORCH_CHECK_VALUE(weights.numel() >= 1, "gnnkit: ", op, ": 'weights' needs at least one entry (w_0)");
  TORCH_CHECK_VALUE(r >= 0 && r <= 1, "gnnkit: ", op, ": r must be in [0, 1], got ", r);
  return weights.to(at::kDouble).contiguous();
}

// targets: int64 [T] node ids in [0, N); returns the contiguous tensor.
at::Tensor check_targets(const at::Tensor& targets_in, int64_t N, const at::Tensor& rowptr) {
  check_defined(targets_in, "targets");
  TORCH_CHECK_TYPE(targets_in.scalar_type() == at::kLong, "gnnkit: 'targets' must be int64, got ",
                   targets_in.scalar_type());
  check_dim(targets_in, 1, "targets", "[num_targets]");
  check_same_device(targets_in, rowptr, "targets", "rowptr");
  auto targets = contiguous_arg(targets_in, "targets");
  check_ids(targets, N, "targets");
  return targets;
}

// d = max(in-degree, 1) and its powers, computed on the fly (no [N] double arrays: at 50M nodes
// each would cost 400 MB) and by one formula everywhere, so every kernel sees the same bits.
struct Degrees {
  const int64_t* rp;
  double r;
  int mode;  // 0: r = 0, 1: r = 1/2, 2: r = 1, 3: other
  Degrees(const int64_t* rp_, double r_) : rp(rp_), r(r_) {
    mode = r == 0.0 ? 0 : r == 0.5 ? 1 : r == 1.0 ? 2 : 3;
  }
  double d(int64_t v) const { return static_cast<double>(std::max<int64_t>(rp[v + 1] - rp[v], 1)); }
  double inv(int64_t v) const { return 1.0 / d(v); }
  double neg(int64_t v) const {  // d^-r
    switch (mode) {
      case 0: return 1.0;
      case 1: return 1.0 / std::sqrt(d(v));
      case 2: return 1.0 / d(v);
      default: return std::pow(d(v), -r);
    }
  }
};

// x block [N, B]: float32 or float64 with unit column stride and any row stride (a column slice of
// a row-major [N, F] array, e.g. a memory-mapped .npy, read in place).
at::Tensor check_x_block(const at::Tensor& x_in, int64_t N, const char* op) {
  check_float_dtype(x_in, "x");
  check_cpu(x_in, op, "x");
  check_dim(x_in, 2, "x", "[num_nodes, block_columns]");
  TORCH_CHECK_VALUE(x_in.size(0) == N, "gnnkit: ", op, ": 'x' must have ", N, " rows (one per node), got ",
                    shape_str(x_in));
  // The contiguity exception of checks.h: a block with unit column stride and a row stride of at
  // least its width (rows do not overlap) is read in place; anything else (zero or overlapping
  // strides, strided columns) is copied.
  auto x = x_in;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble) x = x.to(at::kFloat);
  if (x.size(1) > 1 && x.stride(1) != 1) x = contiguous_arg(x, "x");
  if (x.size(0) > 1 && x.stride(0) < std::max<int64_t>(x.size(1), 1)) x = contiguous_arg(x, "x");
  return x;
}

// The n_r walks of target s: per level k, the sorted distinct nodes at step k + 1 and their counts.
// Walk j uses the stream (seed, s * n_r + j), so a target's rows do not depend on other targets.
template <typename index_t>
void target_walk_rows(int64_t s, int64_t L, int64_t num_walks, uint64_t useed, const int64_t* rp, const index_t* cp,
                      int64_t N, int64_t E, std::vector<std::vector<int64_t>>& vis) {
  for (int64_t k = 0; k < L; ++k) vis[k].clear();
  for (int64_t j = 0; j < num_walks; ++j) {
    rng::Xoshiro256 g(useed, static_cast<uint64_t>(s) * static_cast<uint64_t>(num_walks) + static_cast<uint64_t>(j));
    int64_t cur = s;
    for (int64_t k = 0; k < L; ++k) {
      const int64_t lo = rp[cur], hi = rp[cur + 1];
      if (lo < 0 || hi < lo || hi > E) bad_row(cur, lo, hi, E);
      if (hi == lo) break;  // no in-arcs: M's row is zero, the walk dies
      const int64_t e = lo + static_cast<int64_t>(g.below(static_cast<uint64_t>(hi - lo)));
      cur = static_cast<int64_t>(cp[e]);
      if (cur < 0 || cur >= N) bad_col(e, cur, N);
      vis[k].push_back(cur);
    }
  }
  for (int64_t k = 0; k < L; ++k) std::sort(vis[k].begin(), vis[k].end());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> gbp_walk_matrix_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                                   const at::Tensor& targets_in, int64_t L,
                                                                   int64_t num_walks, int64_t seed) {
  const int64_t N = check_csr(rowptr_in, col_in);
  TORCH_CHECK_VALUE(L >= 0, "gnnkit: gbp_walk_matrix: num_levels must be >= 0, got ", L);
  TORCH_CHECK_VALUE(num_walks >= 0, "gnnkit: gbp_walk_matrix: num_walks must be >= 0, got ", num_walks);
  TORCH_CHECK_VALUE(num_walks < (int64_t(1) << 31), "gnnkit: gbp_walk_matrix: num_walks must be < 2**31, got ",
                    num_walks);
  check_cpu(rowptr_in, "gbp_walk_matrix", "rowptr");
  const auto targets = check_targets(targets_in, N, rowptr_in);
  const CsrArg csr = csr_arg(rowptr_in, col_in, N);
  const at::Tensor& rowptr = csr.rowptr;
  const at::Tensor& col = csr.col;
  const int64_t E = csr.num_edges;
  const int64_t T = targets.numel();
  const int64_t rows = checked_mul(T, L, "walk matrix rows");
  checked_mul(checked_mul(T, L, "walk matrix"), num_walks, "walk matrix entries");
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const int64_t* tp = targets.data_ptr<int64_t>();
  const uint64_t useed = static_cast<uint64_t>(seed) ^ kGbpWalkDomain;

  // Targets are split into fixed contiguous pieces; each piece appends its rows to its own buffers
  // (sorted visits, run-length encoded), then the pieces are concatenated in order.  Memory is
  // O(nnz), independent of N (no dense per-thread visit counters).
  const int64_t pieces = std::min<int64_t>(std::max<int64_t>(T, 1), kChunks);
  std::vector<std::vector<int64_t>> p_node(pieces), p_len(pieces);
  std::vector<std::vector<int32_t>> p_cnt(pieces);
  if (rows > 0 && num_walks > 0) {
    AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "gbp_walk_matrix_cpu", [&] {
      const index_t* cp = col.data_ptr<index_t>();
      at::parallel_for(0, pieces, 1, [&](int64_t q0, int64_t q1) {
        std::vector<std::vector<int64_t>> vis(L);
        for (auto& v : vis) v.reserve(static_cast<size_t>(num_walks));
        for (int64_t q = q0; q < q1; ++q) {
          auto& nd = p_node[q];
          auto& ct = p_cnt[q];
          auto& ln = p_len[q];
          for (int64_t i = T * q / pieces; i < T * (q + 1) / pieces; ++i) {
            target_walk_rows<index_t>(tp[i], L, num_walks, useed, rp, cp, N, E, vis);
            for (int64_t k = 0; k < L; ++k) {
              const auto& v = vis[k];
              int64_t len = 0;
              for (size_t a = 0; a < v.size();) {
                size_t b = a + 1;
                while (b < v.size() && v[b] == v[a]) ++b;
                nd.push_back(v[a]);
                ct.push_back(static_cast<int32_t>(b - a));
                ++len;
                a = b;
              }
              ln.push_back(len);
            }
          }
        }
      });
    });
  }
  auto ptr = alloc("s_ptr", {rows + 1}, rowptr.options());
  int64_t* pp = ptr.data_ptr<int64_t>();
  pp[0] = 0;
  std::vector<int64_t> p_off(pieces + 1, 0);
  {
    int64_t r = 0;
    for (int64_t q = 0; q < pieces; ++q) {
      p_off[q + 1] = p_off[q] + static_cast<int64_t>(p_node[q].size());
      for (auto len : p_len[q]) {
        pp[r + 1] = pp[r] + len;
        ++r;
      }
    }
    for (; r < rows; ++r) pp[r + 1] = pp[r];  // no walks: empty rows
  }
  const int64_t nnz = pp[rows];
  auto node = alloc("s_node", {nnz}, rowptr.options());
  auto count = alloc("s_count", {nnz}, rowptr.options().dtype(at::kInt));
  int64_t* np_ = node.data_ptr<int64_t>();
  int32_t* cp_ = count.data_ptr<int32_t>();
  par_for(pieces, nnz / pieces + 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      std::copy(p_node[q].begin(), p_node[q].end(), np_ + p_off[q]);
      std::copy(p_cnt[q].begin(), p_cnt[q].end(), cp_ + p_off[q]);
      std::vector<int64_t>().swap(p_node[q]);
      std::vector<int32_t>().swap(p_cnt[q]);
    }
  });
  return {ptr, node, count};
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>> gbp_push_cpu(
    const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& x_in, const at::Tensor& targets_in,
    const at::Tensor& weights_in, double r, double r_max, const c10::optional<at::Tensor>& t_rowptr_opt,
    const c10::optional<at::Tensor>& t_col_opt) {
  const int64_t N = check_csr(rowptr_in, col_in);
  check_cpu(rowptr_in, "gbp_push", "rowptr");
  const auto x = check_x_block(x_in, N, "gbp_push");
  const auto w = check_weights(weights_in, r, "gbp_push");
  TORCH_CHECK_VALUE(r_max >= 0 && std::isfinite(r_max), "gnnkit: gbp_push: r_max must be a finite number >= 0, got ",
                    r_max);
  const auto targets = check_targets(targets_in, N, rowptr_in);
  const CsrArg csr = csr_arg(rowptr_in, col_in, N);
  const at::Tensor& rowptr = csr.rowptr;
  const at::Tensor& col = csr.col;
  const int64_t E = csr.num_edges;
  const int64_t T = targets.numel();
  const int64_t L = w.numel() - 1;
  const double* wp = w.data_ptr<double>();
  const at::Tensor t_rowptr_a = opt_arg(t_rowptr_opt), t_col_a = opt_arg(t_col_opt);
  TORCH_CHECK_VALUE(t_rowptr_a.defined() == t_col_a.defined(), "gnnkit: gbp_push: pass both 't_rowptr' and 't_col' ",
                    "(the transposed CSR) or neither");
  const bool have_t = t_rowptr_a.defined();
  at::Tensor t_rowptr, t_col;
  if (have_t) {
    // ranges and offsets only: without t_perm the pairing with (rowptr, col) is not checked
    const TransposeArg t = transpose_arg(csr, N, t_rowptr_a, t_col_a, nullptr);
    t_rowptr = t.t_rowptr;
    t_col = t.t_col;
  }
  TORCH_CHECK_VALUE(N < (int64_t(1) << 31), "gnnkit: gbp_push: graphs with 2**31 nodes or more are not supported "
                    "(int32 node slots), got ", N);
  const int64_t B = x.size(1);
  const int64_t ld = N > 1 ? x.stride(0) : B;
  auto direct = alloc_zeros("direct", {T, B}, x.options().dtype(at::kDouble));
  auto thr_t = alloc_zeros("thr", {B}, x.options().dtype(at::kDouble));
  std::vector<at::Tensor> res_node(L + 1), res_val(L + 1);
  for (int64_t t = 0; t <= L; ++t) {
    res_node[t] = at::empty({0}, rowptr.options());
    res_val[t] = at::empty({0, B}, x.options().dtype(at::kFloat));
  }
  if (N == 0 || B == 0) return {direct, thr_t, res_node, res_val};
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const int64_t* tp = targets.data_ptr<int64_t>();
  const int64_t* trp = have_t ? t_rowptr.data_ptr<int64_t>() : nullptr;
  const Degrees deg(rp, r);
  double* thr = thr_t.data_ptr<double>();
  double* acc = direct.data_ptr<double>();
  // out-degree > 0: only such nodes can push (and only they are ever visited by walks).  Without
  // the transposed CSR every node counts as pushable and every level is a pull.
  auto pushable = [&](int64_t u) { return !have_t || trp[u + 1] > trp[u]; };

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gbp_push_x", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    auto h0 = [&](int64_t u, int64_t c, double dn) { return static_cast<double>(xp[u * ld + c]) * dn; };
    // ---- level 0: thresholds r_max * ||D^-r x_c||_1 (fixed chunking: same sums for any thread count)
    bool any_over = false;
    {
      // also the largest |H^(0)| of a pushable node per column: if none exceeds its threshold
      // (the usual case with few targets and the paper's r_max), the frontier scan is skipped.
      std::vector<double> part(kChunks * B, 0.0), pmax(kChunks * B, 0.0);
      par_for(kChunks, N / kChunks * B + 1, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          double* __restrict__ pq = part.data() + q * B;
          double* __restrict__ pm = pmax.data() + q * B;
          for (int64_t u = N * q / kChunks; u < N * (q + 1) / kChunks; ++u) {
            const double dn = deg.neg(u);
            const bool pu = pushable(u);
            for (int64_t c = 0; c < B; ++c) {
              const double a = std::abs(h0(u, c, dn));
              pq[c] += a;
              if (pu) pm[c] = std::max(pm[c], a);
            }
          }
        }
      });
      for (int64_t c = 0; c < B; ++c) {
        double s = 0.0, mx = 0.0;
        for (int64_t q = 0; q < kChunks; ++q) {
          s += part[q * B + c];
          mx = std::max(mx, pmax[q * B + c]);
        }
        thr[c] = r_max * s;
        if (mx > thr[c]) any_over = true;
      }
    }
    for (int64_t i = 0; i < T; ++i) {
      const double dn = deg.neg(tp[i]);
      for (int64_t c = 0; c < B; ++c) acc[i * B + c] += wp[0] * h0(tp[i], c, dn);
    }
    if (L == 0) return;
    // Frontier of level 0: pushable nodes with a column over its threshold (ascending node order).
    std::vector<int64_t> front;
    if (any_over) {
      std::vector<std::vector<int64_t>> pf(kChunks);
      par_for(kChunks, N / kChunks * B + 1, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q)
          for (int64_t u = N * q / kChunks; u < N * (q + 1) / kChunks; ++u) {
            if (!pushable(u)) continue;
            const double dn = deg.neg(u);
            for (int64_t c = 0; c < B; ++c)
              if (std::abs(h0(u, c, dn)) > thr[c]) {
                pf[q].push_back(u);
                break;
              }
          }
      });
      for (auto& v : pf) front.insert(front.end(), v.begin(), v.end());
    }
    // Q of the current frontier: level 0 reads x (masked) in place, later levels a [|F|, B] buffer.
    std::vector<double> Q;
    std::vector<int32_t> slot(N, -1);
    AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "gbp_push_idx", [&] {
      const index_t* cp = col.data_ptr<index_t>();
      const index_t* tcp = have_t ? t_col.data_ptr<index_t>() : nullptr;
      for (int64_t t = 0; t < L && !front.empty(); ++t) {
        const int64_t nf = static_cast<int64_t>(front.size());
        // q(f, u, c): the pushed value of frontier entry f (node u), 0 where below the threshold.
        auto qval = [&](int64_t f, int64_t u, int64_t c, double dn) -> double {
          if (t == 0) {
            const double h = h0(u, c, dn);
            return std::abs(h) > thr[c] ? h : 0.0;
          }
          return Q[f * B + c];
        };
        int64_t arcs = 0;
        if (have_t)
          for (auto u : front) arcs += trp[u + 1] - trp[u];
        // A scatter push does B updates (contiguous per thread's column range) per frontier arc; a
        // pull does the same per frontier arc but also scans every other in-arc of the touched
        // rows and all E arcs once to find them: pull only once the frontier holds half the arcs.
        const bool pull = !have_t || 2 * arcs > E;
        std::vector<int64_t> touched;
        std::vector<double> Hn;
        if (pull) {
          // Dense regime (the frontier holds half the arcs): Q as a dense [N, B] buffer (zeros off
          // the frontier) and a plain pull into every node with in-arcs, as an exact pass would
          // do; the zeros add nothing, so the sums equal the scatter push's.
          auto Qd = alloc_vector<double>("gbp_push dense frontier [N, B]", checked_mul(N, B, "frontier"), 0.0);
          par_for(nf, B, [&](int64_t f0, int64_t f1) {
            for (int64_t f = f0; f < f1; ++f) {
              const int64_t u = front[f];
              const double dn = t == 0 ? deg.neg(u) : 0.0;
              for (int64_t c = 0; c < B; ++c) Qd[u * B + c] = qval(f, u, c, dn);
            }
          });
          for (int64_t v = 0; v < N; ++v)
            if (rp[v + 1] > rp[v]) {
              slot[v] = static_cast<int32_t>(touched.size());
              touched.push_back(v);
            }
          Hn.assign(touched.size() * B, 0.0);
          auto pull_rows = [&](int64_t v0, int64_t v1) {
            for (int64_t v = v0; v < v1; ++v) {
              const int64_t lo = rp[v], hi = rp[v + 1];
              if (lo < 0 || hi < lo || hi > E) bad_row(v, lo, hi, E);
              if (hi == lo) continue;
              double* __restrict__ o = Hn.data() + static_cast<int64_t>(slot[v]) * B;
              const double id = deg.inv(v);
              for (int64_t k = lo; k < hi; ++k) {
                const int64_t u = cp[k];
                if (u < 0 || u >= N) bad_col(k, u, N);
                const double* __restrict__ q = Qd.data() + u * B;
                for (int64_t c = 0; c < B; ++c) o[c] += q[c] * id;
              }
            }
          };
          if ((E + N) * B < kSerialWork) pull_rows(0, N); else parallel_rows(rp, N, pull_rows);
        } else {
          // slots for the out-neighbours of the frontier (serial: a few frontier arcs), sorted
          for (auto u : front)
            for (int64_t k = trp[u]; k < trp[u + 1]; ++k) {
              const int64_t v = tcp[k];
              if (v < 0 || v >= N) bad_col(k, v, N);
              if (slot[v] < 0) {
                slot[v] = 0;
                touched.push_back(v);
              }
            }
          std::sort(touched.begin(), touched.end());
          for (size_t m = 0; m < touched.size(); ++m) slot[touched[m]] = static_cast<int32_t>(m);
          Hn.assign(touched.size() * B, 0.0);
          // scatter, parallel over column ranges (each column owned by one thread, ascending u)
          const int64_t nthreads = std::max<int64_t>(1, std::min<int64_t>(B, at::get_num_threads()));
          par_for(nthreads, (arcs + nf) * B / nthreads + 1, [&](int64_t g0, int64_t g1) {
            for (int64_t g = g0; g < g1; ++g) {
              const int64_t c0 = B * g / nthreads, c1 = B * (g + 1) / nthreads;
              for (int64_t f = 0; f < nf; ++f) {
                const int64_t u = front[f];
                const double dn = t == 0 ? deg.neg(u) : 0.0;
                for (int64_t c = c0; c < c1; ++c) {
                  const double q = qval(f, u, c, dn);
                  if (q == 0.0) continue;
                  for (int64_t k = trp[u]; k < trp[u + 1]; ++k) {
                    const int64_t v = tcp[k];
                    Hn[static_cast<int64_t>(slot[v]) * B + c] += q * deg.inv(v);
                  }
                }
              }
            }
          });
        }
        // exact part at the targets: acc += w_{t+1} H^(t+1)(s)
        for (int64_t i = 0; i < T; ++i) {
          const int32_t sl = slot[tp[i]];
          if (sl < 0) continue;
          for (int64_t c = 0; c < B; ++c) acc[i * B + c] += wp[t + 1] * Hn[static_cast<int64_t>(sl) * B + c];
        }
        const int64_t M = static_cast<int64_t>(touched.size());
        for (auto v : touched) slot[v] = -1;
        if (t + 1 == L) break;
        // Split H^(t+1): over-threshold values of pushable nodes -> next frontier Q, the rest -> R_{t+1}
        // records (float32: they only enter through the walk average).  Two passes (count, fill)
        // over fixed chunks keep the output ordered without a second copy.
        auto classify = [&](int64_t m, bool& front_it, bool& res_it) {
          const double* h = Hn.data() + m * B;
          bool over = false, under = false;
          for (int64_t c = 0; c < B; ++c) {
            if (std::abs(h[c]) > thr[c]) over = true;
            else if (h[c] != 0.0) under = true;
          }
          front_it = over && pushable(touched[m]);
          res_it = under;
        };
        std::vector<int64_t> nf_c(kChunks + 1, 0), nr_c(kChunks + 1, 0);
        par_for(kChunks, M / kChunks * B + 1, [&](int64_t q0, int64_t q1) {
          for (int64_t q = q0; q < q1; ++q)
            for (int64_t m = M * q / kChunks; m < M * (q + 1) / kChunks; ++m) {
              bool a, b;
              classify(m, a, b);
              nf_c[q + 1] += a;
              nr_c[q + 1] += b;
            }
        });
        for (int64_t q = 0; q < kChunks; ++q) {
          nf_c[q + 1] += nf_c[q];
          nr_c[q + 1] += nr_c[q];
        }
        std::vector<int64_t> nfront(nf_c[kChunks]);
        std::vector<double> nQ(nf_c[kChunks] * B);
        auto rn = alloc("res_node", {nr_c[kChunks]}, rowptr.options());
        auto rv = alloc("res_val", {nr_c[kChunks], B}, x.options().dtype(at::kFloat));
        int64_t* rnp = rn.data_ptr<int64_t>();
        float* rvp = rv.data_ptr<float>();
        par_for(kChunks, M / kChunks * B + 1, [&](int64_t q0, int64_t q1) {
          for (int64_t q = q0; q < q1; ++q) {
            int64_t jf = nf_c[q], jr = nr_c[q];
            for (int64_t m = M * q / kChunks; m < M * (q + 1) / kChunks; ++m) {
              bool a, b;
              classify(m, a, b);
              const double* h = Hn.data() + m * B;
              if (a) {
                nfront[jf] = touched[m];
                for (int64_t c = 0; c < B; ++c) nQ[jf * B + c] = std::abs(h[c]) > thr[c] ? h[c] : 0.0;
                ++jf;
              }
              if (b) {
                rnp[jr] = touched[m];
                for (int64_t c = 0; c < B; ++c) rvp[jr * B + c] = std::abs(h[c]) > thr[c] ? 0.f : static_cast<float>(h[c]);
                ++jr;
              }
            }
          }
        });
        res_node[t + 1] = rn;
        res_val[t + 1] = rv;
        std::vector<double>().swap(Hn);
        front.swap(nfront);
        Q.swap(nQ);
      }
    });
  });
  return {direct, thr_t, res_node, res_val};
}

at::Tensor gbp_correct_cpu(const at::Tensor& rowptr_in, const at::Tensor& x_in, const at::Tensor& targets_in,
                           const at::Tensor& weights_in, double r, const at::Tensor& thr_in, at::TensorList res_node,
                           at::TensorList res_val, const at::Tensor& s_ptr_in, const at::Tensor& s_node_in,
                           const at::Tensor& s_count_in, int64_t num_walks) {
  // rowptr only gives the degrees here (no col): offsets with any last entry
  check_defined(rowptr_in, "rowptr");
  check_cpu(rowptr_in, "gbp_correct", "rowptr");
  const auto rowptr = contiguous_arg(rowptr_in, "rowptr");
  check_offsets(rowptr, -1, "rowptr", "");
  const int64_t N = rowptr.numel() - 1;
  const auto x = check_x_block(x_in, N, "gbp_correct");
  const int64_t B = x.size(1);
  const int64_t ld = N > 1 ? x.stride(0) : B;
  const auto w = check_weights(weights_in, r, "gbp_correct");
  TORCH_CHECK_VALUE(num_walks >= 0, "gnnkit: gbp_correct: num_walks must be >= 0, got ", num_walks);
  const auto targets = check_targets(targets_in, N, rowptr);
  const int64_t T = targets.numel();
  const int64_t L = w.numel() - 1;
  const double* wp = w.data_ptr<double>();
  check_float_dtype(thr_in, "thr");
  TORCH_CHECK_VALUE(thr_in.dim() == 1 && thr_in.numel() == B, "gnnkit: gbp_correct: 'thr' must have shape [", B,
                    "], got ", shape_str(thr_in));
  const auto thr_t = thr_in.to(at::kDouble).contiguous();
  const double* thr = thr_t.data_ptr<double>();
  TORCH_CHECK_VALUE(static_cast<int64_t>(res_node.size()) == L + 1 && static_cast<int64_t>(res_val.size()) == L + 1,
                    "gnnkit: gbp_correct: expected L + 1 = ", L + 1, " residue levels, got ", res_node.size(), " and ",
                    res_val.size(), " (as returned by gbp_push)");
  std::vector<at::Tensor> rn(L + 1), rv(L + 1);
  for (int64_t t = 0; t <= L; ++t) {
    check_cpu(res_node[t], "gbp_correct", "res_node");
    check_cpu(res_val[t], "gbp_correct", "res_val");
    rn[t] = contiguous_arg(res_node[t], "res_node");
    rv[t] = contiguous_arg(res_val[t], "res_val");
    TORCH_CHECK_TYPE(rn[t].scalar_type() == at::kLong && rv[t].scalar_type() == at::kFloat,
                     "gnnkit: gbp_correct: residue level ", t, " must be (int64 nodes, float32 values), got (",
                     rn[t].scalar_type(), ", ", rv[t].scalar_type(), ")");
    TORCH_CHECK_VALUE(rn[t].dim() == 1 && rv[t].dim() == 2 && rv[t].size(0) == rn[t].numel() && rv[t].size(1) == B,
                      "gnnkit: gbp_correct: residue level ", t, " has nodes ", shape_str(rn[t]), " and values ",
                      shape_str(rv[t]), ", expected [n] and [n, ", B, "]");
    const int64_t* p = rn[t].data_ptr<int64_t>();
    for (int64_t m = 0; m < rn[t].numel(); ++m)
      TORCH_CHECK_VALUE(p[m] >= 0 && p[m] < N && (m == 0 || p[m] > p[m - 1]), "gnnkit: gbp_correct: residue nodes of "
                        "level ", t, " must be sorted, distinct and in [0, ", N, "); entry ", m, " is ", p[m]);
  }
  TORCH_CHECK_TYPE(s_ptr_in.scalar_type() == at::kLong && s_node_in.scalar_type() == at::kLong &&
                       s_count_in.scalar_type() == at::kInt,
                   "gnnkit: gbp_correct: the walk matrix must be (int64 ptr, int64 node, int32 count) as "
                   "returned by gbp_walk_matrix");
  for (auto* t : {&thr_in, &s_ptr_in, &s_node_in, &s_count_in}) check_cpu(*t, "gbp_correct", "thr/s_ptr/s_node/s_count");
  const int64_t rows = checked_mul(T, L, "walk matrix rows");
  TORCH_CHECK_VALUE(s_ptr_in.dim() == 1 && s_ptr_in.numel() == rows + 1, "gnnkit: gbp_correct: 's_ptr' must "
                    "have num_targets * num_levels + 1 = ", rows + 1, " entries, got ", shape_str(s_ptr_in),
                    " (walk matrix built for other targets or levels?)");
  TORCH_CHECK_VALUE(s_node_in.dim() == 1 && s_count_in.dim() == 1 && s_node_in.numel() == s_count_in.numel(),
                    "gnnkit: gbp_correct: 's_node' and 's_count' must be 1-D of one length, got ", shape_str(s_node_in),
                    " and ", shape_str(s_count_in));
  // The walk matrix is read through s_ptr: every offset is checked (not only the ends), every node
  // id and every count (1 <= count <= num_walks) before the first read.
  const auto s_ptr = contiguous_arg(s_ptr_in, "s_ptr");
  const auto s_node = contiguous_arg(s_node_in, "s_node");
  const auto s_count = contiguous_arg(s_count_in, "s_count");
  check_offsets(s_ptr, s_node.numel(), "s_ptr", "len(s_node)");
  check_ids(s_node, N, "s_node");
  check_ids(s_count, checked_add(num_walks, 1, "s_count"), "s_count", 1);
  const int64_t* spp = s_ptr.data_ptr<int64_t>();
  const int64_t* snp = s_node.data_ptr<int64_t>();
  const int32_t* scp = s_count.data_ptr<int32_t>();
  auto out = alloc_zeros("out", {T, B}, x.options().dtype(at::kDouble));
  if (T == 0 || B == 0 || L == 0 || num_walks == 0) return out;
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const Degrees deg(rp, r);
  // Union of the residue nodes of levels 1..L-1: node -> slot j (int32 [N], -1 if none) and the
  // folded residues G[j, k-1] = sum_{t=1}^{L-k} w_{t+k} R_t (k = 1..L-1; float32 [U, L-1, B]), so a
  // walk entry costs one lookup and one pass over the block whatever the level.
  std::vector<int32_t> umap;
  std::vector<float> G;
  const int64_t Lm = std::max<int64_t>(L - 1, 1);
  {
    int64_t total = 0;
    for (int64_t t = 1; t < L; ++t) total += rn[t].numel();
    if (total > 0) {
      umap = alloc_vector<int32_t>("gbp_correct residue map [N]", N, -1);
      int64_t U = 0;
      for (int64_t t = 1; t < L; ++t) {
        const int64_t* p = rn[t].data_ptr<int64_t>();
        for (int64_t m = 0; m < rn[t].numel(); ++m)
          if (umap[p[m]] < 0) umap[p[m]] = static_cast<int32_t>(U++);
      }
      G = alloc_vector<float>("gbp_correct folded residues [U, L-1, B]",
                              checked_mul(checked_mul(U, Lm, "residues"), B, "residues"), 0.f);
      for (int64_t t = 1; t < L; ++t) {  // ascending t: a fixed order of the sums
        const int64_t* p = rn[t].data_ptr<int64_t>();
        const float* v = rv[t].data_ptr<float>();
        for (int64_t m = 0; m < rn[t].numel(); ++m) {
          const int64_t j = umap[p[m]];
          for (int64_t k = 1; k <= L - t; ++k) {
            float* gk = G.data() + (j * Lm + (k - 1)) * B;
            for (int64_t c = 0; c < B; ++c)
              gk[c] = static_cast<float>(static_cast<double>(gk[c]) + wp[t + k] * static_cast<double>(v[m * B + c]));
          }
        }
      }
    }
  }
  const double inv_walks = 1.0 / static_cast<double>(num_walks);
  double* acc = out.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gbp_correct_x", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    par_for(T, (s_node.numel() / T + 1) * B * 2, [&](int64_t a, int64_t b) {
      for (int64_t i = a; i < b; ++i) {
        double* __restrict__ o = acc + i * B;
        for (int64_t k = 1; k <= L; ++k) {
          const int64_t row = i * L + (k - 1);
          const double wk = wp[k];
          const int64_t e1 = spp[row + 1];
          for (int64_t e = spp[row]; e < e1; ++e) {
            // the x rows of the entries are scattered over [N, F]: fetch a few entries ahead
            if (e + 8 < e1) {
              const int64_t un = snp[e + 8];
              if (un >= 0 && un < N) __builtin_prefetch(xp + un * ld);
            }
            const int64_t u = snp[e];
            TORCH_CHECK_INDEX(u >= 0 && u < N, "gnnkit: gbp_correct: s_node[", e, "] = ", u, " is out of range [0, ",
                              N, ")");
            // o += f w_k R_0(u) + f sum_{t=1}^{L-k} w_{t+k} R_t(u), with R_0 = D^-r x where not pushed
            // (read from x) and R_t from the records.  Every column gets the same formula whatever
            // else the block holds (a missing record adds exact zeros), so blocks do not matter.
            const double dn = deg.neg(u);
            const double f = static_cast<double>(scp[e]) * inv_walks;
            const double fw = f * wk;
            const scalar_t* __restrict__ xu = xp + u * ld;
            const int32_t j = umap.empty() || k == L ? -1 : umap[u];
            if (j >= 0) {
              const float* __restrict__ gk = G.data() + (static_cast<int64_t>(j) * Lm + (k - 1)) * B;
              for (int64_t c = 0; c < B; ++c) {
                const double h = static_cast<double>(xu[c]) * dn;
                o[c] += fw * (std::abs(h) > thr[c] ? 0.0 : h) + f * static_cast<double>(gk[c]);
              }
            } else {
              for (int64_t c = 0; c < B; ++c) {
                const double h = static_cast<double>(xu[c]) * dn;
                o[c] += fw * (std::abs(h) > thr[c] ? 0.0 : h);
              }
            }
          }
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) {
  m.impl("gbp_walk_matrix", &gbp_walk_matrix_cpu);
  m.impl("gbp_push", &gbp_push_cpu);
  m.impl("gbp_correct", &gbp_correct_cpu);
}

}  // namespace gnnkit
