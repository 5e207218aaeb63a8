"""Autograd formulas and fake (meta) kernels for the ``torch.ops.gnnkit`` ops.

The schemas and device kernels live in C++ (``csrc/gnnkit.cpp``, ``csrc/cpu``, ``csrc/cuda``);
this module registers, once and on first use, how each op differentiates (tensors kept with
``ctx.save_for_backward``) and -- through :mod:`gnnkit.ops._fakes` -- what shapes each op
produces without running (for ``torch.compile`` / ``torch.library.opcheck``).
"""
from __future__ import annotations

import threading

import torch
from torch.utils.weak import WeakIdKeyDictionary

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
    """Transpose of a destination-major CSR (see :func:`gnnkit._graph_utils.csr_transpose`), for
    backward passes: the forward op has validated (rowptr, col) already, so no re-check here."""
    from gnnkit._graph_utils import csr_transpose

    return csr_transpose(rowptr, col, num_src, check=False)


# The transposed CSR that the backward of spmm_sum / sddmm pulls over.  Their schemas carry no
# transpose (no forward kernel reads one), so the Python wrappers hand the graph's cached
# transpose over here, keyed by the identity of the rowptr tensor (and checked against col and
# the source count): a backward finds it without a sort.  Called through torch.ops directly (or
# traced), the backward transposes the CSR itself.  Entries die with their rowptr tensor.
_transposes = WeakIdKeyDictionary()


def remember_transpose(rowptr: torch.Tensor, col: torch.Tensor, t) -> None:
    """Record ``t = (t_rowptr, t_col, t_perm)`` as the transpose of ``(rowptr, col)``."""
    if t is not None and t[0] is not None:
        _transposes[rowptr] = (col, t)


def _transposed(rowptr, col, num_src: int):
    entry = _transposes.get(rowptr)
    if entry is not None and entry[0] is col and entry[1][0].numel() == num_src + 1:
        return entry[1]
    return transpose_csr(rowptr, col, num_src)


def _edge_scale(rowptr: torch.Tensor, dtype) -> torch.Tensor:
    """1/in-degree of each arc's destination (mean aggregation), as an [E, 1] tensor."""
    deg = rowptr.diff()
    inv = torch.where(deg > 0, 1.0 / deg.clamp(min=1).to(dtype), torch.zeros((), dtype=dtype,
                                                                              device=rowptr.device))
    return torch.repeat_interleave(inv, deg).unsqueeze(1)


