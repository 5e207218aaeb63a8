// CPU kernels for edge_softmax: a numerically stable softmax of per-arc scores over the arcs of
// each destination row, per head, and its backward  grad_s = y * (g - sum_row(y * g)).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <vector>

#include "op_checks.h"
#include "parallel.h"

namespace gnnkit {
namespace {

// Non-finite scores follow torch.softmax: a (row, head) holding a NaN or a +inf, or whose scores
// are all -inf, gives NaN for every arc of that row and head; -inf next to finite scores gives 0.
at::Tensor edge_softmax_cpu(const at::Tensor& rowptr_in, const at::Tensor& scores_in) {
  const auto checked = check_edge_softmax(rowptr_in, scores_in, "scores");  // csrc/op_checks.h
  const at::Tensor& rowptr = checked.first;
  const at::Tensor& s = checked.second;
  const int64_t N = rowptr.numel() - 1, H = s.size(1);
  auto out = alloc("out", s.sizes(), s.options());
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.scalar_type(), "edge_softmax_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* sp = s.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    parallel_rows(rp, N, [&](int64_t r0, int64_t r1) {
      std::vector<acc_t> mx(H), sum(H);
      std::vector<char> poisoned(H);
      for (int64_t i = r0; i < r1; ++i) {
        const int64_t lo = rp[i], hi = rp[i + 1];
        if (lo == hi) continue;
        std::fill(mx.begin(), mx.end(), -std::numeric_limits<acc_t>::infinity());
        std::fill(sum.begin(), sum.end(), acc_t(0));
        std::fill(poisoned.begin(), poisoned.end(), 0);
        for (int64_t k = lo; k < hi; ++k)
          for (int64_t h = 0; h < H; ++h) {
            const acc_t v = static_cast<acc_t>(sp[k * H + h]);
            if (v != v) poisoned[h] = 1;
            else if (v > mx[h]) mx[h] = v;
          }
        for (int64_t h = 0; h < H; ++h)  // +inf in the row, or every score -inf: NaN (torch)
          if (std::isinf(mx[h])) poisoned[h] = 1;
        for (int64_t k = lo; k < hi; ++k)
          for (int64_t h = 0; h < H; ++h) sum[h] += std::exp(static_cast<acc_t>(sp[k * H + h]) - mx[h]);
        for (int64_t k = lo; k < hi; ++k)
          for (int64_t h = 0; h < H; ++h) {
            const acc_t e = std::exp(static_cast<acc_t>(sp[k * H + h]) - mx[h]);
            op[k * H + h] = static_cast<scalar_t>(poisoned[h] ? std::numeric_limits<acc_t>::quiet_NaN() : e / sum[h]);
          }
      }
    });
  });
  return out;
}

at::Tensor edge_softmax_backward_cpu(const at::Tensor& rowptr_in, const at::Tensor& y_in,
                                     const at::Tensor& g_in) {
  const auto checked = check_edge_softmax_backward(rowptr_in, y_in, g_in);  // csrc/op_checks.h
  const at::Tensor& rowptr = std::get<0>(checked);
  const at::Tensor& y = std::get<1>(checked);
  const at::Tensor& g = std::get<2>(checked);
  const int64_t N = rowptr.numel() - 1, H = y.size(1);
  auto gs = alloc("grad_scores", y.sizes(), y.options());
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, y.scalar_type(), "edge_softmax_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* yp = y.data_ptr<scalar_t>();
    const scalar_t* gp = g.data_ptr<scalar_t>();
    scalar_t* op = gs.data_ptr<scalar_t>();
    parallel_rows(rp, N, [&](int64_t r0, int64_t r1) {
      std::vector<acc_t> dot(H);
      for (int64_t i = r0; i < r1; ++i) {
        const int64_t lo = rp[i], hi = rp[i + 1];
        std::fill(dot.begin(), dot.end(), acc_t(0));
        for (int64_t k = lo; k < hi; ++k)
          for (int64_t h = 0; h < H; ++h)
            dot[h] += static_cast<acc_t>(yp[k * H + h]) * static_cast<acc_t>(gp[k * H + h]);
        for (int64_t k = lo; k < hi; ++k)
          for (int64_t h = 0; h < H; ++h)
            op[k * H + h] = static_cast<scalar_t>(static_cast<acc_t>(yp[k * H + h]) *
                                                  (static_cast<acc_t>(gp[k * H + h]) - dot[h]));
      }
    });
  });
  return gs;
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, CPU, m) {
  m.impl("edge_softmax", &edge_softmax_cpu);
  m.impl("edge_softmax_backward", &edge_softmax_backward_cpu);
}

}  // namespace gnnkit
