r"""Default negative sampler of :class:`~gnnkit.sampling.NegativeSampling`: uniform endpoints.

``binary``: :math:`(u, v)` with :math:`u, v` uniform on :math:`[0, N)`; ``triplet``: the
positives' sources each with ``amount`` uniform destinations.  Negatives are **not** filtered
against the graph's arcs (a draw may hit a true arc with probability about :math:`|E| / N^2`);
a filtering sampler plugs in through ``NegativeSampling(sampler=...)``.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["uniform_negatives"]


def uniform_negatives(graph, pairs: Tensor, num: int, *, seed: int, mode: str = "binary") -> Tensor:
    """int64 ``[2, num]`` negative pairs drawn with a generator seeded by ``seed``."""
    n = int(graph.indptr.shape[0] - 1)
    gen = torch.Generator().manual_seed(int(seed))
    if mode == "triplet":
        p = pairs.shape[1]
        amount = num // max(p, 1)
        src = pairs[0].repeat_interleave(amount)
        return torch.stack([src, torch.randint(0, n, (num,), generator=gen)])
    return torch.randint(0, n, (2, num), generator=gen)
