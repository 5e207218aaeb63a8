r"""Reading a partition directory as untrusted input (used by :mod:`gnnkit.distributed.book`).

A partition directory may come from another machine, another gnnkit, a full disk or a forger, so
everything it says is checked before it is used, in this order:

1. ``book.json`` (:func:`read_book_meta`): its types and sizes (non-negative integers, one entry
   per part, per-part counts that add up to ``N`` and ``E``), and the file table (only the names
   the format defines, ``part-<p>/`` with ``p < P``, so no entry can point outside the
   directory);
2. every ``.npy`` (:func:`load_npy`): its header (no Python objects, C order, the dtype and the
   shape the book implies) and its size (header + payload = the file, so a forged shape is refused
   before any memory is mapped or allocated);
3. the book arrays (:func:`check_book_arrays`): owners in ``[0, P)`` and as many per part as the
   book records, ``inner`` a permutation of each part's feature rows, ``local`` rows in range and
   distinct per part, in-degrees non-negative and summing to ``E``;
4. one part (:func:`check_part`): ``nodes`` strictly ascending global ids, the part's CSR valid
   (:meth:`gnnkit.Graph._validate_csr`) with empty halo rows, the book's ``local`` / ``inner`` /
   ``in_degree`` of its inner nodes equal to what the part stores, ``eids`` exactly the CSR
   positions of its inner rows (``indptr = cumsum(in_degree)``), shards of the recorded shapes,
   split ids in range, distinct and owned by the part.

Every failure raises :class:`PartitionError` (a :class:`~gnnkit.data.DatasetError`) naming the
file, the array and the first bad position.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from gnnkit.data.errors import DatasetError, check_alloc
from gnnkit.data.npy_file import load_npy as _load_npy

__all__ = ["PartitionError", "read_book_meta", "load_npy", "check_book_arrays", "check_part",
           "BOOK_ARRAYS", "SHARD_KINDS", "SPLIT_NAME", "as_i64", "check_split"]

FORMAT = "gnnkit.partitions"
VERSION = 1
#: the O(N) arrays beside ``book.json``: name -> dtype
BOOK_ARRAYS = {"owner": np.dtype(np.int32), "local": np.dtype(np.int64),
               "inner": np.dtype(np.int64), "in_degree": np.dtype(np.int64)}
_PART_FIXED = ("nodes", "eids", "features", "labels")
#: numpy kinds a feature / label shard may have (labels: float for multi-label targets)
SHARD_KINDS = {"features": "fiub", "labels": "iufb"}
#: split names become file names: one path component, never "." or ".."
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PART_FILE = re.compile(r"^part-(0|[1-9][0-9]*)/([A-Za-z0-9_][A-Za-z0-9_.-]*)\.npy$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class PartitionError(DatasetError):
    """A partition directory is missing, damaged, or does not match the graph or the job."""


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


# ------------------------------------------------------------------------------ book.json
def read_book_meta(path: Path) -> dict:
    """``path/book.json``, every field the readers use checked (see the module docstring)."""
    f = path / "book.json"
    if not f.is_file():
        stale = sorted(p.name for p in path.parent.glob(f"{path.name}.tmp-*")) if path.name else []
        hint = (f" ({', '.join(stale[:3])} beside it: an interrupted write_partitions; delete it and "
                "partition again)") if stale else ""
        raise PartitionError(f"{path} is not a partition directory (no book.json){hint}; make one with "
                             "`gnnkit data partition GRAPH OUT --parts N`")
    try:
        meta = json.loads(f.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise PartitionError(f"{f} is not valid JSON: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise PartitionError(f"{f}: not a {FORMAT} v{VERSION} book")
    for k in ("num_parts", "num_nodes", "num_edges", "fingerprint", "parts", "files"):
        if k not in meta:
            raise PartitionError(f"{f}: missing key {k!r}")
    P, n, e = meta["num_parts"], meta["num_nodes"], meta["num_edges"]
    for k in ("num_parts", "num_nodes", "num_edges"):
        if not _count(meta[k]):
            raise PartitionError(f"{f}: {k} must be a non-negative integer, got {meta[k]!r}")
    if P < 1:
        raise PartitionError(f"{f}: num_parts must be >= 1, got {P}")
    if not isinstance(meta["fingerprint"], str):
        raise PartitionError(f"{f}: fingerprint must be a string, got {meta['fingerprint']!r}")
    parts = meta["parts"]
    if not isinstance(parts, list) or len(parts) != P:
        raise PartitionError(f"{f}: 'parts' must list {P} parts")
    splits = meta.get("splits", [])
    if not isinstance(splits, list) or not all(isinstance(s, str) and SPLIT_NAME.fullmatch(s)
                                               and s not in _PART_FIXED for s in splits) \
            or len(set(splits)) != len(splits):
        raise PartitionError(f"{f}: 'splits' must be a list of distinct names ({SPLIT_NAME.pattern}, not "
                             f"{'/'.join(_PART_FIXED)}), got {splits!r}")
    for k in ("features", "labels"):
        v = meta.get(k)
        if v is not None and not (isinstance(v, list) and all(_count(d) for d in v)
                                  and len(v) <= (1 if k == "labels" else 4)):
            raise PartitionError(f"{f}: {k!r} must be null or a list of the trailing dimensions, got {v!r}")
    dtypes = meta.get("dtypes", {})
    if not isinstance(dtypes, dict) or not set(dtypes) <= {"features", "labels"}:
        raise PartitionError(f"{f}: 'dtypes' must map features / labels to dtype strings, got {dtypes!r}")
    for k, v in dtypes.items():
        try:
            dt = np.dtype(v) if isinstance(v, str) else None
        except (TypeError, ValueError, SyntaxError):
            dt = None
        if meta.get(k) is None:
            raise PartitionError(f"{f}: dtypes[{k!r}] is given, but the book has no {k}")
        if dt is None or dt.kind not in SHARD_KINDS[k] or not dt.isnative or dt.fields is not None \
                or dt.subdtype is not None:
            raise PartitionError(f"{f}: dtypes[{k!r}] = {v!r} is not a native numeric dtype of kind "
                                 f"{'/'.join(SHARD_KINDS[k])}")
    for p, pm in enumerate(parts):
        keys = ("inner", "halo", "arcs") + tuple(f"num_{s}" for s in splits)
        if not isinstance(pm, dict) or not all(_count(pm.get(k)) for k in keys[:3]) or not all(
                pm.get(k) is None or _count(pm[k]) for k in keys[3:]):
            raise PartitionError(f"{f}: parts[{p}] must hold non-negative integers {list(keys)}, got {pm!r}")
        if pm["halo"] > n - pm["inner"]:
            raise PartitionError(f"{f}: parts[{p}] has {pm['inner']} inner + {pm['halo']} halo nodes, "
                                 f"more than the graph's {n}")
    for k, total in (("inner", n), ("arcs", e)):
        s = sum(pm[k] for pm in parts)
        if s != total:
            raise PartitionError(f"{f}: the parts' {k!r} add up to {s}, expected {total} "
                                 f"({'num_nodes' if k == 'inner' else 'num_edges'})")
    _check_file_table(f, meta, splits)
    return meta


def _check_file_table(f: Path, meta: dict, splits: list) -> None:
    files, P = meta["files"], meta["num_parts"]
    if not isinstance(files, dict):
        raise PartitionError(f"{f}: 'files' must be an object, got {type(files).__name__}")
    allowed = set(_PART_FIXED) | set(splits)
    for name, info in files.items():
        m = _PART_FILE.fullmatch(name)
        ok = (name in {a + ".npy" for a in BOOK_ARRAYS}) or (
            m is not None and int(m.group(1)) < P and m.group(2) in allowed)
        if not ok:
            raise PartitionError(f"{f}: 'files' lists {name!r}, not a file of this format "
                                 f"(book arrays, or part-<p>/<array>.npy with p < {P})")
        if not isinstance(info, dict) or not _count(info.get("bytes")) or not (
                isinstance(info.get("blake2b"), str) and _HEX32.fullmatch(info["blake2b"])):
            raise PartitionError(f"{f}: files[{name!r}] must be {{'bytes': int >= 0, 'blake2b': 32 hex "
                                 f"digits}}, got {info!r}")
    need = [a + ".npy" for a in BOOK_ARRAYS]
    for p in range(P):
        need += [f"part-{p}/nodes.npy", f"part-{p}/eids.npy"]
        need += [f"part-{p}/{k}.npy" for k in ("features", "labels") if meta.get(k) is not None]
        need += [f"part-{p}/{s}.npy" for s in splits]
    missing = [k for k in need if k not in files]
    if missing:
        raise PartitionError(f"{f}: 'files' does not list {missing[:4]}{' ...' if len(missing) > 4 else ''}")
    extra = [k for k in files if k not in set(need)]
    if extra:
        raise PartitionError(f"{f}: 'files' lists {extra[:4]}, which book.json's features / labels / "
                             "splits do not announce")


def load_npy(f: Path, dtypes, shape: tuple, what: str) -> np.ndarray:
    """:func:`gnnkit.data.npy_file.load_npy` raising :class:`PartitionError`."""
    return _load_npy(f, dtypes, shape, what, error=PartitionError)


def as_i64(a: np.ndarray, f: Path) -> torch.Tensor:
    check_alloc(a.size * 8, "an int64 copy", f)
    return torch.from_numpy(np.array(a, dtype=np.int64))


# ------------------------------------------------------------------------------ book arrays
def check_book_arrays(path: Path, meta: dict, arrs: dict) -> None:
    """Owner / inner / local / in_degree consistency (O(N log N)); ``arrs``: int64 tensors."""
    P, n, e = meta["num_parts"], meta["num_nodes"], meta["num_edges"]
    o = arrs["owner"].numpy()
    if n == 0:
        return
    bad = (o < 0) | (o >= P)
    if bad.any():
        k = _first(bad)
        raise PartitionError(f"{path / 'owner.npy'}: owner[{k}] = {int(o[k])} is outside [0, {P})")
    counts = np.bincount(o, minlength=P)
    ni = np.array([pm["inner"] for pm in meta["parts"]], dtype=np.int64)
    nl = ni + np.array([pm["halo"] for pm in meta["parts"]], dtype=np.int64)
    if not np.array_equal(counts, ni):
        p = _first(counts != ni)
        raise PartitionError(f"{path / 'owner.npy'}: part {p} owns {int(counts[p])} nodes, book.json "
                             f"records {int(ni[p])} inner nodes")
    for name, size in (("inner", ni), ("local", nl)):
        a = arrs[name].numpy()
        lim = size[o]
        bad = (a < 0) | (a >= lim)
        if bad.any():
            k = _first(bad)
            raise PartitionError(f"{path / (name + '.npy')}: {name}[{k}] = {int(a[k])} is outside "
                                 f"[0, {int(lim[k])}) (node {k} of part {int(o[k])})")
        key = np.concatenate([[0], np.cumsum(size)[:-1]])[o] + a
        if name == "inner":  # keys in [0, N): count them
            seen = np.bincount(key, minlength=n)
            k = int(np.flatnonzero(key == _first(seen > 1))[1]) if (seen > 1).any() else None
        else:  # keys in [0, sum of the parts' sizes), up to P * N: sort them
            order = np.argsort(key, kind="stable")
            dup = key[order[1:]] == key[order[:-1]]
            k = int(order[_first(dup) + 1]) if dup.any() else None
        if k is not None:
            raise PartitionError(f"{path / (name + '.npy')}: {name}[{k}] = {int(a[k])} repeats another node's "
                                 f"entry in part {int(o[k])} (not a one-to-one map)")
    d = arrs["in_degree"].numpy()
    if (d < 0).any():
        k = _first(d < 0)
        raise PartitionError(f"{path / 'in_degree.npy'}: in_degree[{k}] = {int(d[k])} is negative")
    if int(d.sum()) != e:
        raise PartitionError(f"{path / 'in_degree.npy'}: in-degrees add up to {int(d.sum())}, the graph has "
                             f"{e} arcs")


# ------------------------------------------------------------------------------ one part
def check_part(path: Path, part: int, meta: dict, book, nodes: torch.Tensor, eids: torch.Tensor,
               rowptr: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
    """Check part ``part`` against the book (O(N + E_p)); returns ``inner_pos``."""
    from gnnkit._graph_utils import GraphError
    from gnnkit.graph import Graph

    d = path / f"part-{part}"
    n, pm = meta["num_nodes"], meta["parts"][part]
    nv = nodes.numpy()
    if nv.size and (int(nv[0]) < 0 or int(nv[-1]) >= n):
        k = 0 if int(nv[0]) < 0 else nv.size - 1
        raise PartitionError(f"{d / 'nodes.npy'}: nodes[{k}] = {int(nv[k])} is outside [0, {n})")
    if nv.size > 1 and not (nv[1:] > nv[:-1]).all():
        k = _first(nv[1:] <= nv[:-1]) + 1
        raise PartitionError(f"{d / 'nodes.npy'}: not strictly ascending at position {k} "
                             f"({int(nv[k - 1])}, {int(nv[k])})")
    try:
        Graph._validate_csr(rowptr, col)
    except GraphError as e:
        raise PartitionError(f"{d / 'graph'}: the part's CSR is invalid: {e}") from e
    inner_pos = torch.nonzero(book.owner[nodes] == part).reshape(-1)
    if inner_pos.numel() != pm["inner"]:
        raise PartitionError(f"{d / 'nodes.npy'}: {inner_pos.numel()} of its nodes are owned by part {part}, "
                             f"book.json records {pm['inner']}")
    inner = nodes[inner_pos]
    if not torch.equal(book.local[inner], inner_pos):
        k = int(torch.nonzero(book.local[inner] != inner_pos)[0])
        raise PartitionError(f"{path / 'local.npy'}: local[{int(inner[k])}] = {int(book.local[inner[k]])}, but "
                             f"node {int(inner[k])} is row {int(inner_pos[k])} of {d / 'nodes.npy'}")
    if not torch.equal(book.inner[inner], torch.arange(inner.numel())):
        k = int(torch.nonzero(book.inner[inner] != torch.arange(inner.numel()))[0])
        raise PartitionError(f"{path / 'inner.npy'}: inner[{int(inner[k])}] = {int(book.inner[inner[k]])}, "
                             f"expected {k} (its rank among part {part}'s inner nodes)")
    deg = rowptr[1:] - rowptr[:-1]
    halo = torch.ones(nodes.numel(), dtype=torch.bool)
    halo[inner_pos] = False
    if bool((deg[halo] != 0).any()):
        k = int(torch.nonzero(halo & (deg != 0))[0])
        raise PartitionError(f"{d / 'graph'}: halo node {int(nodes[k])} (local {k}) has stored in-arcs")
    want = book.in_degree[inner]
    if not torch.equal(deg[inner_pos], want):
        k = int(torch.nonzero(deg[inner_pos] != want)[0])
        raise PartitionError(f"{d / 'graph'}: node {int(inner[k])} has {int(deg[inner_pos][k])} in-arcs, "
                             f"in_degree.npy records {int(want[k])}")
    # the global CSR positions of the inner rows: indptr = cumsum(in_degree)
    gptr = torch.zeros(n + 1, dtype=torch.int64)
    torch.cumsum(book.in_degree, 0, out=gptr[1:])
    starts = gptr[inner]
    if int(want.sum()) != eids.numel():
        raise PartitionError(f"{d / 'eids.npy'}: {eids.numel()} arcs, but in_degree.npy gives part {part}'s "
                             f"inner nodes {int(want.sum())}")
    row = torch.repeat_interleave(torch.arange(inner.numel()), want, output_size=eids.numel())
    lptr = torch.zeros(inner.numel() + 1, dtype=torch.int64)
    torch.cumsum(want, 0, out=lptr[1:])
    pos = torch.arange(eids.numel()) - lptr[row] + starts[row]
    if not torch.equal(pos, eids):
        k = int(torch.nonzero(pos != eids)[0])
        raise PartitionError(f"{d / 'eids.npy'}: eids[{k}] = {int(eids[k])}, expected global CSR position "
                             f"{int(pos[k])} (arc {k} of the part)")
    return inner_pos


def check_split(f: Path, ids: torch.Tensor, book, part: int, expected) -> None:
    n = book.num_nodes
    if expected is not None and ids.numel() != expected:
        raise PartitionError(f"{f}: {ids.numel()} ids, book.json records {expected}")
    if ids.numel() == 0:
        return
    bad = (ids < 0) | (ids >= n)
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0])
        raise PartitionError(f"{f}: id[{k}] = {int(ids[k])} is outside [0, {n})")
    own = book.owner[ids] != part
    if bool(own.any()):
        k = int(torch.nonzero(own)[0])
        raise PartitionError(f"{f}: id[{k}] = {int(ids[k])} is owned by part {int(book.owner[ids[k]])}, "
                             f"not {part}")
    s = torch.sort(ids).values
    if bool((s[1:] == s[:-1]).any()):
        k = int(torch.nonzero(s[1:] == s[:-1])[0])
        raise PartitionError(f"{f}: id {int(s[k])} is listed twice")
