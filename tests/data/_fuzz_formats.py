"""Corpus builders for the newer on-disk formats, run by ``test_loader_fuzz.py``'s child process.

- **partition** (``write_partitions`` directories, read by ``PartitionBook.open``,
  ``open_partition`` and ``verify_partitions`` or ``gnnkit data verify``): truncated, padded,
  flipped and deleted files; ``.npy`` headers announcing another dtype / shape / order (with the
  book's sizes and checksums fixed by the forger); book arrays and part arrays forged *with
  recomputed checksums* (owners / local rows / feature rows out of range or not one-to-one,
  in-degrees changed, ``nodes`` / ``eids`` / split ids out of range, repeated or out of order,
  NaN features, labels below -1, a part CSR with an out-of-range or unsorted source); forged
  ``book.json`` fields (wrong types, negative and huge sizes, path-traversing file names);
  a part copied from another graph's or another part count's directory (book entries fixed);
  the directory opened for another graph (fingerprint) or another world size; stale
  ``OUT.tmp-*`` directories beside a good ``OUT`` or instead of it.
- **gcache** (``PathCache`` / ``FieldCache`` files): truncated, flipped, malicious and mistyped
  ``.pt`` states, paths / parents / offsets out of range or inconsistent, NaN fields.
- **reorder** (``reorder_perm.i64`` + ``reorder.json`` read by ``load_reordering``): truncated,
  padded, not a permutation, another length, forged JSON.

The child's loader for these families is :data:`DRIVER_EXTRA` (``load_extra(case)``): it opens
what the case names, *uses* it (the distributed sampler's C++ hop on every part, the cache's
batch gather) and compares what verified against the pristine reference, so a damaged file that
loads must load as the original.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch
from hypothesis import strategies as st

PN, PE, PP = 60, 320, 3  # partition base: nodes, arcs, parts


def _damage_entry(a: np.ndarray, how: str, i: int, j: int, out_of_range, negative) -> None:
    """Damage entry ``i`` of ``a`` in place: an out-of-range or negative value, the dtype's
    maximum ("huge"), a swap with entry ``j`` or a duplicate of it ("dup")."""
    if how == "range":
        a[i] = out_of_range
    elif how == "negative":
        a[i] = negative
    elif how == "huge":
        a[i] = np.iinfo(a.dtype).max
    elif how == "swap":
        a[i], a[j] = a[j], a[i]
    else:
        a[i] = a[j]


# ============================================================================ child-side loader
DRIVER_EXTRA = r'''
import torch


def _graph_from(npz):
    from gnnkit import Graph
    z = np.load(npz)
    return Graph(torch.from_numpy(z["indptr"]), torch.from_numpy(z["indices"]), num_nodes=int(z["n"]),
                 directed=True)

def _use_part(lp, book, p):
    """What a rank does with its part: global ids of the arcs' sources, the book's rows of its
    inner nodes, the C++ hop sampler over the part CSR, feature and label rows."""
    from gnnkit.distributed.sampler import _ops
    inner = lp.nodes[lp.inner_pos]
    _ = lp.nodes[lp.col.long()], book.owner[lp.nodes], book.inner[lp.splits.get("train", inner)]
    rows = book.local[inner]
    cnt, src, pos = _ops().neighbor_sample_hop(lp.rowptr, lp.col, rows, inner, lp.nodes.numel(), 3, None, 7, 0)
    _ = lp.nodes[src], lp.eids[pos]
    if lp.features is not None:
        _ = np.asarray(lp.features)[book.inner[inner].numpy()]
    if lp.labels is not None:
        _ = np.asarray(lp.labels)[book.inner[inner].numpy()]

def _load_partition(case):
    from gnnkit.distributed import PartitionBook, open_partition, verify_partitions
    path = case["path"]
    graph = _graph_from(case["graph"]) if case.get("graph") else None
    book = PartitionBook.open(path, num_parts=case.get("num_parts"), graph=graph)
    parts = [open_partition(path, p, book) for p in range(book.num_parts)]
    for p, lp in enumerate(parts):
        _use_part(lp, book, p)
    if case.get("cli"):
        import gnnkit.cli._errors as E
        from gnnkit.cli import main
        def _reraise(e):
            raise e
        E.report = _reraise
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()):
            if main(["data", "verify", path]) != 0:
                return "gnnkit data verify returned non-zero without an error"
    else:
        verify_partitions(path, graph=graph)
    ref = np.load(case["ref"])
    if book.num_parts != int(ref["P"]):
        return f"opened and verified with {book.num_parts} parts, written with {int(ref['P'])}"
    for k in ("owner", "local", "inner", "in_degree"):
        if not np.array_equal(getattr(book, k).numpy(), ref[k]):
            return f"opened and verified with a different book array {k!r}"
    for p, lp in enumerate(parts):
        got = {"nodes": lp.nodes, "eids": lp.eids, "rowptr": lp.rowptr, "col": lp.col,
               "features": lp.features, "labels": lp.labels, **{"s_" + k: v for k, v in lp.splits.items()}}
        want = {k[len(f"p{p}_"):]: ref[k] for k in ref.files if k.startswith(f"p{p}_")}
        if set(want) != {k for k, v in got.items() if v is not None}:
            return f"part {p} opened and verified with arrays {sorted(got)} instead of {sorted(want)}"
        for k, v in want.items():
            a = np.asarray(got[k])
            if a.shape != v.shape or not np.array_equal(a.astype(v.dtype), v):
                return f"part {p} opened and verified with a different {k!r}"
    return None

def _load_gcache(case):
    sys.path.insert(0, case["helpers"])
    from _fuzz_formats import GCACHE, gcache_dataset
    from gnnkit.graphlevel import FieldCache, PathCache, collate_graphs
    ds = gcache_dataset()
    which = case["cache"]
    if which == "field":
        c = FieldCache(ds, k=GCACHE["field"]["k"], cache_dir=case["path"])
        got = {"field": [c.field]}
    else:
        o = GCACHE[which]
        c = PathCache(ds, o["K"], o["mode"], distances=o["distances"], cache_dir=case["path"])
        got = {"paths": c.paths, "parents": c.parents, "ptr": c.ptr, "weights": c.weights, "dists": c.dists}
    if not c.loaded:
        return "recomputed instead of loading the file"
    collate_graphs(ds, torch.arange(len(ds)), extras=[c])          # the batch gather
    collate_graphs(ds, torch.tensor([len(ds) - 1, 0]), extras=[c])
    ref = torch.load(case["ref"], weights_only=True)
    if which == "field":
        ref = {"field": [ref["field"]]}
    for k, v in got.items():
        r = ref.get(k)
        if (v is None) != (r is None):
            return f"loaded with {k!r} {'absent' if v is None else 'present'}"
        same = lambda a, b: a.shape == b.shape and torch.equal(a.to(b.dtype), b)  # noqa: E731
        if v is not None and (len(v) != len(r) or not all(same(a, b) for a, b in zip(v, r))):
            return f"loaded with a different {k!r}"
    return None

def _load_reorder(case):
    from gnnkit.reorder import load_reordering
    r = load_reordering(case["path"])
    want = np.fromfile(case["ref"], dtype="<i8")
    if r is None:
        return "no reordering found"
    if not np.array_equal(r.perm.numpy(), want):
        return "loaded another permutation"
    x = np.arange(want.shape[0] * 2).reshape(-1, 2)
    if not np.array_equal(r.original(r.nodes(x)), x):
        return "perm and inverse disagree"
    return None

def load_extra(case):
    fam = case["family"]
    if fam == "partition":
        return _load_partition(case)
    if fam == "gcache":
        return _load_gcache(case)
    if fam == "reorder":
        return _load_reorder(case)
    raise ValueError(fam)
'''


# ============================================================================ partition corpus
def _recompute(dg_path: Path, name: str, array: np.ndarray) -> None:
    """Overwrite array ``name``'s payload and fix its checksum and sample in meta.json."""
    from gnnkit.data.disk_format import HEADER_BYTES, new_hasher, sample_digest

    meta = json.loads((dg_path / "meta.json").read_text())
    e = meta["arrays"][name]
    with open(dg_path / e["file"], "r+b") as f:
        f.seek(HEADER_BYTES)
        f.write(np.ascontiguousarray(array, dtype=e["dtype"]).tobytes())
    algo = e["checksum"].split(":")[0]
    h = new_hasher(algo)
    h.update((dg_path / e["file"]).read_bytes()[HEADER_BYTES:])
    e["checksum"] = f"{algo}:{h.hexdigest()}"
    e["sample"] = sample_digest(dg_path / e["file"], algo, HEADER_BYTES,
                                e["bytes"] - HEADER_BYTES)
    (dg_path / "meta.json").write_text(json.dumps(meta))


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(path.read_bytes())
    return h.hexdigest()


