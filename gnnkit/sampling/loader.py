r"""``NeighborLoader``: the node-level loader pipeline for GraphSAGE-style training.

A thin composition (PyG's ``NeighborLoader``): :class:`~gnnkit.sampling.ItemSampler` (shuffled,
seeded, rank-sharded seed nodes) -> :class:`~gnnkit.sampling.NeighborSampler` (C++ multi-hop
sampling into blocks) -> :class:`~gnnkit.sampling.FeatureFetcher` (features and labels gathered
from tensors or memory maps) -> :class:`gnnkit.tasks.Batch`, run by
:class:`~gnnkit.sampling.Loader` with a background prefetch thread.

Batches come out in order and are a deterministic function of ``seed`` (each batch's sampler
seed is derived from the epoch seed and the batch index, not from timing), so a run is
reproducible whatever ``prefetch``, the thread count and the rank.
"""
from __future__ import annotations

import torch

from gnnkit.sampling.fetcher import FeatureFetcher, as_rows, gather_rows
from gnnkit.sampling.items import ItemSampler, _mix  # noqa: F401  (_mix: old import path)
from gnnkit.sampling.neighbor_sampler import NeighborSampler
from gnnkit.sampling.pipeline import Loader

__all__ = ["NeighborLoader", "gather_rows"]


class NeighborLoader(Loader):
    r"""Iterate over shuffled mini-batches of sampled neighbourhoods (GraphSAGE training).

    Args:
        graph: a :class:`gnnkit.Graph`, a ``DiskGraph`` or any CSR graph-like object.
        fanouts (list[int]): per-hop fan-outs (``-1`` = all), one per layer.
        input_nodes (Tensor or ndarray, optional): the seed nodes to cover each epoch (e.g. the
            training nodes), ids or a bool mask. (default: :obj:`None`: all nodes)
        batch_size (int): seeds per batch. (default: :obj:`1024`)
        shuffle (bool): reshuffle the seeds every epoch. (default: :obj:`True`)
        drop_last (bool): drop the last incomplete batch. (default: :obj:`False`)
        features (Tensor or ndarray, optional): ``[N, F]`` node features (memory maps welcome).
        labels (Tensor or ndarray, optional): ``[N]`` or ``[N, T]`` node labels.
        weighted (bool): weighted sampling by the graph's edge weights. (default: :obj:`False`)
        directed (bool): also sample out-neighbours (``batch.extra['out_blocks']``).
            (default: :obj:`False`)
        prefetch (int): batches prepared ahead by the background thread; ``0`` samples in the
            calling thread. (default: :obj:`2`)
        seed (int, optional): seed of the shuffles and samples; epoch :math:`e` uses a seed
            derived from it. (default: :obj:`None`: drawn from torch's generator at creation)
        progress (bool): wrap iteration in a ``tqdm`` bar when tqdm is installed.
            (default: :obj:`False`)
        rank (int), world_size (int): this process's shard of the batches (see
            :class:`~gnnkit.sampling.ItemSampler`). (default: 0, 1)
        split (str): the items' split name in ``batch.split_index``. (default: ``'train'``)

    Every batch is a :class:`gnnkit.tasks.Batch`: ``x`` ``[N_s, F]``, ``graph`` the blocks
    (input layer first), ``target`` the seeds' labels ``[B, ...]``, ``n_id`` ``[N_s]``,
    ``seed`` the batch's sampler seed, ``extra['batch_size']`` :math:`B` (the seeds are
    ``n_id[:B]``).  ``len(loader)`` is the number of batches
    per epoch.

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]))
    >>> loader = NeighborLoader(g, [2, 2], batch_size=3, features=torch.eye(4), seed=0)
    >>> len(loader), [b.extra['batch_size'] for b in loader]
    (2, [3, 1])
    >>> b = next(iter(loader)); bool(torch.equal(b.x, torch.eye(4)[b.n_id]))
    True
    """

    def __init__(self, graph, fanouts, input_nodes=None, batch_size: int = 1024, shuffle: bool = True,
                 drop_last: bool = False, features=None, labels=None, weighted: bool = False,
                 directed: bool = False, prefetch: int = 2, seed: int | None = None,
                 progress: bool = False, rank: int = 0, world_size: int = 1, split: str = "train"):
        sampler = NeighborSampler(graph, fanouts, weighted=weighted, directed=directed)
        n = sampler.num_nodes
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"NeighborLoader: batch_size must be a positive int, got {batch_size!r}")
        if input_nodes is None:
            input_nodes = torch.arange(n)
        else:
            input_nodes = as_rows(input_nodes, "input_nodes")
            if input_nodes.dtype == torch.bool and tuple(input_nodes.shape) != (n,):
                raise ValueError(f"NeighborLoader: a bool input_nodes mask must have shape [{n}], got "
                                 f"{tuple(input_nodes.shape)}")
            if input_nodes.dtype != torch.bool and input_nodes.numel() and not input_nodes.is_floating_point():
                bad = (input_nodes < 0) | (input_nodes >= n)
                if bool(bad.any()):
                    k = int(bad.reshape(-1).nonzero()[0])
                    raise IndexError(f"NeighborLoader: input_nodes[{k}] = {int(input_nodes.reshape(-1)[k])} "
                                     f"is out of range for a graph with {n} nodes")
        items = ItemSampler(input_nodes, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed,
                            rank=rank, world_size=world_size)
        super().__init__(items, sampler, FeatureFetcher(features, labels, num_nodes=n), prefetch=prefetch,
                         split=split, progress=progress)
        self.graph, self.fanouts, self.num_nodes = sampler.graph, sampler.fanouts, n
        self.batch_size, self.weighted, self.directed = batch_size, weighted, directed

    @property
    def input_nodes(self):
        return self.items.items

    @property
    def seed(self) -> int:
        return self.items.seed

    def __repr__(self) -> str:
        return (f"NeighborLoader(num_nodes={self.num_nodes}, fanouts={self.fanouts}, "
                f"batch_size={self.batch_size}, num_batches={len(self)})")
