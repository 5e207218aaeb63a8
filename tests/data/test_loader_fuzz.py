"""Loader fuzzing (issue #14): damaged and forged data files give typed errors, never a crash,
an untyped exception, a huge allocation or a silent wrong answer.

``hypothesis`` draws damage for four families of files, each written from a valid base file:

- **planetoid**: pickles whose ``csr_matrix`` state carries forged ``indptr`` / ``indices`` /
  ``data`` / ``_shape``, forged ndarray and dtype states, forged adjacency dicts and test
  indices, globals outside the allow-list, truncations and byte flips;
- **npz** (Platonov et al.'s heterophily format): truncations, flips, ``.npy`` headers announcing
  other shapes, wrong dtypes, NaN, ids and labels out of range, bad masks, missing keys;
- **ogb** (``ogbn-arxiv`` raw layout, plus link splits read by ``OgbRaw.edge_split``): truncated
  and corrupt gzip, text / NaN / fractions / out-of-range ids, forged node and edge counts,
  bad labels, features, splits, and ``.pt`` split files that are malicious, mistyped or
  misshapen;
- **disk** (DiskGraph directories): truncated, padded, flipped and swapped files, edited
  ``meta.json`` fields, and payloads forged *with recomputed checksums* (a ``t_perm`` that is
  not a permutation, a transpose that is not the CSR's, unsorted rows, a lying ``directed``).

The cases are loaded in one child process (``python -c DRIVER``, address space capped at
:data:`MEMORY_CAP`) so that a signal fails the test instead of killing pytest, with the case that
was running named.  Outcomes: ``ok`` (loaded), ``typed`` (``DatasetError`` or a subclass),
``untyped`` (any other exception: a failure), ``wrong`` (a case built to be invalid loaded
anyway, or a DiskGraph that opened and verified with contents other than the original: a
failure), and a crash (failure).  The default run is CI-sized; ``-m slow`` runs many more.
"""
from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import _fuzz_formats as FF  # noqa: E402
from _fuzz_formats import _recompute  # noqa: E402

MEMORY_CAP = 6 << 30  # bytes of address space for the child: a forged size cannot take the box
REPO = Path(__file__).resolve().parents[2]
FAST = {"planetoid": 30, "npz": 30, "ogb": 30, "disk": 40, "partition": 40, "gcache": 20, "reorder": 15}
SLOW = {"planetoid": 400, "npz": 400, "ogb": 400, "disk": 400, "partition": 400, "gcache": 300, "reorder": 200}

DRIVER = r'''
import json, os, resource, sys, traceback
import numpy as np
import gnnkit.data.planetoid as P
from gnnkit.data import DatasetError, DiskGraph, load_ogb, read_heterophily_npz
from gnnkit.data.readers import OgbRaw
P.PLANETOID_NAMES = P.PLANETOID_NAMES + ("toy",)
cap = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

def load(case):
    fam, path = case["family"], case["path"]
    if fam == "planetoid":
        ds = P.load_planetoid("toy", root=path)
        return None
    if fam == "npz":
        read_heterophily_npz(path)
        return None
    if fam == "ogb":
        load_ogb("ogbn-arxiv", root=path)
        return None
    if fam == "ogb-link":
        OgbRaw(path).edge_split("s", num_nodes=case["num_nodes"])
        return None
    if fam == "disk":
        dg = DiskGraph(path)
        dg.verify()
        ref = np.load(case["ref"])
        if dg.num_nodes != int(ref["num_nodes"]):
            return "opened and verified with another num_nodes than written"
        if not dg.directed and bool(ref["directed"]):  # (a symmetric graph may claim directed)
            return "opened and verified as undirected, written directed (not symmetric)"
        names = set(ref.files) - {"directed", "num_nodes"}
        got = {k: dg._arrays[k] for k in dg._arrays}
        if set(got) != names:
            return f"opened and verified with arrays {sorted(got)} instead of {sorted(names)}"
        for k in names:
            if got[k].shape != ref[k].shape or not np.array_equal(np.asarray(got[k]), ref[k]):
                return f"opened and verified with a different {k!r}"
        return None
    return load_extra(case)  # partition directories, graph-level caches, reorderings
''' + FF.DRIVER_EXTRA + r'''
cases = json.load(open(sys.argv[1]))
for case in cases:
    print(json.dumps({"start": case["id"]}), flush=True)
    try:
        wrong = load(case)
        if wrong is not None:
            out = {"outcome": "wrong", "detail": wrong}
        elif case["must_fail"]:
            out = {"outcome": "wrong", "detail": "loaded a file built to be invalid"}
        else:
            out = {"outcome": "ok"}
    except DatasetError as e:
        out = {"outcome": "typed", "detail": str(e)[:300]}
    except BaseException as e:
        out = {"outcome": "untyped", "detail": type(e).__name__ + ": " + str(e)[:300]
               + " | " + traceback.format_exc()[-600:]}
    out["id"] = case["id"]
    print(json.dumps(out), flush=True)
'''


