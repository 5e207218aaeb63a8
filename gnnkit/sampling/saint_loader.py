r"""``GraphSAINTLoader``: GraphSAINT-RW subgraphs on the loader pipeline.

:class:`~gnnkit.sampling.ItemSampler` draws ``num_roots`` roots uniformly with replacement per
step (``num_steps`` steps per epoch, each with its own seed) ->
:class:`~gnnkit.sampling.GraphSAINTRandomWalkSampler` walks from them and induces the subgraph
-> :class:`~gnnkit.sampling.FeatureFetcher` gathers ``x`` and every node's label ->
:class:`gnnkit.tasks.Batch` with ``graph`` the subgraph (local ids), ``split_index[split]`` the
rows of the subgraph's nodes in ``input_nodes`` (all rows when it is omitted) and
``extra['node_norm']`` / ``extra['edge_norm']`` the paper's loss / aggregation coefficients.
"""
from __future__ import annotations

import torch

from gnnkit.sampling.fetcher import FeatureFetcher, as_rows
from gnnkit.sampling.items import ItemSampler, mix_seed
from gnnkit.sampling.pipeline import Loader
from gnnkit.sampling.saint import GraphSAINTRandomWalkSampler

__all__ = ["GraphSAINTLoader"]


class GraphSAINTLoader(Loader):
    r"""Iterate over GraphSAINT random-walk subgraph batches (Zeng et al., ICLR 2020).

    Args:
        graph: a :class:`gnnkit.Graph` (or ``DiskGraph``).
        num_roots (int), walk_length (int), num_steps (int), sample_coverage (float): as
            :class:`~gnnkit.sampling.GraphSAINTRandomWalkSampler`.
        features, labels (Tensor or ndarray, optional): ``[N, F]`` / ``[N, ...]``.
        input_nodes (Tensor, optional): the nodes whose loss counts (ids or bool mask ``[N]``).
        prefetch (int), seed (int), rank (int), world_size (int), split (str): as
            :class:`~gnnkit.sampling.NeighborLoader`.

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.randint(0, 30, (2, 120)), num_nodes=30).to_undirected()
    >>> loader = GraphSAINTLoader(g, 5, 2, num_steps=3, features=torch.eye(30), seed=0)
    >>> [b.x.shape[0] == b.graph.num_nodes for b in loader]
    [True, True, True]
    """

    def __init__(self, graph, num_roots: int, walk_length: int, num_steps: int = 1,
                 sample_coverage: float = 50, features=None, labels=None, input_nodes=None,
                 prefetch: int = 2, seed: int | None = None, rank: int = 0, world_size: int = 1,
                 split: str = "train"):
        sampler = GraphSAINTRandomWalkSampler(graph, num_roots, walk_length, num_steps=num_steps,
                                              sample_coverage=sample_coverage, seed=seed)
        n = sampler.num_nodes
        mask = None
        if input_nodes is not None:
            nodes = as_rows(input_nodes, "input_nodes")
            if nodes.dtype == torch.bool:
                if tuple(nodes.shape) != (n,):
                    raise ValueError(f"GraphSAINTLoader: a bool input_nodes mask must have shape [{n}], "
                                     f"got {tuple(nodes.shape)}")
                mask = nodes
            else:
                mask = torch.zeros(n, dtype=torch.bool)
                mask[nodes.to(torch.int64)] = True
        items = ItemSampler(torch.arange(n), num_roots, replacement=True, num_batches=num_steps,
                            seed=mix_seed(sampler.seed, 2), rank=rank, world_size=world_size)
        super().__init__(items, sampler, FeatureFetcher(features, labels, num_nodes=n), prefetch=prefetch,
                         split=split, split_mask=mask)
