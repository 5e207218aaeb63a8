r"""OGB link property prediction datasets (``ogbl-collab``, ``-ddi``, ``-ppa``, ``-citation2``) read
offline from OGB's raw layout (Hu et al., NeurIPS 2020, https://arxiv.org/abs/2005.00687).

Layout (as ``ogb.linkproppred.LinkPropPredDataset`` downloads it; an existing download is reused)::

    <root>/ogbl_collab/raw/{edge, num-node-list, num-edge-list, node-feat, edge_weight,
                            edge_year, node_year}.csv.gz
    <root>/ogbl_collab/split/<split>/{train, valid, test}.pt

``<root>``: ``root`` (or ``root/ogb``), else ``$GNNKIT_DATA/ogb``, then the user cache.  Metadata
(metric, ``add_inverse_edge``, split name, additional files) comes from the ``master.csv`` that
the ``ogb`` package ships in ``ogb/linkproppred``.  The raw graph holds the training edges only
(OGB's convention), so it is the message-passing graph; ``add_inverse_edge`` datasets are
undirected.  The split files hold

- collab / ddi / ppa: ``train = {'edge' [P, 2] (+ 'weight', 'year' for collab)}``,
  ``valid/test = {'edge' [P, 2], 'edge_neg' [Q, 2]}`` -> scored by Hits@K over all negatives;
- citation2: ``{'source_node' [P], 'target_node' [P]}`` and ``'target_node_neg' [P, 1000]``
  for valid/test -> scored by MRR of each positive among its own 1000 negatives.
"""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import torch

from gnnkit.data._paths import candidate_dirs
from gnnkit.data.dataset import DatasetError
from gnnkit.data.ogb import _read_csv
from gnnkit.link.split import LinkSplit

__all__ = ["ogbl_meta", "ogbl_dataset_names", "load_ogbl", "LinkDataset"]


def _read_master() -> dict[str, dict[str, str]]:
    spec = importlib.util.find_spec("ogb")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the 'ogb' package is needed for ogbl metadata (linkproppred/master.csv); "
                           "install it with `pip install ogb`")
    path = Path(list(spec.submodule_search_locations)[0]) / "linkproppred" / "master.csv"
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return {name: {r[0]: r[i + 1] for r in rows[1:]} for i, name in enumerate(rows[0][1:])}


def ogbl_dataset_names() -> list[str]:
    """Homogeneous ``ogbl-*`` datasets of ogb's master.csv (wikikg2/biokg/vessel excluded)."""
    try:
        m = _read_master()
    except DatasetError:
        return ["ogbl-collab", "ogbl-ddi", "ogbl-ppa", "ogbl-citation2"]
    return [k for k, r in m.items() if r.get("is hetero") != "True" and k in
            ("ogbl-collab", "ogbl-ddi", "ogbl-ppa", "ogbl-citation2")]


def ogbl_meta(name: str) -> dict:
    """Parsed ``linkproppred/master.csv`` column of ``name``."""
    m = _read_master()
    if name not in m:
        raise DatasetError(f"unknown OGB link dataset {name!r}; known: {ogbl_dataset_names()}")
    r = m[name]

    def files(key):
        v = r.get(key, "None")
        return [] if v in ("None", "") else v.split(",")

    return {"name": name, "dir_name": name.replace("-", "_"), "eval_metric": r["eval metric"],
            "add_inverse_edge": r["add_inverse_edge"] == "True", "has_node_attr": r["has_node_attr"] == "True",
            "split": r["split"], "additional_node_files": files("additional node files"),
            "additional_edge_files": files("additional edge files"), "binary": r["binary"] == "True",
            "url": r["url"]}


class LinkDataset:
    r"""A link-prediction dataset: node features, one :class:`~gnnkit.link.LinkSplit` and its metric.

    Attributes:
        name (str), x (Tensor ``[N, F]`` or ``None`` when the dataset has no node features),
        split (LinkSplit): positives / fixed negatives; ``val_neg`` / ``test_neg`` are pairs
        ``[2, Q]`` (Hits@K, AUC) or per-source destinations ``[P, K]`` (MRR),
        metric (str): metric name of :mod:`gnnkit.tasks.metrics` (``'ogb:ogbl-collab'``, ``'roc_auc'``...).
    """

    def __init__(self, name: str, x, split: LinkSplit, metric: str, extras: dict | None = None):
        self.name, self.x, self.split, self.metric = name, x, split, metric
        self.extras = extras or {}

    @property
    def num_nodes(self) -> int:
        return self.split.num_nodes

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else int(self.x.shape[1])

    @property
    def graph(self):
        return self.split.train_graph

    def __repr__(self) -> str:
        return f"LinkDataset({self.name!r}, num_nodes={self.num_nodes}, metric={self.metric!r}, {self.split!r})"


