// Autograd of gnnkit::batch_norm_relu, registered in C++ (TORCH_LIBRARY_IMPL(gnnkit, Autograd)).
//
// The other ops register their formulas from Python (gnnkit/ops/_library.py); this one runs 9 times
// per GIN training step on small tensors, where torch.library.register_autograd's Python wrapper
// cost ~65 us per forward call (measured: 80 us vs 13 us for the bare kernel on a [4, 128] input),
// more than the kernel itself.  The formula is the same: the backward op
// batch_norm_relu_backward(grad, x, out, weight, mean, var, eps, relu, training) with the ReLU
// mask read from the saved output; the batch statistics (outputs 1 and 2) are not differentiable.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <tuple>

namespace gnnkit {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using OptT = c10::optional<at::Tensor>;

std::tuple<at::Tensor, at::Tensor, at::Tensor> call_forward(const at::Tensor& x, const OptT& w, const OptT& b,
                                                            const OptT& mean, const OptT& var, double eps,
                                                            bool relu) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gnnkit::batch_norm_relu", "")
                       .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                           const at::Tensor&, const OptT&, const OptT&, const OptT&, const OptT&, double, bool)>();
  return op.call(x, w, b, mean, var, eps, relu);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> call_backward(const at::Tensor& g, const at::Tensor& x,
                                                             const at::Tensor& out, const OptT& w,
                                                             const at::Tensor& mean, const at::Tensor& var,
                                                             double eps, bool relu, bool training) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("gnnkit::batch_norm_relu_backward", "")
                       .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                           const at::Tensor&, const at::Tensor&, const at::Tensor&, const OptT&, const at::Tensor&,
                           const at::Tensor&, double, bool, bool)>();
  return op.call(g, x, out, w, mean, var, eps, relu, training);
}

class BatchNormReLUFunction : public torch::autograd::Function<BatchNormReLUFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const OptT& weight, const OptT& bias,
                               const OptT& mean, const OptT& var, double eps, bool relu) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, save_mean, save_var] = call_forward(x, weight, bias, mean, var, eps, relu);
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["relu"] = relu;
    ctx->saved_data["training"] = !mean.has_value();
    ctx->saved_data["has_weight"] = weight.has_value() && weight->defined();
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    ctx->save_for_backward({x, relu ? out : at::Tensor(), weight.value_or(at::Tensor()), save_mean, save_var});
    ctx->mark_non_differentiable({save_mean, save_var});
    return {out, save_mean, save_var};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &out = saved[1], &w = saved[2], &mean = saved[3], &var = saved[4];
    const bool relu = ctx->saved_data["relu"].toBool();
    const bool has_w = ctx->saved_data["has_weight"].toBool(), has_b = ctx->saved_data["has_bias"].toBool();
    at::Tensor g = grads[0].defined() ? grads[0].contiguous() : at::zeros_like(x);
    auto [gx, gw, gb] = call_backward(g, x, relu ? out : x, has_w ? OptT(w) : OptT(), mean, var,
                                      ctx->saved_data["eps"].toDouble(), relu, ctx->saved_data["training"].toBool());
    return {gx, has_w ? gw : at::Tensor(), has_b ? gb : at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_norm_relu_autograd(const at::Tensor& x, const OptT& weight,
                                                                        const OptT& bias, const OptT& mean,
                                                                        const OptT& var, double eps, bool relu) {
  auto r = BatchNormReLUFunction::apply(x, weight, bias, mean, var, eps, relu);
  return {r[0], r[1], r[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(gnnkit, Autograd, m) { m.impl("batch_norm_relu", &batch_norm_relu_autograd); }

}  // namespace gnnkit
