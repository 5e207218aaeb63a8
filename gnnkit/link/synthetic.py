r"""Small synthetic datasets in OGB's link layout (for tests, examples and smoke runs).

:func:`write_ogbl_layout` writes a planted-partition graph (``num_blocks`` communities, edges
mostly inside them, node features = a noisy community indicator, so a GNN can learn the links)
as ``<root>/<dir_name>/raw/*.csv.gz`` + ``split/<scheme>/{train,valid,test}.pt`` exactly as ogb
lays out ``ogbl-collab`` (``'edge'``/``'weight'``/``'year'``, Hits@50 over shared negatives) or
``ogbl-citation2`` (``'source_node'``/``'target_node'``/``'target_node_neg'`` ``[P, K]``, MRR).
:func:`gnnkit.link.load_ogbl` (and ``gnnkit bench --suite ogbl`` with ``$GNNKIT_DATA=root``)
then reads it like the real dataset.  It is not a substitute for the real data: the figures it
gives only check the pipeline.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

__all__ = ["write_ogbl_layout"]

_LAYOUTS = {"ogbl-collab": ("time", False), "ogbl-citation2": ("time", True),
            "ogbl-ddi": ("target", False), "ogbl-ppa": ("throughput", False)}


def _csv(path: Path, a: np.ndarray, fmt: str) -> None:
    with gzip.open(path, "wt") as f:
        np.savetxt(f, a, fmt=fmt, delimiter=",")


def write_ogbl_layout(root, name: str = "ogbl-collab", *, num_nodes: int = 400, num_blocks: int = 8,
                      avg_degree: float = 10.0, num_features: int = 16, num_neg: int = 100,
                      seed: int = 0) -> Path:
    r"""Write a synthetic ``name``-layout dataset under ``root``; returns its directory.

    Edges: ``num_nodes * avg_degree / 2`` pairs, 90 % inside a community.  Split 80/10/10 of the
    edges; held-out positives are removed from the raw (message-passing) graph.  Negatives: ``num_neg``
    random pairs per held-out split (collab/ddi/ppa) or ``num_neg`` random destinations per
    positive (citation2).  ddi has no node features, like the real one.
    """
    if name not in _LAYOUTS:
        raise ValueError(f"write_ogbl_layout: name must be one of {sorted(_LAYOUTS)}, got {name!r}")
    scheme, per_source = _LAYOUTS[name]
    rng = np.random.default_rng(seed)
    block = rng.integers(0, num_blocks, num_nodes)
    m = int(num_nodes * avg_degree / 2)
    src = rng.integers(0, num_nodes, 4 * m)
    same = rng.random(4 * m) < 0.9
    members = [np.flatnonzero(block == b) for b in range(num_blocks)]
    dst = np.where(same, [rng.choice(members[block[s]]) if len(members[block[s]]) else s for s in src],
                   rng.integers(0, num_nodes, 4 * m))
    keep = src != dst
    lo, hi = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep]
    key = np.unique(lo * num_nodes + hi)[:m] if not per_source else np.unique(src[keep] * num_nodes + dst[keep])[:m]
    key = key[rng.permutation(len(key))]
    e = np.stack([key // num_nodes, key % num_nodes], 1).astype(np.int64)
    n_val = n_test = len(e) // 10
    val, test, train = e[:n_val], e[n_val:n_val + n_test], e[n_val + n_test:]
    d = Path(root) / name.replace("-", "_")
    (d / "raw").mkdir(parents=True, exist_ok=True)
    sdir = d / "split" / scheme
    sdir.mkdir(parents=True, exist_ok=True)
    (d / "RELEASE_v1.txt").write_text("synthetic gnnkit test layout\n")
    _csv(d / "raw" / "edge.csv.gz", train, "%d")
    _csv(d / "raw" / "num-node-list.csv.gz", np.array([[num_nodes]]), "%d")
    _csv(d / "raw" / "num-edge-list.csv.gz", np.array([[len(train)]]), "%d")
    if name != "ogbl-ddi":
        feat = np.eye(num_blocks, num_features)[block % num_features] + 0.5 * rng.standard_normal((num_nodes, num_features))
        _csv(d / "raw" / "node-feat.csv.gz", feat.astype(np.float32), "%.6f")
    t = torch.from_numpy
    if name == "ogbl-collab":
        year = rng.integers(2000, 2018, len(train))
        weight = rng.integers(1, 4, len(train))
        _csv(d / "raw" / "edge_weight.csv.gz", weight[:, None], "%d")
        _csv(d / "raw" / "edge_year.csv.gz", year[:, None], "%d")
    if name == "ogbl-citation2":
        _csv(d / "raw" / "node_year.csv.gz", rng.integers(1990, 2020, (num_nodes, 1)), "%d")

    def neg_pairs(k):
        return rng.integers(0, num_nodes, (k, 2)).astype(np.int64)

    if per_source:
        torch.save({"source_node": t(train[:, 0].copy()), "target_node": t(train[:, 1].copy())}, sdir / "train.pt")
        for s, p in (("valid", val), ("test", test)):
            torch.save({"source_node": t(p[:, 0].copy()), "target_node": t(p[:, 1].copy()),
                        "target_node_neg": t(rng.integers(0, num_nodes, (len(p), num_neg)).astype(np.int64))},
                       sdir / f"{s}.pt")
    else:
        tr = {"edge": t(train)}
        if name == "ogbl-collab":
            tr.update(weight=t(weight.astype(np.int64)), year=t(year.astype(np.int64)))
        torch.save(tr, sdir / "train.pt")
        for s, p in (("valid", val), ("test", test)):
            torch.save({"edge": t(p), "edge_neg": t(neg_pairs(num_neg))}, sdir / f"{s}.pt")
    return d
