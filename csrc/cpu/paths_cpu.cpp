// CPU kernels for path enumeration (PathNN, Michel et al. ICML 2023, arXiv 2306.05955).
//
// Input is the OUT-adjacency: rowptr/col grouped by SOURCE (col[rowptr[u]:rowptr[u+1]] are the
// successors v of the arcs u -> v; for a gnnkit.Graph this is graph.transpose()).  Paths follow
// arcs.  Neighbour lists are copied, sorted, de-duplicated and stripped of self loops first, so a
// multigraph gives each path once and a loop never extends a path.
//
// Modes (k = path length in arcs, 1 <= k <= max_len; a path is a node sequence p_0 = start, ..., p_k):
//   "sp"  one shortest path per reachable pair (s, t) with d(s, t) = k: the lexicographically
//         smallest node sequence among the shortest s -> t paths (BFS, neighbours ascending,
//         first discoverer is the parent).
//   "sp+" every shortest path from s to every t with d(s, t) = k (DFS on the BFS DAG of s).
//   "ap"  every simple path (no repeated node) of length k starting at s (DFS).
// Within one start node, paths are in lexicographic order; starts are in ascending order.
//
// Three ops, so that memory is never allocated for a path set that does not fit:
//   count_paths       exact counts [N, max_len] (stops once the running total exceeds `limit`)
//   path_count_bound  cheap per-length upper bound [max_len] (O(max_len * E), saturating)
//   enumerate_paths   allocates exactly count[., k] rows per length and fills them in parallel
//                     (every start's rows are owned by one thread: deterministic output).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <string>
#include <vector>

#include "op_checks.h"