# ============================================================================ corpus writers
class Corpus:
    def __init__(self, root: Path):
        self.root = root
        self.cases: list[dict] = []

    def new_dir(self, family: str) -> Path:
        # (a builder that hypothesis stops mid-draw leaves its folder behind: never reuse a name)
        self.dirs = getattr(self, "dirs", 0) + 1
        d = self.root / f"{family}-{len(self.cases)}-{self.dirs}"
        d.mkdir(parents=True)
        return d

    def add(self, family: str, path: Path, desc: str, must_fail: bool, **extra) -> None:
        self.cases.append({"id": len(self.cases), "family": family, "path": str(path),
                           "desc": desc, "must_fail": bool(must_fail), **extra})


def _dump(path: Path, obj) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def write_planetoid(folder: Path) -> None:
    """Valid toy Planetoid files (3 classes, 503 + 2 nodes), as in test_loaders.py."""
    rng = np.random.default_rng(0)
    n_all, C = 503, 3
    allx = sp.csr_matrix(rng.integers(0, 2, (n_all, 4)).astype(np.float32))
    ally = np.eye(C, dtype=np.int32)[np.arange(n_all) % C]
    tx = sp.csr_matrix(np.array([[1., 2, 3, 4], [5., 6, 7, 8]], dtype=np.float32))
    ty = np.eye(C, dtype=np.int32)[[2, 1]]
    graph = {0: [1, 1, 0], 1: [0], 2: [503], 503: [2], 504: [3]}
    for k, v in {"x": allx[:3], "y": ally[:3], "allx": allx, "ally": ally, "tx": tx, "ty": ty,
                 "graph": graph}.items():
        _dump(folder / f"ind.toy.{k}", v)
    (folder / "ind.toy.test.index").write_text("504\n503\n")


class _Reduce:
    """Pickles as ``fn(*args)`` followed by ``BUILD(state)`` (forged numpy states)."""

    def __init__(self, fn, args, state=None):
        self.r = (fn, args) if state is None else (fn, args, state)

    def __reduce__(self):
        return self.r


_RECONSTRUCT = np._core.multiarray._reconstruct if hasattr(np, "_core") else \
    np.core.multiarray._reconstruct


def _forged_csr(draw, base: sp.csr_matrix):
    m = base.copy()
    rows, cols = m.shape
    field = draw(st.sampled_from(["indptr", "indices", "data", "_shape"]))
    if field == "indptr":
        kind = draw(st.sampled_from(["huge", "negative", "decreasing", "short", "float", "last"]))
        ip = m.indptr.astype(np.int64).copy()
        k = draw(st.integers(1, rows))
        if kind == "huge":
            ip[k:] = draw(st.sampled_from([2 ** 31, 2 ** 40, 2 ** 62]))
        elif kind == "negative":
            ip[k] = -draw(st.integers(1, 2 ** 40))
        elif kind == "decreasing":
            ip[k] = ip[-1] + 1
        elif kind == "last":
            ip[-1] += draw(st.integers(1, 1000))
        elif kind == "short":
            ip = ip[:-1]
        else:
            ip = ip.astype(np.float64) + 0.5
        m.indptr = ip
    elif field == "indices":
        kind = draw(st.sampled_from(["big", "negative", "float", "short", "huge"]))
        ix = m.indices.astype(np.int64).copy()
        k = draw(st.integers(0, max(0, ix.size - 1)))
        if kind == "big":
            ix[k] = cols + draw(st.integers(0, 2 ** 40))
        elif kind == "huge":
            ix[k] = 2 ** 62
        elif kind == "negative":
            ix[k] = -draw(st.integers(1, 2 ** 40))
        elif kind == "float":
            ix = ix.astype(np.float32)
        else:
            ix = ix[:-1]
        m.indices = ix
    elif field == "data":
        kind = draw(st.sampled_from(["short", "nan", "inf", "long"]))
        d = m.data.astype(np.float32).copy()
        if kind == "short":
            d = d[:-1]
        elif kind == "long":
            d = np.concatenate([d, d[:3]])
        else:
            d[draw(st.integers(0, d.size - 1))] = np.nan if kind == "nan" else np.inf
        m.data = d
    else:
        m._shape = draw(st.sampled_from([(rows, 2 ** 40), (2 ** 40, cols), (-1, cols),
                                         (rows + 5, cols), (rows, cols, 1), (rows,),
                                         (rows, -3), (rows, 1)]))
    return m, field


