r"""The graph protocol (what ops, layers and samplers read from a graph) and the one
:func:`as_graph` that turns what a user may pass into an object that satisfies it.

:class:`GraphLike` is satisfied by :class:`gnnkit.Graph` (a whole graph: ``num_src_nodes`` =
``num_nodes``), :class:`gnnkit.Block` (a sampled bipartite layer: ``num_src_nodes`` >=
``num_nodes``, destinations are the first sources) and the :class:`gnnkit.Graph` a ``DiskGraph``
memory-maps (``DiskGraph.graph()``).  Arcs are stored in CSR grouped by **destination**:

* ``indptr`` int64 ``[N_dst + 1]``, ``indices`` int32/int64 ``[E]`` (sources of each row),
  ``edge_weight`` ``None`` or ``[E]`` aligned with the CSR positions;
* ``dst_index()`` int64 ``[E]`` the destination of every arc;
* ``transpose()`` ``(t_indptr [N_src + 1], t_indices [E], t_perm [E])``: the same arcs grouped by
  **source**, ``t_perm[k]`` the CSR position of the ``k``-th transposed arc; never ``None``
  (``DiskGraph.transpose()`` follows the same rule: the stored transpose, else one built in RAM).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

__all__ = ["GraphLike", "as_graph", "num_src_nodes"]


@runtime_checkable
class GraphLike(Protocol):
    """What gnnkit's ops, layers and samplers use of a graph (see the module docstring)."""

    @property
    def indptr(self) -> Tensor: ...

    @property
    def indices(self) -> Tensor: ...

    @property
    def edge_weight(self) -> Tensor | None: ...

    @property
    def num_nodes(self) -> int: ...

    @property
    def num_edges(self) -> int: ...

    def dst_index(self) -> Tensor: ...

    def transpose(self) -> tuple[Tensor, Tensor, Tensor]: ...


def num_src_nodes(graph) -> int:
    """Number of source nodes: ``graph.num_src_nodes`` for a block, ``num_nodes`` otherwise."""
    return int(getattr(graph, "num_src_nodes", graph.num_nodes))


def as_graph(graph, num_nodes: int | None = None, edge_weight: Tensor | None = None, *,
             where: str = "graph", edge_index: bool = True):
    r"""The :class:`GraphLike` for a graph argument, converted once at the API boundary.

    * a :class:`gnnkit.Graph` or :class:`gnnkit.Block`: returned as is (``edge_weight``, if
      given, replaces its weights);
    * a ``DiskGraph`` (anything with a callable ``graph()`` and no tensor ``indptr``): its
      memory-mapped :class:`gnnkit.Graph` (zero copy, cached by the DiskGraph);
    * an integer ``edge_index`` ``[2, E]`` (tensor or ndarray, PyG convention, row 0 =
      source): a directed :class:`gnnkit.Graph` on ``num_nodes`` nodes with ``edge_weight``;
    * any other object with CSR tensors ``indptr``/``indices`` (and optionally
      ``num_src_nodes``, ``edge_weight``): a :class:`gnnkit.Block` over them;
    * a PyG ``Data`` with ``edge_index`` (duck-typed, no import): :meth:`Graph.from_pyg`.

    ``edge_index=False`` (the ops: they take graphs, not edge lists converted on every call)
    refuses ``edge_index`` tensors and PyG ``Data``.  Raises ``TypeError`` naming ``where`` for
    anything else.

    >>> g = as_graph(torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    >>> g
    Graph(num_nodes=3, num_edges=2, directed=True, weighted=False)
    >>> as_graph(g) is g
    True
    """
    from gnnkit.block import Block
    from gnnkit.graph import Graph

    if isinstance(graph, (Graph, Block)):
        return graph if edge_weight is None else graph.with_edge_weight(edge_weight)
    if isinstance(graph, (Tensor, np.ndarray)) and edge_index:
        if graph.ndim != 2 or graph.shape[0] != 2 or not (
                (isinstance(graph, Tensor) and not graph.is_floating_point() and not graph.is_complex()
                 and graph.dtype != torch.bool)
                or (isinstance(graph, np.ndarray) and np.issubdtype(graph.dtype, np.integer))):
            raise TypeError(f"{where}: an edge_index must be an integer tensor [2, E], got "
                            f"dtype {graph.dtype} and shape {tuple(graph.shape)}")
        return Graph.from_edge_index(graph, num_nodes=num_nodes, edge_weight=edge_weight)
    if not isinstance(getattr(graph, "indptr", None), (Tensor, type(None))) and callable(
            getattr(graph, "graph", None)):  # gnnkit.data.DiskGraph: its memory-mapped Graph
        return as_graph(graph.graph(), num_nodes, edge_weight, where=where)
    if isinstance(getattr(graph, "indptr", None), Tensor) and hasattr(graph, "indices"):
        w = getattr(graph, "edge_weight", None) if edge_weight is None else edge_weight
        return Block(graph.indptr, torch.as_tensor(graph.indices), num_src_nodes(graph), edge_weight=w)
    if hasattr(graph, "edge_index") and edge_index:  # torch_geometric.data.Data
        g = Graph.from_pyg(graph)
        return g if edge_weight is None else g.with_edge_weight(edge_weight)
    what = ", an edge_index [2, E] or a torch_geometric Data" if edge_index else ""
    raise TypeError(f"{where}: expected a gnnkit.Graph, a Block, a DiskGraph, an object with CSR "
                    f"tensors indptr/indices{what}, got "
                    f"{type(graph).__name__}; build a graph with "
                    "gnnkit.Graph.from_edge_index(edge_index, num_nodes)")