def _partition_graph(seed: int):
    import gnnkit

    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, PN, (2, PE), generator=gen)
    return gnnkit.Graph.from_edge_index(ei, num_nodes=PN)


def _save_graph_npz(path: Path, g) -> None:
    np.savez(path, indptr=g.indptr.numpy(), indices=g.indices.numpy(), n=g.num_nodes)


def _partition_base(root: Path, seed: int, parts: int) -> Path:
    """One pristine partition directory per (graph seed, part count) plus its reference
    arrays (``ref.npz``) and graph (``graph.npz``); copied for every case."""
    from gnnkit.distributed import open_partition, partition_nodes, write_partitions

    base = root / f"partition-base-{seed}-{parts}"
    if base.exists():
        return base
    g = _partition_graph(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(PN, 3, generator=gen)
    y = torch.randint(-1, 4, (PN,), generator=gen)
    owner = partition_nodes(g, parts, "random", seed=seed)
    splits = {"train": torch.arange(0, 24), "val": torch.arange(24, 36), "test": torch.arange(40, 58, 2)}
    book = write_partitions(g, owner, base / "P", features=x, labels=y, splits=splits, method="random")
    ref = {"P": np.int64(parts), **{k: getattr(book, k).numpy() for k in ("owner", "local", "inner", "in_degree")}}
    for p in range(parts):
        lp = open_partition(base / "P", p, book)
        for k, v in {"nodes": lp.nodes, "eids": lp.eids, "rowptr": lp.rowptr, "col": lp.col,
                     "features": lp.features, "labels": lp.labels,
                     **{"s_" + s: t for s, t in lp.splits.items()}}.items():
            ref[f"p{p}_{k}"] = v.numpy().copy() if isinstance(v, torch.Tensor) else np.array(v)
    np.savez(base / "ref.npz", **ref)
    _save_graph_npz(base / "graph.npz", g)
    return base


def _npy_files(P: Path) -> list[str]:
    return sorted(json.loads((P / "book.json").read_text())["files"])


def _all_files(P: Path) -> list[str]:
    return sorted(str(f.relative_to(P)) for f in P.rglob("*") if f.is_file())


def _refile(P: Path, *names: str) -> None:
    """Record the current size and checksum of ``names`` in ``book.json`` (a forger's fix)."""
    meta = json.loads((P / "book.json").read_text())
    for name in names:
        if name in meta["files"]:
            meta["files"][name] = {"bytes": (P / name).stat().st_size, "blake2b": _digest(P / name)}
    (P / "book.json").write_text(json.dumps(meta, indent=1))


def _forge_npy(P: Path, name: str, a: np.ndarray) -> None:
    np.save(P / name, np.ascontiguousarray(a))
    _refile(P, name)


def _rewrite_header(P: Path, name: str, descr=None, shape=None, fortran=None) -> None:
    import io

    raw = (P / name).read_bytes()
    f = io.BytesIO(raw)
    np.lib.format.read_magic(f)
    shp, fo, dt = np.lib.format.read_array_header_1_0(f)
    body = raw[f.tell():]
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {
        "descr": np.lib.format.dtype_to_descr(dt) if descr is None else descr,
        "fortran_order": fo if fortran is None else fortran,
        "shape": shp if shape is None else shape})
    (P / name).write_bytes(out.getvalue() + body)


