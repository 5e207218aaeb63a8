r"""One autograd node per GIN layer in training mode on the CPU (used by :class:`gnnkit.nn.gin.GIN`).

A GIN layer followed by the model's BatchNorm (+ ReLU),

.. math::
    \mathbf{y} = a\Big(\mathrm{BN}_o\big(W_2\,\mathrm{ReLU}(\mathrm{BN}_1(W_1 \mathbf{h} + b_1)) + b_2\big)\Big),
    \qquad \mathbf{h} = (1 + \epsilon)\,\mathbf{x} + A\,\mathbf{x},

runs as one ``torch.autograd.Function`` over gnnkit's C++ ops (``spmm_sum``, ``batch_norm_relu``
and its backward) and ``torch.mm``, with a hand-written backward: one graph node instead of ~10
(spmm, add, two addmm, two fused BN + ReLU), no bias broadcast copies and no bias-gradient
passes. Shapes: ``x [N, d]``, ``W_1 [m, d]``, ``W_2 [d', m]`` -> ``[N, d']``.

**The biases before a training-mode BatchNorm cancel**: :math:`\mathrm{BN}(z + b) = \mathrm{BN}(z)`
with batch statistics, so :math:`b_1, b_2` do not change the output and their gradient is exactly 0
(returned as zeros; the unfused path computes it as a sum that rounds to ~1e-7). They only shift
the batch mean that feeds the running statistics, which are updated with ``mean + b`` exactly as
:class:`gnnkit.nn.BatchNormReLU` would. Evaluation mode (running statistics) is not fused.

Measured with ``experiments/probe_gin_step.py`` (``fuse_layers`` on vs off): 1.08-1.15x on the
benchmark's GIN training step (3 layers, hidden 64, 128 molecule-sized graphs per batch); the
figures are in ``experiments/RESULTS.md``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gnnkit.nn.batch_norm import BatchNormReLU
from gnnkit.ops import _common
from gnnkit.ops._library import ops

__all__ = ["can_fuse", "gin_layer"]


def _bn_ok(bn) -> bool:
    return (isinstance(bn, BatchNormReLU) and bn.affine and bn.track_running_stats
            and bn.running_mean is not None and bn.num_batches_tracked is not None)


def can_fuse(conv, bn, x: Tensor, graph) -> bool:
    """Whether ``bn(conv(x, graph))`` may run as one node, for ``conv`` a GINConv (the caller,
    :class:`gnnkit.nn.gin.GIN`, checks the type: GINE layers have edge features): training mode,
    its Linear-BatchNormReLU-Identity-Linear MLP, tracked affine BatchNormReLUs, a 2-D float32 /
    float64 CPU input with >= 2 rows, no autocast, and an unweighted CSR graph on the CPU."""
    if not (conv.training and bn.training):
        return False
    mlp = conv.mlp
    if not (len(mlp) == 4 and isinstance(mlp[0], nn.Linear) and mlp[0].bias is not None
            and _bn_ok(mlp[1]) and mlp[1].relu and isinstance(mlp[2], nn.Identity)
            and isinstance(mlp[3], nn.Linear) and mlp[3].bias is not None and _bn_ok(bn)):
        return False
    if not (isinstance(x, Tensor) and x.device.type == "cpu" and x.dim() == 2 and x.shape[0] >= 2
            and x.dtype in (torch.float32, torch.float64) and not torch.is_autocast_enabled("cpu")):
        return False
    params = [mlp[0].weight, mlp[1].weight, mlp[1].bias, mlp[3].weight, bn.weight, bn.bias]
    if conv.eps is not None:
        params.append(conv.eps)
    if any(p.dtype != x.dtype or p.device.type != "cpu" for p in params):
        return False
    indptr = getattr(graph, "indptr", None)
    # a weighted graph: GINConv's spmm sums w_uv x_u; the fused layer sums x_u (unweighted GIN)
    return (isinstance(indptr, Tensor) and indptr.device.type == "cpu"
            and getattr(graph, "edge_weight", None) is None)


class _GINLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, eps, w1, lb1, g1, b1, w2, lb2, g2, b2, rowptr, col, trans, bn_eps1, bn_eps2, relu_out):
        # lb1, lb2: the Linear biases, inputs only so that they get their (zero) gradient
        C = ops()
        scale = 1.0 + (float(eps) if eps is not None else 0.0)
        agg = C.spmm_sum(rowptr, col, None, x.unsqueeze(1), False).squeeze(1)
        h = agg.add_(x, alpha=scale)                                     # (1 + eps) x + A x
        h1 = torch.mm(h, w1.t())
        r1, m1, v1 = C.batch_norm_relu(h1, g1, b1, None, None, bn_eps1, True)
        h2 = torch.mm(r1, w2.t())
        out, m2, v2 = C.batch_norm_relu(h2, g2, b2, None, None, bn_eps2, relu_out)
        ctx.save_for_backward(x, h, h1, r1, h2, out, w1, g1, w2, g2, m1, v1, m2, v2)
        ctx.trans, ctx.scale, ctx.has_eps = trans, scale, eps is not None
        ctx.bn_eps, ctx.relu_out = (bn_eps1, bn_eps2), relu_out
        ctx.mark_non_differentiable(m1, v1, m2, v2)
        return out, m1, v1, m2, v2

    @staticmethod
    def backward(ctx, g, *_):
        C = ops()
        x, h, h1, r1, h2, out, w1, g1, w2, g2, m1, v1, m2, v2 = ctx.saved_tensors
        e1, e2 = ctx.bn_eps
        gh2, gg2, gb2 = C.batch_norm_relu_backward(g.contiguous(), h2, out if ctx.relu_out else h2, g2, m2, v2,
                                                   e2, ctx.relu_out, True)
        gw2, gr1 = torch.mm(gh2.t(), r1), torch.mm(gh2, w2)
        gh1, gg1, gb1 = C.batch_norm_relu_backward(gr1, h1, r1, g1, m1, v1, e1, True, True)
        gw1, gh = torch.mm(gh1.t(), h), torch.mm(gh1, w1)
        t_rowptr, t_col, _ = ctx.trans
        geps = (x * gh).sum().reshape(1) if ctx.has_eps else None
        gx = C.spmm_sum(t_rowptr, t_col, None, gh.unsqueeze(1), False).squeeze(1).add_(gh, alpha=ctx.scale)
        # the Linear biases before a training-mode BN have gradient exactly 0 (module docstring)
        return (gx, geps, gw1, torch.zeros_like(gg1), gg1, gb1, gw2, torch.zeros_like(gg2), gg2, gb2,
                None, None, None, None, None, None)


def _update_running(bn: BatchNormReLU, mean: Tensor, var: Tensor, shift: Tensor, n: int) -> None:
    # BatchNormReLU.forward's bookkeeping: counter, then the factor (momentum or cumulative average)
    bn.num_batches_tracked.add_(1)
    factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    ops().batch_norm_update_stats(bn.running_mean, bn.running_var, mean + shift, var, n, float(factor))


def gin_layer(conv, bn, x: Tensor, graph) -> Tensor:
    """``bn(conv(x, graph))`` as one autograd node (call only where :func:`can_fuse` holds)."""
    rowptr, col, num_dst, num_src = _common.csr(graph)
    if num_dst != x.shape[0] or num_src != x.shape[0]:
        return bn(conv(x, graph))  # a bipartite block or a row mismatch: the modules and their checks
    lin1, bn1, lin2 = conv.mlp[0], conv.mlp[1], conv.mlp[3]
    out, m1, v1, m2, v2 = _GINLayer.apply(
        x, conv.eps, lin1.weight, lin1.bias, bn1.weight, bn1.bias, lin2.weight, lin2.bias, bn.weight, bn.bias,
        rowptr, col, graph.transpose(), float(bn1.eps), float(bn.eps), bool(bn.relu))
    with torch.no_grad():
        _update_running(bn1, m1, v1, lin1.bias, x.shape[0])
        _update_running(bn, m2, v2, lin2.bias, x.shape[0])
    return out
