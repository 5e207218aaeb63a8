r"""Collating graphs of a :class:`~gnnkit.graphlevel.dataset.GraphDataset` into one batch graph.

For graph ids :math:`g_1, \dots, g_B` the batch is the disjoint union (node ids of
:math:`g_b` shifted by :math:`\sum_{c<b} n_{g_c}`).  Everything is a handful of vectorised
gathers over the dataset's concatenated arrays:

1. node rows: ``ranges(node_ptr[ids], n[ids])``; arc rows: ``ranges(arc_ptr[ids], m[ids])``;
2. ``indptr`` of the batch: the prefix sum of the gathered in-degrees;
3. ``indices``: the gathered local sources plus each arc's graph offset in the batch;
4. ``batch``: ``repeat_interleave(arange(B), n[ids])``.

The result stays a valid CSR (rows of one graph are contiguous and sorted, offsets keep them
sorted), so :class:`gnnkit.Graph` is built without re-validation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gnnkit.graph import Graph
from gnnkit.graphlevel.dataset import GraphDataset, ranges

__all__ = ["GraphParts", "gather_graphs", "collate_graphs"]


@dataclass
class GraphParts:
    """The gathered arrays of a batch (see :func:`gather_graphs`)."""

    ids: Tensor            # [B] graph ids
    node_ptr: Tensor       # [B + 1] node offsets in the batch
    indptr: Tensor         # [n + 1] batch CSR row pointer
    indices: Tensor        # [m] batch-global sources (int32 while the batch has < 2**31 nodes)
    local_indices: Tensor  # [m] per-graph local sources
    node_rows: Tensor      # [n] rows of the dataset's node arrays
    arc_rows: Tensor       # [m] rows of the dataset's arc arrays
    batch: Tensor          # [n] graph position (0..B-1) of every node
    x: Tensor | None
    edge_attr: Tensor | None


def gather_graphs(ds: GraphDataset, ids: Tensor) -> GraphParts:
    """Vectorised gather of the graphs ``ids`` (any order, repeats allowed)."""
    ids = torch.as_tensor(ids, dtype=torch.int64)
    G = len(ds)
    if ids.dim() != 1:
        raise ValueError(f"gather_graphs: ids must be 1-D, got shape {tuple(ids.shape)}")
    if ids.numel() and (int(ids.min()) < -G or int(ids.max()) >= G):
        bad = int(((ids < -G) | (ids >= G)).nonzero()[0])
        raise IndexError(f"gather_graphs: ids[{bad}] = {int(ids[bad])} is out of range for "
                         f"{G} graphs")
    ids = ids % max(G, 1)
    take = torch.index_select        # index_select: far faster than advanced indexing on CPU
    lay = ds.layout()
    n0, n = take(ds.node_ptr, 0, ids), take(lay["sizes"], 0, ids)
    a0, m = take(lay["arc_ptr"], 0, ids), take(lay["arc_counts"], 0, ids)
    node_rows = ranges(n0, n)
    arc_rows = ranges(a0, m)
    B = ids.numel()
    node_ptr = torch.zeros(B + 1, dtype=torch.int64)
    torch.cumsum(n, 0, out=node_ptr[1:])
    indptr = torch.zeros(node_rows.numel() + 1, dtype=torch.int64)
    torch.cumsum(take(lay["deg"], 0, node_rows), 0, out=indptr[1:])
    total_m = int(indptr[-1])
    idx = lay["indices32"] if node_rows.numel() < 2**31 else ds.indices
    local = take(idx, 0, arc_rows)
    indices = local + torch.repeat_interleave(node_ptr[:-1].to(idx.dtype), m, output_size=total_m)
    batch = torch.repeat_interleave(torch.arange(B), n, output_size=node_rows.numel())
    x = take(ds.x, 0, node_rows) if ds.x is not None else None
    ea = take(ds.edge_attr, 0, arc_rows) if ds.edge_attr is not None else None
    return GraphParts(ids, node_ptr, indptr, indices, local, node_rows, arc_rows, batch, x, ea)


def collate_graphs(ds: GraphDataset, ids, extras=(), x_dtype=torch.get_default_dtype()):
    """One :class:`gnnkit.tasks.Batch` for the graphs ``ids``.

    Args:
        ds (GraphDataset): the dataset.
        ids: graph ids of the batch.
        extras: callables ``f(parts) -> (name, value)`` adding precomputed per-graph data
            (paths, vector fields, ...) to ``batch.extra``; see :mod:`gnnkit.graphlevel.cache`.

    Node features: the dataset's ``x`` (integer codes kept as int64 for atom encoders), or a
    column of ones when the dataset has none.  ``split_index`` is ``{'train': None}`` (the
    loader sets it per batch).
    """
    from gnnkit.tasks.batch import Batch

    parts = gather_graphs(ds, ids)
    num_nodes = parts.node_rows.numel()
    graph = Graph._from_parts(parts.indptr, parts.indices.to(
        torch.int32 if num_nodes <= 2**31 else torch.int64, copy=False), None, num_nodes, ds.directed)
    x = parts.x if parts.x is not None else torch.ones(num_nodes, 1, dtype=x_dtype)
    extra = {"node_ptr": parts.node_ptr}
    for f in extras:
        name, value = f(parts)
        extra[name] = value
    return Batch(x=x, graph=graph, target=torch.index_select(ds.y, 0, parts.ids), split_index={"train": None},
                 n_id=parts.node_rows, batch=parts.batch, edge_attr=parts.edge_attr,
                 num_graphs=parts.ids.numel(), extra=extra)