def build_partition(corpus, kind: str, data) -> None:
    draw = data.draw
    root = corpus.root
    base = _partition_base(root, 0, PP)
    d = corpus.new_dir("partition")
    P = d / "P"
    shutil.copytree(base / "P", P)
    ref = np.load(base / "ref.npz")
    extra = {"ref": str(base / "ref.npz"), "cli": draw(st.booleans()),
             "graph": str(base / "graph.npz") if draw(st.booleans()) else None}
    files = _npy_files(P)
    must_fail, desc = True, kind
    if kind in ("truncate", "append", "flip", "delete"):
        name = draw(st.sampled_from(_all_files(P)))
        f = P / name
        raw = bytearray(f.read_bytes())
        note = name.endswith("RELEASE_v1.txt")  # a DiskGraph's note to humans, never read
        if kind == "truncate":
            f.write_bytes(bytes(raw[:draw(st.integers(0, len(raw) - 1))]))
            must_fail = not note
        elif kind == "append":
            f.write_bytes(bytes(raw) + bytes([draw(st.integers(1, 255))]) * draw(st.integers(1, 16)))
            # (a JSON file may end with whitespace)
            must_fail = not note and not (name.endswith(".json") and f.read_bytes()[len(raw):].isspace())
        elif kind == "flip":
            off = draw(st.integers(0, len(raw) - 1))
            raw[off] ^= draw(st.integers(1, 255))
            f.write_bytes(bytes(raw))
            must_fail, name = False, f"{name} byte {off}"
        else:
            target = draw(st.sampled_from([name, "part-1", "part-2/graph", "book.json"]))
            (shutil.rmtree if (P / target).is_dir() else os.remove)(P / target)
            name, must_fail = target, not target.endswith("RELEASE_v1.txt")  # (a note to humans)
        desc = f"{kind} {name}"
    elif kind == "header":
        name = draw(st.sampled_from(files))
        how = draw(st.sampled_from(["huge", "longer", "2d", "dtype", "object", "bigendian", "fortran",
                                    "negative", "bool"]))
        a = np.load(P / name, mmap_mode="r")
        shape = {"huge": (2 ** 40,) + a.shape[1:], "longer": (a.shape[0] + 1,) + a.shape[1:],
                 "2d": (a.shape[0], 1, *a.shape[1:]), "negative": (-1,) + a.shape[1:]}.get(how)
        descr = {"dtype": "<f8" if a.dtype.kind != "f" else "<i4", "object": "|O", "bigendian": ">i8",
                 "bool": "|b1"}.get(how)
        try:
            _rewrite_header(P, name, descr=descr, shape=shape, fortran=True if how == "fortran" else None)
        except ValueError:  # numpy refuses to write the header (negative shape): write it raw
            raw = (P / name).read_bytes()
            (P / name).write_bytes(raw.replace(str(a.shape).encode(), b"(-1,)", 1))
        if draw(st.booleans()):
            _refile(P, name)
        desc = f"header {name} {how}"
        must_fail = how != "fortran" or a.ndim > 1  # (1-D Fortran order is C order)
    elif kind == "book_ids":
        name = draw(st.sampled_from(["owner", "local", "inner", "in_degree"]))
        a = np.load(P / f"{name}.npy").copy()
        how = draw(st.sampled_from(["range", "negative", "swap", "dup", "huge"]))
        i, j = draw(st.integers(0, PN - 1)), draw(st.integers(0, PN - 1))
        _damage_entry(a, how, i, j, {"owner": PP, "local": PN, "inner": PN, "in_degree": a[i] + 1}[name], -1)
        _forge_npy(P, f"{name}.npy", a)
        desc, must_fail = f"book {name} {how} [{i}] [{j}]", False
    elif kind == "part_ids":
        p = draw(st.integers(0, PP - 1))
        # only damage a structure check can see: a forged feature value or split order with a
        # recomputed checksum is as valid as the original
        name, how = draw(st.sampled_from(
            [(a, h) for a in ("nodes", "eids") for h in ("range", "negative", "swap", "dup")]
            + [(a, h) for a in ("train", "val", "test") for h in ("range", "negative", "dup")]
            + [("labels", "range"), ("labels", "negative"), ("features", "nan"), ("features", "range"),
               ("features", "negative")]))
        a = np.load(P / f"part-{p}/{name}.npy").copy()
        if a.size == 0:
            a = np.zeros((1,) + a.shape[1:], a.dtype)
        i, j = draw(st.integers(0, a.shape[0] - 1)), draw(st.integers(0, a.shape[0] - 1))
        if name == "features":
            a[i, 0] = {"nan": np.nan, "range": np.inf, "negative": -np.inf}[how]
        else:
            _damage_entry(a, how, i, j, {"nodes": PN, "eids": PE, "labels": -5}.get(name, PN), -(2 ** 40))
        _forge_npy(P, f"part-{p}/{name}.npy", a)
        desc, must_fail = f"part-{p} {name} {how} [{i}] [{j}]", False
    elif kind == "part_graph":
        p = draw(st.integers(0, PP - 1))
        g = P / f"part-{p}" / "graph"
        col = ref[f"p{p}_col"].astype(np.int32).copy()
        how = draw(st.sampled_from(["range", "negative", "unsorted", "rowptr"]))
        if how == "rowptr":
            rp = ref[f"p{p}_rowptr"].copy()
            k = draw(st.integers(1, rp.size - 2))
            rp[k] = rp[k + 1] + 1
            _recompute(g, "indptr", rp)
        else:
            k = draw(st.integers(0, col.size - 1))
            col[k] = {"range": ref[f"p{p}_nodes"].size, "negative": -1}.get(how, col[k])
            if how == "unsorted":
                col = col[::-1].copy()
            _recompute(g, "indices", col)
        desc, must_fail = f"part-{p} graph {how}", False
    elif kind == "meta":
        meta = json.loads((P / "book.json").read_text())
        field = draw(st.sampled_from(["num_parts", "num_nodes", "num_edges", "fingerprint", "parts",
                                      "part_entry", "files", "file_name", "splits", "features", "labels",
                                      "dtypes",
                                      "format", "drop", "notdict"]))
        bad = [-1, 2 ** 62, "3", 1.5, True, None, [3]]
        if field in ("num_parts", "num_nodes", "num_edges"):
            meta[field] = draw(st.sampled_from(bad + [meta[field] + 1, meta[field] - 1]))
        elif field == "fingerprint":
            meta[field] = draw(st.sampled_from([123, None, "0" * 32]))
        elif field == "parts":
            meta[field] = draw(st.sampled_from([meta["parts"][:-1], {}, "x", meta["parts"] + [meta["parts"][0]]]))
        elif field == "part_entry":
            pm = meta["parts"][draw(st.integers(0, PP - 1))]
            key = draw(st.sampled_from(["inner", "halo", "arcs", "num_train"]))
            pm[key] = draw(st.sampled_from(bad + [pm[key] + 1] if key in pm else bad))
        elif field == "files":
            name = draw(st.sampled_from(files))
            how = draw(st.sampled_from(["drop", "bytes", "hash", "type"]))
            if how == "drop":
                meta["files"].pop(name)
            elif how == "bytes":
                meta["files"][name]["bytes"] = draw(st.sampled_from(bad + [2 ** 40]))
            elif how == "hash":
                meta["files"][name]["blake2b"] = draw(st.sampled_from([None, "../x", "f" * 32]))
            else:
                meta["files"][name] = draw(st.sampled_from([None, [1, 2], "x"]))
        elif field == "file_name":
            src = draw(st.sampled_from(files))
            new = draw(st.sampled_from(["../P/owner.npy", "/etc/passwd", "part-9/nodes.npy",
                                        "part-0/../owner.npy", "part-01/nodes.npy", "x.npy",
                                        "part-0/graph/meta.json"]))
            meta["files"][new] = meta["files"].pop(src)
        elif field == "splits":
            meta[field] = draw(st.sampled_from([["../x"], ["nodes"], "train", [1], ["train", "train"],
                                                meta["splits"] + ["extra"]]))
        elif field in ("features", "labels"):
            meta[field] = draw(st.sampled_from([[2 ** 40], ["a"], "x", [4], [-1], [1, 1], None]))
        elif field == "dtypes":
            meta[field] = draw(st.sampled_from([{"features": "object"}, {"labels": ">i8"}, "x", [1],
                                                {"features": "<f8", "labels": "<i8"}, {"bogus": "<f4"},
                                                {"features": "<f4", "labels": "<f8"}, {"labels": "V8"},
                                                {"features": "(2,)<f4"}, {"features": 3}]))
        elif field == "format":
            meta[draw(st.sampled_from(["format", "version"]))] = draw(st.sampled_from([2, "x", None]))
        elif field == "drop":
            meta.pop(draw(st.sampled_from(["num_parts", "num_nodes", "parts", "files", "fingerprint"])))
        else:
            meta = draw(st.sampled_from([[1], "x", 3, None]))
        (P / "book.json").write_text(json.dumps(meta))
        desc = f"meta {field}"
    elif kind == "mix":
        how = draw(st.sampled_from(["other_graph_part", "other_count_part", "other_graph", "other_world"]))
        if how == "other_graph":
            extra["graph"] = str(_partition_base(root, 1, PP) / "graph.npz")
        elif how == "other_world":
            extra["num_parts"] = draw(st.sampled_from([1, PP - 1, PP + 1]))
        else:
            other = _partition_base(root, 1, PP) if how == "other_graph_part" else _partition_base(root, 0, 2)
            p = draw(st.integers(0, 1))
            shutil.rmtree(P / f"part-{p}")
            shutil.copytree(other / "P" / f"part-{p}", P / f"part-{p}")
            _refile(P, *[n for n in files if n.startswith(f"part-{p}/")])
            how += f" {p}"
        desc = f"mix {how}"
    else:  # stale temporary directories of an interrupted write
        how = draw(st.sampled_from(["beside", "instead", "open_tmp"]))
        tmp = d / "P.tmp-4242-deadbeef"
        shutil.copytree(P, tmp)
        os.remove(tmp / "book.json")
        for f in draw(st.lists(st.sampled_from(_all_files(tmp)), max_size=3, unique=True)):
            os.remove(tmp / f)
        if how == "instead":
            shutil.rmtree(P)
        elif how == "open_tmp":
            P = tmp
        must_fail, desc = how != "beside", f"stale tmp {how}"
    corpus.add("partition", P, f"{desc} (cli={extra['cli']}, graph={bool(extra['graph'])})", must_fail,
               **extra)


