r"""The one dataset type every gnnkit loader returns, its validation, splits and name registry.

A :class:`NodeDataset` is a single graph for node property prediction: a :class:`gnnkit.Graph`,
node features ``x``, labels ``y``, one or several train/val/test splits, ``num_classes``, a name,
the directedness and free-form ``metadata``.  Construction validates everything once, so that a
model never sees out-of-range labels or overlapping splits; a problem raises :class:`DatasetError`
naming the field (and, from the file loaders, the file) and the bad value.

Label convention: ``y`` is ``int64`` of shape ``[N]`` (single task) or ``[N, T]`` (multi-task, e.g.
``ogbn-proteins``); entries are in ``[0, num_classes)`` or ``-1`` for an unlabelled node (e.g. most of
``ogbn-papers100M``).  Split nodes must be labelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gnnkit.data.errors import DatasetError
from gnnkit.data.errors import where as _where
from gnnkit.graph import Graph

__all__ = [
    "DatasetError",
    "NodeDataset",
    "SPLIT_KEYS",
    "masks_to_splits",
    "random_splits",
]

SPLIT_KEYS = ("train", "val", "test")


def _as_index(value, n: int, what: str, source: str | None) -> torch.Tensor:
    t = torch.as_tensor(value)
    if t.dtype == torch.bool:
        if t.dim() != 1 or t.numel() != n:
            raise DatasetError(
                f"{_where(source)}{what} is a boolean mask of shape {tuple(t.shape)}, expected ({n},)"
            )
        return t.nonzero().view(-1).to(torch.int64)
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dim() != 1:
        raise DatasetError(
            f"{_where(source)}{what} must be a 1-D integer index tensor or a boolean mask, "
            f"got dtype {t.dtype} and shape {tuple(t.shape)}"
        )
    return t.to(torch.int64)


@dataclass(repr=False, eq=False)
class NodeDataset:
    r"""A graph with node features, labels and train/val/test splits.

    Args:
        graph (gnnkit.Graph): the graph; ``graph.num_nodes`` defines :math:`N`.
        x (torch.Tensor): ``float32`` node features.
        y (torch.Tensor): ``int64`` labels, ``-1`` marks an unlabelled node.
        splits (list of dict): each ``{'train', 'val', 'test'}`` -> ``int64`` node indices
            (boolean masks are accepted and converted). (default: ``[]``)
        num_classes (int, optional): number of classes per task; inferred as ``y.max() + 1`` when
            ``None``. (default: ``None``)
        name (str): dataset name. (default: ``""``)
        directed (bool, optional): must equal ``graph.directed``; taken from the graph when ``None``.
            (default: ``None``)
        metadata (dict): free-form description (source, licence, evaluation metric, ...).
        edge_attr (torch.Tensor, optional): per-arc features aligned with the graph's CSR
            positions. (default: ``None``)
        extras (dict): further per-node arrays (e.g. ``'node_year'``), each with leading size
            :math:`N`. (default: ``{}``)

    Shapes:
        - **x**: :math:`(N, F)`; **y**: :math:`(N)` or :math:`(N, T)`
        - each split index tensor: :math:`(n_{split})`; **edge_attr**: :math:`(E, D)`

    Raises:
        DatasetError: wrong dtypes or shapes, labels out of range, split indices out of range,
            duplicated within a split, shared between splits, or pointing at unlabelled nodes.

    >>> g = Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    >>> ds = NodeDataset(g, torch.zeros(3, 2), torch.tensor([0, 1, 1]),
    ...                  [{'train': torch.tensor([0]), 'val': torch.tensor([1]),
    ...                    'test': torch.tensor([2])}], name='toy')
    >>> ds
    NodeDataset(name='toy', num_nodes=3, num_edges=2, num_features=2, num_classes=2, num_splits=1, directed=True)
    >>> ds.split(0)['test']
    tensor([2])
    """

    graph: Graph
    x: torch.Tensor
    y: torch.Tensor
    splits: list = field(default_factory=list)
    num_classes: int | None = None
    name: str = ""
    directed: bool | None = None
    metadata: dict = field(default_factory=dict)
    edge_attr: torch.Tensor | None = None
    extras: dict = field(default_factory=dict)

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self, source: str | None = None) -> None:
        """Check every field (called by the constructor); ``source`` prefixes error messages."""
        g = self.graph
        if not isinstance(g, Graph):
            raise DatasetError(f"{_where(source)}graph must be a gnnkit.Graph, got {type(g).__name__}")
        n = int(g.num_nodes)
        if self.directed is None:
            self.directed = bool(g.directed)
        elif bool(self.directed) != bool(g.directed):
            raise DatasetError(
                f"{_where(source)}directed={self.directed} disagrees with graph.directed={g.directed}"
            )

        x = self.x
        if not isinstance(x, torch.Tensor) or x.dtype != torch.float32 or x.dim() != 2 or x.shape[0] != n:
            raise DatasetError(
                f"{_where(source)}x must be a float32 tensor of shape ({n}, F), got "
                f"{_describe(x)}"
            )
        y = self.y
        if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.dim() not in (1, 2) \
                or y.shape[0] != n:
            raise DatasetError(
                f"{_where(source)}y must be an int64 tensor of shape ({n},) or ({n}, T), got "
                f"{_describe(y)}"
            )
        labelled = y[y >= 0]
        if self.num_classes is None:
            self.num_classes = int(labelled.max()) + 1 if labelled.numel() else 0
        self.num_classes = int(self.num_classes)
        if self.num_classes < 1 and n > 0:
            raise DatasetError(f"{_where(source)}num_classes must be >= 1, got {self.num_classes}")
        if y.numel():
            lo, hi = int(y.min()), int(y.max())
            if lo < -1 or hi >= self.num_classes:
                bad = y[(y < -1) | (y >= self.num_classes)]
                raise DatasetError(
                    f"{_where(source)}labels out of range: y holds {bad[:5].tolist()} "
                    f"(min {lo}, max {hi}) but num_classes={self.num_classes}; valid labels are "
                    f"0..{self.num_classes - 1} and -1 for unlabelled nodes"
                )

        if self.edge_attr is not None:
            ea = self.edge_attr
            if not isinstance(ea, torch.Tensor) or ea.dim() not in (1, 2) or ea.shape[0] != g.num_edges:
                raise DatasetError(
                    f"{_where(source)}edge_attr must have leading size num_edges={g.num_edges}, got "
                    f"{_describe(ea)}"
                )
        for k, v in self.extras.items():
            if not isinstance(v, torch.Tensor) or v.dim() < 1 or v.shape[0] != n:
                raise DatasetError(
                    f"{_where(source)}extras[{k!r}] must be a tensor with leading size {n}, got "
                    f"{_describe(v)}"
                )

        if not isinstance(self.splits, (list, tuple)):
            raise DatasetError(f"{_where(source)}splits must be a list of dicts, got "
                               f"{type(self.splits).__name__}")
        unlabelled = (y < 0) if y.dim() == 1 else (y < 0).any(dim=1)
        self.splits = [self._check_split(s, i, n, unlabelled, source) for i, s in enumerate(self.splits)]

    @staticmethod
    def _check_split(s, i, n, unlabelled, source):
        if not isinstance(s, dict) or set(s) != set(SPLIT_KEYS):
            got = sorted(s) if isinstance(s, dict) else type(s).__name__
            raise DatasetError(f"{_where(source)}split {i} must be a dict with keys "
                               f"{list(SPLIT_KEYS)}, got {got}")
        out = {}
        owner = torch.full((n,), -1, dtype=torch.int8)
        for j, key in enumerate(SPLIT_KEYS):
            idx = _as_index(s[key], n, f"split {i} {key!r}", source)
            if idx.numel():
                lo, hi = int(idx.min()), int(idx.max())
                if lo < 0 or hi >= n:
                    raise DatasetError(f"{_where(source)}split {i} {key!r} holds node index "
                                       f"{lo if lo < 0 else hi} outside [0, {n})")
                prev = owner[idx]
                if torch.unique(idx).numel() != idx.numel():
                    raise DatasetError(f"{_where(source)}split {i} {key!r} lists a node twice")
                clash = prev >= 0
                if clash.any():
                    node = int(idx[clash][0])
                    other = SPLIT_KEYS[int(prev[clash][0])]
                    raise DatasetError(
                        f"{_where(source)}overlapping splits: split {i} puts node {node} (and "
                        f"{int(clash.sum()) - 1} more) in both {other!r} and {key!r}"
                    )
                owner[idx] = j
                if unlabelled[idx].any():
                    node = int(idx[unlabelled[idx]][0])
                    raise DatasetError(f"{_where(source)}split {i} {key!r} contains unlabelled "
                                       f"node {node} (y == -1)")
            out[key] = idx
        return out

    # ------------------------------------------------------------------ accessors
    @property
    def num_nodes(self) -> int:
        return int(self.graph.num_nodes)

    @property
    def num_edges(self) -> int:
        """Number of arcs of the graph (an undirected edge counts twice)."""
        return int(self.graph.num_edges)

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_tasks(self) -> int:
        return 1 if self.y.dim() == 1 else int(self.y.shape[1])

    @property
    def num_splits(self) -> int:
        return len(self.splits)

    def split(self, i: int = 0) -> dict:
        """The ``i``-th split as ``{'train', 'val', 'test'}`` -> ``int64`` node indices."""
        if not -self.num_splits <= i < self.num_splits:
            raise IndexError(f"split index {i} out of range: dataset {self.name!r} has "
                             f"{self.num_splits} split(s)")
        return self.splits[i]

    def masks(self, i: int = 0) -> dict:
        """The ``i``-th split as boolean masks of shape ``[N]``."""
        out = {}
        for k, idx in self.split(i).items():
            m = torch.zeros(self.num_nodes, dtype=torch.bool)
            m[idx] = True
            out[k] = m
        return out

    def __repr__(self) -> str:
        extra = f", num_tasks={self.num_tasks}" if self.y.dim() == 2 else ""
        return (f"NodeDataset(name={self.name!r}, num_nodes={self.num_nodes}, "
                f"num_edges={self.num_edges}, num_features={self.num_features}, "
                f"num_classes={self.num_classes}{extra}, num_splits={self.num_splits}, "
                f"directed={self.directed})")

    # ------------------------------------------------------------------ evaluation
    # The dataset only *declares* its metric; scoring lives in gnnkit.tasks.metrics
    # (get_metric(ds.metric)(pred[idx], ds.y[idx])), so the data layer never imports the
    # task layer or ogb's Evaluator.
    @property
    def metric(self) -> str:
        """The metric this dataset is evaluated with (a :func:`gnnkit.tasks.get_metric` name).

        ``metadata['metric']`` when the loader declares one (e.g. ``'roc_auc'`` for a binary
        task); else ``'ogb:<name>'`` for an OGB dataset (ogb's own Evaluator); else from
        ``metadata['eval_metric']`` (``'acc'`` -> ``'accuracy'``, ``'rocauc'`` -> ``'roc_auc'``);
        else ``'roc_auc'`` for multi-label ``y [N, T]`` and ``'accuracy'`` otherwise.

        >>> NodeDataset(Graph.from_edge_index(torch.tensor([[0], [1]]), num_nodes=2),
        ...             torch.zeros(2, 1), torch.tensor([0, 1])).metric
        'accuracy'
        """
        meta = self.metadata
        if meta.get("metric"):
            return str(meta["metric"])
        if meta.get("ogb_name"):
            return f"ogb:{meta['ogb_name']}"
        known = {"acc": "accuracy", "rocauc": "roc_auc"}
        if meta.get("eval_metric") in known:
            return known[meta["eval_metric"]]
        return "roc_auc" if self.y.dim() == 2 else "accuracy"


def _describe(t: Any) -> str:
    if isinstance(t, (torch.Tensor, np.ndarray)):
        return f"dtype {t.dtype} and shape {tuple(t.shape)}"
    return f"a {type(t).__name__}"


# ---------------------------------------------------------------------- split helpers
def masks_to_splits(train, val, test, num_nodes: int, source: str | None = None) -> list[dict]:
    """Turn stacked boolean masks into a list of index splits.

    Masks may be ``[S, N]`` (one row per split), ``[N, S]`` (one column per split, as in some PyG
    datasets) or ``[N]`` (a single split); a square ``[N, N]`` stack is read as ``[S, N]``.

    >>> m = torch.tensor([[True, False, False], [False, True, False]])
    >>> masks_to_splits(m, m.roll(1, 1), m.roll(2, 1), 3)[1]
    {'train': tensor([1]), 'val': tensor([2]), 'test': tensor([0])}
    """
    stacks = []
    for key, m in zip(SPLIT_KEYS, (train, val, test)):
        m = torch.as_tensor(np.asarray(m))
        if m.dtype != torch.bool:
            raise DatasetError(f"{_where(source)}{key} masks must be boolean, got dtype {m.dtype}")
        if m.dim() == 1:
            m = m.view(1, -1)
        if m.dim() != 2:
            raise DatasetError(f"{_where(source)}{key} masks must be [S, N], [N, S] or [N] with "
                               f"N={num_nodes}, got shape {tuple(m.shape)}")
        if m.shape[1] != num_nodes:
            if m.shape[0] == num_nodes:
                m = m.t()
            else:
                raise DatasetError(f"{_where(source)}{key} masks have shape {tuple(m.shape)}; "
                                   f"neither dimension equals the number of nodes {num_nodes}")
        stacks.append(m)
    counts = {k: s.shape[0] for k, s in zip(SPLIT_KEYS, stacks)}
    if len(set(counts.values())) != 1:
        raise DatasetError(f"{_where(source)}different numbers of train/val/test masks: {counts}")
    return [{k: s[i].nonzero().view(-1) for k, s in zip(SPLIT_KEYS, stacks)}
            for i in range(stacks[0].shape[0])]


def random_splits(num_nodes: int, num_splits: int = 1, train: float = 0.6, val: float = 0.2,
                  seed: int = 0, labelled: torch.Tensor | None = None) -> list[dict]:
    """Uniformly random train/val/test splits; the test set gets the remaining nodes.

    Args:
        num_nodes (int): number of nodes :math:`N`.
        num_splits (int): how many independent splits. (default: ``1``)
        train, val (float): fractions of the (labelled) nodes, rounded down. (default: ``0.6, 0.2``)
        seed (int): seed of the ``torch.Generator`` that draws the permutations. (default: ``0``)
        labelled (torch.Tensor, optional): boolean ``[N]``; only these nodes are split.

    >>> s = random_splits(10, seed=1)[0]
    >>> [len(s[k]) for k in ('train', 'val', 'test')]
    [6, 2, 2]
    """
    if not (0 <= train and 0 <= val and train + val <= 1):
        raise ValueError(f"random_splits: need train >= 0, val >= 0 and train + val <= 1, got "
                         f"train={train}, val={val}")
    if num_splits < 1:
        raise ValueError(f"random_splits: num_splits must be >= 1, got {num_splits}")
    pool = torch.arange(num_nodes) if labelled is None else labelled.nonzero().view(-1)
    m = pool.numel()
    n_tr, n_va = int(train * m), int(val * m)
    gen = torch.Generator().manual_seed(int(seed))
    out = []
    for _ in range(num_splits):
        perm = pool[torch.randperm(m, generator=gen)]
        out.append({"train": perm[:n_tr].sort().values, "val": perm[n_tr:n_tr + n_va].sort().values,
                    "test": perm[n_tr + n_va:].sort().values})
    return out
