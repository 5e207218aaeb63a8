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

The raw files are Python pickles.  They are read with :class:`RestrictedUnpickler`, which admits only
the numpy / scipy.sparse / builtin types these files need and refuses any other global with a
:class:`~gnnkit.data.dataset.DatasetError` naming the file and the class; ``pickle.load`` is never
called on them.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import torch

from gnnkit.data._paths import find_file
from gnnkit.data.dataset import DatasetError, NodeDataset
from gnnkit.data.generic import graph_from_arcs

__all__ = ["PLANETOID_NAMES", "RestrictedUnpickler", "restricted_load", "load_planetoid",
           "read_planetoid_raw"]

PLANETOID_NAMES = ("cora", "citeseer", "pubmed")
_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_URL = "https://github.com/kimiyoung/planetoid/raw/master/data/ind.{name}.{suffix}"


def _np_core(name: str):
    # numpy 2 moved numpy.core to numpy._core; the files were written by numpy 1.x.
    core = getattr(np, "_core", None) or np.core
    return getattr(core.multiarray, name)


def _csr_matrix():
    import scipy.sparse as sp

    return sp.csr_matrix


# (module, name) as written in the pickle -> resolver.  Python-2 pickles name ``__builtin__``.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): lambda: _np_core("_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _np_core("_reconstruct"),
    ("numpy.core.multiarray", "scalar"): lambda: _np_core("scalar"),
    ("numpy._core.multiarray", "scalar"): lambda: _np_core("scalar"),
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("scipy.sparse.csr", "csr_matrix"): _csr_matrix,
    ("scipy.sparse._csr", "csr_matrix"): _csr_matrix,
    ("scipy.sparse", "csr_matrix"): _csr_matrix,
    # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(str, 'latin1'): data only.
    ("_codecs", "encode"): lambda: __import__("codecs").encode,
    ("collections", "defaultdict"): lambda: __import__("collections").defaultdict,
    ("__builtin__", "list"): lambda: list,
    ("builtins", "list"): lambda: list,
    ("__builtin__", "set"): lambda: set,
    ("builtins", "set"): lambda: set,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only an allow-list of globals.

    Admitted: numpy arrays / dtypes / scalars, ``scipy.sparse.csr_matrix``, ``collections.defaultdict``,
    ``list`` and ``set`` (what the Planetoid files contain), and ``_codecs.encode`` (which Python 3
    uses for bytes in protocol-2 pickles, so re-saved copies load too).  Any other global (``os.system``,
    ``builtins.eval``, ...) raises :class:`DatasetError` naming it, before anything is called.
    """

    source = "<pickle>"

    def find_class(self, module, name):
        resolver = _ALLOWED.get((module, name))
        if resolver is None:
            raise DatasetError(
                f"{self.source}: refusing to unpickle {module}.{name}: only numpy arrays, "
                f"scipy.sparse.csr_matrix, defaultdict and list are allowed in Planetoid files; "
                f"the file is not a genuine Planetoid file or has been tampered with"
            )
        return resolver()


def restricted_load(path: str | os.PathLike):
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (``latin1`` for Python-2 pickles)."""
    path = Path(path)
    data = path.read_bytes()
    up = RestrictedUnpickler(io.BytesIO(data), encoding="latin1")
    up.source = str(path)
    try:
        obj = up.load()
    except DatasetError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, struct.error) as e:
        raise DatasetError(f"{path}: not a readable pickle, the file is truncated or corrupt "
                           f"({type(e).__name__}: {e})") from e
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        raise DatasetError(f"{path}: holds an object-dtype array; Planetoid arrays are numeric")
    return obj


def _dense(a, path, what):
    import scipy.sparse as sp

    if sp.issparse(a):
        try:
            a = a.toarray()
        except (ValueError, IndexError, TypeError, AttributeError) as e:
            raise DatasetError(f"{path}: {what} is a corrupt sparse matrix ({e})") from e
    if not isinstance(a, np.ndarray) or a.ndim != 2 or not np.issubdtype(a.dtype, np.number):
        raise DatasetError(f"{path}: {what} must be a 2-D numeric matrix, got "
                           f"{getattr(a, 'shape', type(a).__name__)}")
    return a


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
    try:
        test_index = np.loadtxt(p["test.index"], dtype=np.int64, ndmin=1)
    except (ValueError, OSError) as e:
        raise DatasetError(f"{p['test.index']}: expected one integer per line ({e})") from e

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
        try:
            nb = np.asarray(list(nbrs), dtype=np.int64)
            u = int(u)
        except (TypeError, ValueError) as e:
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
