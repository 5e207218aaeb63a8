"""Sparse-dense aggregation: ``spmm(graph, x, reduce)``."""
from __future__ import annotations

import math

import torch

from gnnkit.ops import _common
from gnnkit.ops._library import ops, remember_transpose

__all__ = ["spmm", "REDUCTIONS"]

REDUCTIONS = ("sum", "mean", "max", "min")


def spmm(graph, x: torch.Tensor, reduce: str = "sum", edge_weight: torch.Tensor | None = None) -> torch.Tensor:
    r"""Aggregate source features over the in-arcs of every node (sparse @ dense).

    .. math::
        \mathbf{out}_i = \bigoplus_{(j \to i) \in E} w_{ji} \, \mathbf{x}_j,
        \qquad \oplus \in \{\sum, \mathrm{mean}, \max, \min\}

    i.e. ``out = A^T x`` for ``reduce="sum"`` and adjacency ``A[src, dst]`` (PyG's
    ``flow="source_to_target"``).  Rows without in-arcs give 0.  ``mean`` divides by the number
    of in-arcs (not by the weight sum).  Gradients flow to ``x`` and ``edge_weight``; ``max``/``min``
    route them to the arg-extreme arc (ties: the first arc in CSR order).

    Args:
        graph (Graph): the graph (CSR by destination); a bipartite block with ``num_src_nodes``
            aggregates ``num_src_nodes`` rows of ``x`` into ``num_nodes`` outputs.
        x (Tensor): source features ``[N_src, F]`` or ``[N_src, H, D]``.
        reduce (str): ``"sum"``, ``"mean"``, ``"max"`` or ``"min"`` (default: ``"sum"``).
        edge_weight (Tensor, optional): ``[E]`` or, for ``sum``/``mean`` with 3-D ``x``,
            per-head ``[E, H]`` weights in CSR order; defaults to the graph's weights (or 1).

    Shapes:
        ``x [N_src, F] -> [N, F]``; ``x [N_src, H, D] -> [N, H, D]``.

    Note:
        On x86-64 the CPU ``sum``/``mean`` kernel runs an AVX-512, AVX2 or baseline (SSE2)
        build of its gather loop, the best the CPU supports (chosen at run time).  All three give
        bitwise identical results (no FMA contraction; each output element is summed in CSR
        order), for any thread count.  The environment variable ``GNNKIT_SPMM_ISA`` =
        ``auto`` (default) | ``generic`` | ``avx2`` | ``avx512`` pins the variant, e.g. to compare
        them; asking for one the CPU lacks raises ``ValueError``.  Large CPU outputs (>= 32 MB)
        get a transparent-huge-page hint (``madvise``: ~2x faster forward at 1M x 128 once
        huge pages are available, but where THP defragments on demand the first calls can stall
        ~1 s compacting memory); ``GNNKIT_HUGE_PAGES=0`` turns it off, e.g. for one-off calls
        (read once per process; ``1`` or unset: on).

    Example:
        >>> import torch, gnnkit
        >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 2], [2, 2, 0]]), num_nodes=3)
        >>> gnnkit.ops.spmm(g, torch.tensor([[1.], [2.], [4.]]), reduce="sum").flatten().tolist()
        [4.0, 0.0, 3.0]
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"spmm: unknown reduce {reduce!r}; valid: {', '.join(REDUCTIONS)}")
    rowptr, col, num_dst, num_src = _common.csr(graph)
    _common.check_features(x, num_src, rowptr.device)
    if x.dim() not in (2, 3):
        raise ValueError(f"'x' must be [N, F] or [N, H, D], got shape {tuple(x.shape)}")
    E = col.numel()
    heads = x.shape[1] if x.dim() == 3 else None
    w = _common.resolve_weight(graph, edge_weight, E, x.dtype, rowptr.device, heads)
    C = ops()
    if reduce in ("max", "min"):
        if w is not None and w.dim() == 2 and w.shape[1] != 1:
            raise ValueError("spmm: per-head edge weights are only supported for reduce='sum'/'mean'")
        shape = x.shape
        x2 = x.reshape(shape[0], math.prod(shape[1:]))
        w1 = None if w is None else w.reshape(E).contiguous()
        out, _arg = C.spmm_arg(rowptr, col, w1, x2, reduce)
        return out.reshape((num_dst,) + tuple(shape[1:]))
    # sum / mean work on [N, H, D]: per-head weights select head h's slice of the channels
    if x.dim() == 2:
        x3 = x.unsqueeze(1)
    else:
        x3 = x
    if w is not None:
        w = w.reshape(E, w.shape[1] if w.dim() == 2 else 1)
        if w.shape[1] == 1 and x3.shape[1] != 1:
            x3 = x3.reshape(x3.shape[0], 1, x3.shape[1] * x3.shape[2])
        w = w.contiguous()
    if _common.wants_grad(x):
        remember_transpose(rowptr, col, graph.transpose())
    out = C.spmm_sum(rowptr, col, w, x3, reduce == "mean")
    return out.reshape((num_dst,) + tuple(x.shape[1:]))