def _register():
    from gnnkit.ops import _fakes

    _fakes.register()
    lib = "gnnkit::"

    # ---------------------------------------------------------------- spmm_sum
    def spmm_sum_setup(ctx, inputs, output):
        rowptr, col, value, x, mean = inputs
        ctx.save_for_backward(rowptr, col, value, x)
        ctx.mean = mean
        ctx.num_src = x.shape[0]

    def spmm_sum_backward(ctx, grad):
        rowptr, col, value, x = ctx.saved_tensors
        H = x.shape[1]
        grad = grad.contiguous()
        gx = gv = None
        scale = _edge_scale(rowptr, x.dtype) if ctx.mean else None
        if ctx.needs_input_grad[3]:
            t_rowptr, t_col, t_perm = _transposed(rowptr, col, ctx.num_src)
            w = value
            if scale is not None:
                w = scale.expand(-1, H) if w is None else w * scale
            w_t = None if w is None else w[t_perm].contiguous()
            gx = torch.ops.gnnkit.spmm_sum(t_rowptr, t_col, w_t, grad, False)
        if value is not None and ctx.needs_input_grad[2]:
            gv = torch.ops.gnnkit.sddmm(rowptr, col, grad, x)
            if scale is not None:
                gv = gv * scale
        return None, None, gv, gx, None

    torch.library.register_autograd(lib + "spmm_sum", spmm_sum_backward, setup_context=spmm_sum_setup)

    # ---------------------------------------------------------------- spmm_arg (max / min)
    def spmm_arg_setup(ctx, inputs, output):
        rowptr, col, value, x, reduce = inputs
        ctx.save_for_backward(col, value, x, output[1])
        ctx.mark_non_differentiable(output[1])

    def spmm_arg_backward(ctx, grad, _grad_arg):
        col, value, x, arg = ctx.saved_tensors
        need_x = ctx.needs_input_grad[3]
        need_v = value is not None and ctx.needs_input_grad[2]
        gx, gv = torch.ops.gnnkit.spmm_arg_backward(col, value, x, grad.contiguous(), arg, need_x, need_v)
        return None, None, (gv if need_v else None), (gx if need_x else None), None

    torch.library.register_autograd(lib + "spmm_arg", spmm_arg_backward, setup_context=spmm_arg_setup)

    # ---------------------------------------------------------------- sddmm
    def sddmm_setup(ctx, inputs, output):
        rowptr, col, a, b = inputs
        ctx.save_for_backward(rowptr, col, a, b)
        ctx.num_src = b.shape[0]

    def sddmm_backward(ctx, grad):
        rowptr, col, a, b = ctx.saved_tensors
        grad = grad.contiguous()
        ga = gb = None
        if ctx.needs_input_grad[2]:
            ga = torch.ops.gnnkit.spmm_sum(rowptr, col, grad, b, False)
        if ctx.needs_input_grad[3]:
            t_rowptr, t_col, t_perm = _transposed(rowptr, col, ctx.num_src)
            gb = torch.ops.gnnkit.spmm_sum(t_rowptr, t_col, grad[t_perm].contiguous(), a, False)
        return None, None, ga, gb

    torch.library.register_autograd(lib + "sddmm", sddmm_backward, setup_context=sddmm_setup)

    # ---------------------------------------------------------------- edge_softmax
    def softmax_setup(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output)

    def softmax_backward(ctx, grad):
        rowptr, out = ctx.saved_tensors
        return None, torch.ops.gnnkit.edge_softmax_backward(rowptr, out, grad.contiguous())

    torch.library.register_autograd(lib + "edge_softmax", softmax_backward, setup_context=softmax_setup)

    # ---------------------------------------------------------------- fused GAT attention
    def gat_setup(ctx, inputs, output):
        (rowptr, col, x, a_src, a_dst, slope, p, seed, t_rowptr, t_col, t_perm) = inputs
        ctx.save_for_backward(rowptr, col, x, a_src, a_dst, t_rowptr, t_col, t_perm, *output)
        ctx.slope, ctx.p, ctx.seed = slope, p, seed
        ctx.num_src = x.shape[0]
        ctx.mark_non_differentiable(output[1])

    def gat_backward(ctx, grad_out, _grad_lse):
        rowptr, col, x, a_src, a_dst, t_rowptr, t_col, t_perm, out, lse = ctx.saved_tensors
        if t_rowptr is None or t_col is None or t_perm is None:
            t_rowptr, t_col, t_perm = transpose_csr(rowptr, col, ctx.num_src)
        gx, gas, gad = torch.ops.gnnkit.gat_attention_backward(
            rowptr, col, t_rowptr, t_col, t_perm, x, a_src, a_dst, out, lse,
            grad_out.contiguous(), ctx.slope, ctx.p, ctx.seed)
        return None, None, gx, gas, gad, None, None, None, None, None, None

    torch.library.register_autograd(lib + "gat_attention", gat_backward, setup_context=gat_setup)

    # ---------------------------------------------------------------- dropout (counter-based mask)
    def dropout_setup(ctx, inputs, output):
        x, p, seed, relu = inputs
        ctx.p, ctx.seed, ctx.relu = p, seed, relu
        if relu:
            ctx.save_for_backward(output)  # y > 0 <=> kept and x > 0: no random bits needed

    def dropout_backward(ctx, grad):
        if ctx.relu:
            (out,) = ctx.saved_tensors
            return torch.ops.gnnkit.dropout_relu_backward(grad, out, ctx.p), None, None, None
        # dropout is linear in x with the same mask for every input: apply it to the gradient
        return torch.ops.gnnkit.dropout(grad, ctx.p, ctx.seed, False), None, None, None

    torch.library.register_autograd(lib + "dropout", dropout_backward, setup_context=dropout_setup)

    # batch_norm_relu: its autograd is registered in C++ (csrc/batch_norm_autograd.cpp), where the
    # per-call overhead is ~65 us lower than a register_autograd wrapper (it runs 9x per GIN step).
