r"""Renumber a graph and everything attached to its nodes, and map results back.

A :class:`Reordering` holds ``perm`` (``perm[new] = old``) and ``inverse``
(``inverse[old] = new``).  With :math:`P` the permutation matrix of ``perm``, the reordered
adjacency is :math:`A' = P A P^\top`, features :math:`X' = P X`, and a model's output on the
reordered graph :math:`Y' = P Y` -- so :meth:`Reordering.original` (``Y'[inverse]``) gives every
user the rows of their original ids back.  Node ids (splits, seeds) map with :meth:`ids`.

:func:`permute_graph` keeps gnnkit's CSR convention (rows by destination, ascending sources
within a row) with one parallel numba pass: new row :math:`i` is old row ``perm[i]`` with its
sources renamed by ``inverse`` and sorted; arc attributes follow by the returned positions.
"""
from __future__ import annotations

import json
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

from gnnkit.reorder.orders import METHODS, order_from_csr

__all__ = ["Reordering", "reorder", "permute_graph", "node_order", "reorder_disk", "load_reordering"]


@dataclass
class Reordering:
    """A node renumbering: ``perm[new] = old``, ``inverse[old] = new`` (int64 ``[N]``)."""

    perm: Tensor
    method: str = "custom"
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        p = torch.as_tensor(self.perm).to(torch.int64)
        n = p.numel()
        inv = torch.full((n,), -1, dtype=torch.int64)
        inv[p.clamp(0, max(n - 1, 0))] = torch.arange(n)
        if n and (bool((p < 0).any()) or bool((p >= n).any()) or bool((inv < 0).any())):
            raise ValueError(f"Reordering: perm must be a permutation of 0..{n - 1}")
        self.perm, self.inverse = p, inv

    @property
    def num_nodes(self) -> int:
        return self.perm.numel()

    def nodes(self, x):
        """Rows of per-node data in the new order: ``x[perm]`` (features, labels)."""
        if x is None:
            return None
        if isinstance(x, np.ndarray):
            return x[self.perm.numpy()]
        return x[self.perm.to(x.device)]

    def ids(self, idx):
        """Old node ids -> new ids (ids ``[k]``), or a bool mask ``[N]`` -> the new mask."""
        if idx is None:
            return None
        t = torch.as_tensor(idx)
        if t.dtype == torch.bool:
            return t[self.perm]
        return self.inverse[t.to(torch.int64)]

    def splits(self, splits: dict) -> dict:
        return {k: self.ids(v) for k, v in splits.items()}

    def original(self, out):
        """Rows in the new order -> rows of the original ids: ``out[inverse]``."""
        if isinstance(out, np.ndarray):
            return out[self.inverse.numpy()]
        return out[self.inverse.to(out.device)]

    def original_ids(self, new_ids):
        """New node ids -> the original ids: ``perm[new_ids]``."""
        return self.perm[torch.as_tensor(new_ids).to(torch.int64)]


@njit(parallel=True, cache=True)
def _permute_rows(indptr, indices, perm, inv, new_indptr, out, pos, want_pos):
    n = perm.shape[0]
    for i in prange(n):
        o = perm[i]
        s = indptr[o]
        d = indptr[o + 1] - s
        t = new_indptr[i]
        if want_pos:
            keys = np.empty(d, np.int64)
            for k in range(d):
                keys[k] = inv[indices[s + k]]
            order = np.argsort(keys, kind="mergesort")
            for k in range(d):
                out[t + k] = keys[order[k]]
                pos[t + k] = s + order[k]
        else:
            for k in range(d):
                out[t + k] = inv[indices[s + k]]
            out[t:t + d].sort()


def _permute_csr(indptr: np.ndarray, indices: np.ndarray, perm: np.ndarray, inv: np.ndarray,
                 want_pos: bool):
    deg = np.diff(indptr)[perm]
    new_indptr = np.zeros(indptr.shape[0], np.int64)
    np.cumsum(deg, out=new_indptr[1:])
    out = np.empty_like(indices)
    pos = np.empty(indices.shape[0] if want_pos else 0, np.int64)
    _permute_rows(indptr, indices, perm, inv.astype(indices.dtype), new_indptr, out, pos, want_pos)
    return new_indptr, out, (pos if want_pos else None)


def _np(a) -> np.ndarray:
    return a.numpy() if isinstance(a, Tensor) else np.asarray(a)


def permute_graph(graph, reordering: Reordering):
    """The graph renumbered by ``reordering`` (a :class:`gnnkit.Graph`, weights follow)."""
    from gnnkit.graph import Graph

    ip, ix = _np(graph.indptr).astype(np.int64, copy=False), _np(graph.indices)
    w = getattr(graph, "edge_weight", None)
    if reordering.num_nodes != ip.shape[0] - 1:
        raise ValueError(f"permute_graph: the reordering has {reordering.num_nodes} nodes, the graph "
                         f"{ip.shape[0] - 1}")
    nip, nix, pos = _permute_csr(ip, np.ascontiguousarray(ix), reordering.perm.numpy(),
                                 reordering.inverse.numpy(), w is not None)
    nw = None if w is None else torch.as_tensor(_np(w)[pos])
    return Graph(torch.from_numpy(nip), torch.from_numpy(nix), edge_weight=nw,
                 directed=bool(getattr(graph, "directed", True)), validate=False)


def node_order(graph, method: str, *, num_parts: int | None = None, seed: int = 0) -> Reordering:
    """The :class:`Reordering` of ``method`` (one of :data:`METHODS`) for ``graph``."""
    t = time.perf_counter()
    ip, ix = _np(graph.indptr).astype(np.int64, copy=False), _np(graph.indices)
    perm, info = order_from_csr(ip, ix, method, directed=bool(getattr(graph, "directed", True)),
                                num_parts=num_parts, seed=seed)
    info["order_seconds"] = round(time.perf_counter() - t, 3)
    return Reordering(torch.from_numpy(perm), method, info)


