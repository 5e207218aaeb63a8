// CPU kernel of the uniform random walks of GraphSAINT's random-walk sampler (Zeng et al. 2020,
// https://arxiv.org/abs/1907.04931, Algorithm 2 with the "rw" sampler).
//
// The walks run on the project's walk engine (walk::walk_one, csrc/random_walk.h, shared with
// random_walk's CPU and CUDA kernels).  The engine steps along the rows of whatever CSR it is
// given; here that is the gnnkit CSR itself, so a step from v moves to a uniformly chosen
// in-neighbour j (an arc j -> v, i.e. a CSR entry of row v; for an undirected graph: a uniform
// neighbour).  With Params::stay_on_dead_end a node without in-arcs keeps the walk where it is
// (as torch_cluster's random_walk) instead of padding -1.  Walk w draws only from the stream
// (seed, w) (csrc/rng.h), so walks do not depend on the thread count.
//
// Input checks: those of random_walk (check_random_walk, csrc/op_checks.h): the O(N + E) CSR pass
// runs once per unchanged large (rowptr, col) (validation memo, csrc/memo.h), since one call walks
// O(num_roots * walk_length) steps and the GraphSAINT sampler calls it per subgraph on the same
// graph.  walk_one checks every row bound and id before following it, and the error raised is that
// of the smallest failing walk id (thread-count independent), so a CSR changed behind torch's
// version counter gives a typed error, never an out-of-bounds read.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>


#include "op_checks.h"
#include "random_walk.h"
#include "cpu/walk_errors.h"

namespace gnnkit {
namespace {

at::Tensor saint_random_walk_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& start_in,
                                 int64_t walk_length, int64_t seed) {
  // the walk check of random_walk (csrc/op_checks.h) with uniform parameters, CPU only
  check_csr(rowptr_in, col_in);
  check_cpu(rowptr_in, "saint_random_walk", "rowptr");
  const auto A = check_random_walk(rowptr_in, col_in, start_in, walk_length, 1.0, 1.0, 0.0);
  const at::Tensor& rowptr = A.csr.rowptr;
  const at::Tensor& col = A.csr.col;
  const at::Tensor& start = A.start;
  const int64_t N = A.csr.num_rows, E = A.csr.num_edges;
  const int64_t B = start.numel();
  const int64_t* st = start.data_ptr<int64_t>();
  auto out = alloc("walks", {B, walk_length + 1}, start.options());
  if (B == 0) return out;

  walk::Params P{};
  P.mode = walk::kUniform;
  P.inv_p = P.inv_q = P.upper = P.lower = 1.0;
  P.restart = 0.0;
  P.stay_on_dead_end = true;
  int64_t* op = out.data_ptr<int64_t>();
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const uint64_t useed = static_cast<uint64_t>(seed);
  // walk_one checks every row / column entry before following it (required by the memo) and
  // reports the first bad one.
  FirstWalkError err;
  AT_DISPATCH_INDEX_TYPES(col.scalar_type(), "saint_random_walk_cpu", [&] {
    const index_t* cp = col.data_ptr<index_t>();
    at::parallel_for(0, B, 64, [&](int64_t b, int64_t e) {
      for (int64_t w = b; w < e; ++w) {
        int64_t where = 0;
        const int code = walk::walk_one<index_t>(rp, cp, N, E, st[w], walk_length, P, useed,
                                                 static_cast<uint64_t>(w), op + w * (walk_length + 1), &where);
        if (code != walk::kOk) {
          err.report(w, code, where);
          return;  // later walks of this chunk cannot hold a smaller failing id
        }
      }
    });
    err.raise_if_any(rp, cp, N, E);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) { m.impl("saint_random_walk", &saint_random_walk_cpu); }

}  // namespace gnnkit
