// CPU kernel of multi-hop neighbour sampling (GraphSAGE, Hamilton et al. 2017,
// https://arxiv.org/abs/1706.02216) in the hop-wise layout of PyG's NeighborLoader.
//
// Hop h takes the nodes discovered at hop h (hop 0 = the seeds) and, for each of them, samples
// up to fanouts[h] of its in-arcs without replacement (all of them for -1), uniformly or -- with
// `weight` -- by Efraimidis-Spirakis keys log(u)/w (weighted sampling without replacement,
// "Weighted random sampling with a reservoir", IPL 2006).  Newly seen sources become hop h+1.
// Directed mode samples the out-arcs too, from the transposed CSR (t_rowptr, t_col, t_perm).
//
// Determinism: the arcs of node v at hop h come from a counter-based stream keyed by
// (seed, h, direction, v), so they do not depend on the thread count; the relabelling of new
// nodes is one sequential pass in seed order (row order, then CSR order within a row).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <unordered_set>
#include <vector>

#include "memo.h"
#include "op_checks.h"
#include "parallel.h"

namespace gnnkit {
namespace {

// splitmix64 stream (Steele et al. 2014) starting from a state derived from the key.
struct Stream {
  uint64_t s;
  Stream(uint64_t seed, uint64_t hop, uint64_t dir, uint64_t node)
      : s(mix64(mix64(seed) ^ mix64((hop << 1 | dir) + 0x632BE59BD9B4E019ULL) ^
                mix64(node ^ 0xA0761D6478BD642FULL))) {}
  uint64_t next() { return mix64(s += 0x9E3779B97F4A7C15ULL); }
  // Uniform integer in [0, n) (Lemire's multiply-shift; bias < n / 2^64).
  int64_t below(int64_t n) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(next()) * static_cast<uint64_t>(n)) >> 64);
  }
  // Uniform double in (0, 1].
  double unit() { return ((next() >> 11) + 1) * 0x1.0p-53; }
};

// Open-addressing hash map global id -> local id (linear probing, power-of-two capacity, key and
// value side by side so that a lookup touches one cache line).
struct IdMap {
  struct Slot {
    int64_t key, val;
  };
  std::vector<Slot> slots;
  uint64_t mask = 0;
  int64_t size = 0;
  explicit IdMap(int64_t expected) { reserve(expected); }
  IdMap(const IdMap&) = delete;
  static uint64_t hash(int64_t key) { return mix64(static_cast<uint64_t>(key)); }
  // Make room for `total` keys at load factor <= 1/2 (capacity doubles, so growth is amortised).
  void reserve(int64_t total) {
    const int64_t want = 2 * total;
    if (want <= static_cast<int64_t>(slots.size())) return;
    uint64_t cap = 16;
    while (cap < static_cast<uint64_t>(want)) cap <<= 1;
    std::vector<Slot> old = std::move(slots);
    slots.assign(cap, Slot{-1, -1});
    mask = cap - 1;
    size = 0;
    for (const Slot& sl : old)
      if (sl.key >= 0) insert(sl.key, sl.val);
  }
  void prefetch(int64_t key) const { __builtin_prefetch(&slots[hash(key) & mask]); }
  // Returns the local id of `key`, inserting `val` when absent (then `inserted` is true).
  int64_t insert(int64_t key, int64_t val, bool* inserted = nullptr) {
    if (2 * (size + 1) > static_cast<int64_t>(slots.size())) reserve(size + 1);
    uint64_t h = hash(key) & mask;
    while (true) {
      Slot& sl = slots[h];
      if (sl.key == key) {
        if (inserted) *inserted = false;
        return sl.val;
      }
      if (sl.key < 0) {
        sl.key = key;
        sl.val = val;
        ++size;
        if (inserted) *inserted = true;
        return val;
      }
      h = (h + 1) & mask;
    }
  }
};