def _load_pt(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(f"{path}: missing (OGB edge split); the dataset directory is incomplete")
    try:
        return torch.load(path, weights_only=True)
    except Exception:  # numpy arrays inside: allow exactly numpy's array reconstruction
        import numpy.core.multiarray as ma

        with torch.serialization.safe_globals([ma._reconstruct, np.ndarray, np.dtype,
                                               type(np.dtype(np.int64)), type(np.dtype(np.float32)),
                                               type(np.dtype(np.float64))]):
            return torch.load(path, weights_only=True)


def _t(a, dtype=None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    return t.to(dtype) if dtype is not None else t


def _pairs(d: dict, key: str, path: Path) -> torch.Tensor:
    if key not in d:
        raise DatasetError(f"{path}: no {key!r} entry (has {sorted(d)})")
    e = _t(d[key], torch.long)
    if e.dim() != 2 or e.shape[1] != 2:
        raise DatasetError(f"{path}: {key!r} must have shape [P, 2], got {tuple(e.shape)}")
    return e.t().contiguous()


def _check_ids(t: torch.Tensor, n: int, what: str) -> None:
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
        raise DatasetError(f"{what}: node ids must be in [0, {n}), got [{int(t.min())}, {int(t.max())}]")


def _locate(meta: dict, root) -> Path:
    roots = [Path(root).expanduser(), Path(root).expanduser() / "ogb"] if root is not None else candidate_dirs("ogb")
    dirs = [r / meta["dir_name"] for r in roots]
    for d in dirs:
        if (d / "raw" / "edge.csv.gz").is_file():
            return d
    raise DatasetError(f"{meta['name']}: not found offline; looked for raw/edge.csv.gz in "
                       f"{[str(d) for d in dirs]}. Download {meta['url']} and unpack it there "
                       "(or set $GNNKIT_DATA)")


def load_ogbl(name: str, root=None) -> LinkDataset:
    r"""Read ``ogbl-*`` ``name`` from OGB's raw files (no ``processed/`` cache, no download).

    Returns:
        LinkDataset: ``split.train_graph`` is the raw graph (training edges, undirected for
        ``add_inverse_edge`` datasets); ``split.extra`` holds ``train_weight`` / ``train_year``
        (collab) and ``edge_weight`` / ``edge_year`` of the graph's edges; ``extras`` the
        additional node files (``node_year``).  ``metric`` is ``'ogb:<name>'`` (ogb's Evaluator).
    """
    from gnnkit.graph import Graph

    meta = ogbl_meta(name)
    if meta["binary"]:
        raise DatasetError(f"{name}: binary OGB layouts are not supported for link datasets")
    d = _locate(meta, root)
    raw = d / "raw"
    edge = _read_csv(raw / "edge.csv.gz", "edges")
    if edge.ndim != 2 or edge.shape[1] != 2:
        raise DatasetError(f"{raw / 'edge.csv.gz'}: expected two integer columns, got shape {edge.shape}")
    n = int(_read_csv(raw / "num-node-list.csv.gz", "node count").reshape(-1)[0])
    ei = torch.from_numpy(np.ascontiguousarray(edge.T, dtype=np.int64))
    _check_ids(ei, n, str(raw / "edge.csv.gz"))
    x = None
    if meta["has_node_attr"]:
        x = torch.from_numpy(np.ascontiguousarray(_read_csv(raw / "node-feat.csv.gz", "node features"),
                                                  dtype=np.float32))
        if x.shape[0] != n:
            raise DatasetError(f"{raw / 'node-feat.csv.gz'}: {x.shape[0]} rows for {n} nodes")
    extra = {}
    for f in meta["additional_edge_files"]:
        a = _read_csv(raw / f"{f}.csv.gz", f).reshape(-1)
        if a.shape[0] != ei.shape[1]:
            raise DatasetError(f"{raw / (f + '.csv.gz')}: {a.shape[0]} rows for {ei.shape[1]} edges")
        extra[f] = torch.from_numpy(np.ascontiguousarray(a))
    extras = {f: torch.from_numpy(np.ascontiguousarray(_read_csv(raw / f"{f}.csv.gz", f).reshape(-1)))
              for f in meta["additional_node_files"]}
    undirected = meta["add_inverse_edge"]
    gi = torch.cat([ei, ei.flip(0)], 1) if undirected else ei
    graph = Graph.from_edge_index(gi, num_nodes=n, directed=not undirected)
    sdir = d / "split" / meta["split"]
    parts = {s: _load_pt(sdir / f"{s}.pt") for s in ("train", "valid", "test")}
    if "source_node" in parts["train"]:  # citation2: per-source negatives
        def pos(s):
            p = parts[s]
            return torch.stack([_t(p["source_node"], torch.long), _t(p["target_node"], torch.long)])
        train_pos, val_pos, test_pos = pos("train"), pos("valid"), pos("test")
        val_neg = _t(parts["valid"]["target_node_neg"], torch.long)
        test_neg = _t(parts["test"]["target_node_neg"], torch.long)
        for s, p, q in (("valid", val_pos, val_neg), ("test", test_pos, test_neg)):
            if q.dim() != 2 or q.shape[0] != p.shape[1]:
                raise DatasetError(f"{sdir / (s + '.pt')}: 'target_node_neg' must have shape [P, K] with "
                                   f"P = {p.shape[1]}, got {tuple(q.shape)}")
    else:
        train_pos = _pairs(parts["train"], "edge", sdir / "train.pt")
        val_pos, test_pos = _pairs(parts["valid"], "edge", sdir / "valid.pt"), _pairs(parts["test"], "edge", sdir / "test.pt")
        val_neg = _pairs(parts["valid"], "edge_neg", sdir / "valid.pt")
        test_neg = _pairs(parts["test"], "edge_neg", sdir / "test.pt")
        for key in ("weight", "year"):
            if key in parts["train"]:
                extra[f"train_{key}"] = _t(parts["train"][key])
    for what, t in (("train", train_pos), ("valid", val_pos), ("test", test_pos), ("valid neg", val_neg),
                    ("test neg", test_neg)):
        _check_ids(t, n, f"{sdir}: {what}")
    split = LinkSplit(graph, train_pos, val_pos, val_neg, test_pos, test_neg, graph, undirected, 0, extra)
    return LinkDataset(name, x, split, f"ogb:{name}", extras)