@st.composite
def planetoid_damage(draw):
    kind = draw(st.sampled_from(["csr", "ndarray", "dtype", "graph", "test_index", "evil",
                                 "truncate", "flip"]))
    return kind, draw(st.data())


def build_planetoid(corpus: Corpus, kind: str, data) -> None:
    d = corpus.new_dir("planetoid")
    write_planetoid(d)
    draw = data.draw
    if kind == "csr":
        which = draw(st.sampled_from(["x", "tx", "allx"]))
        base = pickle.loads((d / f"ind.toy.{which}").read_bytes())
        m, field = _forged_csr(draw, base)
        if field == "_shape" and m._shape == (base.shape[0], 1):
            # indices beyond the column count: invalid unless the matrix has no entry there
            must_fail = bool(base.indices.size and base.indices.max() >= 1)
        else:
            must_fail = True
        _dump(d / f"ind.toy.{which}", m)
        corpus.add("planetoid", d, f"csr {which} {field}", must_fail)
    elif kind == "ndarray":
        which = draw(st.sampled_from(["y", "ty", "ally"]))
        a = pickle.loads((d / f"ind.toy.{which}").read_bytes())
        how = draw(st.sampled_from(["short", "long", "bigshape", "negshape", "objdtype", "ver"]))
        raw = a.tobytes()
        shape, dt, ver = a.shape, a.dtype, 1
        if how == "short":
            raw = raw[:-draw(st.integers(1, 8))]
        elif how == "long":
            raw = raw + b"\0" * draw(st.integers(1, 8))
        elif how == "bigshape":
            shape = (2 ** 40, a.shape[1])
        elif how == "negshape":
            shape = (-1, a.shape[1])
        elif how == "objdtype":
            dt = _Reduce(np.dtype, ("O8", False, True), (3, "|", None, None, None, -1, -1, 63))
        else:
            ver = 7
        _dump(d / f"ind.toy.{which}", _Reduce(_RECONSTRUCT, (np.ndarray, (0,), b"b"),
                                               (ver, shape, dt, False, raw)))
        corpus.add("planetoid", d, f"ndarray {which} {how}", True)
    elif kind == "dtype":
        which = draw(st.sampled_from(["y", "ty", "ally"]))
        state = draw(st.sampled_from([
            (3, "<", None, ("a",), {"a": (np.dtype("i4"), 0)}, 4, 1, 16),
            (3, "<", (np.dtype("i4"), (2,)), None, None, -1, -1, 0),
            (3, "<", None, None, None, 1 << 40, 1, 0),
            (3, "<", None, None, None, -1, -1, 0, 99, 7),
        ]))
        a = pickle.loads((d / f"ind.toy.{which}").read_bytes())
        dt = _Reduce(np.dtype, ("i4", False, True), state)
        _dump(d / f"ind.toy.{which}", _Reduce(_RECONSTRUCT, (np.ndarray, (0,), b"b"),
                                               (1, a.shape, dt, False, a.tobytes())))
        corpus.add("planetoid", d, f"dtype state {state}", True)
    elif kind == "graph":
        bad = draw(st.sampled_from([
            {"a": [1]}, {0: [2 ** 70]}, {0: [-1]}, {0: [1.5]}, {0: [[1]]}, {10 ** 9: [0]},
            {0: "12"}, {0: {1: 2}}, [0, 1], {0: [505]},
        ]))
        _dump(d / "ind.toy.graph", bad)
        corpus.add("planetoid", d, f"graph {str(bad)[:40]}", True)
    elif kind == "test_index":
        text = draw(st.sampled_from(["504\n504\n", "10000000000000\n503\n", "504\n-1\n",
                                     "504\nabc\n", "504 503\n", "504\n1e3\n", "",
                                     "99999999999999999999999\n", "503\n"]))
        (d / "ind.toy.test.index").write_text(text)
        corpus.add("planetoid", d, f"test.index {text!r}", True)
    elif kind == "evil":
        import builtins

        fn = draw(st.sampled_from([os.system, builtins.eval, np.load, shutil.rmtree,
                                   pickle.loads]))
        which = draw(st.sampled_from(["x", "graph", "y"]))
        _dump(d / f"ind.toy.{which}", _Reduce(fn, ("true",)))
        corpus.add("planetoid", d, f"evil {fn.__name__} in {which}", True)
    else:
        which = draw(st.sampled_from(["x", "tx", "allx", "y", "ty", "ally", "graph",
                                      "test.index"]))
        p = d / f"ind.toy.{which}"
        raw = bytearray(p.read_bytes())
        off = draw(st.integers(0, len(raw) - 1))
        if kind == "truncate":
            p.write_bytes(bytes(raw[:off]))
            corpus.add("planetoid", d, f"truncate {which} at {off}",
                       which not in ("test.index",))
        else:
            raw[off] ^= draw(st.integers(1, 255))
            p.write_bytes(bytes(raw))
            corpus.add("planetoid", d, f"flip {which} byte {off}", False)


