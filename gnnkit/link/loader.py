r"""Link loader: seed edges (positives + strict negatives) -> the union of both endpoints' sampled
blocks, on the staged pipeline of :mod:`gnnkit.sampling` (PyG's ``LinkNeighborLoader``).

:func:`link_loader` composes ``ItemSampler(pairs)`` -> ``NeighborSampler.sample_from_edges``
(negatives from :func:`gnnkit.sampling.strict_negatives`, the compiled strict sampler; the
batch's target arcs removed from the sampled blocks while training, both directions on an
undirected graph, so a model never sees the edge it is asked to predict) ->
``FeatureFetcher`` (rows gathered from memory maps) -> :class:`gnnkit.tasks.Batch`, prepared
in a background thread.  Works on :class:`gnnkit.Graph` and memory-mapped ``DiskGraph`` (pass
``DiskGraph.features`` as ``features``).

Each :class:`~gnnkit.tasks.Batch` has ``edge_label_index`` ``[2, P']`` (pairs as positions in
``n_id``), ``target`` (1 = positive, 0 = negative), ``graph`` (one block per layer) and ``n_id``.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["link_loader", "link_loaders"]


def link_loader(graph, pairs: Tensor, fanouts, *, batch_size: int = 1024, features=None, labels=None,
                neg_ratio: float = 1.0, shuffle: bool = True, exclude_targets: bool = True, prefetch: int = 2,
                seed: int | None = None, split: str = "train"):
    r"""A :class:`gnnkit.sampling.Loader` over node pairs.

    Args:
        graph (Graph or DiskGraph): the message-passing graph.
        pairs (Tensor): int64 ``[2, P]`` seed pairs (positives for training).
        fanouts (list of int): neighbours sampled per layer (``-1``: all).
        batch_size (int): pairs per batch (before negatives) (default: ``1024``).
        features (Tensor or ndarray, optional): ``[N, F]`` node features (memory maps welcome).
        labels (Tensor, optional): ``[P]`` labels of ``pairs`` (default: all 1).
        neg_ratio (float): strict negatives per pair, ``0`` for none (evaluation with fixed
            negatives passed in ``pairs`` / ``labels``) (default: ``1.0``).
        shuffle (bool), prefetch (int), seed (int, optional), split (str): as in the pipeline.
        exclude_targets (bool): remove the batch's positive arcs from its blocks (default: ``True``).
    """
    from gnnkit.sampling import FeatureFetcher, ItemSampler, Loader, NegativeSampling, NeighborSampler

    items = ItemSampler(pairs, batch_size, labels=labels, shuffle=shuffle, seed=seed)
    sampler = NeighborSampler(graph, fanouts, exclude_seed_edges=exclude_targets)
    neg = NegativeSampling("binary", neg_ratio) if neg_ratio > 0 else None
    return Loader(items, sampler, FeatureFetcher(features=features), neg_sampling=neg, prefetch=prefetch,
                  split=split)


def link_loaders(task, *, seed: int, splits=("val", "test")) -> dict:
    """``{'train', 'eval'}`` loaders of a :class:`gnnkit.tasks.LinkTask` in sampled mode: training
    pairs with fresh strict negatives, evaluation pairs with the split's fixed negatives (per-source
    negatives: batches hold whole ``1 + K`` rows so that the MRR rows stay intact)."""
    e = task.edges
    bs = task.batch_size or 1024
    train = link_loader(task.graph, e.train_pos, task.fanouts, batch_size=bs, features=task.x,
                        neg_ratio=task.neg_ratio, seed=seed, split="train")
    evals = []
    for name in splits:
        pos, neg = e.pairs(name)
        split = "val" if name in ("val", "valid") else name
        if task._per_source:
            k = neg.shape[1]
            pairs = torch.stack([pos[0].repeat_interleave(1 + k), torch.cat([pos[1].unsqueeze(1), neg], 1).reshape(-1)])
            labels = torch.cat([torch.ones(pos.shape[1], 1), torch.zeros(pos.shape[1], k)], 1).reshape(-1)
            ebs = (1 + k) * max(1, task.eval_batch_size // (1 + k))
        else:
            pairs = torch.cat([pos, neg], 1)
            labels = torch.cat([torch.ones(pos.shape[1]), torch.zeros(neg.shape[1])])
            ebs = task.eval_batch_size
        loader = link_loader(task.graph, pairs, task.fanouts, batch_size=ebs, features=task.x, labels=labels,
                             neg_ratio=0, shuffle=False, exclude_targets=False, seed=seed, split=split)
        evals.append(_Rows(loader, 1 + neg.shape[1] if task._per_source else None, task.num_nodes))
    return {"train": _Rows(train, None, task.num_nodes), "eval": _Chain(evals)}


class _Rows:
    """Tags the batches of a loader with ``extra['rows']`` (MRR row width) and ``num_nodes``."""

    def __init__(self, loader, rows, num_nodes):
        self.loader, self.rows, self.num_nodes = loader, rows, num_nodes

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for b in self.loader:
            if self.rows:
                b.extra["rows"] = self.rows
            b.extra["num_nodes"] = self.num_nodes
            yield b


class _Chain:
    def __init__(self, parts):
        self.parts = parts

    def __len__(self):
        return sum(len(p) for p in self.parts)

    def __iter__(self):
        for p in self.parts:
            yield from p
