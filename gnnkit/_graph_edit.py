r"""Structural edits of a :class:`gnnkit.Graph` that rebuild its CSR: merging duplicate arcs
(:meth:`coalesce`), symmetrising (:meth:`to_undirected`) and induced subgraphs (:meth:`subgraph`);
methods of the Graph, kept in their own module."""
from __future__ import annotations

import torch

from gnnkit._graph_utils import (GraphError, as_tensor, check_integer, check_range, counts_to_indptr,
                                  group_starts)

__all__ = ["GraphEdits"]

_REDUCES = ("sum", "mean", "max", "min", "drop")
_SCATTER_REDUCE = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}


def _check_reduce(reduce: str, where: str) -> None:
    if reduce not in _REDUCES:
        raise GraphError(f"{where}: reduce must be one of {_REDUCES}, got {reduce!r}")


class GraphEdits:
    """Mixin of :class:`gnnkit.Graph`: coalesce, to_undirected, subgraph."""

    __slots__ = ()

    def _coalesce(self, reduce: str, count_unweighted: bool):
        """Returns (Graph, pos) with pos[k] = CSR position of the first arc of group k."""
        src, dst = self._indices.to(torch.int64), self.dst_index()
        new = group_starts(src, dst)
        if bool(new.all()):
            return self, torch.arange(self.num_edges, device=self.device)
        first = new.nonzero().view(-1)
        group = torch.cumsum(new.to(torch.int64), 0) - 1
        n_groups = first.numel()
        w = self._edge_weight
        if w is None:
            out_w = None
            if count_unweighted and reduce == "sum":
                out_w = torch.bincount(group, minlength=n_groups).to(torch.get_default_dtype())
        elif reduce == "drop":
            out_w = w[first]
        else:
            out_w = torch.zeros(n_groups, dtype=w.dtype, device=self.device).scatter_reduce(
                0, group, w, reduce=_SCATTER_REDUCE[reduce], include_self=False)
        g = type(self)._from_parts(counts_to_indptr(dst[first], self._num_nodes), self._indices[first],
                              out_w, self._num_nodes, self._directed)
        return g, first

    def coalesce(self, reduce: str = "sum") -> "Graph":
        """Merge duplicate arcs.

        Args:
            reduce (str, optional): ``'sum'``, ``'mean'``, ``'max'``, ``'min'`` of the duplicate
                weights, or ``'drop'`` (keep the first arc in CSR order, i.e. input order). On an
                unweighted graph, ``'sum'`` returns multiplicities as weights (so aggregation
                results are unchanged); the other reductions keep it unweighted.
                (default: :obj:`"sum"`)

        >>> from gnnkit import Graph
        >>> g = Graph.from_edge_index(torch.tensor([[0, 0, 1], [1, 1, 0]]))
        >>> g.coalesce().edge_weight
        tensor([1., 2.])
        >>> g.coalesce("drop")
        Graph(num_nodes=2, num_edges=2, directed=True, weighted=False)
        """
        _check_reduce(reduce, "coalesce")
        g = self._coalesce(reduce, count_unweighted=True)[0]
        if reduce == "drop" and g is not self and g.weighted and not g.directed \
                and not g._is_symmetric():
            g = g._with(directed=True)  # dropped duplicates of unequal weight broke symmetry
        return g

    def _to_undirected(self, reduce: str):
        if reduce not in _SCATTER_REDUCE:
            # 'drop' could keep different weights for u->v and v->u: not symmetric.
            raise GraphError(f"to_undirected: reduce must be one of {tuple(_SCATTER_REDUCE)}, got {reduce!r}")
        src, dst = self._indices.to(torch.int64), self.dst_index()
        e = self.num_edges
        off = (src != dst).nonzero().view(-1)  # a self loop is its own reverse: not duplicated
        s2 = torch.cat([src, dst[off]])
        d2 = torch.cat([dst, src[off]])
        pos = torch.cat([torch.arange(e, device=self.device), off])
        w = self._edge_weight
        w2 = None if w is None else torch.cat([w, w[off]])
        u, perm = type(self)._from_coo(s2, d2, w2, self._num_nodes, False, self._indices.dtype)
        u, first = u._coalesce("drop" if w is None else reduce, count_unweighted=False)
        return u, pos[perm[first]]

    def to_undirected(self, reduce: str = "max") -> "Graph":
        """Symmetrise: the union of the arcs and the reversed arcs, duplicates merged.

        Unweighted graphs get set semantics (each arc once, duplicate arcs collapse). Weighted
        graphs merge all arcs between ``u`` and ``v``, in either direction, with ``reduce``.
        The default ``'max'`` (unlike PyG's ``'add'``) leaves an already symmetric graph
        unchanged; self loops are not doubled.

        Args:
            reduce (str, optional): ``'max'``, ``'min'``, ``'mean'`` or ``'sum'``.
                (default: :obj:`"max"`)

        >>> from gnnkit import Graph
        >>> g = Graph.from_edge_index(torch.tensor([[0, 1, 1], [1, 2, 2]]))
        >>> g.to_undirected().edge_index
        tensor([[1, 0, 2, 1],
                [0, 1, 1, 2]])
        """
        return self._to_undirected(reduce)[0]

    def subgraph(self, nodes):
        """Induced subgraph on ``nodes``.

        Args:
            nodes (Tensor or ndarray): distinct node ids ``[n]`` (new id of ``nodes[i]`` is
                ``i``), or a bool mask ``[N]`` (kept nodes renumbered in ascending order).

        Returns:
            ``(Graph, edge_pos)``: ``edge_pos`` int64 ``[E']`` is the CSR position in ``self``
            of every arc of the subgraph (align edge attributes as ``edge_attr[edge_pos]``).

        >>> from gnnkit import Graph
        >>> g = Graph.from_edge_index(torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]]))
        >>> sub, pos = g.subgraph(torch.tensor([0, 2]))
        >>> sub.edge_index, pos
        (tensor([[1, 0],
                [0, 1]]), tensor([1, 4]))
        """
        n, dev = self._num_nodes, self.device
        t, desc = as_tensor(nodes, "nodes")
        if t.device != dev:
            raise GraphError(f"nodes is on {t.device} but the graph is on {dev}")
        if t.dtype == torch.bool:
            if t.shape != (n,):
                raise GraphError(f"a bool nodes mask must have shape [N] = [{n}], got {tuple(t.shape)}")
            idx = t.nonzero().view(-1)
        else:
            check_integer(t, desc, "nodes")
            if t.dim() != 1:
                raise GraphError(f"nodes must have shape [n], got {tuple(t.shape)}")
            check_range(t, n, "nodes")
            idx = t.to(torch.int64)
            if idx.numel() > 1:
                sorted_idx, order = torch.sort(idx, stable=True)
                dup = sorted_idx[1:] == sorted_idx[:-1]
                if bool(dup.any()):
                    k = int(order[int(dup.nonzero()[0].item()) + 1].item())
                    raise GraphError(f"nodes must be distinct: nodes[{k}] = {int(idx[k])} repeats")
        m = idx.numel()
        mapping = torch.full((n,), -1, dtype=torch.int64, device=dev)
        mapping[idx] = torch.arange(m, device=dev)
        src = mapping[self._indices.to(torch.int64)]
        dst = mapping[self.dst_index()]
        kept = ((src >= 0) & (dst >= 0)).nonzero().view(-1)
        w = None if self._edge_weight is None else self._edge_weight[kept]
        g, perm = type(self)._from_coo(src[kept], dst[kept], w, m, self._directed, self._idx_dtype(m))
        return g, kept[perm]
