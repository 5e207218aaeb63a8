r"""Partitioned graphs and distributed training / propagation on torch.distributed.

=====================================  ===========================================================
:func:`partition_nodes`                METIS (pymetis), LDG streaming or random owners, balanced
                                       on nodes and training seeds
:func:`write_partitions`               one DiskGraph + feature / label shards per part and the
                                       partition book, atomically (``gnnkit data partition``)
:class:`PartitionBook`                 owner / local id / in-degree of every node
:func:`open_partition`                 one rank's part (memory-mapped)
:func:`verify_partitions`              checks every file and every arc (``gnnkit data verify``)
:class:`DistNeighborSampler`           multi-hop sampling across parts; blocks equal the
                                       one-process sampler's for the same seeds and seed
:class:`DistFeatureFetcher`            remote feature rows by all-to-all
:func:`dist_sign_features`             SGC / SIGN propagation with a halo exchange per hop
:func:`dist_gbp_precompute`            GBP split by feature-column blocks into one shared file
``gnnkit.distributed.train``           ``torchrun ... -m gnnkit.distributed.train PARTS``: DDP
                                       training with checkpoints and resume
=====================================  ===========================================================

Engine: ``torch.distributed`` (gloo on CPU, NCCL on GPU), launched by ``torchrun``; this package
adds no transport of its own.  Each rank holds: its part's CSR (in-arcs of its inner nodes, with
halo ids), its inner nodes' features / labels (memory-mapped) and the O(N) book (owner, local
id, in-degree: 20 bytes per node).
"""
from gnnkit.distributed.book import (
    LocalPartition,
    PartitionBook,
    PartitionError,
    graph_fingerprint,
    is_partition_dir,
    open_partition,
    verify_partitions,
    write_partitions,
)
from gnnkit.distributed.partition import METHODS, partition_nodes, partition_stats

__all__ = ["partition_nodes", "partition_stats", "METHODS", "write_partitions", "PartitionBook",
           "LocalPartition", "PartitionError", "open_partition", "verify_partitions", "graph_fingerprint",
           "is_partition_dir", "DistNeighborSampler", "DistFeatureFetcher", "dist_sign_features",
           "dist_sgc_features", "dist_gbp_precompute", "Exchanger"]


def __getattr__(name):  # the torch.distributed parts load on first use
    if name == "DistNeighborSampler":
        from gnnkit.distributed.sampler import DistNeighborSampler
        return DistNeighborSampler
    if name == "DistFeatureFetcher":
        from gnnkit.distributed.features import DistFeatureFetcher
        return DistFeatureFetcher
    if name in ("dist_sign_features", "dist_sgc_features", "dist_gbp_precompute"):
        from gnnkit.distributed import propagate
        return getattr(propagate, name)
    if name == "Exchanger":
        from gnnkit.distributed.comm import Exchanger
        return Exchanger
    raise AttributeError(f"module 'gnnkit.distributed' has no attribute {name!r}")
