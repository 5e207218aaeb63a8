"""Fused graph-attention aggregation (the GAT message-passing step in one kernel)."""
from __future__ import annotations

import torch

from gnnkit.ops import _common
from gnnkit.ops._library import ops

__all__ = ["gat_attention"]


def gat_attention(graph, x: torch.Tensor, alpha_src: torch.Tensor, alpha_dst: torch.Tensor,
                  negative_slope: float = 0.2, dropout: float = 0.0, training: bool = True,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Scores -> per-destination softmax -> weighted sum, fused (Veličković et al., ICLR 2018,
    https://arxiv.org/abs/1710.10903).

    .. math::
        e_{ji}^h = \mathrm{LeakyReLU}(\alpha^h_{\mathrm{dst},i} + \alpha^h_{\mathrm{src},j}),\quad
        a_{ji}^h = \mathrm{softmax}_{j \to i}(e_{ji}^h),\quad
        \mathbf{out}_i^h = \sum_{j \to i} \mathrm{dropout}(a_{ji}^h)\, \mathbf{x}_j^h

    where :math:`\alpha_{\mathrm{src},j}^h = \langle \mathbf{a}^h_{\mathrm{src}}, \mathbf{x}^h_j\rangle`
    as in GATConv.  The ``[E, H, D]`` messages are never formed: the forward keeps only a
    ``[N, H]`` log-normaliser, and the backward recomputes the attention per arc (holding two
    ``[E, H]`` buffers while it runs).
    Dropout is inverted dropout on the attention coefficients with the mask of
    :func:`gnnkit.ops.dropout` over the logical ``[E, H]`` array (arc ``k``, head ``h`` is element
    ``k H + h``; kept iff its counter-based 32-bit uniform is ``>= round(p 2^32)``, ``p`` taken as
    float32), with the seed drawn from torch's generator, so it is reproducible under
    ``torch.manual_seed`` and identical for any thread count.

    Args:
        graph (Graph): the graph (add self loops beforehand if wanted).
        x (Tensor): ``[N_src, H, D]`` transformed source features.
        alpha_src (Tensor): ``[N_src, H]`` source attention logits.
        alpha_dst (Tensor): ``[N, H]`` destination attention logits.
        negative_slope (float): LeakyReLU slope (default: ``0.2``).
        dropout (float): attention dropout probability (default: ``0.0``).
        training (bool): apply dropout only when ``True`` (default: ``True``).
        generator (torch.Generator, optional): source of the dropout seed.

    Shapes:
        ``[N, H, D]``.
    """
    rowptr, col, num_dst, num_src = _common.csr(graph)
    _common.check_features(x, num_src, rowptr.device)
    _common.check_features(alpha_src, num_src, rowptr.device, "alpha_src")
    _common.check_features(alpha_dst, num_dst, rowptr.device, "alpha_dst", "destination nodes")
    if x.dim() != 3:
        raise ValueError(f"'x' must be [N, H, D], got {tuple(x.shape)}")
    H = x.shape[1]
    for name, t in (("alpha_src", alpha_src), ("alpha_dst", alpha_dst)):
        if t.dim() != 2 or t.shape[1] != H:
            raise ValueError(f"'{name}' must be [N, {H}], got {tuple(t.shape)}")
        if t.dtype != x.dtype:
            raise TypeError(f"'{name}' is {t.dtype} but 'x' is {x.dtype}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    p = float(dropout) if training else 0.0
    seed = 0
    if p > 0:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    t = _common.transpose_args(graph, _common.wants_grad(x, alpha_src, alpha_dst))
    out, _lse = ops().gat_attention(rowptr, col, x.contiguous(), alpha_src.contiguous(),
                                    alpha_dst.contiguous(), float(negative_slope), p, seed, *t)
    return out
