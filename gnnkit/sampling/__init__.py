"""Mini-batch sampling: neighbour sampling into blocks, GraphSAINT subgraphs, loaders, runners.

===================================  ==========================================================
:func:`sample_neighbors`             GraphSAGE multi-hop neighbour sampling (C++, parallel,
                                     reproducible) -> per-layer :class:`Block` s
:class:`Block`                       bipartite layer graph (destinations = first sources;
                                     :mod:`gnnkit.block`, also in :mod:`gnnkit.nn`)
:class:`NeighborSample`              ``n_id`` + blocks + per-hop counts of one batch
:class:`NeighborLoader`              shuffled seed batches, features/labels gathered from memory
                                     maps, background prefetch thread
:class:`MiniBatch`                   a :class:`NeighborSample` with ``x`` and ``y``
:class:`MiniBatchGNN`                GCN / GAT / GraphSAGE / Dir-GNN on blocks or full graphs
:class:`GraphSAINTRandomWalkSampler` GraphSAINT-RW subgraphs with edge/node normalisation
:class:`SaintSubgraph`               one GraphSAINT subgraph with its coefficients
:func:`saint_random_walk`            the uniform walks GraphSAINT-RW uses (C++)
:func:`induced_subgraph`             induced subgraph reading only the rows of the nodes
===================================  ==========================================================
"""
from gnnkit.block import Block
from gnnkit.sampling.loader import MiniBatch, NeighborLoader
from gnnkit.sampling.minibatch import MiniBatchGNN
from gnnkit.sampling.neighbor import NeighborSample, sample_neighbors
from gnnkit.sampling.saint import GraphSAINTRandomWalkSampler, SaintSubgraph, induced_subgraph, saint_random_walk

__all__ = [
    "Block",
    "NeighborSample",
    "sample_neighbors",
    "NeighborLoader",
    "MiniBatch",
    "MiniBatchGNN",
    "GraphSAINTRandomWalkSampler",
    "SaintSubgraph",
    "saint_random_walk",
    "induced_subgraph",
]
