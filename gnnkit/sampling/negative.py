r"""Negative samplers of :class:`~gnnkit.sampling.NegativeSampling`.

:func:`strict_negatives` (the default): the compiled strict sampler
(:mod:`gnnkit.ops.negative_sampling`): ``binary`` pairs uniform over the graph's non-edges,
``triplet`` ``amount`` non-neighbour destinations per positive source.
:func:`uniform_negatives`: uniform endpoints, **not** filtered against the graph's arcs (a draw
may hit a true arc with probability about :math:`|E| / N^2`), e.g. for comparisons with samplers
that do not filter.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["uniform_negatives", "strict_negatives"]


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


def strict_negatives(graph, pairs: Tensor, num: int, *, seed: int, mode: str = "binary") -> Tensor:
    """int64 ``[2, num]`` negatives that are not arcs of ``graph`` (nor self-loops): ``binary``
    pairs uniform over the non-edges; ``triplet``: row 0 = ``pairs[0].repeat_interleave(num // P)``
    and row 1 each source's non-neighbours (:func:`gnnkit.ops.negative_sampling.sample_negatives`)."""
    from gnnkit.ops.negative_sampling import negative_sampling, sample_negatives

    if mode == "triplet":
        amount = num // max(pairs.shape[1], 1)
        dst = sample_negatives(graph, pairs[0], amount, side="dst", seed=int(seed)).reshape(-1)
        return torch.stack([pairs[0].repeat_interleave(amount), dst])
    return negative_sampling(graph, num, seed=int(seed))