# ---------------------------------------------------------------------------- npz
NN, NE = 12, 20


def _npz_arrays():
    rng = np.random.default_rng(1)
    masks = np.zeros((3, 2, NN), bool)
    for s in range(2):
        perm = rng.permutation(NN)
        masks[0, s, perm[:6]], masks[1, s, perm[6:9]], masks[2, s, perm[9:]] = True, True, True
    return {"node_features": rng.standard_normal((NN, 3)).astype(np.float32),
            "node_labels": rng.integers(0, 3, NN), "edges": rng.integers(0, NN, (NE, 2)),
            "train_masks": masks[0], "val_masks": masks[1], "test_masks": masks[2]}


def _rewrite_member(path: Path, key: str, header_shape=None, payload=None) -> None:
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    import io

    raw = members[key + ".npy"]
    f = io.BytesIO(raw)
    np.lib.format.read_magic(f)
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    body = raw[f.tell():] if payload is None else payload
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(dtype),
                                               "fortran_order": fortran,
                                               "shape": header_shape or shape})
    members[key + ".npy"] = out.getvalue() + body
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def build_npz(corpus: Corpus, kind: str, data) -> None:
    d = corpus.new_dir("npz")
    path = d / "toy.npz"
    arrays = _npz_arrays()
    draw = data.draw
    must_fail, desc = True, kind
    if kind == "values":
        key = draw(st.sampled_from(sorted(arrays)))
        a = arrays[key]
        how = draw(st.sampled_from(["float_nan", "float_frac", "big", "negative", "object",
                                    "shape", "drop", "int_mask", "overlap", "unlabelled"]))
        if how == "float_nan":
            a = a.astype(np.float64)
            a.flat[0] = np.nan
            must_fail = True
        elif how == "float_frac":
            a = a.astype(np.float64) + 0.5
            must_fail = key != "node_features"
        elif how == "big":
            a = a.astype(np.int64) + NN * 10 ** draw(st.integers(0, 15))
            must_fail = key in ("edges", "node_labels") or key.endswith("masks")
            if key == "node_labels":
                must_fail = False  # large labels only enlarge num_classes
        elif how == "negative":
            a = a.astype(np.int64) - draw(st.integers(2, 2 ** 40))
            must_fail = key in ("edges", "node_labels") or key.endswith("masks")
        elif how == "object":
            a = np.array([list(r) for r in np.atleast_2d(a)] + [[1]], dtype=object)
        elif how == "shape":
            a = a.reshape(-1)[: max(1, a.size - 1)]
        elif how == "drop":
            arrays.pop(key)
            a = None
        elif how == "int_mask":
            a = a.astype(np.int64)
            must_fail = key.endswith("masks")
        elif how == "overlap":
            if not key.endswith("masks") or key == "train_masks":
                key = "val_masks"
            a = arrays["train_masks"].copy()
        else:
            key = "node_labels"
            a = arrays[key].copy()
            a[np.flatnonzero(arrays["train_masks"][0])[0]] = -1
        if a is not None:
            arrays[key] = a
        desc = f"values {key} {how}"
        if key == "node_features" and how in ("negative", "big", "int_mask"):
            must_fail = False
        np.savez(path, **arrays)
    else:
        np.savez(path, **arrays)
        raw = bytearray(path.read_bytes())
        if kind == "truncate":
            off = draw(st.integers(0, len(raw) - 1))
            path.write_bytes(bytes(raw[:off]))
            desc = f"truncate at {off}"
        elif kind == "flip":
            off = draw(st.integers(0, len(raw) - 1))
            raw[off] ^= draw(st.integers(1, 255))
            path.write_bytes(bytes(raw))
            desc, must_fail = f"flip byte {off}", False
        elif kind == "header_text":  # one character of the header's dict literal replaced
            key = draw(st.sampled_from(sorted(arrays)))
            with zipfile.ZipFile(path) as z:
                members = {n: bytearray(z.read(n)) for n in z.namelist()}
            m = members[key + ".npy"]
            hlen = int.from_bytes(m[8:10], "little")
            off = 10 + draw(st.integers(0, hlen - 1))
            m[off] = ord(draw(st.sampled_from(" ([{)]}'\"\\\n\0:,x9")))
            with zipfile.ZipFile(path, "w") as z:
                for n, b in members.items():
                    z.writestr(n, bytes(b))
            desc, must_fail = f"header text {key} byte {off} := {chr(m[off])!r}", False
        else:  # header
            key = draw(st.sampled_from(sorted(arrays)))
            shape = arrays[key].shape
            forged = draw(st.sampled_from([(2 ** 40,) + shape[1:], (shape[0] + 1,) + shape[1:],
                                           (max(shape[0] - 1, 0),) + shape[1:], (2 ** 62, 2 ** 62),
                                           shape[::-1] if len(shape) == 2 else (1, shape[0])]))
            if tuple(forged) == tuple(shape):
                forged = (shape[0] + 1,) + shape[1:]
            _rewrite_member(path, key, header_shape=tuple(forged))
            desc = f"header {key} {shape} -> {forged}"
            # a transposed 2-D header over the same bytes is a valid (other) array
            must_fail = int(np.prod(forged)) != int(np.prod(shape))
    corpus.add("npz", path, desc, must_fail)


