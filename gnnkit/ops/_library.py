"""Autograd formulas and fake (meta) kernels for the ``torch.ops.gnnkit`` ops.

The schemas and device kernels live in C++ (``csrc/gnnkit.cpp``, ``csrc/cpu``, ``csrc/cuda``);
this module registers, once and on first use, how each op differentiates and what shapes it
produces without running (for ``torch.compile`` / ``torch.library.opcheck``).
"""
from __future__ import annotations

import threading

import torch

from gnnkit import _ext

_lock = threading.Lock()
_done = False


def ops():
    """Return ``torch.ops.gnnkit`` after loading the extension and registering autograd/fakes."""
    global _done
    if not _done:
        with _lock:
            if not _done:
                _ext.load()
                _register()
                _done = True
    return torch.ops.gnnkit


def transpose_csr(rowptr: torch.Tensor, col: torch.Tensor, num_src: int):
    """Transpose of a destination-major CSR (see :func:`gnnkit._graph_utils.csr_transpose`)."""
    from gnnkit._graph_utils import csr_transpose

    return csr_transpose(rowptr, col, num_src)


def _transposed(ctx, col_dtype_ref):
    if ctx.t_rowptr is None:
        ctx.t_rowptr, ctx.t_col, ctx.t_perm = transpose_csr(ctx.rowptr, ctx.col, ctx.num_src)
    return ctx.t_rowptr, ctx.t_col, ctx.t_perm


def _edge_scale(rowptr: torch.Tensor, dtype) -> torch.Tensor:
    """1/in-degree of each arc's destination (mean aggregation), as an [E, 1] tensor."""
    deg = rowptr.diff()
    inv = torch.where(deg > 0, 1.0 / deg.clamp(min=1).to(dtype), torch.zeros((), dtype=dtype,
                                                                              device=rowptr.device))
    return torch.repeat_interleave(inv, deg).unsqueeze(1)


