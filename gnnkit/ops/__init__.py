"""Sparse graph ops backed by the compiled kernels of ``gnnkit._C`` (CPU and CUDA).

=====================  ======================================================================
``spmm``               sum / mean / max / min aggregation over in-arcs, optional edge weights
``sddmm``              per-arc (multi-head) dot products of destination and source features
``edge_softmax``       softmax of arc scores over each destination's in-arcs
``gat_attention``      fused GAT scores -> softmax -> weighted sum, no E x H x D tensor
``enumerate_paths``    shortest / all-shortest / simple paths up to length K (bounded, refused early)
``random_walk``        uniform / node2vec (rejection) walks; ``restart_walk``, ``ppr_monte_carlo``
``negative_sampling``  strict / degree-biased negatives: global pairs, per-anchor, corrupted edges
``dropout``            inverted dropout (optionally fused with ReLU), counter-based mask, no stored mask
``batch_norm_relu``    BatchNorm over rows fused with an optional ReLU (train / eval, running stats)
=====================  ======================================================================

Every op has autograd and a plain-PyTorch oracle in :mod:`gnnkit.testing`.
"""
from gnnkit.ops.attention import gat_attention
from gnnkit.ops.batch_norm import batch_norm_relu
from gnnkit.ops.dropout import dropout
from gnnkit.ops.negative_sampling import corrupt_edges, negative_sampling, sample_negatives
from gnnkit.ops.paths import PathCountError, count_paths, enumerate_paths, path_count_bound
from gnnkit.ops.random_walk import ppr_monte_carlo, random_walk, restart_walk
from gnnkit.ops.sddmm import sddmm
from gnnkit.ops.softmax import edge_softmax
from gnnkit.ops.spmm import REDUCTIONS, spmm

__all__ = ["spmm", "sddmm", "edge_softmax", "gat_attention", "random_walk", "restart_walk",
           "ppr_monte_carlo", "negative_sampling", "sample_negatives", "corrupt_edges",
           "enumerate_paths", "count_paths", "path_count_bound", "dropout", "batch_norm_relu",
           "PathCountError", "REDUCTIONS"]
