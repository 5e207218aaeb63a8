"""Graph-level learning: datasets of many small graphs, batching, per-graph precomputation.

=====================================  ========================================================
:class:`GraphDataset`                  many small graphs in one concatenated CSR with offsets
:func:`gather_graphs`, :func:`collate_graphs`  vectorised batching into one ``Graph`` + ``batch``
:class:`GraphLoader`                   seeded shuffling, batches, worker processes
:class:`PathCache`, :class:`FieldCache`  PathNN paths / DGN fields computed once, cached on disk
=====================================  ========================================================
"""
from gnnkit.graphlevel.cache import FieldCache, PathCache
from gnnkit.graphlevel.collate import GraphParts, collate_graphs, gather_graphs
from gnnkit.graphlevel.dataset import GraphDataset, ranges
from gnnkit.graphlevel.loader import GraphLoader

__all__ = ["GraphDataset", "ranges", "GraphParts", "gather_graphs", "collate_graphs",
           "GraphLoader", "PathCache", "FieldCache"]