def _register():
    lib = "gnnkit::"

    # ---------------------------------------------------------------- spmm_sum
    @torch.library.register_fake(lib + "spmm_sum")
    def _(rowptr, col, value, x, mean, t_rowptr=None, t_col=None, t_perm=None):
        return x.new_empty(rowptr.shape[0] - 1, x.shape[1], x.shape[2])

    def spmm_sum_setup(ctx, inputs, output):
        rowptr, col, value, x, mean, t_rowptr, t_col, t_perm = inputs
        ctx.rowptr, ctx.col, ctx.value, ctx.x, ctx.mean = rowptr, col, value, x, mean
        ctx.t_rowptr, ctx.t_col, ctx.t_perm = t_rowptr, t_col, t_perm
        ctx.num_src = x.shape[0]

    def spmm_sum_backward(ctx, grad):
        rowptr, col, value, x = ctx.rowptr, ctx.col, ctx.value, ctx.x
        H = x.shape[1]
        grad = grad.contiguous()
        gx = gv = None
        scale = _edge_scale(rowptr, x.dtype) if ctx.mean else None
        if ctx.needs_input_grad[3]:
            t_rowptr, t_col, t_perm = _transposed(ctx, col)
            w = value
            if scale is not None:
                w = scale.expand(-1, H) if w is None else w * scale
            w_t = None if w is None else w[t_perm].contiguous()
            gx = torch.ops.gnnkit.spmm_sum(t_rowptr, t_col, w_t, grad, False)
        if value is not None and ctx.needs_input_grad[2]:
            gv = torch.ops.gnnkit.sddmm(rowptr, col, grad, x)
            if scale is not None:
                gv = gv * scale
        return None, None, gv, gx, None, None, None, None

    torch.library.register_autograd(lib + "spmm_sum", spmm_sum_backward, setup_context=spmm_sum_setup)

    # ---------------------------------------------------------------- spmm_arg (max / min)
    @torch.library.register_fake(lib + "spmm_arg")
    def _(rowptr, col, value, x, reduce):
        n = rowptr.shape[0] - 1
        return x.new_empty(n, x.shape[1]), x.new_empty(n, x.shape[1], dtype=torch.long)

    @torch.library.register_fake(lib + "spmm_arg_backward")
    def _(col, value, x, grad_out, arg, need_x, need_value):
        gx = torch.empty_like(x) if need_x else x.new_empty(0)
        gv = x.new_empty(col.shape[0]) if (need_value and value is not None) else x.new_empty(0)
        return gx, gv

    def spmm_arg_setup(ctx, inputs, output):
        rowptr, col, value, x, reduce = inputs
        ctx.col, ctx.value, ctx.x = col, value, x
        ctx.arg = output[1]
        ctx.mark_non_differentiable(output[1])

    def spmm_arg_backward(ctx, grad, _grad_arg):
        need_x = ctx.needs_input_grad[3]
        need_v = ctx.value is not None and ctx.needs_input_grad[2]
        gx, gv = torch.ops.gnnkit.spmm_arg_backward(ctx.col, ctx.value, ctx.x, grad.contiguous(), ctx.arg,
                                                    need_x, need_v)
        return None, None, (gv if need_v else None), (gx if need_x else None), None

    torch.library.register_autograd(lib + "spmm_arg", spmm_arg_backward, setup_context=spmm_arg_setup)

    # ---------------------------------------------------------------- sddmm
    @torch.library.register_fake(lib + "sddmm")
    def _(rowptr, col, a, b, t_rowptr=None, t_col=None, t_perm=None):
        return a.new_empty(col.shape[0], a.shape[1])

    def sddmm_setup(ctx, inputs, output):
        rowptr, col, a, b, t_rowptr, t_col, t_perm = inputs
        ctx.rowptr, ctx.col, ctx.a, ctx.b = rowptr, col, a, b
        ctx.t_rowptr, ctx.t_col, ctx.t_perm = t_rowptr, t_col, t_perm
        ctx.num_src = b.shape[0]

    def sddmm_backward(ctx, grad):
        grad = grad.contiguous()
        ga = gb = None
        if ctx.needs_input_grad[2]:
            ga = torch.ops.gnnkit.spmm_sum(ctx.rowptr, ctx.col, grad, ctx.b, False)
        if ctx.needs_input_grad[3]:
            t_rowptr, t_col, t_perm = _transposed(ctx, ctx.col)
            gb = torch.ops.gnnkit.spmm_sum(t_rowptr, t_col, grad[t_perm].contiguous(), ctx.a, False)
        return None, None, ga, gb, None, None, None

    torch.library.register_autograd(lib + "sddmm", sddmm_backward, setup_context=sddmm_setup)

    # ---------------------------------------------------------------- edge_softmax
    @torch.library.register_fake(lib + "edge_softmax")
    def _(rowptr, scores):
        return torch.empty_like(scores)

    @torch.library.register_fake(lib + "edge_softmax_backward")
    def _(rowptr, out, grad_out):
        return torch.empty_like(out)

    def softmax_setup(ctx, inputs, output):
        ctx.rowptr = inputs[0]
        ctx.out = output

    def softmax_backward(ctx, grad):
        return None, torch.ops.gnnkit.edge_softmax_backward(ctx.rowptr, ctx.out, grad.contiguous())

    torch.library.register_autograd(lib + "edge_softmax", softmax_backward, setup_context=softmax_setup)

    # ---------------------------------------------------------------- fused GAT attention
    def _lse_dtype(dtype):
        return dtype if dtype in (torch.float32, torch.float64) else torch.float32

    @torch.library.register_fake(lib + "gat_attention")
    def _(rowptr, col, x, a_src, a_dst, negative_slope, dropout, seed, t_rowptr=None, t_col=None,
          t_perm=None):
        n = rowptr.shape[0] - 1
        return x.new_empty(n, x.shape[1], x.shape[2]), x.new_empty(n, x.shape[1], dtype=_lse_dtype(x.dtype))

    @torch.library.register_fake(lib + "gat_attention_backward")
    def _(rowptr, col, t_rowptr, t_col, t_perm, x, a_src, a_dst, out, lse, grad_out, negative_slope,
          dropout, seed):
        return torch.empty_like(x), torch.empty_like(a_src), torch.empty_like(a_dst)

    def gat_setup(ctx, inputs, output):
        (rowptr, col, x, a_src, a_dst, slope, p, seed, t_rowptr, t_col, t_perm) = inputs
        ctx.rowptr, ctx.col, ctx.x, ctx.a_src, ctx.a_dst = rowptr, col, x, a_src, a_dst
        ctx.slope, ctx.p, ctx.seed = slope, p, seed
        ctx.t_rowptr, ctx.t_col, ctx.t_perm = t_rowptr, t_col, t_perm
        ctx.num_src = x.shape[0]
        ctx.out, ctx.lse = output
        ctx.mark_non_differentiable(output[1])

    def gat_backward(ctx, grad_out, _grad_lse):
        t_rowptr, t_col, t_perm = _transposed(ctx, ctx.col)
        gx, gas, gad = torch.ops.gnnkit.gat_attention_backward(
            ctx.rowptr, ctx.col, t_rowptr, t_col, t_perm, ctx.x, ctx.a_src, ctx.a_dst, ctx.out, ctx.lse,
            grad_out.contiguous(), ctx.slope, ctx.p, ctx.seed)
        return None, None, gx, gas, gad, None, None, None, None, None, None

    torch.library.register_autograd(lib + "gat_attention", gat_backward, setup_context=gat_setup)

    # ---------------------------------------------------------------- gather_rows (loader fetcher)
    @torch.library.register_fake(lib + "gather_rows")
    def _(src, index):
        torch._check(src.dim() >= 1 and index.dim() == 1, lambda: "gather_rows: src [N, ...], index [M]")
        return src.new_empty((index.shape[0], *src.shape[1:]))
