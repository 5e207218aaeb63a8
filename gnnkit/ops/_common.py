"""Argument handling shared by the public ops: graph -> CSR tensors, feature/weight checks.

Any object with ``indptr`` (int64 [N_dst+1]), ``indices`` ([E], sources), ``num_nodes`` and
``transpose()`` works as a graph: :class:`gnnkit.Graph`, the memory-mapped ``DiskGraph`` and the
bipartite blocks of the samplers (which add ``num_src_nodes``).
"""
from __future__ import annotations

import torch

from gnnkit.graph import GraphError
from gnnkit.graphlike import as_graph, num_src_nodes


def csr(graph):
    """``(rowptr, col, num_dst, num_src)`` of a graph-like object (:func:`gnnkit.graphlike.as_graph`
    first: a Graph or Block is used as is)."""
    g = as_graph(graph, where="op", edge_index=False)
    rowptr = g.indptr
    num_dst = rowptr.numel() - 1
    return rowptr, g.indices, num_dst, num_src_nodes(g)


def check_features(x, num_rows: int, device, name: str = "x", what: str = "source nodes"):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"'{name}' must be a floating tensor, got {x.dtype}")
    if x.dim() < 1 or x.shape[0] != num_rows:
        raise ValueError(
            f"'{name}' has shape {tuple(x.shape)} but the graph has {num_rows} {what}; "
            f"expected [{num_rows}, ...]"
        )
    if x.device != device:
        raise ValueError(f"'{name}' is on {x.device} but the graph is on {device}; move one with .to()")


def resolve_weight(graph, edge_weight, num_edges: int, dtype, device, heads: int | None = None):
    """The per-arc weights to use: ``edge_weight`` if given, else the graph's, else ``None``."""
    w = edge_weight if edge_weight is not None else getattr(graph, "edge_weight", None)
    if w is None:
        return None
    if not isinstance(w, torch.Tensor):
        w = torch.as_tensor(w)
    if not w.is_floating_point():
        raise TypeError(f"'edge_weight' must be a floating tensor, got {w.dtype}")
    if w.shape[0:1] != (num_edges,) or w.dim() > 2 or (heads is not None and w.dim() == 2
                                                       and w.shape[1] not in (1, heads)):
        raise GraphError(
            f"'edge_weight' has shape {tuple(w.shape)} but the graph has {num_edges} arcs; expected "
            f"[{num_edges}]" + (f" or [{num_edges}, {heads}]" if heads else "")
        )
    if w.device != device:
        raise ValueError(f"'edge_weight' is on {w.device} but the graph is on {device}")
    if edge_weight is not None and num_edges:
        bad = ~torch.isfinite(w.detach())
        if bool(bad.any()):
            pos = int(bad.reshape(num_edges, -1 if bad.numel() else 1).any(1).nonzero()[0])
            val = w.reshape(num_edges, -1)[pos]
            shown = val.item() if val.numel() == 1 else val.tolist()
            raise GraphError(f"edge_weight[{pos}] = {shown} is not finite")
    return w.to(dtype)


def wants_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def transpose_args(graph, needed: bool):
    """The cached transposed CSR when a backward pass will need it, else three ``None``."""
    if not needed:
        return None, None, None
    return graph.transpose()
