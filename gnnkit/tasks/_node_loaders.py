"""The mini-batch loaders of :class:`gnnkit.tasks.NodeTask`: sampled blocks and precomputed rows.

Both yield :class:`gnnkit.tasks.Batch`.  A training loader has ``split_index={'train': None}``;
an evaluation loader walks its nodes in order and marks where each split's nodes sit.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from gnnkit.tasks.batch import Batch

__all__ = ["StoreLoader", "SampledLoader"]

_SPLITS = ("train", "val", "test")


def _positions(where: Tensor | None) -> dict:
    if where is None:
        return {"train": None}
    return {s: (where == i).nonzero().view(-1) for i, s in enumerate(_SPLITS) if bool((where == i).any())}


class StoreLoader:
    """Batches of precomputed feature rows (``graph=None``) read from a ``FeatureStore``.

    Training (``shuffle=True``): every epoch draws one permutation of ``nodes`` from a
    ``torch.Generator`` seeded once with ``seed`` (so epoch ``e`` of a run is the same for a
    given seed), then yields consecutive slices of ``batch_size``.  Evaluation: ``nodes`` in
    order, ``where[i]`` naming the split of ``nodes[i]`` (0 train, 1 val, 2 test).
    """

    def __init__(self, task, nodes: Tensor, where: Tensor | None = None, batch_size: int = 64,
                 shuffle: bool = False, seed: int = 0):
        self.task, self.nodes, self.where = task, nodes, where
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.gen = torch.Generator().manual_seed(int(seed)) if shuffle else None

    def __len__(self) -> int:
        return math.ceil(self.nodes.numel() / self.batch_size)

    def __iter__(self):
        nodes, where = self.nodes, self.where
        if self.shuffle:
            nodes = nodes[torch.randperm(nodes.numel(), generator=self.gen)]
        store, target = self.task.features, self.task.target
        for i in range(0, nodes.numel(), self.batch_size):
            b = nodes[i:i + self.batch_size]
            w = None if where is None else where[i:i + self.batch_size]
            yield Batch(x=store[b], graph=None, target=target[b], split_index=_positions(w), n_id=b)


class SampledLoader:
    """:class:`gnnkit.sampling.NeighborLoader` batches of blocks for ``nodes`` as seeds."""

    def __init__(self, task, nodes: Tensor, where: Tensor | None, batch_size: int, shuffle: bool,
                 seed: int | None):
        from gnnkit.sampling import NeighborLoader

        self.task, self.where = task, where
        self.inner = NeighborLoader(task.graph, task.fanouts, input_nodes=nodes, batch_size=batch_size,
                                    shuffle=shuffle, features=task.x, prefetch=task.prefetch, seed=seed)
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self):
        target = self.task.target
        for i, b in enumerate(self.inner):  # NeighborLoader yields a Batch (blocks, x, n_id, seed)
            bs = b.extra["batch_size"]
            w = None if self.where is None else self.where[i * self.batch_size:i * self.batch_size + bs]
            b.target, b.split_index = target[b.n_id[:bs]], _positions(w)
            yield b
