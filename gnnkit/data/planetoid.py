r"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from the raw ``ind.<name>.*`` files.

From "Revisiting Semi-Supervised Learning with Graph Embeddings" (Yang et al., ICML 2016,
https://arxiv.org/abs/1603.08861), with the public split used by GCN (Kipf & Welling,
https://arxiv.org/abs/1609.02907): the first ``len(y)`` nodes (20 per class) train, the next 500
validate, the 1000 nodes of ``ind.<name>.test.index`` test.

Processing follows PyG's ``torch_geometric.io.read_planetoid_data`` exactly:

- ``x = vstack(allx, tx)`` and ``y = argmax(vstack(ally, ty))``, after which the test rows are put in
  the order of ``test.index`` (``x[test_index] = x[sorted(test_index)]``);
- CiteSeer's test indices have gaps (15 isolated nodes that have no features in ``tx``); the gaps are
  filled with zero feature rows and all-zero label rows, so those nodes get label 0, as in PyG (they
  are in no split);
- the adjacency dict becomes arcs ``u -> v`` for every ``v`` in ``graph[u]``; self loops and duplicate
  arcs are removed, and the arc set is symmetrised (the raw dicts are already symmetric, so this only
  guards against asymmetric inputs).  Result: Cora has 10,556 arcs, CiteSeer 9,104, PubMed 88,648.

The raw files are Python pickles.  They are read with :class:`RestrictedUnpickler`
(:mod:`gnnkit.data.safe_pickle`), which admits only checking stand-ins for the numpy /
scipy.sparse / builtin types these files need and refuses any other global with a
:class:`~gnnkit.data.dataset.DatasetError` naming the file and the class; ``pickle.load`` is never
called on them.  Every admitted object is validated before use: array states against their dtype
and byte count, each ``csr_matrix`` by :func:`~gnnkit.data.safe_pickle.to_csr` (shapes, dtypes,
bounds, then scipy's full format check), the adjacency dict's ids against :math:`N`, the test
indices for repeats and a plausible span; a forged file gives a ``DatasetError``, never a crash
or a huge allocation.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gnnkit.data._paths import find_file
from gnnkit.data.dataset import DatasetError, NodeDataset
from gnnkit.data.errors import check_alloc
from gnnkit.data.generic import graph_from_arcs
from gnnkit.data.safe_pickle import RestrictedUnpickler, restricted_load, to_csr

__all__ = ["PLANETOID_NAMES", "RestrictedUnpickler", "restricted_load", "load_planetoid",
           "read_planetoid_raw"]  # RestrictedUnpickler / restricted_load: from .safe_pickle

PLANETOID_NAMES = ("cora", "citeseer", "pubmed")
_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_URL = "https://github.com/kimiyoung/planetoid/raw/master/data/ind.{name}.{suffix}"


def _dense(a, path, what):
    """A validated dense 2-D array of a ``csr_matrix`` record or an ndarray."""
    m = to_csr(a, path, what)
    if not isinstance(m, np.ndarray):
        m = m.toarray()
    if m.dtype.kind == "f" and m.size and not np.isfinite(m).all():
        raise DatasetError(f"{path}: {what} holds a non-finite value")
    return m


def _read_test_index(path: Path) -> np.ndarray:
    """``ind.<name>.test.index``: one integer per line (blank lines skipped)."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: expected one integer per line ({e})") from e
    out = []
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        if not s.lstrip("+-").isdigit() or len(s) > 18:
            raise DatasetError(f"{path}:{no}: expected one integer per line, got {s[:40]!r}")
        out.append(int(s))
    return np.array(out, dtype=np.int64)


def read_planetoid_raw(folder: str | os.PathLike, name: str) -> dict:
    """Read and check the eight raw files; return numpy arrays ``x, y, edges, train, val, test``.

    Follows PyG's ``read_planetoid_data`` (see the module docstring).
    """
    folder = Path(folder)
    p = {s: folder / f"ind.{name}.{s}" for s in _SUFFIXES}
    x, tx, allx = (_dense(restricted_load(p[s]), p[s], s) for s in ("x", "tx", "allx"))
    y, ty, ally = (_dense(restricted_load(p[s]), p[s], s) for s in ("y", "ty", "ally"))
    graph = restricted_load(p["graph"])
    if not isinstance(graph, dict):
        raise DatasetError(f"{p['graph']}: expected an adjacency dict, got {type(graph).__name__}")
    test_index = _read_test_index(p["test.index"])
    if np.unique(test_index).size != test_index.size:
        raise DatasetError(f"{p['test.index']}: lists a test node twice")

    F, C = allx.shape[1], ally.shape[1]
    arrays = {"x": x, "tx": tx, "allx": allx, "y": y, "ty": ty, "ally": ally}
    for s, ref in (("x", "allx"), ("tx", "allx"), ("y", "ally"), ("ty", "ally")):
        if arrays[s].shape[1] != arrays[ref].shape[1]:
            raise DatasetError(f"{p[s]}: has {arrays[s].shape[1]} columns but {p[ref]} has "
                               f"{arrays[ref].shape[1]}")
    for a, b in (("x", "y"), ("allx", "ally"), ("tx", "ty")):
        if arrays[a].shape[0] != arrays[b].shape[0]:
            raise DatasetError(f"{p[a]} has {arrays[a].shape[0]} rows but {p[b]} has "
                               f"{arrays[b].shape[0]}")
    if x.shape[0] + 500 > allx.shape[0]:
        raise DatasetError(f"{p['allx']}: has {allx.shape[0]} rows, fewer than the {x.shape[0]} "
                           "training + 500 validation nodes of the public split")
    if test_index.size == 0 or test_index.min() < allx.shape[0]:
        raise DatasetError(f"{p['test.index']}: test indices must be >= {allx.shape[0]} (rows of allx)")
    sorted_test = np.sort(test_index)

    if tx.shape[0] != test_index.size:
        raise DatasetError(f"{p['tx']}: has {tx.shape[0]} rows but {p['test.index']} lists "
                           f"{test_index.size} test nodes")
    # CiteSeer: test indices are not consecutive; fill the gaps with zero rows (as PyG does).
    span = int(sorted_test[-1] - sorted_test[0]) + 1
    check_alloc(span * (F + C) * 8, f"test rows {sorted_test[0]}..{sorted_test[-1]}",
                p["test.index"])
    filled = span - test_index.size
    if filled:
        tx_ext = np.zeros((span, F), dtype=tx.dtype)
        tx_ext[sorted_test - sorted_test[0]] = tx
        ty_ext = np.zeros((span, C), dtype=ty.dtype)
        ty_ext[sorted_test - sorted_test[0]] = ty
        tx, ty = tx_ext, ty_ext
    if sorted_test[0] != allx.shape[0]:
        raise DatasetError(f"{p['test.index']}: smallest test index {sorted_test[0]} should follow "
                           f"the {allx.shape[0]} rows of allx")

    feats = np.vstack([allx, tx]).astype(np.float32)
    feats[test_index] = feats[sorted_test]
    labels = np.vstack([ally, ty]).argmax(axis=1).astype(np.int64)
    labels[test_index] = labels[sorted_test]
    n = feats.shape[0]

    src, dst = [], []
    for u, nbrs in graph.items():
        if not isinstance(u, (int, np.integer)) or isinstance(u, bool) or not isinstance(
                nbrs, (list, set, tuple)) or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in nbrs):
            raise DatasetError(f"{p['graph']}: adjacency entry {str(u)[:40]!r} is not a node id "
                               "with a list of node ids")
        try:
            nb = np.asarray(list(nbrs), dtype=np.int64)
            u = int(u)
        except (TypeError, ValueError, OverflowError) as e:
            raise DatasetError(f"{p['graph']}: adjacency entry {u!r} is not a list of node ids") from e
        src.append(np.full(nb.size, u, dtype=np.int64))
        dst.append(nb)
    src = np.concatenate(src) if src else np.zeros(0, np.int64)
    dst = np.concatenate(dst) if dst else np.zeros(0, np.int64)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise DatasetError(f"{p['graph']}: node ids must lie in [0, {n}), found "
                           f"{int(min(src.min(), dst.min()))}..{int(max(src.max(), dst.max()))}")
    return {
        "x": feats, "y": labels, "src": src, "dst": dst, "num_classes": C,
        "train": np.arange(y.shape[0]), "val": np.arange(y.shape[0], y.shape[0] + 500),
        "test": test_index, "num_filled_test_gaps": filled,
    }


def load_planetoid(name: str, root=None) -> NodeDataset:
    r"""Load Cora, CiteSeer or PubMed with the public (Kipf & Welling) split.

    Args:
        name (str): ``'cora'``, ``'citeseer'`` or ``'pubmed'`` (case-insensitive).
        root (str, optional): folder holding ``ind.<name>.*``, directly or in ``planetoid/``; see
            :mod:`gnnkit.data._paths` for the default search. (default: ``None``)

    Returns:
        NodeDataset: undirected graph, ``x`` ``[N, F]`` raw (unnormalised) bag-of-words features,
        ``y`` ``[N]``, one split (e.g. Cora: 140 / 500 / 1000).

    Raises:
        DatasetError: files missing, truncated, inconsistent, or naming a non-allowed class.
    """
    key = name.lower()
    if key not in PLANETOID_NAMES:
        raise DatasetError(f"unknown Planetoid dataset {name!r}; choose from {list(PLANETOID_NAMES)}")
    files = [f"ind.{key}.{s}" for s in _SUFFIXES]
    folder, searched = find_file("planetoid", files, root)
    if folder is None:
        raise DatasetError(
            f"Planetoid files for {key!r} ({', '.join(files)}) not found; looked in "
            f"{', '.join(map(str, searched))}. Download them from "
            f"{_URL.format(name=key, suffix='<suffix>')} into one of these folders, or pass root=."
        )
    raw = read_planetoid_raw(folder, key)
    graph = graph_from_arcs(raw["src"], raw["dst"], raw["x"].shape[0], directed=False,
                            remove_self_loops=True, dedupe=True)
    split = {k: torch.from_numpy(np.ascontiguousarray(raw[k])) for k in ("train", "val", "test")}
    ds = NodeDataset(
        graph=graph, x=torch.from_numpy(raw["x"]), y=torch.from_numpy(raw["y"]), splits=[split],
        num_classes=raw["num_classes"], name=key,
        metadata={"family": "planetoid", "source": str(folder), "split": "public",
                  "eval_metric": "acc", "metric": "accuracy", "num_filled_test_gaps": raw["num_filled_test_gaps"],
                  "url": _URL.format(name=key, suffix="<suffix>")},
    )
    return ds
