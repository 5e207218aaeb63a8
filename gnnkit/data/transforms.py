r"""Dataset transforms applied at load time (``gnnkit.data.get_dataset(..., symmetrize=True,
node_features_from_edges='mean')`` or the same keys under ``args`` in a benchmark config).

==============================  ===============================================================
:func:`symmetrized`              directed graph -> undirected (each arc and its reverse)
:func:`node_features_from_edges`  ``x_i ||= reduce_{j -> i} edge_attr[j -> i]`` (ogbn-proteins)
==============================  ===============================================================

Both return a shallow copy (the input dataset is not modified) and re-validate it.
"""
from __future__ import annotations

import copy

import torch

from gnnkit.data.errors import DatasetError

__all__ = ["symmetrized", "node_features_from_edges"]

_REDUCE = ("mean", "sum", "max")


def symmetrized(ds):
    """``ds`` with its graph made undirected (:meth:`gnnkit.Graph.to_undirected`: each arc and its
    reverse, repeats merged); an undirected dataset is returned as is.  OGB's reference GCN / SAGE
    on ogbn-arxiv train on the symmetrised citation graph (``adj_t.to_symmetric()``).

    Raises:
        DatasetError: the dataset has per-arc ``edge_attr`` (nothing says what a new reverse arc
            would carry).
    """
    if not ds.directed:
        return ds
    if ds.edge_attr is not None:
        raise DatasetError(f"{ds.name}: cannot symmetrise a dataset with edge_attr "
                           f"{tuple(ds.edge_attr.shape)}: the new reverse arcs would have none")
    out = copy.copy(ds)
    out.graph = ds.graph.to_undirected()
    out.directed = out.graph.directed
    out.metadata = {**ds.metadata, "symmetrized": True, "num_arcs_directed": ds.num_edges}
    out.validate()
    return out


def node_features_from_edges(ds, reduce: str = "mean"):
    r"""Append to every node's features the aggregate of the ``edge_attr`` of its in-arcs:

    .. math::
        \mathbf{x}_i \leftarrow \big[\mathbf{x}_i \,\big\|\, \mathrm{reduce}_{(j \to i) \in E}\,
        \mathbf{e}_{ji}\big]

    (0 for a node without in-arcs).  On ogbn-proteins (no node features, 8 edge features, each
    edge stored in both directions) ``'mean'`` is exactly OGB's example
    (``examples/nodeproppred/proteins``: ``data.x = data.adj_t.mean(dim=1)``).

    Raises:
        DatasetError: the dataset has no ``edge_attr``; ``ValueError``: unknown ``reduce``.
    """
    if reduce not in _REDUCE:
        raise ValueError(f"node_features_from_edges: reduce must be one of {_REDUCE}, got {reduce!r}")
    ea = ds.edge_attr
    if ea is None:
        raise DatasetError(f"{ds.name}: node_features_from_edges needs edge_attr; the dataset has none")
    ea = ea.float().reshape(ea.size(0), -1)
    g = ds.graph
    if ea.size(0) != g.num_edges:
        raise DatasetError(f"{ds.name}: edge_attr has {ea.size(0)} rows for {g.num_edges} arcs")
    dst = g.dst_index()
    n = g.num_nodes
    if reduce == "max":
        agg = torch.zeros(n, ea.size(1)).scatter_reduce_(
            0, dst.unsqueeze(1).expand_as(ea), ea, "amax", include_self=False)
    else:
        agg = torch.zeros(n, ea.size(1)).index_add_(0, dst, ea)
        if reduce == "mean":
            agg = agg / torch.bincount(dst, minlength=n).clamp_min(1).unsqueeze(1).to(agg.dtype)
    out = copy.copy(ds)
    out.x = torch.cat([ds.x.float(), agg], dim=1)
    out.metadata = {**ds.metadata, "node_features_from_edges": reduce}
    out.validate()
    return out
