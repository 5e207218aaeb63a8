r"""The SAGEConv step ``X' = mean(A) X W_l^T + b + X_dst W_r^T`` as one autograd node.

Used by :class:`gnnkit.nn.SAGEConv` for ``aggr='mean'|'sum'`` when it aggregates before the
linear map (always the case on sampled blocks) and ``x_dst`` is the first ``N_dst`` rows of ``x``
(a block, or a whole graph).  Composed from separate ops, autograd would

- add the two linear terms in an extra pass (here the root term accumulates into the other
  term's GEMM output: ``torch.addmm``-style ``out.addmm_(x_dst, W_r^T)``), and
- back-propagate the slice ``x[:N_dst]`` through ``SliceBackward``, which materialises a
  zero-filled ``[N_src, F_in]`` gradient and then adds it to the aggregation's gradient (two
  full-size passes over the largest tensor of a block layer); here the root gradient
  ``G W_r`` accumulates in place into the first ``N_dst`` rows of the aggregation's gradient.

Backward: :math:`\partial X = A_\mathrm{mean}^\top (G W_l)` (the transposed-CSR spmm of
``gnnkit.ops``, rows of :math:`G W_l` scaled by :math:`1/\deg` for the mean), then
:math:`\partial X_{[:N_\mathrm{dst}]} \mathrel{+}= G W_r`;
:math:`\partial W_l = G^\top \bar X`, :math:`\partial b = \sum_i G_i`,
:math:`\partial W_r = G^\top X_{[:N_\mathrm{dst}]}`.  It saves ``x`` (an input) and the
aggregate :math:`\bar X` ``[N_dst, F_in]`` (what ``F.linear`` would save).  Results equal the
composed ops up to float rounding (tests/nn/test_sage_conv.py).  Not twice differentiable.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from gnnkit.ops import spmm
from gnnkit.ops._library import ops

__all__ = ["sage_mean_root"]


class _SageAggRoot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight_l, bias_l, weight_r, graph, reduce):
        agg = spmm(graph, x, reduce=reduce)  # [N_dst, F_in]; autograd is off inside forward
        out = F.linear(agg, weight_l, bias_l)
        out.addmm_(x[:agg.shape[0]], weight_r.t())
        ctx.save_for_backward(x, agg, weight_l, weight_r)
        ctx.graph, ctx.mean = graph, reduce == "mean"
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, agg, weight_l, weight_r = ctx.saved_tensors
        need_x, need_wl, need_b, need_wr = ctx.needs_input_grad[:4]
        n_dst = agg.shape[0]
        grad = grad.contiguous()
        gx = gwl = gb = gwr = None
        if need_wl:
            gwl = grad.t().mm(agg)
        if need_b:
            gb = grad.sum(0)
        if need_wr:
            gwr = grad.t().mm(x[:n_dst])
        if need_x:
            g_agg = grad.mm(weight_l)  # [N_dst, F_in]
            if ctx.mean:
                deg = ctx.graph.indptr.diff().to(g_agg.dtype)
                g_agg.mul_(torch.where(deg > 0, 1.0 / deg.clamp(min=1), torch.zeros_like(deg)).unsqueeze(1))
            t_rowptr, t_col, _ = ctx.graph.transpose()
            gx = ops().spmm_sum(t_rowptr, t_col, None, g_agg.unsqueeze(1), False).squeeze(1)
            gx[:n_dst].addmm_(grad, weight_r)
        return gx, gwl, gb, gwr, None, None


def sage_mean_root(x: Tensor, graph, weight_l: Tensor, bias_l: Tensor | None, weight_r: Tensor,
                   reduce: str = "mean") -> Tensor:
    """``F.linear(spmm(graph, x, reduce), weight_l, bias_l) + x[:N_dst] @ weight_r.T`` with the
    fused backward described in the module docstring; ``reduce`` is ``'mean'`` or ``'sum'``,
    ``graph`` a :class:`gnnkit.Graph` or block without arc weights.

    Shapes: ``x [N_src, F_in]``, ``weight_l, weight_r [F_out, F_in]``, ``bias_l [F_out]`` ->
    ``[N_dst, F_out]``.
    """
    if reduce not in ("mean", "sum"):
        raise ValueError(f"sage_mean_root: reduce must be 'mean' or 'sum', got {reduce!r}")
    return _SageAggRoot.apply(x, weight_l, bias_l, weight_r, graph, reduce)
