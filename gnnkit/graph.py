r"""The immutable CSR graph every gnnkit op and layer consumes.

A :class:`Graph` stores the *arcs* of a (multi)graph on nodes ``0..N-1`` in CSR grouped by
**destination** (the layout of PyG's ``adj_t`` / ``SparseTensor`` with ``row = destination``):

* ``indptr``  int64 ``[N + 1]``: ``indptr[0] = 0``, non-decreasing, ``indptr[N] = E``;
* ``indices`` int32 while ``N <= 2**31``, else int64, ``[E]``:
  ``indices[indptr[i]:indptr[i + 1]]`` are the sources ``j`` of the arcs ``j -> i``, sorted
  ascending within each row (stable for duplicate arcs);
* ``edge_weight`` ``None`` or a float tensor ``[E]`` aligned with the CSR positions.

Aggregation semantics: ``gnnkit.ops.spmm(g, x)[i] = sum_k w_k x[indices[k]]`` over
``k in indptr[i]:indptr[i+1]``, i.e. :math:`A^\top X` for the adjacency ``A[src, dst]`` (PyG's
``flow='source_to_target'``). The transpose (CSR grouped by source) is computed once, on first
use, and cached; it serves backward passes and reverse-direction propagation.

Every operation returns a *new* graph; tensors are exposed read-only through properties (torch
cannot forbid in-place writes to the returned tensors: do not modify them).
"""
from __future__ import annotations


import torch
from torch import Tensor

from gnnkit._graph_convert import GraphConversions
from gnnkit._graph_normalize import GraphNormalize
from gnnkit._graph_utils import (
    GraphError,
    as_tensor,
    check_integer,
    check_num_nodes,
    check_range,
    check_weight,
    csr_transpose,
    counts_to_indptr,
    csr_from_coo,
    group_starts,
    pick_index_dtype,
    row_index,
    self_loop_arcs,
)

GraphError.__module__ = "gnnkit.graph"

__all__ = ["Graph", "GraphError"]

_REDUCES = ("sum", "mean", "max", "min", "drop")
_SCATTER_REDUCE = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}


def _check_reduce(reduce: str, where: str) -> None:
    if reduce not in _REDUCES:
        raise GraphError(f"{where}: reduce must be one of {_REDUCES}, got {reduce!r}")


def _check_directed(directed, allow_none: bool) -> None:
    if directed is None and allow_none:
        return
    if not isinstance(directed, bool):
        allowed = "True, False or None" if allow_none else "True or False"
        raise GraphError(f"directed must be {allowed}, got {directed!r}")


def _rebuild(indptr, indices, edge_weight, num_nodes, directed):  # pickle support
    return Graph._from_parts(indptr, indices, edge_weight, num_nodes, directed)


