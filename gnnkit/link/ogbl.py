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

from pathlib import Path

import numpy as np
import torch

from gnnkit.data._paths import candidate_dirs
from gnnkit.data.dataset import DatasetError
from gnnkit.link.split import LinkSplit

__all__ = ["ogbl_meta", "ogbl_dataset_names", "load_ogbl", "LinkDataset", "OGBL_NAMES"]

OGBL_NAMES = ("ogbl-collab", "ogbl-ddi", "ogbl-ppa", "ogbl-citation2")


def ogbl_dataset_names() -> list[str]:
    """The homogeneous link datasets read here (wikikg2 / biokg / vessel are not)."""
    return list(OGBL_NAMES)


def ogbl_meta(name: str) -> dict:
    """Parsed ``linkproppred/master.csv`` column of ``name`` (:func:`gnnkit.data.ogb.ogb_meta`)."""
    from gnnkit.data.ogb import ogb_meta

    if name not in OGBL_NAMES:
        raise DatasetError(f"unknown or unsupported OGB link dataset {name!r}; supported: {list(OGBL_NAMES)}")
    return ogb_meta(name)


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
    def num_edges(self) -> int:
        """Arcs of the message-passing graph."""
        return self.split.train_graph.num_edges

    num_classes = 0  # link datasets have no classes (the CLI prints it)
    num_splits = 1  # OGB: one fixed edge split

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else int(self.x.shape[1])

    @property
    def graph(self):
        return self.split.train_graph

    def __repr__(self) -> str:
        return f"LinkDataset({self.name!r}, num_nodes={self.num_nodes}, metric={self.metric!r}, {self.split!r})"


def _locate(meta: dict, root) -> Path:
    roots = [Path(root).expanduser(), Path(root).expanduser() / "ogb"] if root is not None else candidate_dirs("ogb")
    dirs = [r / meta["dir_name"] for r in roots]
    for d in dirs:
        if (d / "raw" / "edge.csv.gz").is_file() or (d / "raw" / "data.npz").is_file():
            return d
    raise DatasetError(f"{meta['name']}: not found offline; looked for raw/edge.csv.gz in "
                       f"{[str(d) for d in dirs]}. Download {meta['url']} and unpack it there "
                       "(or set $GNNKIT_DATA)")


def load_ogbl(name: str, root=None) -> LinkDataset:
    r"""Read ``ogbl-*`` ``name`` from OGB's raw files (no ``processed/`` cache, no download), with
    the shared reader :class:`gnnkit.data.readers.OgbRaw`.

    Returns:
        LinkDataset: ``split.train_graph`` is the raw graph (training edges, undirected for
        ``add_inverse_edge`` datasets); ``split.extra`` holds ``train_weight`` / ``train_year``
        (collab) and the raw edges' ``edge_weight`` / ``edge_year``; ``extras`` the additional
        node files (``node_year``).  ``metric`` is ``'ogb:<name>'`` (ogb's Evaluator).
    """
    from gnnkit.data.readers import OgbRaw
    from gnnkit.graph import Graph

    meta = ogbl_meta(name)
    d = _locate(meta, root)
    raw = OgbRaw(d)
    n = raw.num_nodes
    ei = torch.from_numpy(np.ascontiguousarray(raw.edge_index(), dtype=np.int64))
    feat = raw.node_feat() if meta["has_node_attr"] else None
    x = None if feat is None else torch.from_numpy(np.ascontiguousarray(feat, dtype=np.float32))
    extra = {f: torch.from_numpy(np.ascontiguousarray(raw._required(f, "edge")).reshape(-1))
             for f in meta["additional_edge_files"]}
    extras = {f: torch.from_numpy(np.ascontiguousarray(raw._required(f, "node")).reshape(-1))
              for f in meta["additional_node_files"]}
    undirected = meta["add_inverse_edge"]
    gi = torch.cat([ei, ei.flip(0)], 1) if undirected else ei
    graph = Graph.from_edge_index(gi, num_nodes=n, directed=not undirected)
    parts = raw.edge_split(meta["split"], n)
    sdir = raw.split_dir(meta["split"])

    def need(s, key):
        if key not in parts[s]:
            raise DatasetError(f"{sdir}: the {s} split has no {key!r} entry (has {sorted(parts[s])})")
        return torch.as_tensor(parts[s][key]).to(torch.long)

    if "source_node" in parts["train"]:  # citation2: per-source negatives
        def pos(s):
            return torch.stack([need(s, "source_node"), need(s, "target_node")])
        train_pos, val_pos, test_pos = pos("train"), pos("valid"), pos("test")
        val_neg, test_neg = need("valid", "target_node_neg"), need("test", "target_node_neg")
        for s, p, q in (("valid", val_pos, val_neg), ("test", test_pos, test_neg)):
            if q.dim() != 2 or q.shape[0] != p.shape[1]:
                raise DatasetError(f"{sdir}: {s} 'target_node_neg' must have shape [P, K] with P = "
                                   f"{p.shape[1]}, got {tuple(q.shape)}")
        extra["per_source_negatives"] = True
    else:
        train_pos = need("train", "edge").t().contiguous()
        val_pos, test_pos = need("valid", "edge").t().contiguous(), need("test", "edge").t().contiguous()
        val_neg, test_neg = need("valid", "edge_neg").t().contiguous(), need("test", "edge_neg").t().contiguous()
        for key in ("weight", "year"):
            if key in parts["train"]:
                extra[f"train_{key}"] = torch.as_tensor(parts["train"][key])
    split = LinkSplit(graph, train_pos, val_pos, val_neg, test_pos, test_neg, graph, undirected, 0, extra)
    return LinkDataset(name, x, split, f"ogb:{name}", extras)