# ---------------------------------------------------------------------------- ogb
ON, OE = 12, 20


def _csv(path: Path, a) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.asarray(a)).to_csv(path, header=False, index=False, compression="gzip")


def _gz_text(path: Path, text: str) -> None:
    with gzip.open(path, "wt") as f:
        f.write(text)


def write_ogb(root: Path) -> Path:
    rng = np.random.default_rng(2)
    d = root / "ogbn_arxiv"
    raw = d / "raw"
    raw.mkdir(parents=True)
    (d / "RELEASE_v1.txt").write_text("test\n")
    _csv(raw / "edge.csv.gz", rng.integers(0, ON, (OE, 2)))
    _csv(raw / "num-node-list.csv.gz", [[ON]])
    _csv(raw / "num-edge-list.csv.gz", [[OE]])
    _csv(raw / "node-label.csv.gz", rng.integers(0, 40, (ON, 1)))
    _csv(raw / "node-feat.csv.gz", rng.standard_normal((ON, 5)).round(4))
    _csv(raw / "node_year.csv.gz", rng.integers(2000, 2020, (ON, 1)))
    perm = rng.permutation(ON)
    s = d / "split" / "time"
    _csv(s / "train.csv.gz", perm[:5, None])
    _csv(s / "valid.csv.gz", perm[5:8, None])
    _csv(s / "test.csv.gz", perm[8:, None])
    return d


_OGB_CONTENT = {
    "edge.csv.gz": ["0,1\n1,x\n", "0,1\n1,nan\n", "0,1.5\n", f"0,{ON}\n", "-1,0\n",
                    "0,1,2\n1,2,3\n", "0,1\n1\n", f"0,{2 ** 70}\n", "", "0,1\n" * (OE + 1)],
    "num-node-list.csv.gz": ["10000000000000\n", "-5\n", f"{ON}\n{ON}\n", "x\n", "",
                             f"{ON - 1}\n", "1.5\n"],
    "num-edge-list.csv.gz": [f"{OE + 1}\n", "-1\n", "nan\n", f"{OE}\n1\n"],
    "node-feat.csv.gz": ["nan,1,1,1,1\n" * ON, "inf,1,1,1,1\n" * ON, "a,b,c,d,e\n" * ON,
                         "1,1,1,1,1\n" * (ON - 1)],
    "node-label.csv.gz": ["1.5\n" * ON, "40\n" * ON, "-7\n" * ON, "x\n" * ON, "1\n" * (ON + 1),
                          "inf\n" * ON],
    "node_year.csv.gz": ["2000\n" * (ON - 1), "x\n" * ON],
    "train.csv.gz": [f"{ON}\n", "-1\n", "0\n0\n", "0.5\n", "5\n"],
}