class Graph(GraphNormalize, GraphConversions):
    r"""Immutable CSR adjacency grouped by destination, with a cached transpose.

    Args:
        indptr (Tensor or ndarray): int64-castable row pointer ``[N + 1]``.
        indices (Tensor or ndarray): source of every arc, sorted within each row, ``[E]``.
        edge_weight (Tensor, optional): finite real weight per CSR position ``[E]``; integer
            weights are cast to the default float dtype. (default: :obj:`None`)
        num_nodes (int, optional): ``N``; must equal ``len(indptr) - 1``.
            (default: :obj:`None`, taken from ``indptr``)
        directed (bool, optional): :obj:`False` declares the arc set symmetric (an undirected
            edge is two arcs, same weight); this is checked when ``validate``. :obj:`None`
            infers the flag from the arcs. (default: :obj:`True`)
        validate (bool, optional): check every invariant and raise :class:`GraphError` on the
            first violation. Skip only for trusted input. (default: :obj:`True`)
        index_dtype (torch.dtype, optional): force ``torch.int64`` (or ``torch.int32``) indices.
            (default: :obj:`None`: int32 while ``N <= 2**31``)

    Shapes:
        ``indptr``: :math:`(|V| + 1,)`, ``indices``: :math:`(|E|,)`,
        ``edge_weight``: :math:`(|E|,)`, ``edge_index``: :math:`(2, |E|)`.

    The constructor does not copy tensors that already have the target dtype (int64
    ``indptr``, the chosen index dtype, float weights): do not modify them afterwards.

    Most users build graphs with :meth:`from_edge_index` (any arc order, validated):

    >>> import torch
    >>> g = Graph.from_edge_index(torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]]))
    >>> g
    Graph(num_nodes=4, num_edges=6, directed=True, weighted=False)
    >>> g.indptr
    tensor([0, 3, 4, 5, 6])
    >>> g.indices
    tensor([1, 2, 3, 0, 0, 0], dtype=torch.int32)
    >>> g.in_degree()
    tensor([3, 1, 1, 1])
    >>> g.num_nodes = 5
    Traceback (most recent call last):
        ...
    AttributeError: Graph is immutable; cannot set attribute 'num_nodes'
    """

    __slots__ = ("_indptr", "_indices", "_edge_weight", "_num_nodes", "_directed", "_transpose")

    # ------------------------------------------------------------------ construction
    def __init__(self, indptr, indices, edge_weight=None, num_nodes=None, directed=True,
                 validate: bool = True, index_dtype=None):
        _check_directed(directed, allow_none=True)
        indptr, indptr_desc = as_tensor(indptr, "indptr")
        indices, indices_desc = as_tensor(indices, "indices")
        if validate:
            check_integer(indptr, indptr_desc, "indptr")
            check_integer(indices, indices_desc, "indices")
            if indptr.dim() != 1 or indptr.numel() == 0:
                raise GraphError(f"indptr must have shape [num_nodes + 1], got {tuple(indptr.shape)}")
            if indices.dim() != 1:
                raise GraphError(f"indices must have shape [E], got {tuple(indices.shape)}")
            if indices.device != indptr.device:
                raise GraphError(f"indices is on {indices.device} but indptr is on {indptr.device}")
        n = indptr.numel() - 1
        if num_nodes is not None:
            num_nodes = check_num_nodes(num_nodes)
            if num_nodes != n:
                raise GraphError(
                    f"indptr must have shape [num_nodes + 1] = [{num_nodes + 1}], got {tuple(indptr.shape)}"
                )
        num_nodes = n
        indptr = indptr.to(torch.int64)
        idx_dtype = pick_index_dtype(num_nodes, index_dtype)
        if validate:
            self._validate_csr(indptr, indices)
        indices = indices.to(idx_dtype)
        if edge_weight is not None:
            if validate:
                edge_weight = check_weight(edge_weight, indices.numel(), indptr.device)
            else:
                edge_weight, _ = as_tensor(edge_weight, "edge_weight")
        for name, value in (("_indptr", indptr), ("_indices", indices), ("_edge_weight", edge_weight),
                            ("_num_nodes", num_nodes), ("_directed", True), ("_transpose", None)):
            object.__setattr__(self, name, value)
        if directed is None:
            object.__setattr__(self, "_directed", not self._is_symmetric())
        elif not directed:
            if validate and not self._is_symmetric():
                raise GraphError(
                    "directed=False requires a symmetric arc set (every arc j->i needs a reverse "
                    f"arc i->j with the same weight); {self._first_asymmetry()}"
                )
            object.__setattr__(self, "_directed", False)

    @staticmethod
    def _validate_csr(indptr: Tensor, indices: Tensor) -> None:
        n, e = indptr.numel() - 1, indices.numel()
        first = int(indptr[0].item())
        if first != 0:
            raise GraphError(f"indptr[0] must be 0, got {first}")
        if n > 0:
            drop = indptr[1:] < indptr[:-1]
            if bool(drop.any()):
                k = int(drop.nonzero()[0].item()) + 1
                raise GraphError(
                    f"indptr must be non-decreasing: indptr[{k}] = {int(indptr[k])} < "
                    f"indptr[{k - 1}] = {int(indptr[k - 1])}"
                )
        last = int(indptr[-1].item())
        if last != e:
            raise GraphError(f"indptr[-1] = {last} must equal len(indices) = {e}")
        check_range(indices, n, "indices")
        if e > 1:
            src = indices.to(torch.int64)
            dst = row_index(indptr, e)
            bad = (dst[1:] == dst[:-1]) & (src[1:] < src[:-1])
            if bool(bad.any()):
                k = int(bad.nonzero()[0].item()) + 1
                raise GraphError(
                    f"indices must be sorted ascending within each row: indices[{k}] = {int(src[k])} "
                    f"< indices[{k - 1}] = {int(src[k - 1])} in row {int(dst[k])} "
                    "(use Graph.from_edge_index for unsorted arcs)"
                )

    @classmethod
    def _from_parts(cls, indptr, indices, edge_weight, num_nodes, directed, transpose=None):
        """Trusted internal constructor: no checks, no copies."""
        self = object.__new__(cls)
        for name, value in (("_indptr", indptr), ("_indices", indices), ("_edge_weight", edge_weight),
                            ("_num_nodes", num_nodes), ("_directed", directed),
                            ("_transpose", transpose)):
            object.__setattr__(self, name, value)
        return self

    @classmethod
    def _from_coo(cls, src: Tensor, dst: Tensor, weight, num_nodes: int, directed: bool,
                  index_dtype: torch.dtype):
        """Trusted: int64 arc lists (any order) -> (Graph, perm)."""
        indptr, indices, w, perm = csr_from_coo(src, dst, weight, num_nodes, index_dtype)
        return cls._from_parts(indptr, indices, w, num_nodes, directed), perm

    def __setattr__(self, name, value):
        raise AttributeError(f"Graph is immutable; cannot set attribute {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"Graph is immutable; cannot delete attribute {name!r}")

    def __reduce__(self):
        return _rebuild, (self._indptr, self._indices, self._edge_weight, self._num_nodes,
                          self._directed)

    @classmethod
    def empty(cls, num_nodes: int = 0, directed: bool = True, device=None, index_dtype=None) -> "Graph":
        """A graph with ``num_nodes`` isolated nodes and no arcs.

        >>> Graph.empty(3)
        Graph(num_nodes=3, num_edges=0, directed=True, weighted=False)
        """
        n = check_num_nodes(num_nodes)
        _check_directed(directed, allow_none=False)
        idx_dtype = pick_index_dtype(n, index_dtype)
        return cls._from_parts(torch.zeros(n + 1, dtype=torch.int64, device=device),
                               torch.zeros(0, dtype=idx_dtype, device=device), None, n, directed)

    @classmethod
    def from_edge_index(cls, edge_index, num_nodes=None, edge_weight=None, directed=True,
                        return_perm: bool = False, *, reduce: str = "max", index_dtype=None):
        r"""Build a graph from a COO arc list (PyG convention: row 0 source, row 1 target).

        Construction is one stable sort on the int64 key ``dst * N + src``, :math:`O(E \log E)`;
        duplicate arcs are kept (see :meth:`coalesce`).

        Args:
            edge_index (Tensor or ndarray): integer ``[2, E]`` arcs ``edge_index[0] -> edge_index[1]``.
            num_nodes (int, optional): (default: :obj:`None`: ``max id + 1``, 0 if ``E = 0``)
            edge_weight (Tensor or ndarray, optional): finite weights ``[E]``. (default: :obj:`None`)
            directed (bool, optional): :obj:`False` symmetrises: the result holds the union of
                the arcs and the reversed arcs with duplicates merged, exactly as
                :meth:`to_undirected` (``reduce``). :obj:`None` keeps the arcs and infers the flag
                (:obj:`False` iff the arcs are already symmetric). (default: :obj:`True`)
            return_perm (bool, optional): also return ``perm`` (int64 ``[E_out]``), where
                ``perm[k]`` is the input position of CSR entry ``k``, to align edge attributes as
                ``edge_attr[perm]``. For ``directed=False`` it is the first input arc that
                produced entry ``k`` (an arc given in that direction is preferred over the
                reversed copy of an arc given the other way). (default: :obj:`False`)
            reduce (str, optional): weight merge for ``directed=False``: ``'max'``, ``'min'``,
                ``'mean'`` or ``'sum'``. (default: :obj:`"max"`)
            index_dtype (torch.dtype, optional): force int64 indices. (default: :obj:`None`)

        >>> g, perm = Graph.from_edge_index(torch.tensor([[2, 0, 1], [0, 1, 0]]), return_perm=True)
        >>> g.edge_index
        tensor([[1, 2, 0],
                [0, 0, 1]])
        >>> perm
        tensor([2, 0, 1])
        """
        _check_directed(directed, allow_none=True)
        if reduce not in _SCATTER_REDUCE:
            raise GraphError(f"from_edge_index: reduce must be one of {tuple(_SCATTER_REDUCE)}, got {reduce!r}")
        ei, desc = as_tensor(edge_index, "edge_index")
        check_integer(ei, desc, "edge_index")
        if ei.dim() != 2 or ei.size(0) != 2:
            raise GraphError(f"edge_index must have shape [2, E], got {tuple(ei.shape)}")
        ei = ei.to(torch.int64)
        e = ei.size(1)
        if num_nodes is None:
            n = int(ei.max().item()) + 1 if e > 0 else 0
            n = max(n, 0)
        else:
            n = check_num_nodes(num_nodes)
        check_range(ei, n, "edge_index")
        w = None
        if edge_weight is not None:
            w = check_weight(edge_weight, e, ei.device)
        idx_dtype = pick_index_dtype(n, index_dtype)
        g, perm = cls._from_coo(ei[0], ei[1], w, n, True, idx_dtype)
        if directed is False:
            g, pos = g._to_undirected(reduce)
            perm = perm[pos]
        elif directed is None and g._is_symmetric():
            g = g._with(directed=False, transpose=g._transpose)
        return (g, perm) if return_perm else g

    # ------------------------------------------------------------------ properties
    @property
    def indptr(self) -> Tensor:
        """int64 row pointer ``[N + 1]`` (rows are destinations)."""
        return self._indptr

    @property
    def indices(self) -> Tensor:
        """Sources of the arcs in CSR order ``[E]`` (int32, or int64 for huge/forced graphs)."""
        return self._indices

    @property
    def edge_weight(self):
        """``None`` or the float weight of every CSR position ``[E]``."""
        return self._edge_weight

    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    @property
    def num_edges(self) -> int:
        """Number of stored arcs ``E`` (an undirected edge counts twice, a self loop once)."""
        return self._indices.numel()

    @property
    def directed(self) -> bool:
        return self._directed

    @property
    def weighted(self) -> bool:
        return self._edge_weight is not None

    @property
    def device(self) -> torch.device:
        return self._indptr.device

    @property
    def edge_index(self) -> Tensor:
        """int64 ``[2, E]`` (source, destination) in CSR order."""
        return torch.stack([self._indices.to(torch.int64), self.dst_index()])

    def dst_index(self) -> Tensor:
        """int64 ``[E]``: destination of every CSR position (``indptr`` expanded)."""
        return row_index(self._indptr, self.num_edges)

    def __repr__(self) -> str:
        dev = "" if self.device.type == "cpu" else f", device={self.device}"
        return (f"Graph(num_nodes={self._num_nodes}, num_edges={self.num_edges}, "
                f"directed={self._directed}, weighted={self.weighted}{dev})")

    # ------------------------------------------------------------------ internals
    def _with(self, indptr=None, indices=None, edge_weight=None, *, keep_weight=True,
              directed=None, transpose=None):
        return Graph._from_parts(
            self._indptr if indptr is None else indptr,
            self._indices if indices is None else indices,
            (self._edge_weight if keep_weight else None) if edge_weight is None else edge_weight,
            self._num_nodes,
            self._directed if directed is None else directed,
            transpose,
        )

    def _idx_dtype(self, num_nodes: int) -> torch.dtype:
        """Derived graphs keep forced int64 indices."""
        return torch.int64 if self._indices.dtype == torch.int64 else pick_index_dtype(num_nodes, None)

    def _is_symmetric(self) -> bool:
        t_indptr, t_indices, t_perm = self.transpose()
        if not (torch.equal(t_indptr, self._indptr) and torch.equal(t_indices, self._indices)):
            return False
        w = self._edge_weight
        if w is None:
            return True
        wt = w[t_perm]
        src, dst = self._indices.to(torch.int64), self.dst_index()
        new = group_starts(src, dst)
        if bool(new.all()):
            return torch.equal(w, wt)
        # Duplicate arcs: compare the multisets of weights within each (dst, src) group.
        group = torch.cumsum(new.to(torch.int64), 0)

        def sort_in_groups(v):
            order = torch.sort(v, stable=True).indices
            order = order[torch.sort(group[order], stable=True).indices]
            return v[order]

        return torch.equal(sort_in_groups(w), sort_in_groups(wt))

    def _first_asymmetry(self) -> str:
        src, dst, n = self._indices.to(torch.int64), self.dst_index(), self._num_nodes
        keys = dst * n + src  # sorted (CSR order); only used for a message on small graphs
        rev = src * n + dst
        pos = torch.searchsorted(keys, rev).clamp(max=max(keys.numel() - 1, 0))
        missing = keys[pos] != rev
        if bool(missing.any()):
            k = int(missing.nonzero()[0].item())
            return f"arc {int(src[k])}->{int(dst[k])} (CSR position {k}) has no reverse arc"
        return "some reverse arcs differ in weight or multiplicity"

    # ------------------------------------------------------------------ transpose
    def transpose(self):
        """The CSR of the transposed adjacency, computed once and cached.

        Returns:
            ``(t_indptr, t_indices, t_perm)``: int64 ``t_indptr [N + 1]`` grouped by source;
            ``t_indices [E]`` (index dtype) the destinations, ascending within each source;
            int64 ``t_perm [E]``, the CSR position of each transposed entry (so transposed
            weights are ``edge_weight[t_perm]``).

        >>> g = Graph.from_edge_index(torch.tensor([[0, 0, 1], [1, 2, 2]]))
        >>> t_indptr, t_indices, t_perm = g.transpose()
        >>> t_indptr, t_indices.tolist(), t_perm.tolist()
        (tensor([0, 2, 3, 3]), [1, 2, 2], [0, 1, 2])
        """
        t = self._transpose
        if t is None:
            t = csr_transpose(self._indptr, self._indices, self._num_nodes)
            object.__setattr__(self, "_transpose", t)  # compute, then publish: benign race
        return t

    def with_transpose(self, t_indptr: Tensor, t_indices: Tensor, t_perm: Tensor) -> "Graph":
        """The same graph with a pre-built transpose (e.g. stored on disk) as its cached
        :meth:`transpose`; shapes and dtypes are checked (O(1)), the contents are trusted.

        >>> g = Graph.from_edge_index(torch.tensor([[0, 0, 1], [1, 2, 2]]))
        >>> Graph.with_transpose(g, *g.transpose()).transpose()[0].tolist()
        [0, 2, 3, 3]
        """
        n, e = self._num_nodes, self._indices.numel()
        for name, t, size, dtypes in (("t_indptr", t_indptr, n + 1, (torch.int64,)),
                                      ("t_indices", t_indices, e, (self._indices.dtype,)),
                                      ("t_perm", t_perm, e, (torch.int64,))):
            if not isinstance(t, Tensor) or t.dim() != 1 or t.numel() != size or t.dtype not in dtypes:
                raise GraphError(f"with_transpose: '{name}' must be a 1-D {dtypes[0]} tensor of length "
                                 f"{size}, got {getattr(t, 'dtype', type(t))} {tuple(getattr(t, 'shape', ()))}")
            if t.device != self._indptr.device:
                raise GraphError(f"with_transpose: '{name}' is on {t.device}, the graph on {self._indptr.device}")
        return self._with(transpose=(t_indptr, t_indices, t_perm))

    # ------------------------------------------------------------------ queries
    def in_degree(self, weighted: bool = False) -> Tensor:
        """In-degree of every node ``[N]``: int64 arc counts, or (``weighted=True``) the sum of
        incoming weights in the weight dtype (counts as float when unweighted)."""
        counts = self._indptr.diff()
        if not weighted:
            return counts
        w = self._edge_weight
        if w is None:
            return counts.to(torch.get_default_dtype())
        return torch.zeros(self._num_nodes, dtype=w.dtype, device=self.device).index_add_(
            0, self.dst_index(), w)

    def out_degree(self, weighted: bool = False) -> Tensor:
        """Out-degree of every node ``[N]`` (see :meth:`in_degree`)."""
        src = self._indices.to(torch.int64)
        counts = torch.bincount(src, minlength=self._num_nodes)
        if not weighted:
            return counts
        w = self._edge_weight
        if w is None:
            return counts.to(torch.get_default_dtype())
        return torch.zeros(self._num_nodes, dtype=w.dtype, device=self.device).index_add_(0, src, w)

    def is_coalesced(self) -> bool:
        """True when no arc is stored twice."""
        return bool(group_starts(self._indices, self.dst_index()).all())

    def has_self_loops(self) -> bool:
        return bool((self._indices.to(torch.int64) == self.dst_index()).any())

    # ------------------------------------------------------------------ operations
    def with_edge_weight(self, edge_weight) -> "Graph":
        """Same arcs (and cached transpose), new weights ``[E]`` (validated); ``None`` drops them.

        An undirected graph given asymmetric weights comes back with ``directed=True``."""
        if edge_weight is None:
            return self._with(keep_weight=False, transpose=self._transpose)
        w = check_weight(edge_weight, self.num_edges, self.device)
        g = self._with(edge_weight=w, transpose=self._transpose)
        if not self._directed and not g._is_symmetric():
            g = g._with(directed=True, transpose=g._transpose)
        return g

    def _filter(self, keep: Tensor):
        """Keep CSR positions where ``keep``; order is preserved. Returns (Graph, positions)."""
        pos = keep.nonzero().view(-1)
        dst = self.dst_index()[pos]
        w = None if self._edge_weight is None else self._edge_weight[pos]
        g = Graph._from_parts(counts_to_indptr(dst, self._num_nodes), self._indices[pos], w,
                              self._num_nodes, self._directed)
        return g, pos

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
        g = Graph._from_parts(counts_to_indptr(dst[first], self._num_nodes), self._indices[first],
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
        u, perm = Graph._from_coo(s2, d2, w2, self._num_nodes, False, self._indices.dtype)
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

        >>> g = Graph.from_edge_index(torch.tensor([[0, 1, 1], [1, 2, 2]]))
        >>> g.to_undirected().edge_index
        tensor([[1, 0, 2, 1],
                [0, 1, 1, 2]])
        """
        return self._to_undirected(reduce)[0]

    def add_self_loops(self, fill_value=1.0, *, remaining: bool = True) -> "Graph":
        """Add self loops.

        Args:
            fill_value (float or Tensor, optional): weight of the new loops: a scalar or a
                per-node tensor ``[N]``. An unweighted graph stays unweighted when the fill is 1.
                (default: :obj:`1.0`)
            remaining (bool, optional): add a loop only at nodes that have none (PyG
                ``add_remaining_self_loops``; existing loops keep their weight and, unlike PyG,
                repeated loops are kept, not collapsed). :obj:`False` adds one loop at every
                node (PyG ``add_self_loops``). (default: :obj:`True`)

        >>> g = Graph.from_edge_index(torch.tensor([[0, 1], [1, 1]]))
        >>> g.add_self_loops().edge_index
        tensor([[0, 0, 1],
                [0, 1, 1]])
        """
        n = self._num_nodes
        src, dst = self._indices.to(torch.int64), self.dst_index()
        loops, new_w = self_loop_arcs(src, dst, n, self._edge_weight, fill_value, remaining,
                                      "Graph.add_self_loops")
        g, _ = Graph._from_coo(torch.cat([src, loops]), torch.cat([dst, loops]), new_w, n,
                               self._directed, self._indices.dtype)
        return g

    def remove_self_loops(self) -> "Graph":
        """Drop every arc ``i -> i``."""
        return self._filter(self._indices.to(torch.int64) != self.dst_index())[0]

    def reverse(self) -> "Graph":
        """Flip every arc (``j -> i`` becomes ``i -> j``): the CSR of the transpose."""
        t_indptr, t_indices, t_perm = self.transpose()
        w = None if self._edge_weight is None else self._edge_weight[t_perm]
        inv = torch.empty_like(t_perm)
        inv[t_perm] = torch.arange(t_perm.numel(), device=self.device)
        # The transpose of the reverse is the original CSR, with the inverse permutation.
        return Graph._from_parts(t_indptr, t_indices, w, self._num_nodes, self._directed,
                                 (self._indptr, self._indices, inv))

    def subgraph(self, nodes):
        """Induced subgraph on ``nodes``.

        Args:
            nodes (Tensor or ndarray): distinct node ids ``[n]`` (new id of ``nodes[i]`` is
                ``i``), or a bool mask ``[N]`` (kept nodes renumbered in ascending order).

        Returns:
            ``(Graph, edge_pos)``: ``edge_pos`` int64 ``[E']`` is the CSR position in ``self``
            of every arc of the subgraph (align edge attributes as ``edge_attr[edge_pos]``).

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
        g, perm = Graph._from_coo(src[kept], dst[kept], w, m, self._directed, self._idx_dtype(m))
        return g, kept[perm]

    def reorder(self, method: str = "rcm", **opts):
        r"""Renumber the nodes for locality (:mod:`gnnkit.reorder`).

        Args:
            method (str): ``'rcm'`` (reverse Cuthill-McKee), ``'degree'`` (hubs first),
                ``'rabbit'`` (Rabbit order, Arai et al. 2016) or ``'metis'`` (needs ``pymetis``;
                option ``num_parts``), or a :class:`gnnkit.reorder.Reordering`.

        Returns:
            ``(Graph, Reordering)``: the graph :math:`P A P^\top` (new node ``i`` is old node
            ``perm[i]``) and the reordering, which maps features (``r.nodes(x)``), split ids
            (``r.ids(idx)``) and results back (``r.original(out)``).

        >>> g = Graph.from_edge_index(torch.tensor([[0, 2, 3], [2, 3, 1]]))
        >>> g2, r = g.reorder("degree")
        >>> r.perm.tolist(), torch.equal(r.original(r.nodes(torch.arange(4))), torch.arange(4))
        ([1, 2, 3, 0], True)
        """
        from gnnkit.reorder import reorder

        return reorder(self, method, **opts)

    def to(self, device, non_blocking: bool = False) -> "Graph":
        """Copy to ``device`` (returns ``self`` when already there); the cached transpose moves too."""
        indptr = self._indptr.to(device, non_blocking=non_blocking)
        if indptr is self._indptr:
            return self
        mv = lambda t: None if t is None else t.to(device, non_blocking=non_blocking)  # noqa: E731
        t = None if self._transpose is None else tuple(mv(x) for x in self._transpose)
        return Graph._from_parts(indptr, mv(self._indices), mv(self._edge_weight), self._num_nodes,
                                 self._directed, t)