def reorder(graph, method: str, **opts):
    """``(reordered Graph, Reordering)``; see :meth:`gnnkit.Graph.reorder`."""
    r = method if isinstance(method, Reordering) else node_order(graph, method, **opts)
    t = time.perf_counter()
    g = permute_graph(graph, r)
    r.info["permute_seconds"] = round(time.perf_counter() - t, 3)
    return g, r


# beside the DiskGraph's own arrays, outside its meta.json: raw int64 (not *.npy, which
# DiskGraph.verify requires to be listed in meta.json), its length checked when read
_PERM_FILE, _INFO_FILE = "reorder_perm.i64", "reorder.json"


def reorder_disk(src, dst, method: str, *, overwrite: bool = False, **opts) -> Reordering:
    """Write the DiskGraph ``src`` renumbered by ``method`` to ``dst``: the CSR, features, labels
    and splits (ids mapped) are permuted together, the permutation is stored beside them
    (``reorder_perm.i64``, raw little-endian int64, ``perm[new] = old``, and ``reorder.json``;
    read them back with :func:`load_reordering`).
    ``info`` records the time and the process's peak RSS."""
    from gnnkit.data.disk import DiskGraph, save_graph

    d = DiskGraph(src)
    t0 = time.perf_counter()
    g = d.graph()
    r = node_order(g, method, **opts)
    g2 = permute_graph(g, r)
    feats = None if d.features is None else r.nodes(np.asarray(d.features))
    labels = None if d.labels is None else r.nodes(np.asarray(d.labels))
    splits = {k: r.ids(torch.from_numpy(np.asarray(v))) for k, v in d.splits.items()}
    fdt = None if d.features is None else str(d.features.dtype)
    out = save_graph(dst, g2, features=feats, labels=labels, splits=splits or None,
                     transpose=d.has_transpose, features_dtype=fdt,
                     coalesced=bool(d.meta.get("coalesced")) or None, overwrite=overwrite)
    r.info.update({"seconds": round(time.perf_counter() - t0, 2), "source": str(src), "num_nodes": r.num_nodes,
                   "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
    # reorder.json first, then the permutation, each through a temporary file: an interrupted
    # write leaves reorder.json without its permutation, which load_reordering refuses
    for name, write in ((_INFO_FILE, lambda f: f.write_text(json.dumps(r.info, sort_keys=True))),
                        (_PERM_FILE, lambda f: r.perm.numpy().astype("<i8").tofile(f))):
        tmp = out.path / f".{name}.tmp-{os.getpid()}"
        write(tmp)
        os.replace(tmp, out.path / name)
    return r


def load_reordering(path) -> Reordering | None:
    """The :class:`Reordering` stored by :func:`reorder_disk` in a DiskGraph folder, or None
    when the folder holds none.

    The files are untrusted input: ``reorder_perm.i64`` must hold a whole number of int64
    entries, one per node of the DiskGraph in the folder (and of ``reorder.json``'s
    ``num_nodes``), forming a permutation; ``reorder.json`` must be a JSON object.

    Raises:
        DatasetError: naming the file and the problem (first bad position for the permutation).
    """
    from gnnkit.data.errors import DatasetError

    p = Path(path)
    fp, fi = p / _PERM_FILE, p / _INFO_FILE
    if not fp.is_file():
        if fi.is_file():
            raise DatasetError(f"{fp}: missing, but {fi} is there (an interrupted reorder_disk); "
                               "reorder the source graph again")
        return None
    info = {}
    if fi.is_file():
        try:
            info = json.loads(fi.read_text())
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise DatasetError(f"{fi}: not valid JSON ({e})") from e
        if not isinstance(info, dict):
            raise DatasetError(f"{fi}: holds a {type(info).__name__}, expected an object")
    n_info, method = info.get("num_nodes"), info.get("method", "custom")
    if n_info is not None and (not isinstance(n_info, int) or isinstance(n_info, bool) or n_info < 0):
        raise DatasetError(f"{fi}: num_nodes must be a non-negative integer, got {n_info!r}")
    if not isinstance(method, str):
        raise DatasetError(f"{fi}: method must be a string, got {method!r}")
    size = fp.stat().st_size
    if size % 8:
        raise DatasetError(f"{fp}: {size} bytes, not a whole number of int64 entries (truncated or padded)")
    n = size // 8
    if (p / "meta.json").is_file():
        from gnnkit.data.disk import DiskGraph

        num_nodes = DiskGraph(p).num_nodes
        if n != num_nodes:
            raise DatasetError(f"{fp}: {n} entries, the DiskGraph in {p} has {num_nodes} nodes")
    if n_info is not None and n != n_info:
        raise DatasetError(f"{fp}: {n} entries, {fi} says {n_info} nodes")
    perm = np.fromfile(fp, dtype="<i8").astype(np.int64, copy=False)
    bad = (perm < 0) | (perm >= n)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DatasetError(f"{fp}: perm[{k}] = {int(perm[k])} is outside [0, {n}) (not a permutation)")
    counts = np.bincount(perm, minlength=n)
    if (counts > 1).any():
        v = int(np.flatnonzero(counts > 1)[0])
        i, j = np.flatnonzero(perm == v)[:2]
        raise DatasetError(f"{fp}: perm[{int(j)}] = {v} repeats perm[{int(i)}] (not a permutation)")
    return Reordering(torch.from_numpy(perm), method, info)
