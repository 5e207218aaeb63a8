r"""Partition directories: write, open, verify.

Layout of ``OUT/`` (the DistDGL "inner + halo" layout, Zheng et al. 2020), written into
``OUT.tmp-<pid>-<random>`` and renamed when complete, so an interrupted write never leaves an
``OUT`` that opens::

    book.json            format, P, N, E, method, graph fingerprint, per-part counts, the
                         shard shapes and dtypes, the size and checksum of every array below
    owner.npy            int32 [N]   owner part of every node
    local.npy            int64 [N]   its row in its owner's part graph
    inner.npy            int64 [N]   its index among its owner's inner nodes (feature row)
    in_degree.npy        int64 [N]   full-graph in-degree (GCN/SAGE normalisation of sampled
                                     blocks needs the degree of every sampled node)
    part-<p>/graph/      a DiskGraph over the part's local nodes: its inner nodes with all their
                         in-arcs and its halo nodes (sources of those arcs owned elsewhere) with
                         no rows, local ids in global id order (so every row stays sorted);
                         arcs in the whole graph's CSR order
    part-<p>/nodes.npy   int64 [n_inner + n_halo]  global id of every local id (ascending)
    part-<p>/eids.npy    int64 [E_p]   global CSR position of every local arc
    part-<p>/features.npy, labels.npy   rows of the inner nodes (optional)
    part-<p>/train.npy, val.npy, test.npy   global ids of the part's inner split nodes (optional)

The graph fingerprint (N, E and a hash of ``indptr`` and of a stride sample of ``indices``)
lets a job refuse a partition directory made from another graph, and ``book.json`` records P,
so one made for another partition count is refused too.  :func:`verify_partitions` recomputes
the fingerprint from the parts themselves (``indptr = cumsum(in_degree)``, the sampled arcs from
the parts that hold them), so an edited ``book.json`` or a part copied from another graph's
directory is refused even without the graph.

A partition directory is untrusted input: :class:`PartitionBook.open` and
:func:`open_partition` check ``book.json``, every ``.npy`` header and size and the consistency
of the book and the part before any array is used (:mod:`gnnkit.distributed._bookfmt`);
every problem is a :class:`PartitionError` (a :class:`~gnnkit.data.DatasetError`) naming the
file, the array and the first bad position.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gnnkit.distributed._bookfmt import (
    FORMAT,
    SPLIT_NAME,
    VERSION,
    PartitionError,
    as_i64,
    check_book_arrays,
    check_part,
    check_split,
    load_npy,
    read_book_meta,
)
from gnnkit.distributed._bookfmt import BOOK_ARRAYS as _BOOK_ARRAYS
from gnnkit.distributed._bookfmt import SHARD_KINDS
from gnnkit.distributed.partition import partition_stats

__all__ = ["PartitionError", "PartitionBook", "LocalPartition", "write_partitions", "open_partition",
           "verify_partitions", "graph_fingerprint", "is_partition_dir"]

def _np(a):
    if a is None:
        return None
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 24)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _sample_positions(e: int) -> np.ndarray:
    return np.linspace(0, e - 1, num=min(4096, e)).astype(np.int64) if e else np.zeros(0, np.int64)


def _fingerprint(indptr: np.ndarray, e: int, sampled: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(np.int64([indptr.shape[0] - 1, e]).tobytes())
    h.update(np.ascontiguousarray(indptr, dtype=np.int64).tobytes())
    if e:
        h.update(np.asarray(sampled, dtype=np.int64).tobytes())
    return h.hexdigest()


def graph_fingerprint(graph) -> str:
    """A short hash of a graph's structure: N, E, all of ``indptr`` and 4096 evenly spaced
    entries of ``indices`` (O(N), not O(E): a forged graph with the same degrees and the same
    sampled entries would pass; :func:`verify_partitions` re-checks every arc)."""
    ptr, idx = _np(graph.indptr), _np(graph.indices)
    return _fingerprint(ptr, int(idx.shape[0]), idx[_sample_positions(int(idx.shape[0]))])


def is_partition_dir(path) -> bool:
    return (Path(path) / "book.json").is_file()


def _rows_of(indptr, nodes):
    """CSR positions of the rows ``nodes`` (concatenated, in order) and the new row pointer."""
    starts = indptr[nodes]
    deg = indptr[nodes + 1] - starts
    ptr = np.zeros(nodes.shape[0] + 1, dtype=np.int64)
    np.cumsum(deg, out=ptr[1:])
    total = int(ptr[-1])
    # position of arc t of the concatenation: starts[row(t)] + (t - ptr[row(t)])
    row = np.repeat(np.arange(nodes.shape[0], dtype=np.int64), deg)
    pos = np.arange(total, dtype=np.int64) - ptr[row] + starts[row]
    return ptr, pos


def write_partitions(graph, owner, out, *, features=None, labels=None, splits: dict | None = None,
                     method: str = "custom", overwrite: bool = False) -> "PartitionBook":
    """Write one directory per part plus the partition book (atomically).

    Args:
        graph: :class:`gnnkit.Graph` or :class:`~gnnkit.data.DiskGraph` (memory-mapped arrays are
            read row-block by row-block; only one part's arcs are in RAM at a time).
        owner (ndarray): int ``[N]`` in ``[0, P)`` (e.g. :func:`~gnnkit.distributed.partition_nodes`).
        out (str or PathLike): the output directory (must not exist unless ``overwrite``).
        features, labels: ``[N, F]`` / ``[N]`` or ``[N, T]`` node data (arrays, memory maps or
            tensors), sharded by owner.
        splits (dict, optional): name -> global node ids (or bool mask), sharded by owner.
        method (str): recorded in ``book.json``.

    Returns:
        PartitionBook.
    """
    from gnnkit import Graph
    from gnnkit.data import save_graph

    out = Path(out)
    indptr, indices = _np(graph.indptr).astype(np.int64, copy=False), _np(graph.indices)
    n, e = indptr.shape[0] - 1, int(indices.shape[0])
    owner = _np(owner)
    if owner is None or owner.shape != (n,) or owner.dtype.kind not in "iu":
        raise PartitionError(f"write_partitions: owner must be an int array of shape [{n}], got "
                             f"{None if owner is None else (owner.dtype, owner.shape)}")
    if n and (owner.min() < 0):
        raise PartitionError(f"write_partitions: owner[{int(np.argmin(owner))}] = {int(owner.min())} is negative")
    parts = int(owner.max()) + 1 if n else 1
    x, y = _np(features), _np(labels)
    for name, a in (("features", x), ("labels", y)):
        if a is not None and a.shape[0] != n:
            raise PartitionError(f"write_partitions: {name} has {a.shape[0]} rows, expected {n}")
    split_ids = {}
    for name, ids in (splits or {}).items():
        if not isinstance(name, str) or not SPLIT_NAME.fullmatch(name) or name in (
                "nodes", "eids", "features", "labels"):
            raise PartitionError(f"write_partitions: split name {name!r} cannot be a file name in a part "
                                 f"directory (use {SPLIT_NAME.pattern}, not nodes/eids/features/labels)")
        ids = _np(ids)
        ids = np.flatnonzero(ids) if ids.dtype == np.bool_ else ids.astype(np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise PartitionError(f"write_partitions: split {name!r} has ids outside [0, {n})")
        split_ids[name] = ids
    if out.exists():
        if not overwrite:
            raise PartitionError(f"write_partitions: {out} exists (pass overwrite=True)")
    tmp = out.parent / f"{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir(parents=True)
    try:
        local = np.empty(n, dtype=np.int64)   # row of v in its owner's part CSR
        inner_ix = np.empty(n, dtype=np.int64)  # index of v among its owner's inner nodes
        files, part_meta = {}, []
        ew_all = getattr(graph, "edge_weight", None)
        ew_all = None if ew_all is None else _np(ew_all)
        for p in range(parts):
            inner = np.flatnonzero(owner == p).astype(np.int64)
            inner_ix[inner] = np.arange(inner.shape[0], dtype=np.int64)
            ptr, pos = _rows_of(indptr, inner)
            src = np.asarray(indices[pos], dtype=np.int64)
            halo = np.unique(src[owner[src] != p])
            # local ids in global id order (inner and halo interleaved), so every row's sources
            # stay ascending, as a Graph / DiskGraph requires
            nodes = np.union1d(inner, halo)
            nl = nodes.shape[0]
            inner_pos = np.searchsorted(nodes, inner)
            local[inner] = inner_pos
            col = np.searchsorted(nodes, src)
            deg = np.zeros(nl, dtype=np.int64)
            deg[inner_pos] = np.diff(ptr)
            full_ptr = np.zeros(nl + 1, dtype=np.int64)
            np.cumsum(deg, out=full_ptr[1:])
            ew = None if ew_all is None else torch.from_numpy(np.asarray(ew_all[pos]))
            g = Graph(torch.from_numpy(full_ptr), torch.from_numpy(col), ew, num_nodes=nl, directed=True)
            pdir = tmp / f"part-{p}"
            pdir.mkdir()
            save_graph(pdir / "graph", g, coalesced=False)
            arrays = {"nodes": nodes, "eids": pos}
            if x is not None:
                arrays["features"] = np.asarray(x[inner])
            if y is not None:
                arrays["labels"] = np.asarray(y[inner])
            for name, ids in split_ids.items():
                arrays[name] = ids[owner[ids] == p]
            for name, a in arrays.items():
                f = pdir / f"{name}.npy"
                np.save(f, np.ascontiguousarray(a))
                files[f"part-{p}/{name}.npy"] = {"bytes": f.stat().st_size, "blake2b": _digest(f)}
            part_meta.append({"inner": int(inner.shape[0]), "halo": int(halo.shape[0]), "arcs": int(pos.shape[0]),
                              **{f"num_{k}": int((owner[v] == p).sum()) for k, v in split_ids.items()}})
        deg = np.diff(indptr)
        for name, a in (("owner", owner.astype(np.int32)), ("local", local), ("inner", inner_ix),
                        ("in_degree", deg)):
            f = tmp / f"{name}.npy"
            np.save(f, a)
            files[f"{name}.npy"] = {"bytes": f.stat().st_size, "blake2b": _digest(f)}
        stats = partition_stats(graph, owner, split_ids.get("train"))
        meta = {"format": FORMAT, "version": VERSION, "num_parts": parts, "num_nodes": n, "num_edges": e,
                "method": method, "fingerprint": graph_fingerprint(graph), "parts": part_meta,
                "features": None if x is None else list(x.shape[1:]), "labels": None if y is None else list(y.shape[1:]),
                "dtypes": {k: np.dtype(a.dtype).str for k, a in (("features", x), ("labels", y)) if a is not None},
                "splits": sorted(split_ids), "edge_cut": stats["edge_cut"], "node_balance": stats["node_balance"],
                "train_balance": stats["train_balance"], "files": files}
        with open(tmp / "book.json", "w") as f:
            json.dump(meta, f, indent=1)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PartitionBook.open(out)


@dataclass
class PartitionBook:
    """Who owns which node: ``owner[v]``, ``local[v]`` (its row in the owner's part graph),
    ``inner[v]`` (its index among the owner's inner nodes: its feature row), the full-graph
    ``in_degree``, and ``book.json``'s metadata.  Held by every rank (O(N), 28 bytes a node)."""

    path: Path
    meta: dict
    owner: torch.Tensor
    local: torch.Tensor
    inner: torch.Tensor
    in_degree: torch.Tensor

    @property
    def num_parts(self) -> int:
        return int(self.meta["num_parts"])

    @property
    def num_nodes(self) -> int:
        return int(self.meta["num_nodes"])

    @classmethod
    def open(cls, path, *, num_parts: int | None = None, graph=None) -> "PartitionBook":
        """Open ``path/book.json`` and the O(N) book arrays, checked as untrusted input
        (:mod:`gnnkit.distributed._bookfmt`: types, sizes, headers, owner / local / inner / in-degree
        consistency; not the checksums: see :func:`verify_partitions`).  ``num_parts`` / ``graph``:
        refuse a directory made for another partition count or another graph.

        Raises:
            PartitionError: (a :class:`~gnnkit.data.DatasetError`) naming the file and the problem.
        """
        path = Path(path)
        meta = read_book_meta(path)
        if num_parts is not None and meta["num_parts"] != num_parts:
            raise PartitionError(f"{path} holds {meta['num_parts']} partitions, but the job asks for "
                                 f"{num_parts} (world size); repartition with --parts {num_parts}")
        if graph is not None and graph_fingerprint(graph) != meta["fingerprint"]:
            raise PartitionError(f"{path} was made from another graph (fingerprint {meta['fingerprint']} "
                                 f"!= {graph_fingerprint(graph)})")
        _check_sizes(path, meta, [a + ".npy" for a in _BOOK_ARRAYS])
        n = meta["num_nodes"]
        arrs = {name: as_i64(load_npy(path / f"{name}.npy", [dt], (n,), f"book array {name!r}"), path / f"{name}.npy")
                for name, dt in _BOOK_ARRAYS.items()}
        check_book_arrays(path, meta, arrs)
        return cls(path, meta, arrs["owner"], arrs["local"], arrs["inner"], arrs["in_degree"])


def _check_sizes(path: Path, meta: dict, names) -> None:
    for name in names:
        info = meta["files"][name]
        f = path / name
        if not f.is_file():
            raise PartitionError(f"{f} is missing")
        if f.stat().st_size != info["bytes"]:
            raise PartitionError(f"{f} has {f.stat().st_size} bytes, book.json records {info['bytes']} "
                                 "(truncated or replaced)")


@dataclass
class LocalPartition:
    """What one rank holds: its part's CSR over its local nodes (rows of halo nodes empty;
    column ids local), ``nodes`` (local -> global, ascending), ``eids`` (local arc -> global CSR
    position), ``inner_pos`` (local ids of the inner nodes, ascending), and the inner nodes'
    features, labels and split ids (memory-mapped; row ``i`` is inner node ``i``)."""

    part: int
    rowptr: torch.Tensor
    col: torch.Tensor
    edge_weight: torch.Tensor | None
    nodes: torch.Tensor
    eids: torch.Tensor
    inner_pos: torch.Tensor
    num_inner: int
    features: np.ndarray | None
    labels: np.ndarray | None
    splits: dict


def open_partition(path, part: int, book: PartitionBook | None = None) -> LocalPartition:
    """Open part ``part`` of the partition directory ``path``, checked against the book before
    anything is used (sizes, ``.npy`` headers, the part's CSR, ``nodes`` / ``eids`` /
    ``local`` / ``inner`` / ``in_degree`` agreement, split ids: O(N + E_p); checksums are
    :func:`verify_partitions`'s).

    Raises:
        PartitionError: naming the file, the array and the first bad position.
    """
    from gnnkit.data import DiskGraph

    path = Path(path)
    book = book or PartitionBook.open(path)
    if isinstance(part, bool) or not isinstance(part, (int, np.integer)) or not 0 <= part < book.num_parts:
        raise PartitionError(f"open_partition: part {part!r} is outside [0, {book.num_parts})")
    part = int(part)
    meta = book.meta
    d = path / f"part-{part}"
    _check_sizes(path, meta, [k for k in meta["files"] if k.startswith(f"part-{part}/")])
    pm = meta["parts"][part]
    ni, nh, ea = pm["inner"], pm["halo"], pm["arcs"]
    dg = DiskGraph.open(d / "graph")
    if dg.num_nodes != ni + nh or dg.num_edges != ea:
        raise PartitionError(f"{d / 'graph'}: {dg.num_nodes} nodes / {dg.num_edges} arcs, book.json records "
                             f"{ni} inner + {nh} halo nodes and {ea} arcs")
    nodes = as_i64(load_npy(d / "nodes.npy", [np.dtype(np.int64)], (ni + nh,), "local -> global ids"),
                 d / "nodes.npy")
    eids = as_i64(load_npy(d / "eids.npy", [np.dtype(np.int64)], (ea,), "local arc -> global CSR position"),
                d / "eids.npy")
    g = dg.graph()
    inner_pos = check_part(path, part, meta, book, nodes, eids, g.indptr, g.indices)

    def shard(name, kinds):  # (books written before "dtypes" was recorded: any dtype of these kinds)
        dims, dt = meta.get(name), meta.get("dtypes", {}).get(name)
        return None if dims is None else load_npy(d / f"{name}.npy", [kinds if dt is None else np.dtype(dt)],
                                                  (ni, *dims), f"{name} of inner nodes")

    splits = {}
    for k in meta.get("splits", []):
        ids = as_i64(load_npy(d / f"{k}.npy", [np.dtype(np.int64)], (None,), f"split {k!r} ids"), d / f"{k}.npy")
        check_split(d / f"{k}.npy", ids, book, part, pm.get(f"num_{k}"))
        splits[k] = ids
    return LocalPartition(part, g.indptr, g.indices, g.edge_weight, nodes, eids, inner_pos, ni,
                          shard("features", SHARD_KINDS["features"]), shard("labels", SHARD_KINDS["labels"]),
                          splits)


def _check_values(f: Path, a: np.ndarray, what: str, lo=None, chunk: int = 1 << 22) -> None:
    """Streamed over a memory-mapped shard: float entries finite (``lo is None``), or integer
    entries at least ``lo`` (float labels may hold NaN for "missing")."""
    flat = a.reshape(-1)
    for s in range(0, flat.shape[0], chunk):
        c = np.asarray(flat[s:s + chunk])
        if lo is None:
            bad = ~np.isfinite(c) if c.dtype.kind == "f" else None
        else:
            bad = c < lo if c.dtype.kind in "iu" else None
        if bad is not None and bad.any():
            k = s + int(np.flatnonzero(bad)[0])
            raise PartitionError(f"{f}: {what} entry {k} (flat) is {flat[k]!r}")


def verify_partitions(path, graph=None) -> dict:
    """Check everything a partition directory stores: every file's size and checksum, every
    part's DiskGraph (:meth:`DiskGraph.verify`), everything :func:`open_partition` checks,
    finite features and labels >= -1, that the parts' arcs add up to E, and (when ``graph`` is
    given, with its fingerprint) its in-degrees and every arc's global source.  Raises
    :class:`PartitionError` on the first problem; returns a summary."""
    from gnnkit.data import DiskGraph

    path = Path(path)
    book = PartitionBook.open(path, graph=graph)
    meta = book.meta
    for name, info in meta["files"].items():
        f = path / name
        _check_sizes(path, meta, [name])
        if _digest(f) != info["blake2b"]:
            raise PartitionError(f"{f}: checksum mismatch (corrupted)")
    if graph is not None:
        gp, gi = _np(graph.indptr).astype(np.int64, copy=False), _np(graph.indices)
        if not np.array_equal(np.diff(gp), book.in_degree.numpy()):
            raise PartitionError(f"{path}/in_degree.npy disagrees with the graph's in-degrees")
    total = 0
    # the graph the parts hold, fingerprinted without assembling it: indptr = cumsum(in_degree),
    # the sampled arcs gathered from the parts that store them
    e = meta["num_edges"]
    pos = _sample_positions(e)
    sampled = np.full(pos.shape[0], -1, dtype=np.int64)
    for p in range(book.num_parts):
        DiskGraph.open(path / f"part-{p}" / "graph").verify()
        lp = open_partition(path, p, book)
        eids = lp.eids.numpy()
        at = np.minimum(np.searchsorted(eids, pos), max(eids.shape[0] - 1, 0))
        hit = eids[at] == pos if eids.shape[0] else np.zeros(pos.shape[0], bool)
        sampled[hit] = lp.nodes[lp.col.long()[torch.from_numpy(at[hit])]].numpy()
        d = path / f"part-{p}"
        if lp.features is not None:
            _check_values(d / "features.npy", lp.features, "feature")
        if lp.labels is not None:
            _check_values(d / "labels.npy", lp.labels, "label (< -1)", lo=-1)
        if graph is not None:
            src = lp.nodes[lp.col.long()].numpy()
            if not np.array_equal(src, np.asarray(gi[lp.eids.numpy()], dtype=np.int64)):
                raise PartitionError(f"{path}/part-{p}: arc sources disagree with the graph")
        total += lp.col.numel()
    if total != meta["num_edges"]:
        raise PartitionError(f"{path}: the parts hold {total} arcs, the graph has {meta['num_edges']}")
    indptr = np.zeros(book.num_nodes + 1, dtype=np.int64)
    np.cumsum(book.in_degree.numpy(), out=indptr[1:])
    if _fingerprint(indptr, e, sampled) != meta["fingerprint"]:
        raise PartitionError(f"{path}/book.json: fingerprint {meta['fingerprint']!r} is not the fingerprint of the "
                             "graph the parts hold (the book was edited, or the parts come from another graph)")
    return {"num_parts": book.num_parts, "num_nodes": book.num_nodes, "num_edges": total, "ok": True}
