// CPU kernel for sddmm: per-arc, per-head dot products out[k,h] = <a[i,h,:], b[col[k],h,:]>
// for every arc k of destination row i.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "op_checks.h"
#include "parallel.h"
#include "cpu/vec.h"

namespace gnnkit {
namespace {

at::Tensor sddmm_cpu(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& a_in,
                     const at::Tensor& b_in) {
  const auto A = check_sddmm(rowptr, col, a_in, b_in);  // csrc/op_checks.h
  const int64_t N = A.csr.num_rows, E = A.csr.num_edges;
  const auto& a = A.a;
  const auto& b = A.b;
  const int64_t Ns = b.size(0), H = a.size(1), D = a.size(2), F = H * D;
  auto out = alloc_zeros("out", {E, H}, a.options());
  if (E == 0) return out;
  const int64_t* rp = A.csr.rowptr.data_ptr<int64_t>();
  AT_DISPATCH_INDEX_TYPES(A.csr.col.scalar_type(), "sddmm_cpu", [&] {
    const index_t* cp = A.csr.col.data_ptr<index_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "sddmm_cpu", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* ap = a.data_ptr<scalar_t>();
      const scalar_t* bp = b.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      parallel_rows(rp, N, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t lo = rp[i], hi = rp[i + 1];
          if (lo < 0 || hi < lo || hi > E) bad_row(i, lo, hi, E);
          const scalar_t* ar = ap + i * F;
          for (int64_t k = lo; k < hi; ++k) {
            const int64_t j = cp[k];
            if (j < 0 || j >= Ns) bad_col(k, j, Ns);
            const scalar_t* br = bp + j * F;
            for (int64_t h = 0; h < H; ++h) {
              op[k * H + h] = static_cast<scalar_t>(dot<acc_t, scalar_t>(ar + h * D, br + h * D, D));
            }
          }
        }
      });
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) { m.impl("sddmm", &sddmm_cpu); }

}  // namespace gnnkit