def build_ogb(corpus: Corpus, kind: str, data) -> None:
    root = corpus.new_dir("ogb")
    d = write_ogb(root)
    draw = data.draw
    files = sorted(p for p in d.rglob("*.csv.gz"))
    if kind == "content":
        name = draw(st.sampled_from(sorted(_OGB_CONTENT)))
        text = draw(st.sampled_from(_OGB_CONTENT[name]))
        p = d / "split" / "time" / name if name == "train.csv.gz" else d / "raw" / name
        if name == "train.csv.gz" and text == "5\n":
            # node 5 may already be in valid/test: an overlap unless it is a train node
            valid = pd.read_csv(d / "split/time/valid.csv.gz", header=None)[0].tolist()
            test = pd.read_csv(d / "split/time/test.csv.gz", header=None)[0].tolist()
            must_fail = 5 in valid + test
        else:
            must_fail = True
        _gz_text(p, text)
        corpus.add("ogb", root, f"{name} := {text[:30]!r}", must_fail)
    elif kind == "truncate":
        p = draw(st.sampled_from(files))
        raw = p.read_bytes()
        off = draw(st.integers(0, len(raw) - 1))
        p.write_bytes(raw[:off])
        corpus.add("ogb", root, f"truncate {p.name} at {off}", True)
    elif kind == "flip":
        p = draw(st.sampled_from(files))
        raw = bytearray(p.read_bytes())
        off = draw(st.integers(0, len(raw) - 1))
        raw[off] ^= draw(st.integers(1, 255))
        p.write_bytes(bytes(raw))
        corpus.add("ogb", root, f"flip {p.name} byte {off}", False)
    else:  # link split .pt files
        s = d / "split" / "s"
        s.mkdir(parents=True)
        good = {"edge": torch.randint(0, ON, (6, 2))}
        for k in ("train", "valid", "test"):
            torch.save(good, s / f"{k}.pt")
        which = draw(st.sampled_from(["train", "valid", "test"]))
        how = draw(st.sampled_from(["evil", "float", "shape", "range", "negative", "key",
                                    "notdict", "truncate", "list", "mismatch"]))
        p = s / f"{which}.pt"
        if how == "evil":
            with open(p, "wb") as f:
                pickle.dump(_Reduce(os.system, ("true",)), f)
        elif how == "truncate":
            raw = p.read_bytes()
            p.write_bytes(raw[:draw(st.integers(0, len(raw) - 1))])
        else:
            obj = {"float": {"edge": torch.rand(6, 2)}, "shape": {"edge": torch.zeros(6, 3,
                                                                                    dtype=torch.long)},
                   "range": {"edge": torch.full((6, 2), ON)},
                   "negative": {"edge": torch.full((6, 2), -1)},
                   "key": {"edges": torch.zeros(6, 2, dtype=torch.long)},
                   "notdict": torch.zeros(6, 2, dtype=torch.long),
                   "list": {"edge": [[0, 1]]},
                   "mismatch": {"edge": torch.zeros(6, 2, dtype=torch.long),
                                "weight": torch.ones(5)}}[how]
            torch.save(obj, p)
        corpus.add("ogb-link", d, f"link split {which} {how}", True, num_nodes=ON)


# ---------------------------------------------------------------------------- disk
def write_disk(path: Path, directed: bool = True):
    from gnnkit import Graph
    from gnnkit.data.disk import save_graph

    gen = torch.Generator().manual_seed(3)
    ei = torch.randint(0, 40, (2, 150), generator=gen)
    g = Graph.from_edge_index(ei, num_nodes=40)
    if not directed:
        g = g.to_undirected()
    x = torch.randn(40, 3, generator=gen)
    y = torch.randint(-1, 4, (40,), generator=gen)
    y[:30] = y[:30].clamp(min=0)
    splits = {"train": torch.arange(0, 10), "val": torch.arange(10, 20),
              "test": torch.arange(20, 30)}
    return save_graph(path, g, features=x, labels=y, splits=splits, transpose=True)


def _disk_base(corpus: Corpus, directed: bool) -> tuple[Path, dict]:
    """One pristine DiskGraph per orientation, copied for every case (saving is slow)."""
    base = corpus.root / f"disk-base-{directed}"
    if not base.exists():
        dg = write_disk(base / "g", directed=directed)
        ref = {k: np.asarray(v).copy() for k, v in dg._arrays.items()}
        np.savez(base / "ref.npz", directed=directed, num_nodes=dg.num_nodes, **ref)
    with np.load(base / "ref.npz") as z:
        ref = {k: z[k] for k in z.files if k not in ("directed", "num_nodes")}
    return base, ref


