"""Sampled dense-dense matrix product: per-arc dot products."""
from __future__ import annotations

import torch

from gnnkit.ops import _common
from gnnkit.ops._library import ops, remember_transpose

__all__ = ["sddmm"]


def sddmm(graph, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Per-arc (and per-head) dot products of destination and source features.

    .. math::
        \mathrm{out}_{k,h} = \langle \mathbf{a}_{i,h}, \mathbf{b}_{j,h} \rangle
        \quad \text{for arc } k: j \to i

    i.e. ``(a @ b^T) ⊙ A^T`` sampled at the arcs (DGL's ``sddmm``), in CSR order.

    Args:
        graph (Graph): the graph.
        a (Tensor): destination features ``[N, D]`` or ``[N, H, D]``.
        b (Tensor): source features ``[N_src, D]`` or ``[N_src, H, D]``.

    Shapes:
        ``[N, D], [N_src, D] -> [E]``; ``[N, H, D], [N_src, H, D] -> [E, H]``.

    Example:
        >>> import torch, gnnkit
        >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]]), num_nodes=2)
        >>> gnnkit.ops.sddmm(g, torch.tensor([[1., 2.], [3., 4.]]), torch.tensor([[1., 1.], [2., 0.]])).tolist()
        [2.0, 7.0]
    """
    rowptr, col, num_dst, num_src = _common.csr(graph)
    _common.check_features(a, num_dst, rowptr.device, "a", "destination nodes")
    _common.check_features(b, num_src, rowptr.device, "b")
    if a.dim() != b.dim() or a.dim() not in (2, 3) or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"sddmm: 'a' {tuple(a.shape)} and 'b' {tuple(b.shape)} must both be [N, D] "
                         "or [N, H, D] with equal H and D")
    if a.dtype != b.dtype:
        raise TypeError(f"sddmm: 'a' is {a.dtype} but 'b' is {b.dtype}")
    squeeze = a.dim() == 2
    a3 = a.unsqueeze(1) if squeeze else a
    b3 = b.unsqueeze(1) if squeeze else b
    if _common.wants_grad(b):
        remember_transpose(rowptr, col, graph.transpose())
    out = ops().sddmm(rowptr, col, a3, b3)
    return out.squeeze(1) if squeeze else out