PARTITION_KINDS = ["truncate", "append", "flip", "delete", "header", "book_ids", "part_ids",
                   "part_graph", "meta", "mix", "tmp"]


# ============================================================================ graph-level caches
GCACHE = {"paths-sp": {"K": 3, "mode": "sp", "distances": False},
          "paths-sp+": {"K": 2, "mode": "sp+", "distances": False},
          "paths-ap-d": {"K": 3, "mode": "ap", "distances": True},
          "field": {"k": 2}}


def gcache_dataset():
    """Five small undirected graphs (one empty) as a :class:`GraphDataset` (child and builder)."""
    import gnnkit
    from gnnkit.data.graph_datasets import bicyclopentyl, csl_graph, decalin
    from gnnkit.graphlevel import GraphDataset

    gs = [decalin(), bicyclopentyl(), csl_graph(3, 9), gnnkit.Graph.empty(2, directed=False), csl_graph(2, 7)]
    return GraphDataset.from_graphs(gs, torch.tensor([0, 1, 0, 1, 0]), name="fuzz")


def _gcache_base(root: Path) -> Path:
    from gnnkit.graphlevel import FieldCache, PathCache

    base = root / "gcache-base"
    if base.exists():
        return base
    ds = gcache_dataset()
    for name, o in GCACHE.items():
        d = base / name
        if name == "field":
            c = FieldCache(ds, k=o["k"], cache_dir=d)
        else:
            c = PathCache(ds, o["K"], o["mode"], distances=o["distances"], cache_dir=d)
        assert not c.loaded and c.file.exists()
    return base


