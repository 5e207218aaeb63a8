r"""One reader of OGB's raw directory layout, for all three families (``ogbn``, ``ogbl``, ``ogbg``).

From "Open Graph Benchmark" (Hu et al., NeurIPS 2020, https://arxiv.org/abs/2005.00687); the layout
is the one ``ogb/io/read_graph_raw.py`` (``read_csv_graph_raw`` / ``read_binary_graph_raw``) and the
per-family ``dataset.py`` files read.  One raw directory holds :math:`G` graphs back to back
(:math:`G = 1` for node and link datasets)::

    <folder>/raw/edge.csv.gz            [E, 2]  arcs, ids local to their graph
    <folder>/raw/num-node-list.csv.gz   [G]     nodes per graph   (N = sum)
    <folder>/raw/num-edge-list.csv.gz   [G]     edges per graph   (E = sum)
    <folder>/raw/node-feat.csv.gz       [N, F]  optional
    <folder>/raw/edge-feat.csv.gz       [E, D]  optional
    <folder>/raw/node_<x>.csv.gz        [N, .]  additional node files (node_year, node_species)
    <folder>/raw/edge_<x>.csv.gz        [E, .]  additional edge files (edge_weight, edge_year)
    <folder>/raw/node-label.csv.gz      [N, T]  node family
    <folder>/raw/graph-label.csv.gz     [G, T]  graph family
    <folder>/raw/data.npz               binary layout: edge_index [2, E], num_nodes_list,
                                        num_edges_list, node_* and edge_* arrays
    <folder>/raw/{node,graph}-label.npz binary layout labels (node_label / graph_label)
    <folder>/split/<scheme>/{train,valid,test}.csv.gz   node / graph ids (node, graph families)
    <folder>/split/<scheme>/{train,valid,test}.pt       link family: dicts of tensors
                                        (``edge`` [P, 2], ``edge_neg`` [Q, 2], ``weight``, ``year``;
                                        ogbl-citation2: ``source_node``, ``target_node``,
                                        ``target_node_neg``), or one ``split_dict.pt``

:class:`OgbRaw` reads and checks each of these: arrays come back as numpy (``int64`` when OGB's
file holds integers, else ``float32``, as OGB does), with every leading size checked against the
counts, every edge id checked against its own graph's node count, labels checked for shape and
integrality, split ids against their range.  The ``.pt`` split files are pickles, so they are read
with ``torch.load(weights_only=True)`` (tensors, dicts, lists and numbers only: no code runs) and
their structure is checked.  Any problem raises :class:`~gnnkit.data.errors.DatasetError` naming
the file.  Streaming (:meth:`OgbRaw.iter_edges`, :meth:`OgbRaw.iter_array`) serves the out-of-core
converter; the loaders call the whole-array methods.

>>> import tempfile, pathlib, numpy as np, pandas as pd
>>> d = pathlib.Path(tempfile.mkdtemp()); (d / 'raw').mkdir()
>>> w = lambda name, a: pd.DataFrame(np.asarray(a)).to_csv(d / 'raw' / name, header=False,
...                                                        index=False)
>>> w('edge.csv.gz', [[0, 1], [1, 0], [0, 2]]); w('num-node-list.csv.gz', [[2], [3]])
>>> w('num-edge-list.csv.gz', [[2], [1]])
>>> r = OgbRaw(d)
>>> r.num_graphs, r.num_nodes, r.num_edges, r.edge_index().tolist()
(2, 5, 3, [[0, 1, 0], [1, 0, 2]])
>>> [g['edge_index'].tolist() for g in r.graphs()]
[[[0, 1], [1, 0]], [[0], [2]]]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gnnkit.data.errors import DatasetError, check_alloc
from gnnkit.data.readers.csv import as_float, as_int, as_labels, find_csv, iter_csv, read_csv
from gnnkit.data.readers.npz import NpzArchive

__all__ = ["OgbRaw", "LEVELS", "EDGE_SPLIT_KEYS"]

LEVELS = ("node", "edge", "graph")
SPLIT_NAMES = ("train", "valid", "test")
# Keys OGB's link splits use, with their element kind and trailing shape (None: any length).
EDGE_SPLIT_KEYS = {
    "edge": ("id", (2,)), "edge_neg": ("id", (2,)),
    "source_node": ("id", ()), "target_node": ("id", ()), "target_node_neg": ("id", None),
    "head": ("id", ()), "tail": ("id", ()), "head_neg": ("id", None), "tail_neg": ("id", None),
    "relation": ("int", ()), "head_type": ("str", None), "tail_type": ("str", None),
    "weight": ("num", ()), "year": ("num", ()),
}


def _npz_key(name: str) -> str:
    return name.replace("-", "_")


class OgbRaw:
    """An OGB dataset directory in OGB's raw layout (see the module docstring).

    Args:
        folder (str or Path): the dataset directory (holding ``raw/`` and ``split/``).
        binary (bool, optional): the binary (``data.npz``) layout; detected when ``None``.

    Raises:
        DatasetError: no ``raw/edge.csv.gz`` (or ``raw/data.npz``) in ``folder``.
    """

    def __init__(self, folder, *, binary: bool | None = None):
        self.folder = Path(folder)
        self.raw = self.folder / "raw"
        edge = find_csv(self.raw, "edge")
        if binary is None:
            binary = edge is None and (self.raw / "data.npz").is_file()
        self.binary = bool(binary)
        if self.binary and not (self.raw / "data.npz").is_file():
            raise DatasetError(f"{self.raw / 'data.npz'}: missing; not an OGB binary dataset "
                               "directory")
        if not self.binary and edge is None:
            raise DatasetError(f"{self.folder}: not an OGB dataset directory (no raw/edge.csv.gz "
                               "or raw/data.npz)")
        self.edge_file = self.raw / "data.npz" if self.binary else edge
        self._cache: dict = {}
        self._npz: dict | None = None

    def __repr__(self) -> str:
        return f"OgbRaw('{self.folder}', binary={self.binary})"

    # ------------------------------------------------------------------ files
    def path(self, name: str) -> Path | None:
        """The raw file of array ``name`` (``'node-feat'``, ``'node_year'``, ...) or ``None``;
        in the binary layout, ``raw/data.npz`` when it holds the array."""
        if self.binary:
            return self.raw / "data.npz" if _npz_key(name) in self._data() else None
        p = find_csv(self.raw, name)
        if p is None and name == "node_species":  # the name inside OGB's zip of ogbn-proteins
            p = find_csv(self.raw, "species")
        return p

    def has(self, name: str) -> bool:
        return self.path(name) is not None

    def _data(self) -> dict:
        if self._npz is None:
            with NpzArchive(self.raw / "data.npz") as z:
                self._npz = {k: z.array(k) for k in z.members}
            missing = [k for k in ("edge_index", "num_nodes_list", "num_edges_list")
                       if k not in self._npz]
            if missing:
                raise DatasetError(f"{self.raw / 'data.npz'}: missing key(s) {missing}, found "
                                   f"{sorted(self._npz)}")
            bad = [k for k in self._npz if k not in ("edge_index", "num_nodes_list",
                                                     "num_edges_list")
                   and not k.startswith(("node_", "edge_"))]
            if bad:
                raise DatasetError(f"{self.raw / 'data.npz'}: keys must start with 'node_' or "
                                   f"'edge_', found {bad}")
        return self._npz

    # ------------------------------------------------------------------ counts
    def _counts(self, csv_name: str, npz_name: str) -> np.ndarray:
        if csv_name in self._cache:
            return self._cache[csv_name]
        if self.binary:
            p, a = self.raw / "data.npz", np.asarray(self._data()[npz_name])
        else:
            p = find_csv(self.raw, csv_name)
            if p is None:
                raise DatasetError(f"{self.raw / (csv_name + '.csv.gz')}: missing; the OGB "
                                   "directory is incomplete")
            a = read_csv(p, csv_name)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise DatasetError(f"{p}: {csv_name} must be one count per graph, got shape {a.shape}")
        a = as_int(a.reshape(-1, 1), p, csv_name, low=0).reshape(-1)
        self._cache[csv_name] = a
        return a

    def num_node_list(self) -> np.ndarray:
        """``int64 [G]``: nodes of each graph (their sum must fit an int64 ``indptr`` in memory:
        a forged count raises instead of allocating)."""
        a = self._counts("num-node-list", "num_nodes_list")
        check_alloc(8 * (int(a.sum()) + 1), f"an indptr for the {int(a.sum()):,} nodes of "
                    "num-node-list", self.raw)
        return a

    def num_edge_list(self) -> np.ndarray:
        """``int64 [G]``: edges of each graph."""
        a = self._counts("num-edge-list", "num_edges_list")
        if a.shape[0] != self.num_node_list().shape[0]:
            raise DatasetError(f"{self.raw}: num-edge-list has {a.shape[0]} graphs but "
                               f"num-node-list has {self.num_node_list().shape[0]}")
        return a

    @property
    def num_graphs(self) -> int:
        return int(self.num_node_list().shape[0])

    @property
    def num_nodes(self) -> int:
        """Total nodes :math:`N` over all graphs."""
        return int(self.num_node_list().sum())

    @property
    def num_edges(self) -> int:
        """Total edges :math:`E` over all graphs (before any ``add_inverse_edge``)."""
        return int(self.num_edge_list().sum())

    def count(self, level: str) -> int:
        """Rows an array of ``level`` (``'node'``, ``'edge'``, ``'graph'``) must have."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        return {"node": self.num_nodes, "edge": self.num_edges, "graph": self.num_graphs}[level]

    # ------------------------------------------------------------------ edges
    def _edge_bounds(self, start: int, stop: int) -> np.ndarray | None:
        """Node count of the graph owning each edge in [start, stop) (None for one graph)."""
        nn, ne = self.num_node_list(), self.num_edge_list()
        if nn.shape[0] == 1:
            return None
        ends = np.cumsum(ne)
        g = np.searchsorted(ends, np.arange(start, stop), side="right")
        return nn[g]

    def _check_edges(self, src, dst, start: int) -> None:
        k = src.shape[0]
        bound = self._edge_bounds(start, start + k)
        hi = self.num_nodes if bound is None else bound
        bad = (src < 0) | (dst < 0) | (src >= hi) | (dst >= hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            lim = hi if bound is None else int(bound[i])
            raise DatasetError(f"{self.edge_file}: edge {start + i} = ({int(src[i])}, "
                               f"{int(dst[i])}) has a node id outside [0, {lim}) of its graph")

    def edge_index(self) -> np.ndarray:
        """``int64 [2, E]``: all arcs, ids local to their graph, checked against its node count
        (and the edge count against ``num-edge-list``)."""
        if "edge_index" in self._cache:
            return self._cache["edge_index"]
        if self.binary:
            e = np.asarray(self._data()["edge_index"])
            if e.ndim != 2 or e.shape[0] != 2:
                raise DatasetError(f"{self.edge_file}: edge_index must be [2, E], got shape "
                                   f"{e.shape}")
            e = as_int(e.T, self.edge_file, "edge ids").T
        else:
            e = as_int(read_csv(self.edge_file, "edges", ncols=2), self.edge_file, "edge ids").T
        e = np.ascontiguousarray(e)
        if e.shape[1] != self.num_edges:
            raise DatasetError(f"{self.edge_file}: holds {e.shape[1]} edges but num-edge-list "
                               f"says {self.num_edges}")
        self._check_edges(e[0], e[1], 0)
        self._cache["edge_index"] = e
        return e

    def iter_edges(self, chunk_rows: int = 1 << 20):
        """Stream the arcs: yields ``(start, src, dst)`` (``int64``) blocks, ids checked against
        their graph; the total is checked against ``num-edge-list`` at the end."""
        if self.binary:
            e = self.edge_index()
            for s in range(0, e.shape[1], chunk_rows):
                yield s, e[0, s:s + chunk_rows], e[1, s:s + chunk_rows]
            return
        seen = 0
        for start, block in iter_csv(self.edge_file, "edges", chunk_rows=chunk_rows):
            if block.shape[1] != 2:
                raise DatasetError(f"{self.edge_file}: edges must have 2 columns, found "
                                   f"{block.shape[1]}")
            b = as_int(block, self.edge_file, "edge ids", first_row=start)
            self._check_edges(b[:, 0], b[:, 1], start)
            yield start, np.ascontiguousarray(b[:, 0]), np.ascontiguousarray(b[:, 1])
            seen += b.shape[0]
        if seen != self.num_edges:
            raise DatasetError(f"{self.edge_file}: holds {seen} edges but num-edge-list says "
                               f"{self.num_edges}")

    # ------------------------------------------------------------------ arrays
    def _native(self, a: np.ndarray, p, name: str, first_row: int = 0,
                allow_nan: bool = False) -> np.ndarray:
        # OGB's rule: integer files stay int64, anything else becomes float32.
        if a.dtype.kind in "iu" or a.dtype.kind == "b":
            return as_int(a.astype(np.int64) if a.dtype.kind == "b" else a, p, name,
                          first_row=first_row)
        out = as_float(a, p, name, first_row=first_row, finite=not allow_nan)
        if allow_nan and np.isinf(out).any():
            raise DatasetError(f"{p}: {name} hold an infinite value")
        return out

    def array(self, name: str, level: str) -> np.ndarray | None:
        """Array ``name`` (``'node-feat'``, ``'edge-feat'``, ``'node_year'``, ``'edge_weight'``...)
        of ``level`` rows, or ``None`` when the dataset has no such file.  ``int64`` for integer
        files, else ``float32`` (NaN / inf rejected); the row count is checked."""
        p = self.path(name)
        if p is None:
            return None
        rows = self.count(level)
        if self.binary:
            a = np.asarray(self._data()[_npz_key(name)])
        else:
            a = read_csv(p, name)
            if a.shape[0] == 0:
                a = a.reshape(0, max(a.shape[1], 1))
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        if a.ndim < 2 or a.shape[0] != rows:
            raise DatasetError(f"{p}: {name} has shape {a.shape}, expected {rows} rows (one per "
                               f"{level})")
        return self._native(a, p, name)

    def iter_array(self, name: str, level: str, chunk_rows: int = 1 << 16,
                   allow_nan: bool = False):
        """Stream array ``name`` in ``(start, block)`` row blocks (``int64`` or ``float32``, as
        :meth:`array`; ``allow_nan`` keeps NaN, e.g. unlabelled nodes in a label file); the
        total row count is checked at the end."""
        p = self.path(name)
        if p is None:
            raise DatasetError(f"{self.raw / (name + '.csv.gz')}: missing")
        if self.binary:
            a = self.array(name, level)
            for s in range(0, a.shape[0], chunk_rows):
                yield s, a[s:s + chunk_rows]
            return
        rows = self.count(level)
        seen = 0
        for start, block in iter_csv(p, name, chunk_rows=chunk_rows):
            yield start, self._native(block, p, name, first_row=start, allow_nan=allow_nan)
            seen += block.shape[0]
        if seen != rows:
            raise DatasetError(f"{p}: {seen} rows, expected {rows} (one per {level})")

    def extra_names(self, level: str) -> list[str]:
        """Additional ``node_*`` / ``edge_*`` arrays present: the keys of ``data.npz`` besides
        ``node_feat`` / ``edge_feat`` (binary layout), or the ``raw/<level>_*.csv[.gz]`` files."""
        if level not in ("node", "edge"):
            raise ValueError(f"level must be 'node' or 'edge', got {level!r}")
        if self.binary:
            return sorted(k for k in self._data() if k.startswith(f"{level}_")
                          and k not in (f"{level}_feat", "edge_index"))
        names = {p.name.split(".")[0] for p in self.raw.glob(f"{level}_*.csv*")}
        if level == "node" and find_csv(self.raw, "species") is not None:
            names.add("node_species")
        return sorted(names)

    def node_feat(self) -> np.ndarray | None:
        return self.array("node-feat", "node")

    def edge_feat(self) -> np.ndarray | None:
        return self.array("edge-feat", "edge")

    def labels(self, level: str, num_tasks: int, num_classes: int | None = None,
               task_type: str = "classification") -> np.ndarray:
        """``node-label`` / ``graph-label`` as ``[rows, num_tasks]``.

        Classification (``task_type`` containing ``'classification'``): ``int64``, NaN
        (unlabelled / missing) becomes ``-1``, values checked against ``num_classes``.
        Regression: ``float32`` with NaN kept (missing targets).
        """
        if level not in ("node", "graph"):
            raise ValueError(f"labels exist for 'node' or 'graph', got {level!r}")
        rows = self.count(level)
        if self.binary:
            p = self.raw / f"{level}-label.npz"
            with NpzArchive(p) as z:
                key = f"{level}_label"
                if key not in z.members:
                    raise DatasetError(f"{p}: missing key {key!r}, found {sorted(z.members)}")
                a = z.array(key)
        else:
            p = find_csv(self.raw, f"{level}-label")
            if p is None:
                raise DatasetError(f"{self.raw / f'{level}-label.csv.gz'}: missing")
            a = read_csv(p, f"{level} labels")
        if "classification" in task_type:
            return as_labels(a, p, f"{level} labels", rows=rows, num_tasks=num_tasks,
                             num_classes=num_classes)
        a = a.reshape(-1, 1) if a.ndim == 1 else a
        if a.shape != (rows, num_tasks):
            raise DatasetError(f"{p}: {level} labels have shape {a.shape}, expected ({rows}, "
                               f"{num_tasks})")
        out = as_float(a, p, f"{level} labels", finite=False)
        if np.isinf(out).any():
            raise DatasetError(f"{p}: {level} labels hold an infinite value")
        return out

    # ------------------------------------------------------------------ graphs
    def graphs(self, add_inverse_edge: bool = False, additional_node_files=(),
               additional_edge_files=()) -> list[dict]:
        """Per-graph dicts exactly as OGB's ``read_csv_graph_raw`` / ``read_binary_graph_raw``
        return them: ``edge_index`` ``[2, E_g]`` (with ``add_inverse_edge`` each edge followed by
        its reverse), ``edge_feat``, ``node_feat`` (``None`` when absent), ``num_nodes`` and the
        additional ``node_*`` / ``edge_*`` arrays (repeated per arc like ``edge_feat``)."""
        e = self.edge_index()
        node = {"node_feat": self.node_feat()}
        edge = {"edge_feat": self.edge_feat()}
        if self.binary:
            additional_node_files = self.extra_names("node")
            additional_edge_files = self.extra_names("edge")
        for f in additional_node_files:
            node[f] = self._required(f, "node")
        for f in additional_edge_files:
            edge[f] = self._required(f, "edge")
        out = []
        n0 = e0 = 0
        for n, m in zip(self.num_node_list().tolist(), self.num_edge_list().tolist()):
            g = {}
            ei = e[:, e0:e0 + m]
            if add_inverse_edge:
                ei = np.repeat(ei, 2, axis=1)
                ei[0, 1::2], ei[1, 1::2] = ei[1, 0::2], ei[0, 0::2].copy()
            g["edge_index"] = ei
            for k, v in edge.items():
                v = None if v is None else v[e0:e0 + m]
                g[k] = np.repeat(v, 2, axis=0) if (v is not None and add_inverse_edge) else v
            for k, v in node.items():
                g[k] = None if v is None else v[n0:n0 + n]
            g["num_nodes"] = n
            out.append(g)
            n0, e0 = n0 + n, e0 + m
        return out

    def _required(self, name: str, level: str) -> np.ndarray:
        a = self.array(name, level)
        if a is None:
            raise DatasetError(f"{self.raw / (name + '.csv.gz')}: missing (additional {level} "
                               "file listed in ogb's master.csv)")
        return a

    # ------------------------------------------------------------------ splits
    def split_dir(self, scheme: str) -> Path:
        d = self.folder / "split" / scheme
        if not d.is_dir():
            found = sorted(p.name for p in (self.folder / "split").glob("*") if p.is_dir())
            raise DatasetError(f"{d}: split scheme {scheme!r} not found (found {found})")
        return d

    def index_split(self, scheme: str, num_items: int | None = None) -> dict:
        """Node or graph ids of ``split/<scheme>/{train,valid,test}.csv.gz`` as ``int64`` arrays,
        keyed ``'train'``, ``'valid'``, ``'test'``; checked to lie in ``[0, num_items)``."""
        d = self.split_dir(scheme)
        out = {}
        for k in SPLIT_NAMES:
            p = find_csv(d, k)
            if p is None:
                raise DatasetError(f"{d / (k + '.csv.gz')}: missing ({k} ids)")
            a = read_csv(p, f"{k} ids")
            if a.shape[0] and a.shape[1] != 1:
                raise DatasetError(f"{p}: expected one integer id per line, got shape {a.shape}")
            out[k] = as_int(a, p, f"{k} ids", low=0, high=num_items).reshape(-1)
        return out

    def edge_split(self, scheme: str, num_nodes: int | None = None) -> dict:
        """Link splits of ``split/<scheme>/``: ``{'train','valid','test'}`` -> dict of tensors.

        Read from ``split_dict.pt`` when present (as OGB does), else ``{train,valid,test}.pt``,
        with ``torch.load(weights_only=True)``.  Checked: each file is a dict of known keys
        (:data:`EDGE_SPLIT_KEYS`) holding tensors of the right kind and trailing shape; node ids
        (``edge``, ``source_node``, ...) in ``[0, num_nodes)``; aligned keys with equal lengths.
        """
        d = self.split_dir(scheme)
        if (d / "split_dict.pt").is_file():
            obj = _torch_load(d / "split_dict.pt")
            if not isinstance(obj, dict) or set(obj) != set(SPLIT_NAMES):
                raise DatasetError(f"{d / 'split_dict.pt'}: expected a dict with keys "
                                   f"{list(SPLIT_NAMES)}, got "
                                   f"{sorted(obj) if isinstance(obj, dict) else type(obj).__name__}")
            return {k: _check_edge_split(obj[k], d / "split_dict.pt", k, num_nodes)
                    for k in SPLIT_NAMES}
        out = {}
        for k in SPLIT_NAMES:
            p = d / f"{k}.pt"
            if not p.is_file():
                raise DatasetError(f"{p}: missing ({k} link split)")
            out[k] = _check_edge_split(_torch_load(p), p, k, num_nodes)
        return out


def _torch_load(p: Path):
    # (zip-format files are CRC-checked; OGB's older downloads may be in the legacy format)
    from gnnkit.data.torch_file import load_torch_file

    return load_torch_file(p, legacy=True)


def _check_edge_split(obj, p: Path, split: str, num_nodes: int | None) -> dict:
    import torch

    if not isinstance(obj, dict) or not obj:
        raise DatasetError(f"{p}: {split} split must be a non-empty dict of tensors, got "
                           f"{type(obj).__name__}")
    out, length = {}, {}
    for key, v in obj.items():
        if key not in EDGE_SPLIT_KEYS:
            raise DatasetError(f"{p}: {split} split has unknown key {key!r}; known keys are "
                               f"{sorted(EDGE_SPLIT_KEYS)}")
        kind, trail = EDGE_SPLIT_KEYS[key]
        if kind == "str":  # ogbl-biokg entity types: a list of strings
            if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
                raise DatasetError(f"{p}: {split}[{key!r}] must be a list of strings")
            out[key] = list(v)
            length[key] = len(v)
            continue
        if not isinstance(v, torch.Tensor):
            raise DatasetError(f"{p}: {split}[{key!r}] must be a tensor, got {type(v).__name__}")
        if v.dim() == 0 or (trail is not None and tuple(v.shape[1:]) != trail):
            want = "[P]" if trail == () else f"[P, {', '.join(map(str, trail))}]" if trail else \
                "[P, ...]"
            raise DatasetError(f"{p}: {split}[{key!r}] has shape {tuple(v.shape)}, expected {want}")
        if kind in ("id", "int") and (v.dtype.is_floating_point or v.dtype.is_complex
                                      or v.dtype == torch.bool):
            raise DatasetError(f"{p}: {split}[{key!r}] must hold integers, got {v.dtype}")
        if kind == "num" and (v.dtype.is_complex or v.dtype == torch.bool):
            raise DatasetError(f"{p}: {split}[{key!r}] must be numeric, got {v.dtype}")
        if kind == "num" and v.dtype.is_floating_point and not torch.isfinite(v).all():
            raise DatasetError(f"{p}: {split}[{key!r}] holds a non-finite value")
        v = v.contiguous()
        if kind == "id" and v.numel():
            lo, hi = int(v.min()), int(v.max())
            if lo < 0 or (num_nodes is not None and hi >= num_nodes):
                raise DatasetError(f"{p}: {split}[{key!r}] holds node id "
                                   f"{lo if lo < 0 else hi} outside [0, {num_nodes})")
            v = v.to(torch.int64)
        out[key] = v
        length[key] = int(v.shape[0])
    groups = ([k for k in ("edge", "weight", "year") if k in length],
              [k for k in ("source_node", "target_node", "target_node_neg") if k in length],
              [k for k in ("head", "tail", "relation", "head_neg", "tail_neg", "head_type",
                           "tail_type") if k in length])
    for g in groups:
        if len({length[k] for k in g}) > 1:
            raise DatasetError(f"{p}: {split} split keys {g} must have the same length, got "
                               f"{ {k: length[k] for k in g} }")
    return out