// Dense map global id -> local id + 1 (0 = absent) over calloc'ed memory: the OS hands out zero
// pages lazily, so only the pages of ids actually seen are touched.  Used when the graph is
// not much larger than the sample (one random access per lookup, no hashing or probing).
struct DenseMap {
  int32_t* m;
  int64_t size = 0;
  explicit DenseMap(int64_t N) : m(static_cast<int32_t*>(std::calloc(std::max<int64_t>(N, 1), sizeof(int32_t)))) {
    if (m == nullptr)
      out_of_memory("neighbor_sample id map", {std::max<int64_t>(N, 1)}, std::max<int64_t>(N, 1) * 4, "calloc failed");
  }
  ~DenseMap() { std::free(m); }
  DenseMap(const DenseMap&) = delete;
  void reserve(int64_t) {}
  void prefetch(int64_t key) const { __builtin_prefetch(m + key); }
  int64_t insert(int64_t key, int64_t val, bool* inserted = nullptr) {
    const int32_t cur = m[key];
    if (cur != 0) {
      if (inserted) *inserted = false;
      return cur - 1;
    }
    m[key] = static_cast<int32_t>(val + 1);
    ++size;
    if (inserted) *inserted = true;
    return val;
  }
};

// One CSR to sample from: rowptr [N+1], col [E] (index_t), optional weight read at wpos(k).
template <typename index_t, typename weight_t>
struct Csr {
  const int64_t* rp;
  const index_t* cp;
  const weight_t* w;      // nullptr: uniform
  const int64_t* perm;    // weight / e_id of position k is at perm[k] (transposed CSR), or nullptr
  int64_t N, E;
  int64_t edge_id(int64_t k) const { return perm ? perm[k] : k; }
};

// Choose up to `fanout` positions of row [lo, hi) into pos[0..); returns how many (<= cap).
// Output positions are ascending.
template <typename index_t, typename weight_t>
int64_t choose(const Csr<index_t, weight_t>& g, int64_t lo, int64_t hi, int64_t fanout, Stream& rng,
               int64_t* pos, std::vector<std::pair<double, int64_t>>& keys,
               std::unordered_set<int64_t>& seen) {
  const int64_t d = hi - lo;
  if (fanout < 0 || (g.w == nullptr && d <= fanout)) {
    for (int64_t t = 0; t < d; ++t) pos[t] = lo + t;
    return d;
  }
  if (fanout == 0 || d == 0) return 0;
  if (g.w != nullptr) {
    // Efraimidis-Spirakis: the k largest keys log(u)/w_k; arcs with w = 0 are never chosen.
    keys.clear();
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t e = g.edge_id(k);
      if (e < 0 || e >= g.E) bad_col(k, e, g.E);
      const double w = static_cast<double>(g.w[e]);
      TORCH_CHECK_VALUE(std::isfinite(w) && w >= 0, "gnnkit: neighbor_sample: 'weight' must be "
                        "finite and >= 0, got weight[", e, "] = ", w);
      const double u = rng.unit();  // drawn for every arc, so the stream does not depend on w
      if (w > 0) keys.emplace_back(std::log(u) / w, k);
    }
    const int64_t m = std::min<int64_t>(fanout, static_cast<int64_t>(keys.size()));
    if (m < static_cast<int64_t>(keys.size()))
      std::nth_element(keys.begin(), keys.begin() + m, keys.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int64_t t = 0; t < m; ++t) pos[t] = keys[t].second;
    std::sort(pos, pos + m);
    return m;
  }
  const int64_t k = fanout;  // 0 < k < d
  if (k <= 64) {
    // Floyd's algorithm: a uniform k-subset of [0, d) in k draws; membership by linear scan.
    int64_t n = 0;
    for (int64_t j = d - k; j < d; ++j) {
      const int64_t t = rng.below(j + 1);
      bool dup = false;
      for (int64_t q = 0; q < n; ++q)
        if (pos[q] == t) { dup = true; break; }
      pos[n++] = dup ? j : t;
    }
  } else if (d <= 8 * k) {
    // Selection sampling (Knuth's Algorithm S): one pass, O(d), ascending output.
    int64_t n = 0;
    for (int64_t t = 0; t < d && n < k; ++t)
      if (rng.below(d - t) < k - n) pos[n++] = t;
  } else {
    seen.clear();
    int64_t n = 0;
    for (int64_t j = d - k; j < d; ++j) {
      const int64_t t = rng.below(j + 1);
      pos[n++] = seen.insert(t).second ? t : j;
      if (pos[n - 1] == j) seen.insert(j);
    }
  }
  std::sort(pos, pos + k);
  for (int64_t t = 0; t < k; ++t) pos[t] += lo;
  return k;
}

// The arcs of one hop and one direction, before relabelling: per frontier node a slot of
// `cap[i]` entries, of which `cnt[i]` are used.
struct HopSample {
  std::vector<int64_t> off, cnt, src, eid;
};

