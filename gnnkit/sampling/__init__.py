"""Mini-batch loading as a pipeline of stages, and the samplers behind it.

Stages (one module each; DGL GraphBolt / PyG ``sampler/base.py``):

===================================  ==========================================================
:class:`ItemSampler`                 1. shuffled, seeded, rank-sharded batches of seed items
                                     (nodes, node pairs, graph ids) (:mod:`.items`)
:class:`BaseSampler`                 2. ``sample_from_nodes`` / ``sample_from_edges`` ->
                                     :class:`SamplerOutput`; :class:`NegativeSampling` config
                                     (:mod:`.base`)
:class:`NeighborSampler`             GraphSAGE multi-hop sampling behind that interface
:class:`GraphSAINTRandomWalkSampler` GraphSAINT-RW subgraphs behind that interface
:class:`FeatureFetcher`              3. features / labels from tensors or memory maps ->
                                     :class:`gnnkit.tasks.Batch` (:mod:`.fetcher`)
:class:`Loader`                      the composition, background prefetch thread
                                     (:mod:`.pipeline`)
:class:`NeighborLoader`              thin composition for node-level GraphSAGE training
:class:`GraphSAINTLoader`            thin composition for GraphSAINT-RW training
===================================  ==========================================================

Also :func:`sample_neighbors` (the C++ sampler, -> :class:`NeighborSample` of
:class:`Block` s), :func:`saint_random_walk`, :func:`induced_subgraph`,
:func:`uniform_negatives`; :class:`MiniBatchGNN` now lives in :mod:`gnnkit.nn.minibatch`.
"""
from gnnkit.block import Block
from gnnkit.sampling.base import BaseSampler, NegativeSampling, SamplerOutput
from gnnkit.sampling.fetcher import FeatureFetcher, gather_rows
from gnnkit.sampling.items import ItemBatch, ItemSampler, mix_seed
from gnnkit.sampling.loader import NeighborLoader
from gnnkit.sampling.negative import strict_negatives, uniform_negatives
from gnnkit.sampling.neighbor import NeighborSample, sample_neighbors
from gnnkit.sampling.neighbor_sampler import NeighborSampler
from gnnkit.sampling.pipeline import Loader
from gnnkit.sampling.saint import GraphSAINTRandomWalkSampler, SaintSubgraph, induced_subgraph, saint_random_walk
from gnnkit.sampling.saint_loader import GraphSAINTLoader

__all__ = [
    "Block",
    "ItemSampler",
    "ItemBatch",
    "mix_seed",
    "BaseSampler",
    "SamplerOutput",
    "NegativeSampling",
    "uniform_negatives",
    "strict_negatives",
    "NeighborSampler",
    "FeatureFetcher",
    "gather_rows",
    "Loader",
    "NeighborSample",
    "sample_neighbors",
    "NeighborLoader",
    "GraphSAINTLoader",
    "MiniBatchGNN",
    "GraphSAINTRandomWalkSampler",
    "SaintSubgraph",
    "saint_random_walk",
    "induced_subgraph",
]


def __getattr__(name):
    if name == "MiniBatchGNN":  # moved to gnnkit.nn; imported lazily (sampling does not need nn)
        from gnnkit.nn.minibatch import MiniBatchGNN

        return MiniBatchGNN
    raise AttributeError(f"module 'gnnkit.sampling' has no attribute {name!r}")
