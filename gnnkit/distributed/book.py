r"""Partition directories: write, open, verify.

Layout of ``OUT/`` (the DistDGL "inner + halo" layout, Zheng et al. 2020), written into
``OUT.tmp-<pid>-<random>`` and renamed when complete, so an interrupted write never leaves an
``OUT`` that opens::

    book.json            format, P, N, E, method, graph fingerprint, per-part counts, the
                         size and checksum of every array below
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
so one made for another partition count is refused too.
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

from gnnkit.distributed.partition import partition_stats

__all__ = ["PartitionError", "PartitionBook", "LocalPartition", "write_partitions", "open_partition",
           "verify_partitions", "graph_fingerprint", "is_partition_dir"]

FORMAT = "gnnkit.partitions"
VERSION = 1


class PartitionError(ValueError):
    """A partition directory is missing, damaged, or does not match the graph or the job."""


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


def graph_fingerprint(graph) -> str:
    """A short hash of a graph's structure: N, E, all of ``indptr`` and 4096 evenly spaced
    entries of ``indices`` (O(N), not O(E): a forged graph with the same degrees and the same
    sampled entries would pass; :func:`verify_partitions` re-checks every arc)."""
    ptr, idx = _np(graph.indptr), _np(graph.indices)
    h = hashlib.blake2b(digest_size=16)
    h.update(np.int64([ptr.shape[0] - 1, idx.shape[0]]).tobytes())
    h.update(np.ascontiguousarray(ptr, dtype=np.int64).tobytes())
    if idx.shape[0]:
        pos = np.linspace(0, idx.shape[0] - 1, num=min(4096, idx.shape[0])).astype(np.int64)
        h.update(np.asarray(idx[pos], dtype=np.int64).tobytes())
    return h.hexdigest()


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
        """Open ``path/book.json`` (O(N) arrays; sizes checked, not hashes: see
        :func:`verify_partitions`).  ``num_parts`` / ``graph``: refuse a directory made for
        another partition count or another graph."""
        path = Path(path)
        meta = _read_meta(path)
        if num_parts is not None and meta["num_parts"] != num_parts:
            raise PartitionError(f"{path} holds {meta['num_parts']} partitions, but the job asks for "
                                 f"{num_parts} (world size); repartition with --parts {num_parts}")
        if graph is not None and graph_fingerprint(graph) != meta["fingerprint"]:
            raise PartitionError(f"{path} was made from another graph (fingerprint {meta['fingerprint']} "
                                 f"!= {graph_fingerprint(graph)})")
        _check_sizes(path, meta, [k for k in meta["files"] if "/" not in k])
        n = meta["num_nodes"]
        arrs = {}
        for name in ("owner", "local", "inner", "in_degree"):
            a = np.load(path / f"{name}.npy", mmap_mode="r")
            if a.shape != (n,):
                raise PartitionError(f"{path / (name + '.npy')} has shape {a.shape}, expected ({n},)")
            arrs[name] = torch.from_numpy(np.array(a, dtype=np.int64))
        o = arrs["owner"]
        if n and (int(o.min()) < 0 or int(o.max()) >= meta["num_parts"]):
            raise PartitionError(f"{path}/owner.npy has owners outside [0, {meta['num_parts']})")
        return cls(path, meta, o, arrs["local"], arrs["inner"], arrs["in_degree"])


def _read_meta(path: Path) -> dict:
    f = path / "book.json"
    if not f.is_file():
        raise PartitionError(f"{path} is not a partition directory (no book.json); make one with "
                             "`gnnkit data partition GRAPH OUT --parts N`")
    try:
        meta = json.loads(f.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise PartitionError(f"{f} is not valid JSON: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise PartitionError(f"{f}: not a {FORMAT} v{VERSION} book")
    for k in ("num_parts", "num_nodes", "num_edges", "fingerprint", "parts", "files"):
        if k not in meta:
            raise PartitionError(f"{f}: missing key {k!r}")
    if not isinstance(meta["parts"], list) or len(meta["parts"]) != meta["num_parts"]:
        raise PartitionError(f"{f}: 'parts' must list {meta['num_parts']} parts")
    return meta


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
    """Open part ``part`` of the partition directory ``path`` (sizes checked)."""
    from gnnkit.data import DiskGraph

    path = Path(path)
    book = book or PartitionBook.open(path)
    if not 0 <= part < book.num_parts:
        raise PartitionError(f"open_partition: part {part} is outside [0, {book.num_parts})")
    meta = book.meta
    _check_sizes(path, meta, [k for k in meta["files"] if k.startswith(f"part-{part}/")])
    pm = meta["parts"][part]
    dg = DiskGraph.open(path / f"part-{part}" / "graph")
    nodes = np.load(path / f"part-{part}" / "nodes.npy", mmap_mode="r")
    eids = np.load(path / f"part-{part}" / "eids.npy", mmap_mode="r")
    ni, nh, ea = pm["inner"], pm["halo"], pm["arcs"]
    if nodes.shape != (ni + nh,) or eids.shape != (ea,) or dg.num_nodes != ni + nh or dg.num_edges != ea:
        raise PartitionError(f"{path}/part-{part} does not match book.json (nodes {nodes.shape}, arcs "
                             f"{eids.shape}, graph {dg.num_nodes}/{dg.num_edges}; book: {ni}+{nh} nodes, {ea} arcs)")
    g = dg.graph()

    def opt(name):
        f = path / f"part-{part}" / f"{name}.npy"
        return np.load(f, mmap_mode="r") if f.is_file() else None

    splits = {k: torch.from_numpy(np.array(opt(k), dtype=np.int64)) for k in meta.get("splits", [])
              if opt(k) is not None}
    nodes_t = torch.from_numpy(np.array(nodes, dtype=np.int64))
    inner_pos = torch.nonzero(book.owner[nodes_t] == part).reshape(-1)
    if inner_pos.numel() != ni:
        raise PartitionError(f"{path}/part-{part}: {inner_pos.numel()} of its nodes are owned by it, book.json "
                             f"records {ni}")
    return LocalPartition(part, g.indptr, g.indices, g.edge_weight, nodes_t,
                          torch.from_numpy(np.array(eids, dtype=np.int64)), inner_pos, ni, opt("features"),
                          opt("labels"), splits)


def verify_partitions(path, graph=None) -> dict:
    """Check everything a partition directory stores: every file's size and checksum, every
    part's DiskGraph (:meth:`DiskGraph.verify`), that ``owner``/``local``/``nodes`` agree, that
    every arc's global source equals the whole graph's (when ``graph`` is given, with its
    fingerprint) and that the parts' arcs add up to E.  Raises :class:`PartitionError` on the
    first problem; returns a summary."""
    from gnnkit.data import DiskGraph

    path = Path(path)
    book = PartitionBook.open(path, graph=graph)
    meta = book.meta
    for name, info in meta["files"].items():
        f = path / name
        _check_sizes(path, meta, [name])
        if _digest(f) != info["blake2b"]:
            raise PartitionError(f"{f}: checksum mismatch (corrupted)")
    total = 0
    for p in range(book.num_parts):
        DiskGraph.open(path / f"part-{p}" / "graph").verify()
        lp = open_partition(path, p, book)
        if lp.nodes.numel() > 1 and not bool((lp.nodes[1:] > lp.nodes[:-1]).all()):
            raise PartitionError(f"{path}/part-{p}: nodes.npy is not strictly ascending")
        inner = lp.nodes[lp.inner_pos]
        if not torch.equal(book.local[inner], lp.inner_pos) or not torch.equal(
                book.inner[inner], torch.arange(lp.num_inner)):
            raise PartitionError(f"{path}/part-{p}: inner nodes disagree with local.npy/inner.npy")
        deg = lp.rowptr[1:] - lp.rowptr[:-1]
        halo_rows = torch.ones(lp.nodes.numel(), dtype=torch.bool)
        halo_rows[lp.inner_pos] = False
        if bool((deg[halo_rows] != 0).any()):
            raise PartitionError(f"{path}/part-{p}: a halo node has stored in-arcs")
        if graph is not None:
            gp, gi = _np(graph.indptr), _np(graph.indices)
            ptr, pos = _rows_of(gp.astype(np.int64), inner.numpy())
            if not np.array_equal(pos, lp.eids.numpy()):
                raise PartitionError(f"{path}/part-{p}: eids.npy disagrees with the graph's CSR")
            src = lp.nodes[lp.col.long()].numpy()
            if not np.array_equal(src, np.asarray(gi[pos], dtype=np.int64)):
                raise PartitionError(f"{path}/part-{p}: arc sources disagree with the graph")
        total += lp.col.numel()
    if total != meta["num_edges"]:
        raise PartitionError(f"{path}: the parts hold {total} arcs, the graph has {meta['num_edges']}")
    return {"num_parts": book.num_parts, "num_nodes": book.num_nodes, "num_edges": total, "ok": True}
