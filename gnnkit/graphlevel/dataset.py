r"""A graph-level dataset: many small graphs stored as concatenated arrays with offsets.

All graphs are kept as *one* CSR of their disjoint union (the layout of
:class:`gnnkit.Graph`: arcs grouped by destination, sources ascending within a row), plus
offsets that say where each graph starts:

=================  ==============================================================================
``node_ptr``       int64 ``[G + 1]``: nodes of graph ``g`` are ``node_ptr[g]:node_ptr[g+1]``
``indptr``         int64 ``[N + 1]``: CSR row pointer over all ``N`` nodes (global)
``indices``        int64 ``[E]``: *local* source id (``0 .. n_g - 1``) of every arc
``x``              ``[N, F]`` node features (float, or int64 categorical codes), or :obj:`None`
``edge_attr``      ``[E, F_e]`` arc features aligned with the CSR positions, or :obj:`None`
``y``              ``[G]`` class labels (int64) or ``[G, T]`` targets (float, NaN = missing)
=================  ==============================================================================

The arcs of graph ``g`` are ``indptr[node_ptr[g]] : indptr[node_ptr[g+1]]``; keeping the
sources local means a batch is gathered with one vectorised range-gather and one add
(:mod:`gnnkit.graphlevel.collate`), never a Python loop per graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from gnnkit.graph import Graph, GraphError

__all__ = ["GraphDataset", "ranges", "TASK_TYPES"]

TASK_TYPES = ("multiclass", "binary", "multilabel", "regression")


def ranges(starts: Tensor, lengths: Tensor) -> Tensor:
    r"""Concatenation of ``arange(starts[i], starts[i] + lengths[i])`` for all ``i`` (vectorised).

    >>> ranges(torch.tensor([5, 0, 9]), torch.tensor([2, 0, 3])).tolist()
    [5, 6, 9, 10, 11]
    """
    lengths = lengths.to(torch.int64)
    total = int(lengths.sum())
    if total == 0:
        return torch.zeros(0, dtype=torch.int64)
    offs = torch.cumsum(lengths, 0) - lengths                      # exclusive prefix sum
    return torch.repeat_interleave(starts.to(torch.int64) - offs, lengths, output_size=total) \
        + torch.arange(total, dtype=torch.int64)


@dataclass
class GraphDataset:
    r"""Many small graphs in one concatenated CSR (see the module docstring).

    Args:
        node_ptr, indptr, indices: the layout above (validated unless ``validate=False``).
        y (Tensor): ``[G]`` int64 classes, or ``[G, T]`` float targets (NaN = missing).
        x (Tensor, optional): ``[N, F]`` node features; :obj:`None` means a constant 1 feature.
        edge_attr (Tensor, optional): ``[E, F_e]`` arc features in CSR order.
        name (str): dataset name (used for caches and results).
        task_type (str): one of :data:`TASK_TYPES`.
        num_classes (int, optional): for ``'multiclass'`` (default: ``y.max() + 1``).
        splits (dict, optional): ``{'train': ids, 'valid': ids, 'test': ids}`` (int64 graph ids),
            or :obj:`None` for cross-validation sets (see :meth:`kfold`).
        metric (str, optional): the metric name for :func:`gnnkit.tasks.metrics.get_metric`.
        directed (bool): whether arcs are directed (default: :obj:`False`).

    >>> import torch
    >>> from gnnkit.data.graph_datasets import decalin, bicyclopentyl
    >>> ds = GraphDataset.from_graphs([decalin(), bicyclopentyl()], torch.tensor([0, 1]))
    >>> len(ds), ds.num_nodes, ds.num_arcs, ds.graph(1).num_edges
    (2, 20, 44, 22)
    """

    node_ptr: Tensor
    indptr: Tensor
    indices: Tensor
    y: Tensor
    x: Tensor | None = None
    edge_attr: Tensor | None = None
    name: str = "graphs"
    task_type: str = "multiclass"
    num_classes: int | None = None
    splits: dict | None = None
    metric: str | None = None
    directed: bool = False
    validate: bool = field(default=True, repr=False)

    def __post_init__(self):
        self.node_ptr = self.node_ptr.to(torch.int64)
        self.indptr = self.indptr.to(torch.int64)
        self.indices = self.indices.to(torch.int64)
        if self.task_type not in TASK_TYPES:
            raise ValueError(f"GraphDataset: task_type must be one of {TASK_TYPES}, got {self.task_type!r}")
        if self.task_type == "multiclass" and self.num_classes is None:
            self.num_classes = int(self.y.max()) + 1 if self.y.numel() else 0
        if self.validate:
            self._check()

    # ------------------------------------------------------------------ checks
    def _check(self) -> None:
        G = self.node_ptr.numel() - 1
        if self.node_ptr.dim() != 1 or G < 0 or int(self.node_ptr[0]) != 0:
            raise GraphError(f"GraphDataset: node_ptr must be [G + 1] starting at 0, got "
                             f"shape {tuple(self.node_ptr.shape)}")
        dn = self.node_ptr[1:] < self.node_ptr[:-1]
        if bool(dn.any()):
            g = int(dn.nonzero()[0]) + 1
            raise GraphError(f"GraphDataset: node_ptr must be non-decreasing: node_ptr[{g}] = "
                             f"{int(self.node_ptr[g])} < node_ptr[{g - 1}] = {int(self.node_ptr[g - 1])}")
        N = int(self.node_ptr[-1])
        if self.indptr.numel() != N + 1:
            raise GraphError(f"GraphDataset: indptr must be [N + 1] = [{N + 1}], got {self.indptr.numel()}")
        Graph._validate_csr(self.indptr, self.indices.clamp(min=0))   # monotone indptr, sorted rows
        E = self.indices.numel()
        n_of_arc = self.graph_sizes().repeat_interleave(self.arc_counts())
        bad = (self.indices < 0) | (self.indices >= n_of_arc)
        if bool(bad.any()):
            k = int(bad.nonzero()[0])
            g = int(torch.searchsorted(self.indptr[self.node_ptr], torch.tensor(k), right=True)) - 1
            raise GraphError(f"GraphDataset: indices[{k}] = {int(self.indices[k])} is out of range "
                             f"[0, {int(n_of_arc[k])}) of graph {g}")
        if self.y.dim() not in (1, 2) or self.y.size(0) != G:
            raise ValueError(f"GraphDataset: y must be [G] or [G, T] with G = {G}, got {tuple(self.y.shape)}")
        if self.x is not None and self.x.size(0) != N:
            raise ValueError(f"GraphDataset: x must have N = {N} rows, got {tuple(self.x.shape)}")
        if self.edge_attr is not None and self.edge_attr.size(0) != E:
            raise ValueError(f"GraphDataset: edge_attr must have E = {E} rows, got {tuple(self.edge_attr.shape)}")
        if self.splits:
            for k, ids in self.splits.items():
                ids = torch.as_tensor(ids, dtype=torch.int64)
                if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= G):
                    raise IndexError(f"GraphDataset: split {k!r} has graph id outside [0, {G})")
                self.splits[k] = ids

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_coo(cls, src: Tensor, dst: Tensor, num_nodes: Tensor, num_arcs: Tensor, y: Tensor,
                 x=None, edge_attr=None, add_reverse: bool = False, **kw) -> "GraphDataset":
        r"""From concatenated per-graph arc lists with *local* node ids (OGB's raw layout).

        Args:
            src, dst (Tensor): ``[E]`` local ids, graph by graph (graph ``g`` owns
                ``num_arcs[g]`` consecutive arcs).
            num_nodes, num_arcs (Tensor): ``[G]`` sizes.
            add_reverse (bool): add ``dst -> src`` for every arc (with the same ``edge_attr``),
                as ogb's ``add_inverse_edge``.

        Sorting is one global ``argsort`` on ``(global dst, global src)``: no loop per graph.
        """
        num_nodes = torch.as_tensor(num_nodes, dtype=torch.int64)
        num_arcs = torch.as_tensor(num_arcs, dtype=torch.int64)
        src = torch.as_tensor(src, dtype=torch.int64)
        dst = torch.as_tensor(dst, dtype=torch.int64)
        if src.shape != dst.shape or src.dim() != 1 or src.numel() != int(num_arcs.sum()):
            raise GraphError(f"GraphDataset.from_coo: src/dst must be [sum(num_arcs)] = "
                             f"[{int(num_arcs.sum())}], got {tuple(src.shape)} and {tuple(dst.shape)}")
        node_ptr = torch.zeros(num_nodes.numel() + 1, dtype=torch.int64)
        torch.cumsum(num_nodes, 0, out=node_ptr[1:])
        arc_graph = torch.repeat_interleave(torch.arange(num_nodes.numel()), num_arcs)
        n_of = num_nodes[arc_graph]
        for name, t in (("src", src), ("dst", dst)):
            bad = (t < 0) | (t >= n_of)
            if bool(bad.any()):
                k = int(bad.nonzero()[0])
                raise GraphError(f"GraphDataset.from_coo: {name}[{k}] = {int(t[k])} is out of range "
                                 f"[0, {int(n_of[k])}) of graph {int(arc_graph[k])}")
        if add_reverse:
            src, dst = torch.cat([src, dst]), torch.cat([dst, src])
            arc_graph = torch.cat([arc_graph, arc_graph])
            if edge_attr is not None:
                edge_attr = torch.cat([edge_attr, edge_attr])
        off = node_ptr[arc_graph]
        N = int(node_ptr[-1])
        key = (dst + off) * max(N, 1) + (src + off)
        perm = torch.sort(key, stable=True).indices
        gdst = (dst + off)[perm]
        indptr = torch.zeros(N + 1, dtype=torch.int64)
        torch.cumsum(torch.bincount(gdst, minlength=N), 0, out=indptr[1:])
        if edge_attr is not None:
            edge_attr = torch.as_tensor(edge_attr)[perm]
        return cls(node_ptr, indptr, src[perm], torch.as_tensor(y), x=x, edge_attr=edge_attr, **kw)

    @classmethod
    def from_graphs(cls, graphs, y, x=None, edge_attr=None, **kw) -> "GraphDataset":
        """From a list of :class:`gnnkit.Graph` (a loop over graphs, at construction only).

        ``x`` / ``edge_attr``: lists of per-graph tensors (edge attributes in each graph's CSR
        order) or :obj:`None`.
        """
        graphs = list(graphs)
        for i, g in enumerate(graphs):
            if not isinstance(g, Graph):
                raise TypeError(f"GraphDataset.from_graphs: graphs[{i}] must be a gnnkit.Graph, "
                                f"got {type(g).__name__}")
        sizes = torch.tensor([g.num_nodes for g in graphs], dtype=torch.int64)
        node_ptr = torch.zeros(len(graphs) + 1, dtype=torch.int64)
        torch.cumsum(sizes, 0, out=node_ptr[1:])
        degs = [g.indptr[1:] - g.indptr[:-1] for g in graphs]
        deg = torch.cat(degs) if degs else torch.zeros(0, dtype=torch.int64)
        indptr = torch.zeros(int(node_ptr[-1]) + 1, dtype=torch.int64)
        torch.cumsum(deg, 0, out=indptr[1:])
        indices = torch.cat([g.indices.to(torch.int64) for g in graphs]) if graphs else torch.zeros(0, dtype=torch.int64)
        directed = kw.pop("directed", any(g.directed for g in graphs))
        xs = torch.cat(list(x)) if x is not None else None
        ea = torch.cat(list(edge_attr)) if edge_attr is not None else None
        return cls(node_ptr, indptr, indices, torch.as_tensor(y), x=xs, edge_attr=ea,
                   directed=directed, **kw)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return self.node_ptr.numel() - 1

    @property
    def num_nodes(self) -> int:
        return int(self.node_ptr[-1])

    @property
    def num_arcs(self) -> int:
        return self.indices.numel()

    @property
    def num_edges(self) -> int:
        """Arcs over all graphs (the name :class:`gnnkit.Graph` uses)."""
        return self.indices.numel()

    @property
    def num_splits(self) -> int:
        """1 with split files; 10 (the cross-validation folds of :meth:`kfold`) without."""
        return 1 if self.splits else 10

    @property
    def num_features(self) -> int:
        return 1 if self.x is None else (self.x.size(1) if self.x.dim() == 2 else 1)

    @property
    def num_tasks(self) -> int:
        return 1 if self.y.dim() == 1 else self.y.size(1)

    def layout(self) -> dict:
        """Per-graph offsets and per-node degrees, computed once and kept (the collate stage's
        lookup tables): ``sizes``, ``arc_ptr``, ``arc_counts`` ``[G]``, ``deg`` ``[N]``,
        ``indices32`` (``indices`` as int32 when every local id fits)."""
        lay = self.__dict__.get("_layout")
        if lay is None:
            ap = self.arc_ptr()
            sizes = self.graph_sizes()
            small = (int(sizes.max()) if len(self) else 0) < 2**31
            lay = {"sizes": sizes, "arc_ptr": ap[:-1].contiguous(), "arc_counts": ap[1:] - ap[:-1],
                   "deg": self.indptr[1:] - self.indptr[:-1],
                   "indices32": self.indices.to(torch.int32) if small else self.indices}
            self.__dict__["_layout"] = lay
        return lay

    def graph_sizes(self) -> Tensor:
        """Nodes per graph, int64 ``[G]``."""
        return self.node_ptr[1:] - self.node_ptr[:-1]

    def arc_ptr(self) -> Tensor:
        """int64 ``[G + 1]``: arcs of graph ``g`` are ``arc_ptr[g]:arc_ptr[g+1]``."""
        return self.indptr[self.node_ptr]

    def arc_counts(self) -> Tensor:
        """Arcs per graph, int64 ``[G]``."""
        a = self.arc_ptr()
        return a[1:] - a[:-1]

    def graph(self, g: int) -> Graph:
        """Graph ``g`` as a :class:`gnnkit.Graph` (local ids)."""
        if not -len(self) <= g < len(self):
            raise IndexError(f"GraphDataset.graph: index {g} out of range for {len(self)} graphs")
        g = g % len(self)
        n0, n1 = int(self.node_ptr[g]), int(self.node_ptr[g + 1])
        ip = self.indptr[n0:n1 + 1]
        return Graph(ip - ip[0], self.indices[int(ip[0]):int(ip[-1])], directed=self.directed,
                     validate=False)

    def features(self, g: int) -> Tensor:
        """Node features of graph ``g`` (ones when the dataset has none)."""
        n0, n1 = int(self.node_ptr[g]), int(self.node_ptr[g + 1])
        return torch.ones(n1 - n0, 1) if self.x is None else self.x[n0:n1]

    def subset(self, ids) -> "GraphDataset":
        """A new dataset with the graphs ``ids`` (in that order), without splits."""
        from gnnkit.graphlevel.collate import gather_graphs
        ids = torch.as_tensor(ids, dtype=torch.int64)
        parts = gather_graphs(self, ids)
        return GraphDataset(parts.node_ptr, parts.indptr, parts.local_indices, self.y[ids],
                            x=parts.x, edge_attr=parts.edge_attr, name=self.name,
                            task_type=self.task_type, num_classes=self.num_classes,
                            metric=self.metric, directed=self.directed, validate=False)

    def kfold(self, folds: int = 10, seed: int = 0, stratify: bool = True) -> list[dict]:
        r"""``folds`` cross-validation splits ``{'train', 'valid', 'test'}``: fold ``i`` tests on
        slice ``i`` of a seeded (class-stratified) permutation, validates on slice
        ``(i + 1) % folds`` (for model selection) and trains on the other ``folds - 2`` slices.
        Every graph is tested exactly once.
        """
        if not isinstance(folds, int) or folds < 3 or folds > len(self):
            raise ValueError(f"GraphDataset.kfold: folds must be an int in [3, {len(self)}], got {folds!r}")
        gen = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(self), generator=gen)
        if stratify and self.y.dim() == 1 and not self.y.is_floating_point():
            perm = perm[torch.sort(self.y[perm], stable=True).indices]   # class-sorted, shuffled inside
        fold_of = torch.empty(len(self), dtype=torch.int64)
        fold_of[perm] = torch.arange(len(self)) % folds
        out = []
        for i in range(folds):
            v = (i + 1) % folds
            out.append({"train": ((fold_of != i) & (fold_of != v)).nonzero().flatten(),
                        "valid": (fold_of == v).nonzero().flatten(),
                        "test": (fold_of == i).nonzero().flatten()})
        return out

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.node_ptr, self.indptr, self.indices,
                                                          self.y, self.x, self.edge_attr)
                   if t is not None)

    def __repr__(self) -> str:
        avg_n = self.num_nodes / max(len(self), 1)
        avg_e = self.num_arcs / max(len(self), 1)
        return (f"GraphDataset({self.name!r}, graphs={len(self)}, avg_nodes={avg_n:.1f}, "
                f"avg_arcs={avg_e:.1f}, task_type={self.task_type!r})")

