r"""Stage 3 of the loader pipeline: gather features and labels, emit the one batch type.

:class:`FeatureFetcher` turns a :class:`~gnnkit.sampling.SamplerOutput` (and the
:class:`~gnnkit.sampling.ItemBatch` it came from) into a :class:`gnnkit.tasks.Batch`:

* ``graph``: the blocks (input layer first), ``(in_block, out_block)`` pairs when the sampler
  also drew out-arcs (Dir-GNN), or a subgraph;
* ``x = features[n_id]``, ``target`` = the seed nodes' labels (node batches), the pairs' labels
  (link batches) or every node's label (subgraph batches, ``batch_size == len(n_id)``);
* features / labels may be tensors or numpy arrays, memory maps included
  (``np.load(..., mmap_mode='r')``, a ``DiskGraph``'s ``features``): rows are read through a
  zero-copy tensor view, so only the touched pages come from disk.

The gather is :func:`gather_rows` (a C++ row copy with prefetch and a huge-page hint; GIL
released).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from gnnkit.ops._library import ops
from gnnkit.sampling.base import SamplerOutput
from gnnkit.sampling.items import ItemBatch

__all__ = ["FeatureFetcher", "gather_rows", "as_rows"]


def as_rows(a, name: str):
    """A tensor view (zero copy) of a feature / label array, or None."""
    if a is None:
        return None
    if isinstance(a, Tensor):
        return a
    if isinstance(a, np.ndarray):
        with warnings.catch_warnings():
            # read-only memory maps: the view is only ever read (index_select copies out)
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(a)
    raise TypeError(f"'{name}' must be a torch.Tensor or a numpy array / memmap, got {type(a).__name__}")


def gather_rows(src: Tensor, index: Tensor) -> Tensor:
    """``src[index]`` as a new tensor; for a memory map only the touched rows are read.

    CPU tensors use the C++ op ``gnnkit::gather_rows`` (csrc/cpu/gather_cpu.cpp: software
    prefetch of the rows ahead, huge-page hint on the output, parallel over rows above a work
    threshold, every index checked first); other devices use ``torch.index_select``.
    """
    if src.device.type == "cpu" and index.device.type == "cpu":
        return ops().gather_rows(src, index)
    return torch.index_select(src, 0, index)


class FeatureFetcher:
    r"""Gather node features / labels (and arc attributes) of a sampled batch.

    Args:
        features (Tensor or ndarray, optional): ``[N, F]`` node features.
        labels (Tensor or ndarray, optional): ``[N]`` or ``[N, T]`` node labels.
        edge_attr (Tensor or ndarray, optional): ``[E, D]`` arc attributes of the parent graph,
            gathered per block by ``e_id`` (a list, one per block) or for a subgraph by its
            ``edge_pos``.
        num_nodes (int, optional): checked against the rows of ``features`` / ``labels``.

    ``fetcher(out, item_batch, split='train', split_mask=None)`` returns the
    :class:`gnnkit.tasks.Batch`: ``seed`` is the batch's sampler seed, ``n_id[:B]`` the seed
    nodes (``B = extra['batch_size']``), ``extra['seed_pairs']`` the global ids of a link batch's
    pairs ``[2, P']`` (``edge_label_index`` holds their positions in ``n_id``); ``split_index[split]`` is ``None`` (every output row belongs to
    ``split``) unless ``split_mask`` ``[N]`` selects the output rows whose node is in it
    (subgraph batches).
    """

    def __init__(self, features=None, labels=None, edge_attr=None, num_nodes: int | None = None):
        self.features = as_rows(features, "features")
        self.labels = as_rows(labels, "labels")
        self.edge_attr = as_rows(edge_attr, "edge_attr")
        if num_nodes is not None:
            for name, a in (("features", self.features), ("labels", self.labels)):
                if a is not None and a.shape[0] != num_nodes:
                    raise ValueError(f"FeatureFetcher: {name} has {a.shape[0]} rows but the graph has "
                                     f"{num_nodes} nodes")

    def __call__(self, out: SamplerOutput, ib: ItemBatch, split: str = "train",
                 split_mask: Tensor | None = None):
        from gnnkit.tasks.batch import Batch

        x = None if self.features is None else gather_rows(self.features, out.n_id)
        link = out.edge_label_index is not None
        if link:
            target = out.edge_label
        elif ib.labels is not None and out.batch_size == ib.num_items:
            target = ib.labels
        elif self.labels is not None:
            target = gather_rows(self.labels, out.seeds)
        else:
            target = None
        sidx = None
        if split_mask is not None and not link:
            sidx = split_mask[out.seeds].nonzero().view(-1)
        edge_attr = None
        if self.edge_attr is not None:
            if isinstance(out.graph, list):
                edge_attr = [None if b.e_id is None else gather_rows(self.edge_attr, b.e_id) for b in out.graph]
            elif "edge_pos" in out.metadata:
                edge_attr = gather_rows(self.edge_attr, out.metadata["edge_pos"])
        extra = {"batch_index": ib.index, "batch_size": out.batch_size,
                 "num_sampled_nodes": out.num_sampled_nodes, "num_sampled_edges": out.num_sampled_edges}
        if out.out_blocks is not None:
            extra["out_blocks"] = out.out_blocks
        if link:
            extra["edge_label"], extra["seed_pairs"] = out.edge_label, out.seed_pairs
        extra.update(out.metadata)
        graph = out.graph if out.out_blocks is None else list(zip(out.graph, out.out_blocks))
        return Batch(x=x, graph=graph, target=target, split_index={split: sidx}, n_id=out.n_id,
                     seed=ib.seed, edge_label_index=out.edge_label_index, edge_attr=edge_attr,
                     extra=extra)

    def __repr__(self) -> str:
        f = None if self.features is None else tuple(self.features.shape)
        return f"FeatureFetcher(features={f}, labels={self.labels is not None})"
