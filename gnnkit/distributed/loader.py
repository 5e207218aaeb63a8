r"""The seeds of every rank's mini-batches, as a pure function (no communication), so a
one-process run can rebuild exactly the batches the ranks trained on.

Epoch :math:`e` of rank :math:`r`: the rank's own training nodes are shuffled by a generator
seeded with ``mix(mix(seed, e), r)``; batch :math:`b` takes positions
``(b * B + [0, k)) mod n_r`` (:math:`k = \min(B, n_r)`, so a batch never repeats a seed) and
is sampled with seed ``mix(mix(seed, e), (r << 32) + b + 1)`` (``mix`` =
:func:`gnnkit.sampling.mix_seed`, the loaders' seed mixer).  All ranks run the same number
of steps (the largest rank's :math:`\lceil n_r / B \rceil`, agreed by one all-reduce): ranks
with fewer training nodes wrap around their permutation (their nodes are seen slightly more
often), as DistDGL's and PyG's distributed loaders pad uneven shards.
"""
from __future__ import annotations

import math

import torch

from gnnkit.sampling import mix_seed as mix

__all__ = ["rank_batch", "steps_per_epoch"]


def _order(train: torch.Tensor, rank: int, epoch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(mix(mix(seed, epoch), rank))
    return train[torch.randperm(train.numel(), generator=g)]


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    """Steps one rank with ``num_train`` seeds needs (the job takes the max over ranks)."""
    return max(1, math.ceil(num_train / batch_size))


def rank_batch(train: torch.Tensor, rank: int, epoch: int, step: int, batch_size: int,
               seed: int) -> tuple[torch.Tensor, int]:
    """``(seeds, sample_seed)`` of batch ``step`` of rank ``rank`` in ``epoch``."""
    if batch_size < 1:
        raise ValueError(f"rank_batch: batch_size must be >= 1, got {batch_size}")
    n = train.numel()
    e_seed = mix(seed, epoch)
    s = mix(e_seed, (rank << 32) + step + 1)
    if n == 0:
        return train[:0], s
    order = _order(train, rank, epoch, seed)
    k = min(batch_size, n)
    pos = (step * batch_size + torch.arange(k)) % n
    return order[pos], s