def build_gcache(corpus, kind: str, data) -> None:
    draw = data.draw
    base = _gcache_base(corpus.root)
    which = draw(st.sampled_from(sorted(GCACHE)))
    d = corpus.new_dir("gcache")
    shutil.copytree(base / which, d / "c")
    (f,) = list((d / "c").iterdir())
    ref = d / "ref.pt"
    shutil.copy(f, ref)
    state = torch.load(f, weights_only=True)
    must_fail, desc = True, kind
    if kind == "truncate":
        raw = f.read_bytes()
        f.write_bytes(raw[:draw(st.integers(0, len(raw) - 1))])
    elif kind == "flip":
        raw = bytearray(f.read_bytes())
        off = draw(st.integers(0, len(raw) - 1))
        raw[off] ^= draw(st.integers(1, 255))
        f.write_bytes(bytes(raw))
        must_fail, desc = False, f"flip byte {off}"
    elif kind == "junk":
        how = draw(st.sampled_from(["empty", "text", "pickle", "evil", "npz", "list", "compressed"]))
        if how == "empty":
            f.write_bytes(b"")
        elif how == "text":
            f.write_text("paths\n")
        elif how == "pickle":
            f.write_bytes(pickle.dumps(state))
        elif how == "evil":
            torch.save(_Evil(), f)
        elif how == "npz":
            np.savez(f.with_suffix(".npz"), a=np.arange(3))
            f.with_suffix(".npz").rename(f)
        elif how == "list":
            torch.save([state], f)
        else:  # the same archive, deflated
            import zipfile

            with zipfile.ZipFile(ref) as zin, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zout:
                for i in zin.infolist():
                    zout.writestr(i.filename, zin.read(i.filename))
        desc = f"junk {how}"
    else:  # a well-formed archive holding a forged state
        key = "field" if which == "field" else draw(st.sampled_from(
            ["paths", "parents", "ptr", "drop", "extra", "type"]
            + (["weights"] if "weights" in state else []) + (["dists"] if "dists" in state else [])))
        how = draw(st.sampled_from(["range", "negative", "huge", "dtype", "shape", "nan", "parent"]))
        if key == "field":
            t = state["field"].clone()
            if how == "shape":
                t = t[:-1]
            elif how == "dtype":
                t = t.long()
            else:
                t[draw(st.integers(0, t.shape[0] - 1)), 0] = float("nan") if how != "huge" else float("inf")
            state["field"] = t
        elif key == "drop":
            state.pop(draw(st.sampled_from(sorted(state))))
        elif key == "extra":
            state["weights" if "weights" not in state else "dists"] = [torch.ones(1)]
        elif key == "type":
            state[draw(st.sampled_from(sorted(state)))] = draw(st.sampled_from(
                [None, 3, "x", [], [torch.zeros(2)] * 5]))
        else:
            lv = draw(st.integers(0, len(state[key]) - 1))
            t = state[key][lv].clone()
            if how == "dtype":
                t = t.double() if not t.is_floating_point() else t.long()
            elif how == "shape":
                t = t[:-1] if t.shape[0] else torch.zeros(1, *t.shape[1:], dtype=t.dtype)
            elif t.numel() == 0:
                t = torch.zeros(1, *t.shape[1:], dtype=t.dtype)
            elif key == "ptr":
                i = draw(st.integers(0, t.numel() - 1))
                t[i] = {"range": t[-1] + 1, "negative": -1, "huge": 2 ** 62}.get(how, t[i] + 1)
            else:
                i = draw(st.integers(0, t.shape[0] - 1))
                row = t[i].reshape(-1)
                j = draw(st.integers(0, row.numel() - 1))
                if key == "weights":
                    row[j] = {"negative": -1.0, "nan": float("nan"), "huge": float("inf")}.get(how, 0.0)
                elif key == "parents" and how == "parent":
                    row[j] = (row[j] + draw(st.integers(1, 3))) % (int(t.max()) + 2)
                elif key == "dists":
                    row[j] = {"negative": -1, "huge": 2 ** 40}.get(how, lv + 2)
                else:
                    row[j] = {"negative": -1, "huge": 2 ** 40}.get(how, 1000)
            state[key][lv] = t
            key = f"{key}[{lv}]"
        torch.save(state, f)
        # (a forge may leave the state as it was, e.g. a parent moved onto itself: then it loads)
        must_fail, desc = False, f"forge {key} {how}"
    corpus.add("gcache", d / "c", f"{which} {desc}", must_fail, cache=which, ref=str(ref),
               helpers=str(Path(__file__).parent))


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