template <typename index_t, typename weight_t>
void sample_hop(const Csr<index_t, weight_t>& g, const int64_t* nodes, int64_t m, int64_t fanout,
                uint64_t seed, int64_t hop, int dir, HopSample& out, const int64_t* node_keys = nullptr) {
  out.off.assign(m + 1, 0);
  out.cnt.assign(m, 0);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t v = nodes[i];
    const int64_t lo = g.rp[v], hi = g.rp[v + 1];
    if (lo < 0 || hi < lo || hi > g.E) bad_row(v, lo, hi, g.E);
    const int64_t d = hi - lo;
    out.off[i + 1] = out.off[i] + (fanout < 0 ? d : std::min(fanout, d));
  }
  out.src.resize(out.off[m]);
  out.eid.resize(out.off[m]);
  at::parallel_for(0, m, 32, [&](int64_t b, int64_t e) {
    std::vector<std::pair<double, int64_t>> keys;
    std::unordered_set<int64_t> seen;
    for (int64_t i = b; i < e; ++i) {
      const int64_t v = nodes[i];
      // The stream is keyed by the node's id in the whole graph (`keys` when the CSR is one
      // partition's rows), so a partition samples exactly the arcs the whole graph would.
      const int64_t key = node_keys ? node_keys[i] : v;
      Stream rng(seed, static_cast<uint64_t>(hop), static_cast<uint64_t>(dir), static_cast<uint64_t>(key));
      int64_t* pos = out.eid.data() + out.off[i];
      const int64_t n = choose(g, g.rp[v], g.rp[v + 1], fanout, rng, pos, keys, seen);
      out.cnt[i] = n;
      int64_t* src = out.src.data() + out.off[i];
      for (int64_t t = 0; t < n; ++t) {
        const int64_t k = pos[t];
        const int64_t j = g.cp[k];
        if (j < 0 || j >= g.N) bad_col(k, j, g.N);
        src[t] = j;
        pos[t] = g.edge_id(k);
      }
    }
  });
}

// Append the relabelled arcs of frontier node i to the block CSR being built (hash slots are
// prefetched a few arcs ahead: the lookups are the serial part of the sampler).
template <typename Map>
inline void emit(const HopSample& s, int64_t i, Map& map, std::vector<int64_t>& n_id,
                 std::vector<int64_t>& col, std::vector<int64_t>& eid) {
  constexpr int64_t kAhead = 8;
  const int64_t o = s.off[i], n = s.cnt[i];
  const int64_t end = s.off[i + 1];
  for (int64_t t = 0; t < n; ++t) {
    if (o + t + kAhead < end) map.prefetch(s.src[o + t + kAhead]);
    const int64_t j = s.src[o + t];
    bool ins = false;
    const int64_t local = map.insert(j, static_cast<int64_t>(n_id.size()), &ins);
    if (ins) n_id.push_back(j);
    col.push_back(local);
    eid.push_back(s.eid[o + t]);
  }
}

at::Tensor to_tensor(const std::vector<int64_t>& v, at::ScalarType dtype = at::kLong) {
  const int64_t n = static_cast<int64_t>(v.size());
  auto t = at::empty({n}, at::TensorOptions().dtype(dtype));
  if (dtype == at::kLong) {
    std::copy(v.begin(), v.end(), t.data_ptr<int64_t>());
  } else {
    int32_t* p = t.data_ptr<int32_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(v[i]);
  }
  return t;
}

// Every weight finite and >= 0, checked up front (not only on the rows a sample visits).
void check_sample_weights(const at::Tensor& weight) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weight.scalar_type(), "neighbor_sample_weight", [&] {
    const scalar_t* wp = weight.data_ptr<scalar_t>();
    const int64_t n = weight.numel();
    const int64_t k = first_bad(n, [&](int64_t e) {
      const double v = static_cast<double>(wp[e]);
      return !(std::isfinite(v) && v >= 0);
    });
    TORCH_CHECK_VALUE(k == n, "gnnkit: neighbor_sample: 'weight' must be finite and >= 0, got weight[", k, "] = ",
                      k < n ? static_cast<double>(wp[k]) : 0.0);
  });
}

// The weight check through the validation memo (memo.h): choose() re-checks every weight it reads.
void check_sample_weights_memo(const at::Tensor& weight) {
  if (memo::seen("sample_weights", {weight}, {})) return;
  check_sample_weights(weight);
  memo::remember("sample_weights", {weight}, {});
}