namespace gnnkit {
namespace {

enum class Mode { SP, SPPLUS, AP };

constexpr int64_t kMaxLen = 64;  // DFS stacks are sized by max_len; longer paths are never useful here

Mode parse_mode(c10::string_view m) {
  if (m == "sp") return Mode::SP;
  if (m == "sp+") return Mode::SPPLUS;
  if (m == "ap") return Mode::AP;
  TORCH_CHECK_VALUE(false, "gnnkit: path mode must be 'sp', 'sp+' or 'ap', got '", std::string(m), "'");
  __builtin_unreachable();
}

inline int64_t sat_add(int64_t a, int64_t b) {
  const int64_t mx = std::numeric_limits<int64_t>::max();
  return (a > mx - b) ? mx : a + b;
}

// Clean out-adjacency: sorted, unique successors, no self loops.
struct Adj {
  int64_t n = 0;
  std::vector<int64_t> ptr, nbr;
};

Adj build_adj(const at::Tensor& rowptr_in, const at::Tensor& col_in, int64_t max_len) {
  const int64_t N = check_csr(rowptr_in, col_in);
  TORCH_CHECK_VALUE(rowptr_in.device().is_cpu(), "gnnkit: path enumeration runs on the CPU; 'rowptr' is on ",
                    rowptr_in.device(), " (move the graph with graph.to('cpu'))");
  TORCH_CHECK_VALUE(max_len >= 1 && max_len <= kMaxLen, "gnnkit: 'max_len' must be in [1, ", kMaxLen,
                    "], got ", max_len);
  const CsrArg csr = csr_arg(rowptr_in, col_in, N);  // checks.h: offsets and ids, one pass each
  const int64_t E = csr.num_edges;
  auto rp_t = csr.rowptr;
  auto col_l = csr.col.to(at::kLong);
  const int64_t* rp = rp_t.data_ptr<int64_t>();
  const int64_t* cp = col_l.data_ptr<int64_t>();
  Adj a;
  a.n = N;
  a.ptr.assign(N + 1, 0);
  a.nbr.reserve(E);
  for (int64_t u = 0; u < N; ++u) {
    const int64_t lo = rp[u], hi = rp[u + 1];
    if (lo < 0 || hi < lo || hi > E) bad_row(u, lo, hi, E);
    const size_t start = a.nbr.size();
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t v = cp[k];
      if (v < 0 || v >= N) bad_col(k, v, N);
      if (v != u) a.nbr.push_back(v);
    }
    std::sort(a.nbr.begin() + start, a.nbr.end());
    a.nbr.erase(std::unique(a.nbr.begin() + start, a.nbr.end()), a.nbr.end());
    a.ptr[u + 1] = static_cast<int64_t>(a.nbr.size());
  }
  return a;
}

// Per-thread scratch for one start node at a time.
struct Scratch {
  std::vector<int64_t> dist, parent, sigma, queue, path, it;
  std::vector<char> on_path;
  explicit Scratch(int64_t n, int64_t K)
      : dist(n, -1), parent(n, -1), sigma(n, 0), path(K + 1), it(K + 1), on_path(n, 0) {
    queue.reserve(64);
  }
};

// BFS from s up to depth K; fills dist/parent/sigma (saturating) for the reached nodes, listed in
// `queue` in BFS order (which is the lexicographic order of their smallest shortest paths).
void bfs(const Adj& a, int64_t s, int64_t K, Scratch& w) {
  w.queue.clear();
  w.queue.push_back(s);
  w.dist[s] = 0;
  w.parent[s] = -1;
  w.sigma[s] = 1;
  for (size_t h = 0; h < w.queue.size(); ++h) {
    const int64_t u = w.queue[h];
    const int64_t du = w.dist[u];
    if (du == K) continue;
    for (int64_t e = a.ptr[u]; e < a.ptr[u + 1]; ++e) {
      const int64_t v = a.nbr[e];
      if (w.dist[v] < 0) {
        w.dist[v] = du + 1;
        w.parent[v] = u;
        w.sigma[v] = w.sigma[u];
        w.queue.push_back(v);
      } else if (w.dist[v] == du + 1) {
        w.sigma[v] = sat_add(w.sigma[v], w.sigma[u]);
      }
    }
  }
}

void bfs_reset(Scratch& w) {
  for (int64_t v : w.queue) { w.dist[v] = -1; w.sigma[v] = 0; w.parent[v] = -1; }
  w.queue.clear();
}

// Depth-first walk from s.  AP: successors not on the path; SP+: successors one BFS level deeper
// (w.dist must hold the BFS distances from s).  visit(depth, path) is called for every path of
// length 1..K in lexicographic order; it returns false to stop the walk early.
template <bool kSimple, typename Visit>
void dfs(const Adj& a, int64_t s, int64_t K, Scratch& w, const Visit& visit) {
  int64_t depth = 0;
  w.path[0] = s;
  w.it[0] = a.ptr[s];
  if (kSimple) w.on_path[s] = 1;
  while (depth >= 0) {
    const int64_t u = w.path[depth];
    if (depth == K || w.it[depth] == a.ptr[u + 1]) {
      if (kSimple) w.on_path[u] = 0;
      --depth;
      continue;
    }
    const int64_t v = a.nbr[w.it[depth]++];
    if (kSimple ? w.on_path[v] != 0 : w.dist[v] != depth + 1) continue;
    ++depth;
    w.path[depth] = v;
    w.it[depth] = a.ptr[v];
    if (kSimple) w.on_path[v] = 1;
    if (!visit(depth, w.path.data())) {
      for (int64_t d = 0; d <= depth; ++d) w.on_path[w.path[d]] = 0;
      return;
    }
  }
}

int64_t grain_for(int64_t N) {
  const int64_t chunks = std::max<int64_t>(1, at::get_num_threads() * 8);
  return std::max<int64_t>(1, (N + chunks - 1) / chunks);
}

// counts[s, k-1] = number of paths of length k from s.  Counting stops (all threads) once the
// total exceeds `limit`; the returned counts then sum to more than `limit` and are partial.
at::Tensor count_paths_cpu(const at::Tensor& rowptr, const at::Tensor& col, int64_t max_len,
                           c10::string_view mode_s, int64_t limit) {
  const Mode mode = parse_mode(mode_s);
  TORCH_CHECK_VALUE(limit >= 0, "gnnkit: 'limit' must be >= 0, got ", limit);
  const Adj a = build_adj(rowptr, col, max_len);
  const int64_t N = a.n, K = max_len;
  auto counts = at::zeros({N, K}, rowptr.options().dtype(at::kLong));
  if (N == 0) return counts;
  int64_t* cnt = counts.data_ptr<int64_t>();
  std::atomic<int64_t> total{0};
  std::atomic<bool> stop{false};
  constexpr int64_t kFlush = 4096;  // paths counted locally between checks of the shared total

  at::parallel_for(0, N, grain_for(N), [&](int64_t s0, int64_t s1) {
    Scratch w(N, K);
    for (int64_t s = s0; s < s1 && !stop.load(std::memory_order_relaxed); ++s) {
      int64_t* c = cnt + s * K;
      int64_t local = 0;
      auto add = [&](int64_t m) {
        local = sat_add(local, std::min(m, sat_add(limit, 1)));  // keeps the atomic sum from wrapping
        if (local >= kFlush) {
          const int64_t t = sat_add(total.fetch_add(local), local);
          local = 0;
          if (t > limit) { stop.store(true); return false; }
        }
        return !stop.load(std::memory_order_relaxed);
      };
      if (mode == Mode::AP) {
        dfs<true>(a, s, K, w, [&](int64_t d, const int64_t*) { c[d - 1] += 1; return add(1); });
      } else {
        bfs(a, s, K, w);
        for (int64_t v : w.queue) {
          const int64_t d = w.dist[v];
          if (d == 0) continue;
          const int64_t m = mode == Mode::SP ? 1 : w.sigma[v];
          c[d - 1] = sat_add(c[d - 1], m);
          if (!add(m)) break;
        }
        bfs_reset(w);
      }
      if (local > 0 && sat_add(total.fetch_add(local), local) > limit) stop.store(true);
    }
  });
  return counts;
}

// Upper bound on the number of paths of each length (saturating at INT64_MAX), in O(K * E).
//   A simple path (and a shortest path is simple) never steps back to the node it came from, so
//   with c_0(u) = 1 and c_j(u) = sum_{w in N+(u)} c_{j-1}(w) - min_{w in N+(u)} c_{j-1}(w)
//   (continuations of length j from u after arriving from a predecessor; the min is subtracted
//   only when every predecessor of u is also a successor), the paths of length k from s number at
//   most sum_{u in N+(s)} c_{k-1}(u).  'sp' is further capped by N * (N - 1) pairs.
at::Tensor path_count_bound_cpu(const at::Tensor& rowptr, const at::Tensor& col, int64_t max_len,
                                c10::string_view mode_s) {
  const Mode mode = parse_mode(mode_s);
  const Adj a = build_adj(rowptr, col, max_len);
  const int64_t N = a.n, K = max_len;
  auto out = at::zeros({K}, rowptr.options().dtype(at::kLong));
  int64_t* o = out.data_ptr<int64_t>();
  // mutual[v]: every in-arc u -> v has a reverse arc v -> u, so a path that reached v can be
  // known not to step back along one of v's out-arcs (always true for undirected graphs).
  std::vector<char> mutual(N, 1);
  for (int64_t u = 0; u < N; ++u)
    for (int64_t e = a.ptr[u]; e < a.ptr[u + 1]; ++e) {
      const int64_t v = a.nbr[e];
      if (!std::binary_search(a.nbr.begin() + a.ptr[v], a.nbr.begin() + a.ptr[v + 1], u)) mutual[v] = 0;
    }
  std::vector<int64_t> c(N, 1), nxt(N, 0);
  for (int64_t k = 1; k <= K; ++k) {
    // paths of length k from s: sum over first steps of c_{k-1}
    int64_t tot = 0;
    for (int64_t s = 0; s < N; ++s)
      for (int64_t e = a.ptr[s]; e < a.ptr[s + 1]; ++e) tot = sat_add(tot, c[a.nbr[e]]);
    if (mode == Mode::SP) {
      const int64_t pairs = N > 0 ? N * (N - 1) : 0;  // one path per ordered pair at distance k
      tot = std::min(tot, pairs);
    }
    o[k - 1] = tot;
    for (int64_t u = 0; u < N; ++u) {
      int64_t sum = 0, mn = std::numeric_limits<int64_t>::max();
      for (int64_t e = a.ptr[u]; e < a.ptr[u + 1]; ++e) {
        sum = sat_add(sum, c[a.nbr[e]]);
        mn = std::min(mn, c[a.nbr[e]]);
      }
      // saturated sums stay saturated; otherwise drop the neighbour we may have come from
      nxt[u] = a.ptr[u + 1] == a.ptr[u] ? 0
               : ((sum == std::numeric_limits<int64_t>::max() || !mutual[u]) ? sum : sum - mn);
    }
    std::swap(c, nxt);
  }
  return out;
}

// Paths of length 1..max_len as max_len tensors, the k-th int64 [sum_s counts[s, k-1], k + 1].
// `counts` must be count_paths(...) of the same graph (checked: any mismatch raises).
// With return_parents, max_len more tensors follow: parents[k-1] int64 [P_k], the row of each
// path's prefix (its first k nodes) among the length-(k-1) paths; for k = 1 the start node.
std::vector<at::Tensor> enumerate_paths_cpu(const at::Tensor& rowptr, const at::Tensor& col,
                                            const at::Tensor& counts_in, int64_t max_len,
                                            c10::string_view mode_s, bool return_parents) {
  const Mode mode = parse_mode(mode_s);
  const Adj a = build_adj(rowptr, col, max_len);
  const int64_t N = a.n, K = max_len;
  TORCH_CHECK_TYPE(counts_in.scalar_type() == at::kLong, "gnnkit: 'counts' must be int64, got ",
                   counts_in.scalar_type());
  TORCH_CHECK_VALUE(counts_in.dim() == 2 && counts_in.size(0) == N && counts_in.size(1) == K,
                    "gnnkit: 'counts' must have shape [num_nodes, max_len] = [", N, ", ", K, "], got ",
                    shape_str(counts_in));
  check_cpu(counts_in, "enumerate_paths", "counts");
  auto counts = contiguous_arg(counts_in, "counts");
  const int64_t* cnt = counts.data_ptr<int64_t>();
  // offsets[k][s]: first row of start s in the length-(k+1) tensor
  std::vector<std::vector<int64_t>> off(K, std::vector<int64_t>(N + 1, 0));
  std::vector<at::Tensor> out;
  std::vector<int64_t*> optr(K);
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t s = 0; s < N; ++s) {
      const int64_t c = cnt[s * K + k];
      TORCH_CHECK_VALUE(c >= 0, "gnnkit: counts[", s, ", ", k, "] = ", c, " is negative");
      TORCH_CHECK_VALUE(off[k][s] <= std::numeric_limits<int64_t>::max() / (K + 1) - c,
                        "gnnkit: path counts overflow int64");
      off[k][s + 1] = off[k][s] + c;
    }
    out.push_back(alloc("paths", {off[k][N], k + 2}, rowptr.options().dtype(at::kLong)));
    optr[k] = out.back().data_ptr<int64_t>();
  }
  std::vector<int64_t*> pptr(K, nullptr);
  if (return_parents)
    for (int64_t k = 0; k < K; ++k) {
      out.push_back(alloc("parents", {off[k][N]}, rowptr.options().dtype(at::kLong)));
      pptr[k] = out.back().data_ptr<int64_t>();
    }
  if (N == 0) return out;
  std::atomic<int64_t> bad_start{-1};

  at::parallel_for(0, N, grain_for(N), [&](int64_t s0, int64_t s1) {
    Scratch w(N, K);
    std::vector<int64_t> fill(K), last(K + 1), row_of(return_parents && mode == Mode::SP ? N : 0, -1);
    for (int64_t s = s0; s < s1; ++s) {
      for (int64_t k = 0; k < K; ++k) fill[k] = off[k][s];
      last[0] = s;
      bool ok = true;
      // DFS emits a path right before its extensions, so the prefix of a length-d path is the
      // last length-(d-1) path emitted; BFS (sp) emits the path of parent(v) before v's.
      auto emit = [&](int64_t d, const int64_t* p) {
        const int64_t k = d - 1;
        if (fill[k] >= off[k][s + 1]) { ok = false; return false; }
        const int64_t r = fill[k]++;
        int64_t* row = optr[k] + r * (d + 1);
        for (int64_t i = 0; i <= d; ++i) row[i] = p[i];
        if (return_parents) {
          if (mode == Mode::SP) {
            pptr[k][r] = d == 1 ? s : row_of[p[d - 1]];
            row_of[p[d]] = r;
          } else {
            pptr[k][r] = last[k];
            last[d] = r;
          }
        }
        return true;
      };
      if (mode == Mode::AP) {
        dfs<true>(a, s, K, w, emit);
      } else if (mode == Mode::SPPLUS) {
        bfs(a, s, K, w);
        dfs<false>(a, s, K, w, emit);
        bfs_reset(w);
      } else {
        bfs(a, s, K, w);
        for (int64_t v : w.queue) {
          const int64_t d = w.dist[v];
          if (d == 0) continue;
          int64_t u = v;
          for (int64_t i = d; i >= 0; --i) { w.path[i] = u; u = w.parent[u]; }
          if (!emit(d, w.path.data())) break;
        }
        if (!row_of.empty()) for (int64_t v : w.queue) row_of[v] = -1;
        bfs_reset(w);
      }
      for (int64_t k = 0; k < K && ok; ++k) ok = fill[k] == off[k][s + 1];
      if (!ok) {
        int64_t expected = -1;
        bad_start.compare_exchange_strong(expected, s);
      }
    }
  });
  TORCH_CHECK_VALUE(bad_start.load() < 0, "gnnkit: 'counts' do not match the paths of start node ",
                    bad_start.load(), "; pass the output of count_paths for the same graph, max_len and mode");
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) {
  m.impl("count_paths", &count_paths_cpu);
  m.impl("path_count_bound", &path_count_bound_cpu);
  m.impl("enumerate_paths", &enumerate_paths_cpu);
}

}  // namespace gnnkit