def build_disk(corpus: Corpus, kind: str, data) -> None:
    d = corpus.new_dir("disk")
    draw = data.draw
    directed = draw(st.booleans())
    base, ref = _disk_base(corpus, directed)
    shutil.copytree(base / "g", d / "g")
    shutil.copy(base / "ref.npz", d / "ref.npz")
    g = d / "g"
    meta = json.loads((g / "meta.json").read_text())
    files = sorted({e["file"] for e in meta["arrays"].values()})
    if kind == "truncate":
        f = g / draw(st.sampled_from(files))
        raw = f.read_bytes()
        f.write_bytes(raw[:draw(st.integers(0, len(raw) - 1))])
        desc = f"truncate {f.name}"
    elif kind == "append":
        f = g / draw(st.sampled_from(files))
        with open(f, "ab") as fh:
            fh.write(b"\0" * draw(st.integers(1, 64)))
        desc = f"append {f.name}"
    elif kind == "flip":
        f = g / draw(st.sampled_from(files))
        raw = bytearray(f.read_bytes())
        off = draw(st.integers(0, len(raw) - 1))
        raw[off] ^= draw(st.integers(1, 255))
        f.write_bytes(bytes(raw))
        desc = f"flip {f.name} byte {off}"
    elif kind == "meta":
        name = draw(st.sampled_from(sorted(meta["arrays"])))
        field = draw(st.sampled_from(["file", "dtype", "shape", "bytes", "offset", "num_nodes",
                                      "num_edges", "directed", "coalesced", "format_version",
                                      "drop"]))
        e = meta["arrays"][name]
        if field == "file":
            e["file"] = draw(st.sampled_from(["../g/indices.npy", "/etc/passwd", "", "..",
                                              "features.npy", "indices.npy", "t_perm.npy"]))
        elif field == "dtype":
            e["dtype"] = draw(st.sampled_from(["object", "int32", "float64", "V8", "<U4",
                                               "int16", "bogus"]))
        elif field == "shape":
            e["shape"] = draw(st.sampled_from([[2 ** 40], [-1], [1, 1], [], ["a"],
                                               [e["shape"][0] + 1] + e["shape"][1:]]))
        elif field in ("bytes", "offset"):
            e[field] = draw(st.sampled_from([0, -1, 2 ** 62, e[field] + 8, "x"]))
        elif field in ("num_nodes", "num_edges"):
            meta[field] = draw(st.sampled_from([meta[field] + 1, meta[field] - 1, -1, 2 ** 62,
                                                "5", None, 1.5, True]))
        elif field == "directed":
            meta["directed"] = draw(st.sampled_from([not meta["directed"], "yes", 0]))
        elif field == "coalesced":
            meta["coalesced"] = True
        elif field == "format_version":
            meta["format_version"] = draw(st.sampled_from([0, 2, "1", None]))
        else:
            meta["arrays"].pop(name)
        (g / "meta.json").write_text(json.dumps(meta))
        desc = f"meta {name} {field}"
    elif kind == "swap":
        a, b = draw(st.sampled_from([("indices.npy", "t_indices.npy"),
                                     ("indptr.npy", "t_indptr.npy"),
                                     ("split_train.npy", "split_test.npy"),
                                     ("indices.npy", "features.npy")]))
        if (g / a).exists() and (g / b).exists():
            (g / a).rename(g / "swap.tmp")
            (g / b).rename(g / a)
            (g / "swap.tmp").rename(g / b)
        desc = f"swap {a} {b}"
    else:  # forged payload with recomputed checksums: only verify's structure checks can tell
        how = draw(st.sampled_from(["t_perm_dup", "t_perm_swap", "t_indices", "unsorted",
                                    "indptr", "labels", "features", "split", "undirected"]))
        e = ref["indptr"].shape[0] - 1
        if how == "t_perm_dup":
            tp = ref["t_perm"].copy()
            tp[draw(st.integers(1, tp.size - 1))] = tp[0]
            _recompute(g, "t_perm", tp)
        elif how == "t_perm_swap":
            tp = ref["t_perm"].copy()
            i, j = draw(st.integers(0, tp.size - 1)), draw(st.integers(0, tp.size - 1))
            tp[i], tp[j] = tp[j], tp[i]
            same = ref["indices"][tp[i]] == ref["indices"][tp[j]] and np.searchsorted(
                ref["indptr"], tp[i], "right") == np.searchsorted(ref["indptr"], tp[j], "right")
            if same:  # swapping two copies of one arc changes nothing observable
                tp[i], tp[j] = tp[j], tp[i]
                tp[0] = (tp[0] + 1) % tp.size
            _recompute(g, "t_perm", tp)
        elif how == "t_indices" and "t_indices" in meta["arrays"] and directed:
            ti = ref["t_indices"].copy()
            k = draw(st.integers(0, ti.size - 1))
            ti[k] = (ti[k] + draw(st.integers(1, 39))) % 40
            _recompute(g, "t_indices", ti)
        elif how == "unsorted":
            ix = ref["indices"].copy()
            ix[:] = ix[::-1]
            _recompute(g, "indices", ix)
        elif how == "indptr":
            ip = ref["indptr"].copy()
            k = draw(st.integers(1, ip.size - 2))
            ip[k] = ip[k + 1] + 1
            _recompute(g, "indptr", ip)
        elif how == "labels":
            y = ref["labels"].copy()
            y[draw(st.integers(0, y.size - 1))] = -draw(st.integers(2, 2 ** 40))
            _recompute(g, "labels", y)
        elif how == "features":
            x = ref["features"].copy()
            x.flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
            _recompute(g, "features", x)
        elif how == "split":
            s = ref["split_val"].copy()
            s[0] = draw(st.sampled_from([0, 40, -1, int(s[1])]))  # overlap, range, repeat
            _recompute(g, "split_val", s)
        else:  # claim undirected for a directed graph
            if directed:
                meta["directed"] = False
                (g / "meta.json").write_text(json.dumps(meta))
            else:
                ix = ref["indices"].copy()
                k = draw(st.integers(0, ix.size - 1))
                ix[k] = (ix[k] + 1) % 40
                _recompute(g, "indices", ix)
        desc = f"forged {how}"
    corpus.add("disk", g, f"{desc} (directed={directed})", False, ref=str(d / "ref.npz"))