std::vector<at::Tensor> neighbor_sample_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                            const at::Tensor& seeds_in, at::IntArrayRef fanouts,
                                            const c10::optional<at::Tensor>& weight_opt, int64_t seed,
                                            const c10::optional<at::Tensor>& t_rowptr_opt,
                                            const c10::optional<at::Tensor>& t_col_opt,
                                            const c10::optional<at::Tensor>& t_perm_opt) {
  // ---- validation (checks.h), before any graph memory is read
  const int64_t N = check_csr(rowptr_in, col_in);
  check_cpu(rowptr_in, "neighbor_sample", "rowptr");
  check_defined(seeds_in, "seeds");
  check_index_dtype(seeds_in, "seeds");
  check_dim(seeds_in, 1, "seeds", "[num_seeds]");
  check_cpu(seeds_in, "neighbor_sample", "seeds");
  for (size_t h = 0; h < fanouts.size(); ++h)
    TORCH_CHECK_VALUE(fanouts[h] >= -1, "gnnkit: neighbor_sample: fanouts[", h, "] = ", fanouts[h],
                      " is invalid; use a count >= 0, or -1 for all neighbours");
  at::Tensor weight = opt_arg(weight_opt);
  if (weight.defined()) {
    check_float_dtype(weight, "weight");
    check_cpu(weight, "neighbor_sample", "weight");
    TORCH_CHECK_VALUE(weight.dim() == 1 && weight.size(0) == col_in.numel(), "gnnkit: 'weight' must have shape [",
                      col_in.numel(), "], got ", shape_str(weight));
    weight = contiguous_arg(weight, "weight");
    check_sample_weights_memo(weight);
  }
  const at::Tensor t_rowptr_a = opt_arg(t_rowptr_opt), t_col_a = opt_arg(t_col_opt), t_perm_a = opt_arg(t_perm_opt);
  const bool directed = t_rowptr_a.defined();
  TORCH_CHECK_VALUE(directed == t_col_a.defined() && directed == t_perm_a.defined(),
                    "gnnkit: directed neighbor_sample needs all of t_rowptr, t_col and t_perm (or none)");
  const CsrArg csr = csr_arg_memo(rowptr_in, col_in, N);
  const at::Tensor& rowptr = csr.rowptr;
  const at::Tensor& col = csr.col;
  const int64_t E = csr.num_edges;
  at::Tensor t_rowptr, t_col, t_perm;
  if (directed) {
    // checked to BE the transpose (t_perm a permutation pairing each entry with its arc): the
    // e_id / weight of a sampled out-arc are read through t_perm.
    if (memo::seen("transpose", {csr.rowptr, csr.col, t_rowptr_a, t_col_a, t_perm_a}, {N})) {
      t_rowptr = t_rowptr_a;
      t_col = t_col_a;
      t_perm = t_perm_a;
    } else {
      const TransposeArg t = transpose_arg(csr, N, t_rowptr_a, t_col_a, &t_perm_a);
      t_rowptr = t.t_rowptr;
      t_col = t.t_col;
      t_perm = t.t_perm;
      memo::remember("transpose", {csr.rowptr, csr.col, t_rowptr_a, t_col_a, t_perm_a}, {N});
    }
  }
  const at::Tensor seeds = contiguous_arg(seeds_in, "seeds").to(at::kLong);
  check_ids(seeds, N, "seeds");
  const int64_t B = seeds.numel();
  const int64_t* sp = seeds.data_ptr<int64_t>();
  // Upper bound on the sampled nodes: B (1 + f0 + f0 f1 + ...), with -1 counting as N.
  double bound = static_cast<double>(B), layer = static_cast<double>(B);
  for (const int64_t f : fanouts) {
    layer *= static_cast<double>(f < 0 ? N : f) * (directed ? 2.0 : 1.0);
    bound += layer;
  }
  const bool dense = N <= (int64_t{1} << 26) && static_cast<double>(N) <= 64.0 * bound;
  std::vector<int64_t> n_id;
  n_id.reserve(B * 8);
  const int64_t L = static_cast<int64_t>(fanouts.size());
  std::vector<int64_t> hop_ptr{0, B};
  std::vector<int64_t> out_ptr{0}, out_col, out_eid, tout_ptr{0}, tout_col, tout_eid;
  auto run = [&](auto& map) {
    for (int64_t i = 0; i < B; ++i) {
      bool ins = false;
      const int64_t first = map.insert(sp[i], i, &ins);
      TORCH_CHECK_VALUE(ins, "gnnkit: neighbor_sample: seeds must be distinct; seeds[", i, "] = ", sp[i],
                        " repeats seeds[", first, "]");
      n_id.push_back(sp[i]);
    }
    AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "neighbor_sample_cpu", [&] {
      AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16,
                                      weight.defined() ? weight.scalar_type() : at::kFloat,
                                      "neighbor_sample_cpu", [&] {
        const scalar_t* wp = weight.defined() ? weight.data_ptr<scalar_t>() : nullptr;
        Csr<index_t, scalar_t> in{rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(), wp, nullptr, N, E};
        Csr<index_t, scalar_t> outg{nullptr, nullptr, wp, nullptr, N, E};
        if (directed)
          outg = {t_rowptr.data_ptr<int64_t>(), t_col.data_ptr<index_t>(), wp, t_perm.data_ptr<int64_t>(), N, E};
        HopSample s_in, s_out;
        for (int64_t h = 0; h < L; ++h) {
          const int64_t f0 = hop_ptr[h], f1 = hop_ptr[h + 1], m = f1 - f0;
          // n_id may reallocate while emitting: sample from a copy of the frontier.
          const std::vector<int64_t> frontier(n_id.begin() + f0, n_id.begin() + f1);
          sample_hop(in, frontier.data(), m, fanouts[h], static_cast<uint64_t>(seed), h, 0, s_in);
          if (directed) sample_hop(outg, frontier.data(), m, fanouts[h], static_cast<uint64_t>(seed), h, 1, s_out);
          const int64_t arcs = s_in.off[m] + (directed ? s_out.off[m] : 0);
          // Upper bound on the nodes after this hop: reserve once instead of rehashing repeatedly.
          map.reserve(std::min<int64_t>(map.size + arcs, std::max<int64_t>(N, 1)) / 2);
          n_id.reserve(n_id.size() + arcs);
          out_col.reserve(out_col.size() + s_in.off[m]);
          out_eid.reserve(out_eid.size() + s_in.off[m]);
          out_ptr.reserve(out_ptr.size() + m);
          if (directed) {
            tout_col.reserve(tout_col.size() + s_out.off[m]);
            tout_eid.reserve(tout_eid.size() + s_out.off[m]);
            tout_ptr.reserve(tout_ptr.size() + m);
          }
          for (int64_t i = 0; i < m; ++i) {
            emit(s_in, i, map, n_id, out_col, out_eid);
            out_ptr.push_back(static_cast<int64_t>(out_col.size()));
            if (directed) {
              emit(s_out, i, map, n_id, tout_col, tout_eid);
              tout_ptr.push_back(static_cast<int64_t>(tout_col.size()));
            }
          }
          hop_ptr.push_back(static_cast<int64_t>(n_id.size()));
        }
      });
    });
  };
  if (dense) {
    DenseMap map(N);
    run(map);
  } else {
    IdMap map(B * 8);
    run(map);
  }
  // Full-graph degree of every sampled node (in-degree; out-degree too in directed mode).
  const int64_t S = static_cast<int64_t>(n_id.size());
  auto degree = [&](const at::Tensor& ptr) {
    auto d = at::empty({S}, at::TensorOptions().dtype(at::kLong));
    int64_t* dp = d.data_ptr<int64_t>();
    const int64_t* rp = ptr.data_ptr<int64_t>();
    at::parallel_for(0, S, 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dp[i] = rp[n_id[i] + 1] - rp[n_id[i]];
    });
    return d;
  };
  const auto local = S < (int64_t{1} << 31) ? at::kInt : at::kLong;
  return {to_tensor(n_id), to_tensor(hop_ptr), to_tensor(out_ptr), to_tensor(out_col, local),
          to_tensor(out_eid), to_tensor(tout_ptr), to_tensor(tout_col, local), to_tensor(tout_eid),
          degree(rowptr), directed ? degree(t_rowptr) : at::empty({0}, at::TensorOptions().dtype(at::kLong))};
}

