// CPU negative sampling for link prediction and embeddings (schema in csrc/gnnkit.cpp): the
// per-sample algorithm of csrc/negative_sample.h (read its header comment first) over
// at::parallel_for, with weighted candidates drawn from Vose's alias table (csrc/cpu/alias_table.h).
// Arguments are checked by check_negative_sample (csrc/op_checks.h), the kernel's failures raised by
// raise_negative_sample_failure: the same functions as the CUDA kernel.
//
// Determinism: sample i draws only from the counter-keyed stream (seed, i) of csrc/rng.h, and the
// error raised is the one of the smallest failing sample (FirstFailure), so the output and the
// message are identical for any thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <memory>
#include <vector>

#include "cpu/alias_table.h"
#include "cpu/first_failure.h"
#include "negative_sample.h"
#include "op_checks.h"
#include "rng.h"

namespace gnnkit {
namespace {

// Sampler's weighted draw on the CPU: O(1) from the alias table.
struct AliasDraw {
  const AliasTable* table;
  int64_t operator()(rng::Xoshiro256& g) const { return table->draw(g); }
};

std::vector<at::Tensor> negative_sample_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                            const c10::optional<at::Tensor>& anchor_in, int64_t num_samples,
                                            int64_t num_candidates, const c10::optional<at::Tensor>& weight_in,
                                            bool strict, bool exclude_self, int64_t seed) {
  const int64_t C = num_candidates;
  const NegativeSampleArgs A =
      check_negative_sample(rowptr_in, col_in, anchor_in, num_samples, C, weight_in, strict, exclude_self);
  const auto opts = A.csr.rowptr.options().dtype(at::kLong);
  at::Tensor out_a = alloc("negatives", A.out_sizes, opts);
  at::Tensor out_b = alloc("negatives", A.out_sizes, opts);
  if (A.n == 0) return {out_a, out_b};
  const int64_t R = A.csr.num_rows;
  const double* wp = A.weight.defined() ? A.weight.data_ptr<double>() : nullptr;
  std::unique_ptr<AliasTable> alias;
  if (wp) alias.reset(new AliasTable(wp, C));
  int64_t* oa = out_a.data_ptr<int64_t>();
  int64_t* ob = out_b.data_ptr<int64_t>();
  FirstFailure fail;

  AT_DISPATCH_INDEX_TYPES(A.csr.col.scalar_type(), "negative_sample_cpu", [&] {
    neg::Sampler<index_t, AliasDraw> S{A.csr.rowptr.data_ptr<int64_t>(), A.csr.col.data_ptr<index_t>(),
                                       R, C, A.csr.num_edges, wp, A.weight_total, AliasDraw{alias.get()},
                                       strict, exclude_self, A.path, static_cast<uint64_t>(seed),
                                       A.anchor.defined() ? A.anchor.data_ptr<int64_t>() : nullptr, A.K,
                                       nullptr, nullptr};
    std::vector<double> mass, cum;
    if (A.path == neg::kPairByMass) {
      // pass 1: every row's admissible mass; the smallest malformed row first, then the smallest
      // malformed CSR position, as the CUDA kernel reports them
      mass.assign(R, 0.0);
      FirstFailure bad_rowptr, bad_col;
      at::parallel_for(0, R, 256, [&](int64_t r0, int64_t r1) {
        for (int64_t a = r0; a < r1; ++a) {
          int64_t where = 0;
          const int code = S.row_mass(a, &mass[a], &where);
          if (code != neg::kNone) (code == neg::kBadRowptr ? bad_rowptr : bad_col).report(a, code, where);
        }
      });
      for (const FirstFailure* f : {&bad_rowptr, &bad_col})
        if (f->any()) raise_negative_sample_failure(f->code, f->where, 0, A, num_samples, C, exclude_self);
      cum.assign(R + 1, 0.0);
      for (int64_t a = 0; a < R; ++a) cum[a + 1] = cum[a] + mass[a];
      S.mass = mass.data();
      S.cum = cum.data();
    }
    at::parallel_for(0, A.n, 1024, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        int64_t where = 0;
        const int code = S.sample(i, oa + i, ob + i, &where);
        if (code != neg::kNone) { fail.report(i, code, where); return; }
      }
    });
  });

  if (fail.any()) raise_negative_sample_failure(fail.code, fail.where, fail.item, A, num_samples, C, exclude_self);
  return {out_a, out_b};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) { m.impl("negative_sample", &negative_sample_cpu); }

}  // namespace gnnkit
