r"""Bipartite message-flow blocks: the graph of one GNN layer in a mini-batch.

A :class:`Block` has ``num_dst_nodes`` destination rows aggregating over ``num_src_nodes``
source nodes, in gnnkit's CSR-by-destination layout.  As in PyG's ``NeighborLoader`` (and DGL's
message-flow graphs), **the destination nodes are the first ``num_dst_nodes`` entries of the
source list**, so ``x_dst = x_src[:block.num_dst_nodes]``.

A block is graph-like for :func:`gnnkit.ops.spmm` and the layers of :mod:`gnnkit.nn`: it has
``indptr``, ``indices``, ``num_nodes`` (= ``num_dst_nodes``), ``num_src_nodes``,
``edge_weight``, ``transpose()``, and the :class:`gnnkit.Graph` operations a layer needs
(``with_edge_weight``, ``add_self_loops``, ``remove_self_loops``, ``dst_index``, ``in_degree``).
The samplers of :mod:`gnnkit.sampling` produce blocks (re-exported there and in :mod:`gnnkit.nn`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from gnnkit._graph_utils import (GraphError, counts_to_indptr, csr_transpose, row_index,
                                 self_loop_arcs)

__all__ = ["Block"]


class Block:
    r"""One bipartite layer graph of a mini-batch (destination-major CSR, local ids).

    Args:
        indptr (Tensor): integer ``[num_dst_nodes + 1]`` row pointer (rows are destinations;
            stored as int64).
        indices (Tensor): int32/int64 ``[E]`` local source ids in ``[0, num_src_nodes)``.  A
            sampler keeps, within a row, the order of the parent graph's CSR (ascending global
            source id); local ids need not be sorted.
        num_src_nodes (int): number of source nodes (``>= num_dst_nodes``).
        e_id (Tensor, optional): int64 ``[E]`` CSR position of every arc in the parent graph
            (gather edge attributes as ``edge_attr[e_id]``). (default: :obj:`None`)
        edge_weight (Tensor, optional): float ``[E]`` weights used by the ops.
            (default: :obj:`None`)
        n_id (Tensor, optional): int64 ``[num_src_nodes]`` global ids of the source nodes
            (a prefix of the mini-batch's ``n_id``). (default: :obj:`None`)
        reverse (bool): :obj:`True` for a block of *out*-arcs (Dir-GNN): row ``i`` lists the
            nodes ``j`` with an arc ``i -> j`` in the parent graph. (default: :obj:`False`)
        src_degree (Tensor, optional): ``[num_src_nodes]`` number of arcs of every source node
            in the parent graph in the block's direction (in-degree, out-degree when
            ``reverse``); the destinations' degrees are its first ``num_dst_nodes`` entries.
            :func:`gnnkit.nn.gcn_norm` normalises with these full-graph degrees when present.
            (default: :obj:`None`)

    Shapes:
        ``indptr`` :math:`(N_{dst} + 1)`, ``indices``/``e_id``/``edge_weight`` :math:`(E)`;
        ops map ``x`` :math:`(N_{src}, F)` to :math:`(N_{dst}, F)`.

    >>> b = Block(torch.tensor([0, 2, 3]), torch.tensor([1, 2, 0], dtype=torch.int32), 3)
    >>> b
    Block(num_src_nodes=3, num_dst_nodes=2, num_edges=3)
    >>> b.edge_index
    tensor([[1, 2, 0],
            [0, 0, 1]])
    >>> b.transpose()[0].tolist()
    [0, 1, 2, 3]
    """

    def __init__(self, indptr: Tensor, indices: Tensor, num_src_nodes: int, *, e_id=None,
                 edge_weight=None, n_id=None, reverse: bool = False, src_degree=None):
        num_dst = indptr.numel() - 1
        num_src_nodes = int(num_src_nodes)
        if num_src_nodes < num_dst:
            raise GraphError(f"Block: num_src_nodes = {num_src_nodes} < num_dst_nodes = {num_dst}; "
                             "the destination nodes must be a prefix of the source nodes")
        if edge_weight is not None and tuple(edge_weight.shape[:1]) != (indices.numel(),):
            raise GraphError(f"Block: edge_weight has shape {tuple(edge_weight.shape)}, expected "
                             f"[{indices.numel()}]")
        if src_degree is not None and tuple(src_degree.shape) != (num_src_nodes,):
            raise GraphError(f"Block: src_degree has shape {tuple(src_degree.shape)}, expected "
                             f"[{num_src_nodes}] (one degree per source node)")
        self.indptr = indptr.to(torch.int64)
        self.indices = indices
        self.num_src_nodes = num_src_nodes
        self.num_dst_nodes = num_dst
        self.e_id = e_id
        self.edge_weight = edge_weight
        self.n_id = n_id
        self.reverse = bool(reverse)
        self.src_degree = src_degree
        self._transpose = None

    # graph-like interface -------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        """Number of destination rows (the ops' output size)."""
        return self.num_dst_nodes

    @property
    def num_edges(self) -> int:
        return self.indices.numel()

    @property
    def device(self) -> torch.device:
        return self.indptr.device

    def dst_index(self) -> Tensor:
        """int64 ``[E]`` local destination of every arc."""
        return row_index(self.indptr, self.num_edges)

    @property
    def edge_index(self) -> Tensor:
        """int64 ``[2, E]`` local (source, destination) pairs in CSR order (PyG convention)."""
        return torch.stack([self.indices.to(torch.int64), self.dst_index()])

    def in_degree(self) -> Tensor:
        """int64 ``[num_dst_nodes]`` number of arcs per destination in the block."""
        return self.indptr.diff()

    def transpose(self):
        """``(t_indptr [N_src+1], t_indices [E], t_perm [E])`` grouped by source, cached."""
        if self._transpose is None:
            self._transpose = csr_transpose(self.indptr, self.indices, self.num_src_nodes)
        return self._transpose

    # derived blocks ---------------------------------------------------------------------------
    def _derive(self, indptr, indices, edge_weight, e_id) -> "Block":
        """A block with the same nodes (``n_id``, ``reverse``, ``src_degree``) and other arcs."""
        return Block(indptr, indices, self.num_src_nodes, e_id=e_id, edge_weight=edge_weight,
                     n_id=self.n_id, reverse=self.reverse, src_degree=self.src_degree)

    def with_edge_weight(self, edge_weight) -> "Block":
        """A copy of the block with other arc weights ``[E]`` (``None`` removes them)."""
        b = self._derive(self.indptr, self.indices, edge_weight, self.e_id)
        b._transpose = self._transpose
        return b

    def add_self_loops(self, fill_value=1.0, *, remaining: bool = True) -> "Block":
        r"""Add a loop ``i -> i`` at destinations ``i < num_dst_nodes`` (source ``i`` is
        destination ``i``), as :meth:`gnnkit.Graph.add_self_loops`.

        Loops are appended at the end of their row, so the other arcs keep their order; the
        result has no ``e_id`` (a loop has no parent arc).

        Args:
            fill_value (float or Tensor, optional): weight of the new loops: a finite scalar or
                a per-destination tensor ``[num_dst_nodes]``.  An unweighted block stays
                unweighted when the fill is 1. (default: :obj:`1.0`)
            remaining (bool, optional): add a loop only at destinations that have none (PyG
                ``add_remaining_self_loops``; existing loops keep their weight).  :obj:`False`
                adds one at every destination. (default: :obj:`True`)

        >>> b = Block(torch.tensor([0, 1, 2]), torch.tensor([1, 1]), 3)
        >>> b.add_self_loops().edge_index
        tensor([[1, 0, 1],
                [0, 0, 1]])
        """
        n = self.num_dst_nodes
        src, dst = self.indices.to(torch.int64), self.dst_index()
        loops, new_w = self_loop_arcs(src, dst, n, self.edge_weight, fill_value, remaining,
                                      "Block.add_self_loops", what="num_dst_nodes")
        all_dst = torch.cat([dst, loops])
        # stable sort by destination only: a row keeps its arcs in order, its loop comes last
        order = torch.sort(all_dst, stable=True).indices
        indices = torch.cat([src, loops])[order].to(self.indices.dtype)
        new_w = None if new_w is None else new_w[order]
        return self._derive(counts_to_indptr(all_dst, n), indices, new_w, None)

    def remove_self_loops(self) -> "Block":
        """Drop every arc from source ``i`` to destination ``i`` (``e_id`` is kept aligned)."""
        dst = self.dst_index()
        pos = (self.indices.to(torch.int64) != dst).nonzero().view(-1)

        def sel(t):
            return None if t is None else t[pos]

        return self._derive(counts_to_indptr(dst[pos], self.num_dst_nodes),
                            self.indices[pos], sel(self.edge_weight), sel(self.e_id))

    def to(self, device) -> "Block":
        def mv(t):
            return None if t is None else t.to(device)

        return Block(mv(self.indptr), mv(self.indices), self.num_src_nodes, e_id=mv(self.e_id),
                     edge_weight=mv(self.edge_weight), n_id=mv(self.n_id), reverse=self.reverse,
                     src_degree=mv(self.src_degree))

    def __repr__(self) -> str:
        rev = ", reverse=True" if self.reverse else ""
        w = ", weighted=True" if self.edge_weight is not None else ""
        return (f"Block(num_src_nodes={self.num_src_nodes}, num_dst_nodes={self.num_dst_nodes}, "
                f"num_edges={self.num_edges}{w}{rev})")