// One hop of neighbour sampling for the rows a partition owns (distributed sampling): row
// nodes[i] of this CSR is the node keys[i] of the whole graph, and its arcs are chosen from the
// stream keyed by (seed, hop, 0, keys[i]) -- the arcs neighbor_sample draws for that node at that
// hop (`node_keys` in sample_hop).  col holds ids in [0, num_src) (global ids).  Returns (cnt [m], src [sum cnt] = col of the
// chosen arcs, pos [sum cnt] = their CSR positions in this graph).
std::vector<at::Tensor> neighbor_sample_hop_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                const at::Tensor& nodes_in, const at::Tensor& keys_in,
                                                int64_t num_src, int64_t fanout,
                                                const c10::optional<at::Tensor>& weight_opt, int64_t seed,
                                                int64_t hop) {
  // ---- validation (checks.h), before any graph memory is read
  const int64_t R = check_csr(rowptr_in, col_in);
  check_cpu(rowptr_in, "neighbor_sample_hop", "rowptr");
  TORCH_CHECK_VALUE(num_src >= 0, "gnnkit: neighbor_sample_hop: num_src must be >= 0, got ", num_src);
  TORCH_CHECK_VALUE(fanout >= -1, "gnnkit: neighbor_sample_hop: fanout = ", fanout,
                    " is invalid; use a count >= 0, or -1 for all neighbours");
  TORCH_CHECK_VALUE(hop >= 0, "gnnkit: neighbor_sample_hop: hop must be >= 0, got ", hop);
  check_defined(nodes_in, "nodes");
  check_defined(keys_in, "keys");
  check_index_dtype(nodes_in, "nodes");
  check_index_dtype(keys_in, "keys");
  check_dim(nodes_in, 1, "nodes", "[m]");
  check_dim(keys_in, 1, "keys", "[m]");
  check_cpu(nodes_in, "neighbor_sample_hop", "nodes");
  check_cpu(keys_in, "neighbor_sample_hop", "keys");
  TORCH_CHECK_VALUE(nodes_in.numel() == keys_in.numel(), "gnnkit: neighbor_sample_hop: 'nodes' has ",
                    nodes_in.numel(), " entries but 'keys' has ", keys_in.numel());
  at::Tensor weight = opt_arg(weight_opt);
  if (weight.defined()) {
    check_float_dtype(weight, "weight");
    check_cpu(weight, "neighbor_sample_hop", "weight");
    TORCH_CHECK_VALUE(weight.dim() == 1 && weight.size(0) == col_in.numel(), "gnnkit: 'weight' must have shape [",
                      col_in.numel(), "], got ", shape_str(weight));
    weight = contiguous_arg(weight, "weight");
    check_sample_weights_memo(weight);
  }
  const CsrArg csr = csr_arg_memo(rowptr_in, col_in, num_src);  // col holds global ids < num_src
  const at::Tensor& rowptr = csr.rowptr;
  const at::Tensor& col = csr.col;
  const int64_t E = csr.num_edges;
  const at::Tensor nodes = contiguous_arg(nodes_in, "nodes").to(at::kLong);
  const at::Tensor keys = contiguous_arg(keys_in, "keys").to(at::kLong);
  check_ids(nodes, R, "nodes");
  check_ids(keys, std::numeric_limits<int64_t>::max(), "keys");
  const int64_t m = nodes.numel();
  const int64_t* np_ = nodes.data_ptr<int64_t>();
  const int64_t* kp = keys.data_ptr<int64_t>();
  HopSample s;
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "neighbor_sample_hop_cpu", [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16,
                                    weight.defined() ? weight.scalar_type() : at::kFloat,
                                    "neighbor_sample_hop_cpu", [&] {
      const scalar_t* wp = weight.defined() ? weight.data_ptr<scalar_t>() : nullptr;
      Csr<index_t, scalar_t> g{rowptr.data_ptr<int64_t>(), col.data_ptr<index_t>(), wp, nullptr, num_src, E};
      sample_hop(g, np_, m, fanout, static_cast<uint64_t>(seed), hop, 0, s, kp);
    });
  });
  // Compact the per-node slots (a slot holds up to its bound, cnt[i] of them used).
  std::vector<int64_t> src, pos, cnt(s.cnt.begin(), s.cnt.end());
  int64_t total = 0;
  for (int64_t i = 0; i < m; ++i) total += s.cnt[i];
  src.reserve(total);
  pos.reserve(total);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t t = 0; t < s.cnt[i]; ++t) {
      src.push_back(s.src[s.off[i] + t]);
      pos.push_back(s.eid[s.off[i] + t]);
    }
  return {to_tensor(cnt), to_tensor(src), to_tensor(pos)};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) {
  m.impl("neighbor_sample", &neighbor_sample_cpu);
  m.impl("neighbor_sample_hop", &neighbor_sample_hop_cpu);
}

}  // namespace gnnkit
