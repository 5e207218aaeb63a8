r"""DiskGraph: gnnkit's memory-mapped on-disk graph format (``gnnkit.diskgraph``, version 1).

A DiskGraph is a directory of ``.npy`` files plus a ``meta.json`` that describes them.  Opening
one memory-maps every array (:func:`numpy.load` with ``mmap_mode``), so opening costs O(1) in
the graph size and :meth:`DiskGraph.graph` hands gnnkit's ops a :class:`gnnkit.Graph` whose
tensors are zero-copy views of the files (``torch.from_numpy`` over the maps): the kernels page
the data in on demand instead of reading it into RAM.  As in OGB-LSC (``mag240m.py``),
memory-mapping is the default and loading into RAM is explicit (``np.asarray(dg.features)``).

Layout of a directory ``DST/`` (arrays in the graph conventions of ``TEAM.md``: CSR grouped by
destination)::

    meta.json          format name/version, N, E, directed, dtypes, shapes, byte sizes, checksums
    RELEASE_v1.txt     human-readable format marker (``RELEASE``-style, as OGB's datasets)
    indptr.npy         int64 [N+1]      indptr[i]:indptr[i+1] are the arcs into node i
    indices.npy        int32 [E]        their sources, ascending within a row (int64 if N > 2**31)
    edge_weight.npy    float32 [E]      optional, aligned with indices
    t_indptr.npy       int64 [N+1]      optional transposed CSR (grouped by source) ...
    t_indices.npy      int32 [E]        ... destinations, ascending within a row
    t_perm.npy         int64 [E]        ... CSR position of each transposed entry
    features.npy       float32|float16 [N, F] row-major, optional
    labels.npy         int64 [N] or [N, T], -1 = unlabelled, optional
    split_<name>.npy   int64 node ids, optional (``train``, ``val``, ``test``)

For a symmetric graph the transposed ``t_indptr``/``t_indices`` equal ``indptr``/``indices``,
and ``meta.json`` points them at the same files instead of storing copies.

Every ``.npy`` file has a fixed 128-byte header (:data:`HEADER_BYTES`), so writers can stream
the payload and fix the shape at the end.  ``meta.json`` records, per array, the file, dtype,
shape, payload offset, total file size and a checksum of the payload (``xxh3_64`` when the
``xxhash`` package is installed, else ``blake2b``; streamed, so chunking does not matter).

Guarantees (what a file from elsewhere can and cannot do):

* :meth:`DiskGraph.open` does the O(1) checks, so that a truncated, padded, retyped, reshaped
  or swapped file never opens: ``meta.json`` is well-formed (format name and version, types of
  every field, file names that stay inside the directory); every file exists, its size is
  exactly header + ``prod(shape) * itemsize`` as recorded; its ``.npy`` header matches the
  recorded dtype, shape and payload offset; each array has the dtype and shape its role requires
  (``indptr`` int64 ``[N+1]``, ``labels`` int64, splits 1-D int64, ...); ``indptr[0] = 0`` and
  ``indptr[N] = E`` (both CSRs); and a digest of each payload's size, first and last 4 KiB
  matches ``meta.json`` (two small reads per file: a file swapped for another array of the same
  shape, or overwritten at either end, is caught).
* :meth:`DiskGraph.open` deliberately does **not** read whole payloads: it does not hash them
  and does not check the CSR invariants inside (a byte flipped in the middle of ``indices``
  opens).  :meth:`DiskGraph.verify` (``gnnkit data verify``) checks everything the format
  stores, streamed: every checksum; both CSRs (``indptr`` monotone from 0 to E, ids in
  ``[0, N)`` and ascending per row, strictly when ``coalesced``); that ``t_perm`` is a
  permutation of ``0..E-1`` and that the stored transpose is exactly the CSR's transpose (entry
  ``q`` of source row ``s`` with destination ``d`` is CSR position ``t_perm[q]``, which lies in
  row ``d`` and holds ``s``); undirected graphs are symmetric (through the transpose when it is
  stored, else in- and out-degrees agree); edge weights and features are finite; labels are
  ``>= -1``; splits are in range, without repeats, and disjoint.
* Writers are atomic: everything goes into ``DST.tmp-<pid>-XXXX`` (locked while its writer
  lives); ``meta.json`` is written last and the directory is then renamed to ``DST``.  An
  interrupted write never leaves a ``DST`` that opens, a directory without ``meta.json`` is
  rejected, and the next write to ``DST`` removes the stale temporary (see
  :mod:`gnnkit.data.disk_format`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gnnkit.data.disk_format import (DEFAULT_CHECKSUM, FORMAT_NAME, FORMAT_VERSION, HEADER_BYTES,
                                     META_FILE, DirWriter, DiskGraphError, iter_rows,
                                     sample_digest)
from gnnkit.data.disk_verify import verify_diskgraph

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_BYTES",
    "DiskGraph",
    "DiskGraphError",
    "DEFAULT_CHECKSUM",
    "save_graph",
]

# --------------------------------------------------------------------------------------------
# DiskGraph
# --------------------------------------------------------------------------------------------
_GRAPH_ARRAYS = ("indptr", "indices", "edge_weight", "t_indptr", "t_indices", "t_perm")


class DiskGraph:
    r"""A graph stored in gnnkit's on-disk format, opened with memory maps (O(1) to open).

    Build one with ``gnnkit data convert`` (:func:`gnnkit.data.convert.convert_to_disk`) or
    :func:`save_graph`; see the module docstring for the layout and guarantees.

    Args:
        path (str or os.PathLike): the DiskGraph directory.
        mmap_mode (str): ``'c'`` (copy-on-write, default) or ``'r'``.  With ``'c'`` the arrays
            are writable views whose writes stay private to the process and never reach the
            files, which lets ``torch.from_numpy`` wrap them without copying and makes an
            accidental in-place op harmless.  With ``'r'`` they are read-only numpy arrays.

    Attributes:
        indptr, indices, edge_weight, t_indptr, t_indices, t_perm, features, labels
            (numpy.memmap or None): the arrays (shapes in the module docstring).
        splits (dict[str, numpy.memmap]): node ids of each split.
        meta (dict): the parsed ``meta.json``.

    Shapes:
        ``indptr`` :math:`(N+1)`, ``indices`` :math:`(E)`, ``features`` :math:`(N, F)`,
        ``labels`` :math:`(N)` or :math:`(N, T)`.

    Example:
        >>> import tempfile, torch, gnnkit
        >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 0]]), num_nodes=3)
        >>> d = tempfile.mkdtemp()
        >>> dg = save_graph(d + "/g", g, features=torch.ones(3, 2))
        >>> dg.num_nodes, dg.num_edges, dg.features.shape
        (3, 3, (3, 2))
        >>> bool(torch.equal(dg.graph().indptr, g.indptr))
        True
    """

    def __init__(self, path, *, mmap_mode: str = "c"):
        if mmap_mode not in ("c", "r"):
            raise DiskGraphError(f"mmap_mode must be 'c' or 'r', got {mmap_mode!r}")
        self.path = Path(path)
        self.mmap_mode = mmap_mode
        self.meta = self._read_meta()
        m = self.meta
        self.num_nodes = int(m["num_nodes"])
        self.num_edges = int(m["num_edges"])
        self.directed = bool(m["directed"])
        self._arrays: dict = {}
        for name, entry in m["arrays"].items():
            self._arrays[name] = self._open_array(name, entry)
        self._check_graph_arrays()
        self._graph = None

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, path, *, mmap_mode: str = "c") -> "DiskGraph":
        """Open a DiskGraph directory (same as the constructor)."""
        return cls(path, mmap_mode=mmap_mode)

    def _read_meta(self) -> dict:
        p = self.path
        if not p.exists():
            raise DiskGraphError(f"{p}: no such DiskGraph directory")
        if not p.is_dir():
            raise DiskGraphError(f"{p}: not a directory (a DiskGraph is a directory with "
                                 f"{META_FILE})")
        mp = p / META_FILE
        if not mp.is_file():
            partial = " (an interrupted or incomplete write)" if (
                p / (META_FILE + ".partial")).exists() or ".tmp-" in p.name else ""
            raise DiskGraphError(f"{mp}: missing; {p} is not a complete gnnkit DiskGraph{partial}")
        try:
            with open(mp) as f:
                meta = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DiskGraphError(f"{mp}: not valid JSON ({e})") from e
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise DiskGraphError(f"{mp}: wrong format magic {got!r}, expected {FORMAT_NAME!r}")
        ver = meta.get("format_version")
        if not isinstance(ver, int) or ver < 1:
            raise DiskGraphError(f"{mp}: invalid format_version {ver!r}")
        if ver > FORMAT_VERSION:
            raise DiskGraphError(f"{mp}: format_version {ver} is newer than this gnnkit supports "
                                 f"({FORMAT_VERSION}); upgrade gnnkit")
        for key in ("num_nodes", "num_edges", "directed", "arrays"):
            if key not in meta:
                raise DiskGraphError(f"{mp}: missing key {key!r}")
        for key in ("num_nodes", "num_edges"):
            v = meta[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise DiskGraphError(f"{mp}: {key} must be a non-negative integer, got {v!r}")
        if not isinstance(meta["directed"], bool):
            raise DiskGraphError(f"{mp}: directed must be true or false, got {meta['directed']!r}")
        if not isinstance(meta["arrays"], dict):
            raise DiskGraphError(f"{mp}: arrays must be an object, got "
                                 f"{type(meta['arrays']).__name__}")
        for key in ("indptr", "indices"):
            if key not in meta["arrays"]:
                raise DiskGraphError(f"{mp}: no {key!r} array listed")
        for name, entry in meta["arrays"].items():
            _check_entry(mp, name, entry)
        return meta

    def _open_array(self, name: str, entry: dict):
        f = self.path / entry["file"]
        if not f.is_file():
            raise DiskGraphError(f"{f}: missing file (array {name!r} listed in {META_FILE})")
        actual = f.stat().st_size
        if actual != entry["bytes"]:
            what = "truncated" if actual < entry["bytes"] else "has trailing bytes"
            raise DiskGraphError(f"{f}: {what}: expected {entry['bytes']} bytes, found {actual} "
                                 f"bytes (array {name!r})")
        try:
            a = np.load(f, mmap_mode=self.mmap_mode, allow_pickle=False)
        except Exception as e:  # bad magic, bad header
            raise DiskGraphError(f"{f}: unreadable .npy header ({e})") from e
        if a.dtype != np.dtype(entry["dtype"]) or list(a.shape) != list(entry["shape"]):
            raise DiskGraphError(f"{f}: header says dtype {a.dtype} shape {list(a.shape)}, "
                                 f"{META_FILE} says dtype {entry['dtype']} shape {entry['shape']}")
        if a.offset != entry["offset"]:
            raise DiskGraphError(f"{f}: payload at byte {a.offset}, {META_FILE} says "
                                 f"{entry['offset']}")
        sample = entry.get("sample")
        if sample is not None:  # absent in directories written before samples existed
            algo = str(sample).split(":", 1)[0]
            got = sample_digest(f, algo, entry["offset"], entry["bytes"] - entry["offset"])
            if got != sample:
                raise DiskGraphError(f"{f}: the first/last bytes of array {name!r} do not match "
                                     f"{META_FILE} (sample digest {got}, expected {sample}): "
                                     "the file was swapped for another or overwritten")
        return a

    def _check_graph_arrays(self) -> None:
        n, e = self.num_nodes, self.num_edges
        mp = self.path / META_FILE
        want = {"indptr": ((n + 1,), ("int64",)), "indices": ((e,), ("int32", "int64")),
                "edge_weight": ((e,), ("float32", "float64", "float16")),
                "t_indptr": ((n + 1,), ("int64",)), "t_indices": ((e,), ("int32", "int64")),
                "t_perm": ((e,), ("int64",))}
        for name, (shape, dtypes) in want.items():
            a = self._arrays.get(name)
            if a is None:
                continue
            if a.shape != shape or a.dtype.name not in dtypes:
                raise DiskGraphError(f"{mp}: array {name!r} has dtype {a.dtype} shape "
                                     f"{a.shape}; expected one of {dtypes} with shape {shape}")
        if self.num_nodes <= 2**31 and self._arrays["indices"].dtype != np.int32:
            raise DiskGraphError(f"{mp}: indices must be int32 when N <= 2**31, got "
                                 f"{self._arrays['indices'].dtype}")
        t = [k for k in ("t_indptr", "t_indices", "t_perm") if k in self._arrays]
        if t and len(t) != 3:
            raise DiskGraphError(f"{mp}: the transposed CSR needs t_indptr, t_indices and "
                                 f"t_perm; found only {t}")
        # O(1) spot checks of the CSR ends (two reads each).
        for ptr in ("indptr", "t_indptr"):
            a = self._arrays.get(ptr)
            if a is not None and (int(a[0]) != 0 or int(a[-1]) != e):
                raise DiskGraphError(f"{self.path / self.meta['arrays'][ptr]['file']}: "
                                     f"{ptr}[0]={int(a[0])}, {ptr}[N]={int(a[-1])}; expected 0 "
                                     f"and E={e}")
        f = self._arrays.get("features")
        if f is not None and (f.ndim != 2 or f.shape[0] != n or f.dtype.name not in (
                "float32", "float16")):
            raise DiskGraphError(f"{mp}: features have dtype {f.dtype} shape {f.shape}, expected "
                                 f"float32 or float16 ({n}, F)")
        y = self._arrays.get("labels")
        if y is not None and (y.ndim not in (1, 2) or y.shape[0] != n or y.dtype != np.int64):
            raise DiskGraphError(f"{mp}: labels have dtype {y.dtype} shape {y.shape}, expected "
                                 f"int64 ({n},) or ({n}, T)")
        for k, a in self._arrays.items():
            if k.startswith("split_") and (a.ndim != 1 or a.dtype != np.int64):
                raise DiskGraphError(f"{mp}: split {k!r} has dtype {a.dtype} shape {a.shape}, "
                                     "expected 1-D int64 node ids")

    # -- arrays -------------------------------------------------------------------------------
    # The arrays (memory maps; None when the directory does not store them).
    indptr = property(lambda self: self._arrays["indptr"])
    indices = property(lambda self: self._arrays["indices"])
    edge_weight = property(lambda self: self._arrays.get("edge_weight"))
    t_indptr = property(lambda self: self._arrays.get("t_indptr"))
    t_indices = property(lambda self: self._arrays.get("t_indices"))
    t_perm = property(lambda self: self._arrays.get("t_perm"))
    features = property(lambda self: self._arrays.get("features"))
    labels = property(lambda self: self._arrays.get("labels"))

    @property
    def splits(self) -> dict:
        return {k[len("split_"):]: v for k, v in self._arrays.items() if k.startswith("split_")}

    @property
    def has_transpose(self) -> bool:
        return "t_perm" in self._arrays

    @property
    def index_dtype(self) -> np.dtype:
        return self.indices.dtype

    def tensor(self, name: str):
        """Zero-copy ``torch.Tensor`` view of array ``name`` (``'features'``, ``'labels'``,
        ``'indptr'``, ``'split_train'``, ...), or ``None`` if absent."""
        import torch

        a = self._arrays.get(name)
        if a is None:
            if name in self.meta["arrays"] or name in _GRAPH_ARRAYS or name in (
                    "features", "labels") or name.startswith("split_"):
                return None
            raise KeyError(f"DiskGraph has no array {name!r}; it has {sorted(self._arrays)}")
        if self.mmap_mode == "r":
            import warnings

            with warnings.catch_warnings():  # read-only maps: torch warns about writability
                warnings.simplefilter("ignore", UserWarning)
                return torch.from_numpy(a)
        return torch.from_numpy(a)

    def transpose(self):
        """``(t_indptr, t_indices, t_perm)`` as :meth:`gnnkit.Graph.transpose` (never ``None``):
        the stored transposed CSR as zero-copy tensors, else the one :meth:`graph` builds in RAM
        on first use (cached there)."""
        if not self.has_transpose:
            return self.graph().transpose()
        return self.tensor("t_indptr"), self.tensor("t_indices"), self.tensor("t_perm")

    def graph(self):
        """A :class:`gnnkit.Graph` over the memory-mapped arrays (zero copy, ``validate=False``).

        The stored transposed CSR, when present, is handed to the Graph so that
        ``graph.transpose()`` returns it instead of building one in RAM.  The result is
        cached: repeated calls return the same Graph.
        """
        if self._graph is None:
            from gnnkit.graph import Graph

            g = Graph(self.tensor("indptr"), self.tensor("indices"),
                      edge_weight=self.tensor("edge_weight"), num_nodes=self.num_nodes,
                      directed=self.directed, validate=False)
            if self.has_transpose:
                g = _set_transpose(g, self.transpose())
            self._graph = g
        return self._graph

    as_graph = graph

    def in_degree(self) -> np.ndarray:
        """In-degrees (int64 [N]); reads ``indptr`` (O(N))."""
        return np.diff(self.indptr)

    def out_degree(self) -> np.ndarray:
        """Out-degrees (int64 [N]) from ``t_indptr`` when stored, else by counting ``indices``."""
        if self.t_indptr is not None:
            return np.diff(self.t_indptr)
        out = np.zeros(self.num_nodes, np.int64)
        for _, a in iter_rows(self.path / self.meta["arrays"]["indices"]["file"],
                               self.meta["arrays"]["indices"]):
            out += np.bincount(a, minlength=self.num_nodes)
        return out

    def __repr__(self) -> str:
        extra = ""
        if self.features is not None:
            extra += f", features={tuple(self.features.shape)} {self.features.dtype}"
        if self.edge_weight is not None:
            extra += ", weighted"
        if self.has_transpose:
            extra += ", transpose"
        return (f"DiskGraph('{self.path}', num_nodes={self.num_nodes}, "
                f"num_edges={self.num_edges}, directed={self.directed}{extra})")

    # -- verification -------------------------------------------------------------------------
    def verify(self, *, structure: bool = True, progress: bool = False) -> dict:
        """Check everything the format stores, streamed (``gnnkit data verify``): sizes and
        checksums, then (``structure=True``) both CSRs, ``t_perm`` a permutation, the stored
        transpose equal to the CSR's transpose, symmetry of undirected graphs, finite weights
        and features, labels, splits.  See :mod:`gnnkit.data.disk_verify`.

        Returns:
            dict: ``{"ok": True, "files": {file: "ok"}, "bytes": total, "checks": [...]}``.

        Raises:
            DiskGraphError: listing every problem found (file, expected, actual).
        """
        return verify_diskgraph(self, structure=structure, progress=progress)

    # -- summary ------------------------------------------------------------------------------
    def info(self) -> dict:
        """Summary statistics, streamed: N, E, degree stats (in, and out when the transpose
        is stored), self loops, features, labels, splits, bytes on disk."""
        out = {"path": str(self.path), "format": f"{FORMAT_NAME} v{self.meta['format_version']}",
               "num_nodes": self.num_nodes, "num_edges": self.num_edges,
               "directed": self.directed, "coalesced": bool(self.meta.get("coalesced", False)),
               "index_dtype": self.indices.dtype.name, "weighted": self.edge_weight is not None,
               "transpose": self.has_transpose}
        out["in_degree"] = self._degree_stats("indptr")
        if self.has_transpose:
            out["out_degree"] = self._degree_stats("t_indptr")
        if self.features is not None:
            out["features"] = {"shape": list(self.features.shape),
                               "dtype": self.features.dtype.name}
        if self.labels is not None:
            e = self.meta["arrays"]["labels"]
            mx, labelled = -1, 0
            for _, a in iter_rows(self.path / e["file"], e):
                if a.size:
                    mx = max(mx, int(a.max()))
                    labelled += int((a >= 0).sum())
            out["labels"] = {"shape": list(self.labels.shape), "num_classes": mx + 1,
                             "labelled": labelled}
        if self.splits:
            out["splits"] = {k: int(v.shape[0]) for k, v in self.splits.items()}
        files = {e["file"]: e["bytes"] for e in self.meta["arrays"].values()}
        out["bytes"] = int(sum(files.values()))
        return out

    def _degree_stats(self, ptr_name: str) -> dict:
        e = self.meta["arrays"][ptr_name]
        n = self.num_nodes
        if n == 0:
            return {"min": 0, "max": 0, "mean": 0.0, "std": 0.0, "zero": 0}
        mn, mx, s, s2, zero, prev = None, 0, 0, 0.0, 0, None
        for _, ptr in iter_rows(self.path / e["file"], e):
            if prev is not None:
                ptr = np.concatenate([[prev], ptr])
            prev = int(ptr[-1])
            d = np.diff(ptr)
            if not d.size:
                continue
            mn = int(d.min()) if mn is None else min(mn, int(d.min()))
            mx = max(mx, int(d.max()))
            s += int(d.sum())
            s2 += float(np.dot(d.astype(np.float64), d.astype(np.float64)))
            zero += int((d == 0).sum())
        mean = s / n
        return {"min": mn, "max": mx, "mean": mean, "std": float(max(s2 / n - mean * mean, 0.0)
                                                                 ) ** 0.5, "zero": zero}


def _set_transpose(g, t):
    """Attach a stored transposed CSR so that ``g.transpose()`` returns it (no O(E) rebuild)."""
    return g.with_transpose(*t)


def save_graph(path, graph, *, features=None, labels=None, splits: dict | None = None,
               transpose: bool = False, features_dtype=None, coalesced: bool | None = None,
               overwrite: bool = False, checksum: str = DEFAULT_CHECKSUM) -> DiskGraph:
    r"""Write an in-memory :class:`gnnkit.Graph` (and node data) as a DiskGraph directory.

    Atomic (see the module docstring).  For graphs that do not fit in RAM use
    ``gnnkit data convert``, which streams.

    Args:
        path (str or os.PathLike): output directory (must not exist unless ``overwrite``).
        graph (gnnkit.Graph): the graph; its CSR is written as is.
        features (Tensor or ndarray, optional): :math:`(N, F)` node features.
        labels (Tensor or ndarray, optional): :math:`(N)` or :math:`(N, T)` int labels.
        splits (dict, optional): split name -> node ids (or a boolean mask of length N).
        transpose (bool): also store the transposed CSR (default: :obj:`False`).
        features_dtype (str, optional): ``'float32'`` or ``'float16'`` (default: float32).
        coalesced (bool, optional): record that rows have no duplicate arcs (enables the strict
            check in :meth:`DiskGraph.verify`); computed when ``None``.
        overwrite (bool): replace an existing ``path`` (default: :obj:`False`).
        checksum (str): ``'xxh3_64'`` or ``'blake2b'`` (default: :data:`DEFAULT_CHECKSUM`).

    Returns:
        DiskGraph: the opened result.
    """
    def np_(x):
        return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)

    n, e = int(graph.num_nodes), int(graph.num_edges)
    indptr = np_(graph.indptr).astype(np.int64, copy=False)
    indices = np_(graph.indices)
    indices = indices.astype(np.int32 if n <= 2**31 else np.int64, copy=False)
    if coalesced is None:
        row = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        same = (indices[1:] == indices[:-1]) & (row[1:] == row[:-1])
        coalesced = not bool(same.any())
    with DirWriter(path, overwrite=overwrite, checksum=checksum) as w:
        w.write_array("indptr", indptr)
        w.write_array("indices", indices)
        if graph.edge_weight is not None:
            w.write_array("edge_weight", np_(graph.edge_weight))
        if transpose:
            t_indptr, t_indices, t_perm = (np_(t) for t in graph.transpose())
            w.write_array("t_indptr", t_indptr.astype(np.int64, copy=False))
            w.write_array("t_indices", t_indices.astype(indices.dtype, copy=False))
            w.write_array("t_perm", t_perm.astype(np.int64, copy=False))
        if features is not None:
            x = np_(features)
            dt = np.dtype(features_dtype or "float32")
            if dt not in (np.float32, np.float16):
                raise DiskGraphError(f"features_dtype must be float32 or float16, got {dt}")
            if x.ndim != 2 or x.shape[0] != n:
                raise DiskGraphError(f"features have shape {x.shape}, expected ({n}, F)")
            w.write_array("features", x.astype(dt, copy=False))
        if labels is not None:
            y = np_(labels)
            if y.ndim not in (1, 2) or y.shape[0] != n:
                raise DiskGraphError(f"labels have shape {y.shape}, expected ({n},) or ({n}, T)")
            w.write_array("labels", y.astype(np.int64, copy=False))
        for name, ids in (splits or {}).items():
            ids = np_(ids)
            if ids.dtype == np.bool_:
                ids = np.flatnonzero(ids)
            if ids.size and (ids.min() < 0 or ids.max() >= n):
                raise DiskGraphError(f"split {name!r} has node ids outside [0, {n})")
            w.write_array(f"split_{name}", ids.astype(np.int64, copy=False))
        return DiskGraph(w.commit({"num_nodes": n, "num_edges": e,
                                   "directed": bool(graph.directed), "coalesced": bool(coalesced),
                                   "source": {"kind": "gnnkit.Graph"}}))


_ENTRY_KEYS = {"file": str, "dtype": str, "shape": list, "offset": int, "bytes": int}


def _check_entry(mp: Path, name: str, entry) -> None:
    """One ``meta.json`` array entry: the right keys and types, a file name that stays in the
    directory, a plain numeric dtype, and ``bytes = offset + prod(shape) * itemsize``."""
    if not isinstance(entry, dict):
        raise DiskGraphError(f"{mp}: array {name!r} must be an object, got "
                             f"{type(entry).__name__}")
    for key, typ in _ENTRY_KEYS.items():
        v = entry.get(key)
        if not isinstance(v, typ) or isinstance(v, bool):
            raise DiskGraphError(f"{mp}: array {name!r} needs {key!r} of type {typ.__name__}, "
                                 f"got {v!r}")
    fname = entry["file"]
    if not fname or fname in (".", "..") or "/" in fname or "\\" in fname or "\0" in fname:
        raise DiskGraphError(f"{mp}: array {name!r} names file {fname!r}; files must be plain "
                             "names inside the DiskGraph directory")
    try:
        dt = np.dtype(entry["dtype"])
    except (TypeError, ValueError) as e:
        raise DiskGraphError(f"{mp}: array {name!r} has an invalid dtype {entry['dtype']!r}") \
            from e
    if dt.kind not in "iufb" or dt.hasobject:
        raise DiskGraphError(f"{mp}: array {name!r} has dtype {dt}; only numeric arrays are "
                             "stored")
    shape = entry["shape"]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise DiskGraphError(f"{mp}: array {name!r} has an invalid shape {shape!r}")
    count = 1
    for s in shape:
        count *= s
    if entry["offset"] != HEADER_BYTES or entry["bytes"] != HEADER_BYTES + count * dt.itemsize:
        raise DiskGraphError(f"{mp}: array {name!r}: offset {entry['offset']} and bytes "
                             f"{entry['bytes']} disagree with dtype {dt} and shape {shape} "
                             f"(expected {HEADER_BYTES} and {HEADER_BYTES + count * dt.itemsize})")