GCACHE_KINDS = ["truncate", "flip", "junk", "forge"]


# ============================================================================ reorderings
RN = 40


def _reorder_base(root: Path) -> Path:
    """A DiskGraph folder with ``reorder_perm.i64`` and ``reorder.json`` as ``reorder_disk``
    writes them (the permutation need not be the graph's: only the reader is under test)."""
    import gnnkit
    from gnnkit.data import save_graph

    base = root / "reorder-base"
    if base.exists():
        return base
    g = gnnkit.Graph.from_edge_index(torch.randint(0, RN, (2, 100), generator=torch.Generator().manual_seed(5)),
                                     num_nodes=RN)
    save_graph(base / "g", g)
    perm = np.random.default_rng(5).permutation(RN).astype("<i8")
    perm.tofile(base / "g" / "reorder_perm.i64")
    (base / "g" / "reorder.json").write_text(json.dumps({"method": "random", "num_nodes": RN, "seconds": 0.1}))
    perm.tofile(base / "ref.i64")
    return base


def build_reorder(corpus, kind: str, data) -> None:
    draw = data.draw
    base = _reorder_base(corpus.root)
    d = corpus.new_dir("reorder")
    shutil.copytree(base / "g", d / "g")
    g, fp, fi = d / "g", d / "g" / "reorder_perm.i64", d / "g" / "reorder.json"
    perm = np.fromfile(fp, dtype="<i8")
    must_fail = True
    if kind == "truncate":
        k = draw(st.integers(0, fp.stat().st_size - 1))
        fp.write_bytes(fp.read_bytes()[:k])
        desc = f"truncate perm at {k}"
    elif kind == "append":
        k = draw(st.sampled_from([1, 7, 8, 16]))
        fp.write_bytes(fp.read_bytes() + b"\0" * k)
        desc = f"append {k} bytes to perm"
    elif kind == "perm":
        how = draw(st.sampled_from(["range", "negative", "huge", "dup"]))
        i, j = draw(st.integers(0, RN - 1)), draw(st.integers(0, RN - 1))
        perm[i] = {"range": RN, "negative": -1, "huge": 2 ** 62}.get(how, perm[j])
        perm.tofile(fp)
        desc, must_fail = f"perm {how} [{i}] [{j}]", how != "dup" or i != j
    elif kind == "json":
        how = draw(st.sampled_from(["invalid", "list", "n", "method", "drop_perm", "drop_json", "binary"]))
        if how == "invalid":
            fi.write_text('{"method": "random", ')
        elif how == "list":
            fi.write_text("[1, 2]")
        elif how == "binary":
            fi.write_bytes(b"\xff\xfe{}")
        elif how == "n":
            fi.write_text(json.dumps({"method": "random", "num_nodes": draw(st.sampled_from(
                [RN + 1, RN - 1, -1, "40", True, 2 ** 62, 4.0]))}))
        elif how == "method":
            fi.write_text(json.dumps({"method": draw(st.sampled_from([1, None, ["rcm"]])), "num_nodes": RN}))
        elif how == "drop_perm":
            os.remove(fp)
        else:
            os.remove(fi)
            must_fail = False
        desc = f"json {how}"
    else:  # the permutation of another graph: other length, json agreeing with it
        m = draw(st.sampled_from([RN - 1, RN + 1, 1, 0]))
        np.random.default_rng(m).permutation(m).astype("<i8").tofile(fp)
        if draw(st.booleans()):
            fi.write_text(json.dumps({"method": "random", "num_nodes": m}))
        desc = f"other graph's perm ({m} nodes)"
    corpus.add("reorder", g, desc, must_fail, ref=str(base / "ref.i64"))


REORDER_KINDS = ["truncate", "append", "perm", "json", "other"]