# ============================================================================ running
BUILDERS = {
    "planetoid": (build_planetoid, ["csr", "ndarray", "dtype", "graph", "test_index", "evil",
                                    "truncate", "flip"]),
    "npz": (build_npz, ["values", "truncate", "flip", "header", "header_text"]),
    "ogb": (build_ogb, ["content", "truncate", "flip", "link"]),
    "disk": (build_disk, ["truncate", "append", "flip", "meta", "swap", "forged"]),
    "partition": (FF.build_partition, FF.PARTITION_KINDS),
    "gcache": (FF.build_gcache, FF.GCACHE_KINDS),
    "reorder": (FF.build_reorder, FF.REORDER_KINDS),
}


def make_corpus(root: Path, counts: dict) -> Corpus:
    corpus = Corpus(root)
    for family, (build, kinds) in BUILDERS.items():
        _generate(corpus, build, kinds, counts[family])
    return corpus


def _generate(corpus: Corpus, build, kinds: list, n: int) -> None:
    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(kind=st.sampled_from(kinds), data=st.data())
    def gen(kind, data):
        build(corpus, kind, data)

    gen()


def run_corpus(corpus: Corpus, timeout: int, driver: str = DRIVER) -> dict:
    spec = corpus.root / "cases.json"
    spec.write_text(json.dumps(corpus.cases))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", driver, str(spec), str(MEMORY_CAP)],
                       capture_output=True, text=True, timeout=timeout, env=env, cwd=str(REPO))
    results, started = {}, None
    for line in p.stdout.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "start" in rec:
            started = rec["start"]
        else:
            results[rec["id"]] = rec
    counts = {"files": len(corpus.cases), "ok": 0, "typed": 0, "untyped": 0, "wrong": 0,
              "crashes": 0}
    failures = []
    for c in corpus.cases:
        r = results.get(c["id"])
        if r is None:
            continue
        counts[r["outcome"]] += 1
        if r["outcome"] in ("untyped", "wrong"):
            failures.append(f"{r['outcome']}: {c['family']} {c['desc']} -> {r.get('detail')}")
    if p.returncode != 0:
        counts["crashes"] += 1
        c = corpus.cases[started] if started is not None else None
        failures.append(f"child exited with {p.returncode} while loading case "
                        f"{c and (c['family'], c['desc'], c['path'])}:\n{p.stderr[-2000:]}")
    counts["failures"] = failures
    return counts


def _check(counts):
    assert not counts["failures"], "\n".join(counts["failures"][:30])
    assert counts["crashes"] == counts["untyped"] == counts["wrong"] == 0
    assert counts["ok"] + counts["typed"] == counts["files"]


def test_loader_fuzz(tmp_path):
    counts = run_corpus(make_corpus(tmp_path, FAST), timeout=300)
    _check(counts)
    assert counts["typed"] > counts["files"] // 2  # the damage is real: most files are refused


@pytest.mark.slow
def test_loader_fuzz_long(tmp_path):
    counts = run_corpus(make_corpus(tmp_path, SLOW), timeout=1800)
    print("\nRESULT", json.dumps({k: v for k, v in counts.items() if k != "failures"}))
    _check(counts)


def test_harness_reports_a_crash_with_its_case(tmp_path):
    """A child killed by a signal fails the run and names the case it was loading."""
    corpus = Corpus(tmp_path)
    for i in range(2):
        corpus.add("npz", tmp_path / f"{i}.npz", f"probe {i}", True)
    crash = ("import json, os, signal, sys\n"
             "cases = json.load(open(sys.argv[1]))\n"
             "print(json.dumps({'id': 0, 'outcome': 'typed'}))\n"
             "print(json.dumps({'start': 1}), flush=True)\n"
             "os.kill(os.getpid(), signal.SIGSEGV)\n")
    counts = run_corpus(corpus, timeout=60, driver=crash)
    assert counts["crashes"] == 1 and counts["typed"] == 1
    assert "child exited with -11 while loading case ('npz', 'probe 1'" in counts["failures"][0]
