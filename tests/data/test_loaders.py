"""NodeDataset, Planetoid, heterophily and generic loaders (gnnkit.data)."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from gnnkit import Graph
from gnnkit.data import (
    HETEROPHILY_NAMES,
    DatasetError,
    NodeDataset,
    available_datasets,
    get_dataset,
    load_heterophily,
    load_planetoid,
    masks_to_splits,
    random_splits,
    read_edge_list,
    read_heterophily_npz,
    read_npz,
    read_sparse,
)
from gnnkit.data import _paths
from gnnkit.data.planetoid import restricted_load

REPO = Path(__file__).resolve().parents[2]


def arcs(g: Graph) -> list:
    return sorted(map(tuple, g.edge_index.t().tolist()))


def arc_keys(ei, n: int) -> torch.Tensor:
    """Sorted ``src * n + dst`` of a [2, E] arc array: compares arc multisets fast."""
    ei = torch.as_tensor(np.asarray(ei)).to(torch.int64)
    return (ei[0] * n + ei[1]).sort().values


@functools.lru_cache(maxsize=None)
def load_real(name: str, root: Path) -> NodeDataset:
    return get_dataset(name, root=root)  # shared by the data tests: each file is read once


def toy(splits=None, y=None, n=4, **kw):
    g = Graph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 3]]), num_nodes=n)
    y = torch.tensor([0, 1, 1, 0]) if y is None else y
    if splits is None:
        splits = [{"train": torch.tensor([0]), "val": torch.tensor([1]), "test": torch.tensor([2, 3])}]
    kw.setdefault("num_classes", 2)
    return NodeDataset(g, torch.zeros(n, 3), y, splits, name="toy", **kw)


# ---------------------------------------------------------------------------- NodeDataset
def test_node_dataset_basics():
    ds = toy()
    assert repr(ds) == ("NodeDataset(name='toy', num_nodes=4, num_edges=3, num_features=3, "
                        "num_classes=2, num_splits=1, directed=True)")
    assert ds.num_classes == 2 and ds.num_splits == 1 and ds.num_tasks == 1
    assert ds.split(0)["test"].tolist() == [2, 3] and ds.split(-1) is ds.split(0)
    m = ds.masks(0)
    assert m["train"].tolist() == [True, False, False, False]
    assert m["test"].dtype == torch.bool
    with pytest.raises(IndexError, match="split index 1 out of range.*1 split"):
        ds.split(1)


def test_node_dataset_masks_are_converted_and_multitask_repr():
    g = Graph.empty(3)
    masks = {"train": torch.tensor([True, False, False]), "val": torch.tensor([False, True, False]),
             "test": torch.tensor([False, False, True])}
    ds = NodeDataset(g, torch.zeros(3, 1), torch.tensor([[0, 1], [1, 1], [0, 0]]), [masks],
                     num_classes=2)
    assert ds.split()["val"].tolist() == [1] and ds.split()["val"].dtype == torch.int64
    assert "num_tasks=2" in repr(ds)


@pytest.mark.parametrize("kw, match", [
    (dict(y=torch.tensor([0, 1, 7, 0])), r"labels out of range: y holds \[7\].*num_classes=2"),
    (dict(y=torch.tensor([0, -3, 1, 0])), r"labels out of range.*-3"),
    (dict(y=torch.tensor([0., 1., 1., 0.])), r"y must be an int64 tensor.*torch.float32"),
    (dict(splits=[{"train": torch.tensor([0, 1]), "val": torch.tensor([1]), "test": torch.tensor([2])}]),
     r"overlapping splits: split 0 puts node 1.*'train' and 'val'"),
    (dict(splits=[{"train": torch.tensor([0, 0]), "val": torch.tensor([1]), "test": torch.tensor([2])}]),
     r"'train' lists a node twice"),
    (dict(splits=[{"train": torch.tensor([4]), "val": torch.tensor([1]), "test": torch.tensor([2])}]),
     r"'train' holds node index 4 outside \[0, 4\)"),
    (dict(splits=[{"train": torch.tensor([0]), "test": torch.tensor([2])}]), r"keys \['train', 'val', 'test'\]"),
    (dict(splits=[{"train": torch.tensor([0.5]), "val": torch.tensor([1]), "test": torch.tensor([2])}]),
     r"1-D integer index tensor or a boolean mask"),
    (dict(y=torch.tensor([-1, 1, 1, 0])), r"'train' contains unlabelled node 0"),
    (dict(directed=False), r"directed=False disagrees with graph.directed=True"),
    (dict(num_classes=1), r"labels out of range"),
])
def test_node_dataset_rejects_bad_fields(kw, match):
    with pytest.raises(DatasetError, match=match):
        toy(**kw)


def test_node_dataset_rejects_bad_x_and_edge_attr():
    g = Graph.from_edge_index(torch.tensor([[0], [1]]), num_nodes=2)
    with pytest.raises(DatasetError, match=r"x must be a float32 tensor of shape \(2, F\).*\(3, 1\)"):
        NodeDataset(g, torch.zeros(3, 1), torch.tensor([0, 1]))
    with pytest.raises(DatasetError, match="edge_attr must have leading size num_edges=1"):
        NodeDataset(g, torch.zeros(2, 1), torch.tensor([0, 1]), edge_attr=torch.zeros(2, 4))
    with pytest.raises(DatasetError, match=r"extras\['year'\] must be a tensor with leading size 2"):
        NodeDataset(g, torch.zeros(2, 1), torch.tensor([0, 1]), extras={"year": torch.zeros(5)})


def test_node_dataset_unlabelled_nodes_outside_splits_are_fine():
    ds = toy(y=torch.tensor([0, 1, -1, -1]),
             splits=[{"train": torch.tensor([0]), "val": torch.tensor([1]), "test": torch.tensor([], dtype=torch.long)}])
    assert ds.num_classes == 2


def test_dataset_declares_its_metric_and_the_metric_layer_scores():
    from gnnkit.tasks.metrics import get_metric

    ds = toy()
    assert ds.metric == "accuracy" and not hasattr(ds, "evaluate")  # scoring: gnnkit.tasks
    metric = get_metric(ds.metric)
    test, train = ds.split()["test"], ds.split()["train"]
    scores = torch.tensor([[1., 0], [0, 1], [0, 1], [0, 1]])  # test nodes 2 (right) and 3 (wrong)
    assert metric(scores[test], ds.y[test]) == 0.5
    assert metric(torch.tensor([0, 1, 1, 0])[test], ds.y[test]) == 1.0
    assert metric(scores[train], ds.y[train]) == 1.0
    ds.metadata["metric"] = "roc_auc"
    assert ds.metric == "roc_auc"


def test_random_splits_and_masks_to_splits():
    s = random_splits(100, num_splits=3, train=0.5, val=0.25, seed=3)
    assert len(s) == 3
    for sp_ in s:
        assert [len(sp_[k]) for k in ("train", "val", "test")] == [50, 25, 25]
        assert torch.cat(list(sp_.values())).sort().values.tolist() == list(range(100))
    assert s[0]["train"].tolist() != s[1]["train"].tolist()
    assert [x["train"].tolist() for x in random_splits(100, 3, 0.5, 0.25, seed=3)] == \
        [x["train"].tolist() for x in s]
    lab = torch.tensor([True, False] * 5)
    assert set(torch.cat(list(random_splits(10, labelled=lab)[0].values())).tolist()) == {0, 2, 4, 6, 8}
    with pytest.raises(ValueError, match="train \\+ val <= 1"):
        random_splits(10, train=0.9, val=0.2)

    tr = np.zeros((2, 5), bool); va = np.zeros((2, 5), bool); te = np.zeros((2, 5), bool)
    tr[:, 0] = va[:, 1] = te[:, 2] = True
    tr[1, 3] = True
    rows = masks_to_splits(tr, va, te, 5)
    cols = masks_to_splits(tr.T, va.T, te.T, 5)  # [N, S] orientation
    assert [r["train"].tolist() for r in rows] == [[0], [0, 3]] == [c["train"].tolist() for c in cols]
    with pytest.raises(DatasetError, match=r"neither dimension equals the number of nodes 6"):
        masks_to_splits(tr, va, te, 6)
    with pytest.raises(DatasetError, match="must be boolean"):
        masks_to_splits(tr.astype(int), va, te, 5)


def test_registry_names_and_errors():
    names = available_datasets()
    for n in ("cora", "citeseer", "pubmed", "chameleon", "squirrel_directed", "ogbn-arxiv", "csbm"):
        assert n in names
    assert available_datasets("heterophily") == list(HETEROPHILY_NAMES)
    with pytest.raises(DatasetError, match=r"unknown dataset 'coraa'.*Did you mean \['cora'"):
        get_dataset("coraa")
    with pytest.raises(DatasetError, match="unknown dataset family"):
        available_datasets("images")
    ds = get_dataset("CSBM", num_nodes=50, avg_degree=2, seed=1)
    assert ds.name == "csbm" and ds.num_nodes == 50
    with pytest.raises(DatasetError, match="generated, it takes no root"):
        get_dataset("csbm", root="/tmp")


def test_paths_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("GNNKIT_DATA", str(tmp_path))
    assert _paths.candidate_dirs("planetoid")[0] == tmp_path / "planetoid"
    assert _paths.candidate_dirs("planetoid", root="/x") == [Path("/x/planetoid"), Path("/x")]
    with pytest.raises(DatasetError) as e:
        load_planetoid("cora", root=tmp_path / "nowhere")
    msg = str(e.value)
    assert "ind.cora.x" in msg and str(tmp_path / "nowhere" / "planetoid") in msg and "kimiyoung" in msg
    assert _paths.download_dir("ogb") == tmp_path / "ogb"
    monkeypatch.setenv("GNNKIT_DATA", str(tmp_path / "empty"))
    with pytest.raises(DatasetError, match=r"chameleon.npz not found; looked in .*empty/heterophily"):
        load_heterophily("chameleon")
    monkeypatch.delenv("GNNKIT_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # without GNNKIT_DATA, downloads go to the user cache, never to the (read-only) shared folder
    assert _paths.download_dir("ogb") == tmp_path / "cache" / "gnnkit" / "datasets" / "ogb"
    assert _paths.data_roots()[-1] == tmp_path / "cache" / "gnnkit" / "datasets"


# ---------------------------------------------------------------------------- Planetoid, synthetic
def write_planetoid(folder: Path, name="toy", gap=False, graph=None):
    """A tiny Planetoid-format dataset: 3 train, 500 val-capable rows, 2 (or 3 with a gap) test."""
    folder.mkdir(parents=True, exist_ok=True)
    n_all, C = 503, 3
    rng = np.random.default_rng(0)
    allx = sp.csr_matrix(rng.integers(0, 2, (n_all, 4)).astype(np.float32))
    ally = np.eye(C)[np.arange(n_all) % C]
    test_index = np.array([504, 503]) if not gap else np.array([505, 503])
    tx = sp.csr_matrix(np.array([[1., 2, 3, 4], [5., 6, 7, 8]], dtype=np.float32))
    ty = np.eye(C)[[2, 1]]
    if graph is None:
        graph = {0: [1, 1, 0], 1: [0], 2: [503], 503: [2]}  # duplicate, self loop, one-way arcs
    objs = {"x": allx[:3], "y": ally[:3], "allx": allx, "ally": ally, "tx": tx, "ty": ty,
            "graph": graph}
    for k, v in objs.items():
        with open(folder / f"ind.{name}.{k}", "wb") as f:
            pickle.dump(v, f, protocol=2)
    (folder / f"ind.{name}.test.index").write_text("\n".join(map(str, test_index)) + "\n")
    return allx.toarray(), tx.toarray()


@pytest.fixture
def toy_planetoid(tmp_path, monkeypatch):
    import gnnkit.data.planetoid as P

    monkeypatch.setattr(P, "PLANETOID_NAMES", P.PLANETOID_NAMES + ("toy",))
    return tmp_path


def test_planetoid_toy_processing(toy_planetoid):
    allx, tx = write_planetoid(toy_planetoid / "planetoid")
    ds = load_planetoid("toy", root=toy_planetoid)
    assert ds.num_nodes == 505 and not ds.directed and ds.metric == "accuracy"
    # test.index = [504, 503]: tx row 0 belongs to node 504, row 1 to node 503 (PyG semantics)
    assert ds.x[504].tolist() == [1, 2, 3, 4] and ds.x[503].tolist() == [5, 6, 7, 8]
    assert ds.y[504] == 2 and ds.y[503] == 1 and ds.y[:6].tolist() == [0, 1, 2, 0, 1, 2]
    assert torch.equal(ds.x[:503], torch.from_numpy(allx))
    s = ds.split()
    assert s["train"].tolist() == [0, 1, 2] and s["val"].tolist() == list(range(3, 503))
    assert s["test"].tolist() == [504, 503]
    # symmetrised, deduplicated, self loop 0->0 removed
    assert arcs(ds.graph) == [(0, 1), (1, 0), (2, 503), (503, 2)]


def test_planetoid_fills_test_index_gaps_like_pyg(toy_planetoid):
    write_planetoid(toy_planetoid, gap=True)
    ds = load_planetoid("toy", root=toy_planetoid)  # files directly under root
    assert ds.num_nodes == 506 and ds.metadata["num_filled_test_gaps"] == 1
    assert ds.x[504].abs().sum() == 0 and ds.y[504] == 0  # the gap: zero features, label 0
    assert ds.x[505].tolist() == [1, 2, 3, 4] and ds.x[503].tolist() == [5, 6, 7, 8]
    assert 504 not in torch.cat(list(ds.split().values())).tolist()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_os_system(toy_planetoid, monkeypatch):
    write_planetoid(toy_planetoid)
    with open(toy_planetoid / "ind.toy.graph", "wb") as f:
        pickle.dump({0: _Evil()}, f, protocol=2)
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(DatasetError, match=r"ind\.toy\.graph: refusing to unpickle (posix|os)\.system"):
        load_planetoid("toy", root=toy_planetoid)
    assert not called
    with open(toy_planetoid / "evil.pkl", "wb") as f:
        pickle.dump(pickle.loads, f)
    with pytest.raises(DatasetError, match=r"refusing to unpickle _pickle\.loads"):
        restricted_load(toy_planetoid / "evil.pkl")


def test_planetoid_bad_files(toy_planetoid):
    write_planetoid(toy_planetoid)
    p = toy_planetoid / "ind.toy.allx"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"ind\.toy\.allx: not a readable pickle.*truncated"):
        load_planetoid("toy", root=toy_planetoid)
    write_planetoid(toy_planetoid)
    (toy_planetoid / "ind.toy.test.index").write_text("503\nfoo\n")
    with pytest.raises(DatasetError,
                       match=r"ind\.toy\.test\.index:2: expected one integer per line, got .foo."):
        load_planetoid("toy", root=toy_planetoid)
    write_planetoid(toy_planetoid, graph={0: [1], 1: [9999]})
    with pytest.raises(DatasetError, match=r"ind\.toy\.graph: node ids must lie in \[0, 505\)"):
        load_planetoid("toy", root=toy_planetoid)
    write_planetoid(toy_planetoid)
    with open(toy_planetoid / "ind.toy.ty", "wb") as f:
        pickle.dump(np.eye(3)[[0]], f, protocol=2)
    with pytest.raises(DatasetError, match=r"ind\.toy\.tx has 2 rows but .*ind\.toy\.ty has 1"):
        load_planetoid("toy", root=toy_planetoid)
    with pytest.raises(DatasetError, match="unknown Planetoid dataset 'cifar'"):
        load_planetoid("cifar")


@pytest.mark.data
@pytest.mark.parametrize("name, n, e, f, c, split", [
    ("cora", 2708, 10556, 1433, 7, (140, 500, 1000)),
    ("citeseer", 3327, 9104, 3703, 6, (120, 500, 1000)),
])
def test_planetoid_real(data_root, name, n, e, f, c, split):
    if not (data_root / "planetoid" / f"ind.{name}.x").is_file():
        pytest.skip(f"ind.{name}.* not in {data_root / 'planetoid'}")
    ds = load_real(name, data_root)
    assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_classes) == (n, e, f, c)
    assert tuple(len(ds.split()[k]) for k in ("train", "val", "test")) == split
    g = ds.graph
    assert not ds.directed and not g.has_self_loops() and g.is_coalesced()
    # against PyG's own processing of the same raw files
    pyg_io = pytest.importorskip("torch_geometric.io")
    ref = pyg_io.read_planetoid_data(str(data_root / "planetoid"), name)
    assert torch.equal(arc_keys(g.edge_index, n), arc_keys(ref.edge_index, n))
    assert torch.equal(ds.x, ref.x) and torch.equal(ds.y, ref.y)
    m = ds.masks()
    for k, rk in (("train", "train_mask"), ("val", "val_mask"), ("test", "test_mask")):
        assert torch.equal(m[k], ref[rk])


# ---------------------------------------------------------------------------- heterophily
def write_het(path: Path, n=6, splits=3, orient="SN", **override):
    rng = np.random.default_rng(1)
    tr = np.zeros((splits, n), bool); va = np.zeros((splits, n), bool); te = np.zeros((splits, n), bool)
    for s in range(splits):
        p = rng.permutation(n)
        tr[s, p[:3]] = True; va[s, p[3:4]] = True; te[s, p[4:]] = True
    if orient == "NS":
        tr, va, te = tr.T, va.T, te.T
    d = dict(node_features=rng.standard_normal((n, 3)).astype(np.float32),
             node_labels=np.array([0, 1, 2, 0, 1, 2])[:n],
             edges=np.array([[0, 1], [1, 2], [2, 2], [3, 4]]),
             train_masks=tr, val_masks=va, test_masks=te)
    d.update(override)
    d = {k: v for k, v in d.items() if v is not None}
    np.savez(path, **d)
    return d


@pytest.mark.parametrize("orient", ["SN", "NS"])
def test_heterophily_toy_undirected_and_directed(tmp_path, orient):
    d = write_het(tmp_path / "toy.npz", orient=orient)
    ds = read_heterophily_npz(tmp_path / "toy.npz")
    assert not ds.directed and ds.num_splits == 3 and ds.num_classes == 3
    assert ds.metric == "accuracy"
    y = np.asarray(d["node_labels"]) % 2  # a binary graph (minesweeper-like): ROC-AUC
    np.savez(tmp_path / "bin.npz", **{**d, "node_labels": y})
    assert read_heterophily_npz(tmp_path / "bin.npz").metric == "roc_auc"
    assert arcs(ds.graph) == [(0, 1), (1, 0), (1, 2), (2, 1), (2, 2), (3, 4), (4, 3)]
    tr = d["train_masks"] if orient == "SN" else d["train_masks"].T
    assert ds.split(2)["train"].tolist() == np.flatnonzero(tr[2]).tolist()
    write_het(tmp_path / "toy_directed.npz")
    dd = read_heterophily_npz(tmp_path / "toy_directed.npz")
    assert dd.directed and arcs(dd.graph) == [(0, 1), (1, 2), (2, 2), (3, 4)]
    assert torch.equal(dd.x, torch.from_numpy(d["node_features"]))


@pytest.mark.parametrize("override, match", [
    (dict(edges=None), r"missing key\(s\) \['edges'\]"),
    (dict(edges=np.array([[0, 1, 2]])), r"'edges' must have shape \[E, 2\], got \(1, 3\)"),
    (dict(edges=np.array([[0, 9]])), r"edge 0 = \[0, 9\] has a node id outside \[0, 6\)"),
    (dict(node_labels=np.array([0, 1, 2, 0, 1, -5])), r"labels out of range.*-5"),
    (dict(node_labels=np.array([0, 1, 2])), r"labels must be an integer array of shape \[6\]"),
    (dict(node_features=np.zeros(6)), r"features must be a real \[N, F\] array"),
    (dict(node_features=np.full((6, 2), np.nan)), r"features hold a non-finite value nan at \[0, 0\]"),
    (dict(test_masks=np.ones((3, 6), bool)), r"overlapping splits: split 0"),
    (dict(val_masks=np.zeros((2, 6), bool)), r"different numbers of train/val/test masks"),
    (dict(train_masks=np.zeros((3, 7), bool)), r"train masks have shape \(3, 7\)"),
])
def test_heterophily_bad_files(tmp_path, override, match):
    write_het(tmp_path / "bad.npz", **override)
    with pytest.raises(DatasetError, match=match) as e:
        read_heterophily_npz(tmp_path / "bad.npz")
    assert "bad.npz" in str(e.value)


def test_heterophily_truncated_and_object_arrays(tmp_path):
    write_het(tmp_path / "t.npz")
    raw = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match=r"t\.npz: .*truncated or corrupt"):
        read_heterophily_npz(tmp_path / "t.npz")
    np.savez(tmp_path / "o.npz", node_features=np.array([object()] * 2, dtype=object))
    with pytest.raises(DatasetError, match=r"o\.npz: .*(holds Python objects|truncated or corrupt)"):
        read_heterophily_npz(tmp_path / "o.npz")
    with pytest.raises(DatasetError, match="unknown heterophily dataset 'cora'"):
        load_heterophily("cora")


@pytest.mark.data
def test_heterophily_real(data_root):
    het = data_root / "heterophily"
    if not het.is_dir():
        pytest.skip(f"{het} not found")
    for name in HETEROPHILY_NAMES:
        if not (het / f"{name}.npz").is_file():   # e.g. roman_empire (not in the shared copy)
            continue
        raw = np.load(het / f"{name}.npz")
        ds = load_real(name, data_root)
        e = raw["edges"]
        n = raw["node_labels"].shape[0]
        assert ds.num_nodes == n and ds.num_splits == 10
        assert ds.num_classes == int(raw["node_labels"].max()) + 1
        assert ds.metric == ("roc_auc" if ds.num_classes == 2 else "accuracy")
        assert ds.directed == ("directed" in name)
        if ds.directed:
            assert torch.equal(arc_keys(ds.graph.edge_index, n), arc_keys(e.T, n))
        else:  # each edge stored once in the file: exactly two arcs per edge
            assert ds.num_edges == 2 * e.shape[0] and not ds.graph.directed
        assert torch.equal(ds.masks(4)["val"], torch.from_numpy(raw["val_masks"][4]))
        assert torch.equal(ds.x, torch.from_numpy(raw["node_features"]))


@pytest.mark.data
def test_registry_matches_files(data_root):
    reg = json.loads((REPO / "datasets" / "registry.json").read_text())
    entries = {d["name"]: d for d in reg["datasets"]}
    for name in available_datasets("planetoid") + available_datasets("heterophily"):
        assert name in entries, name
    for name, d in entries.items():
        for fname, meta in (d.get("files") or {}).items():
            p = data_root / d["family"] / fname
            if not p.is_file():
                continue
            assert hashlib.sha256(p.read_bytes()).hexdigest() == meta["sha256"], fname
            assert p.stat().st_size == meta["bytes"], fname
        if d["family"] in ("planetoid", "heterophily") and (data_root / d["family"]).is_dir() \
                and all((data_root / d["family"] / f).is_file() for f in d["files"]):
            ds = load_real(name, data_root)
            assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_classes) == \
                (d["num_nodes"], d["num_arcs"], d["num_features"], d["num_classes"]), name


# ---------------------------------------------------------------------------- generic readers
def test_read_edge_list_formats(tmp_path):
    (tmp_path / "g.txt").write_text("# comment\n0 1\n1 2  # trailing\n\n2 0\n")
    g = read_edge_list(tmp_path / "g.txt")
    assert g.directed and arcs(g) == [(0, 1), (1, 2), (2, 0)]
    (tmp_path / "g.csv").write_text("src,dst,w\n0,1,0.5\n1,2,2\n")
    g = read_edge_list(tmp_path / "g.csv", weighted=True, directed=False, num_nodes=4)
    assert g.num_nodes == 4 and not g.directed
    w = dict(zip(map(tuple, g.edge_index.t().tolist()), g.edge_weight.tolist()))
    assert w == {(1, 0): 0.5, (0, 1): 0.5, (2, 1): 2.0, (1, 2): 2.0}
    pairs = np.array([[0, 1], [1, 2], [1, 2]])
    for fmt, dt, suffix in (("int32", np.int32, ".bin32"), ("int64", np.int64, ".bin")):
        pairs.astype(dt).tofile(tmp_path / f"g{suffix}")
        assert arcs(read_edge_list(tmp_path / f"g{suffix}")) == [(0, 1), (1, 2), (1, 2)]
        assert arcs(read_edge_list(tmp_path / f"g{suffix}", fmt=fmt, dedupe=True)) == [(0, 1), (1, 2)]
    (tmp_path / "e.txt").write_text("")
    assert read_edge_list(tmp_path / "e.txt", num_nodes=3).num_edges == 0


def test_read_edge_list_bad_input(tmp_path):
    np.array([0, 1, 2], dtype=np.int64).tofile(tmp_path / "t.bin")
    with pytest.raises(DatasetError, match=r"t\.bin: size 24 bytes is not a multiple of 16"):
        read_edge_list(tmp_path / "t.bin")
    (tmp_path / "b.txt").write_text("0 1\n1 x\n")
    with pytest.raises(DatasetError, match=r"b\.txt: line 2 \('1 x'\): column 2 is not an integer node id"):
        read_edge_list(tmp_path / "b.txt")
    (tmp_path / "c.txt").write_text("0 1\n2\n")
    with pytest.raises(DatasetError, match=r"c\.txt: line 2 \('2'\): column 2 is not an integer node id"):
        read_edge_list(tmp_path / "c.txt")
    (tmp_path / "n.txt").write_text("0 -1\n")
    with pytest.raises(DatasetError, match=r"n\.txt: arc 0 has a negative node id"):
        read_edge_list(tmp_path / "n.txt")
    (tmp_path / "r.txt").write_text("0 5\n")
    with pytest.raises(DatasetError, match=r"node id 5 out of range for num_nodes=3"):
        read_edge_list(tmp_path / "r.txt", num_nodes=3)
    with pytest.raises(DatasetError, match="unknown edge list format"):
        read_edge_list(tmp_path / "r.txt", fmt="parquet")
    with pytest.raises(DatasetError, match="edge list file not found"):
        read_edge_list(tmp_path / "missing.txt")


def test_read_npz_and_sparse(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.ones((3, 2)), y=np.array([0, 1, 0]),
             edge_index=np.array([[0, 1], [1, 2]]), train_mask=np.array([1, 0, 0], bool),
             val_mask=np.array([0, 1, 0], bool), test_mask=np.array([0, 0, 1], bool))
    ds = read_npz(tmp_path / "d.npz")
    assert ds.name == "d" and ds.x.dtype == torch.float32 and not ds.directed
    assert arcs(ds.graph) == [(0, 1), (1, 0), (1, 2), (2, 1)] and ds.split()["test"].tolist() == [2]
    assert read_npz(tmp_path / "d.npz", directed=True).num_edges == 2
    np.savez(tmp_path / "m.npz", x=np.ones((3, 2)), edge_index=np.array([[0], [1]]))
    with pytest.raises(DatasetError, match=r"m\.npz: missing key for 'y'"):
        read_npz(tmp_path / "m.npz")
    np.savez(tmp_path / "k.npz", x=np.ones((3, 2)), y=np.zeros(3, int), edge_index=np.array([[0], [1]]),
             train_mask=np.ones(3, bool))
    with pytest.raises(DatasetError, match="needs all of train/val/test masks or none"):
        read_npz(tmp_path / "k.npz")

    A = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 2.0], [0, 0, 0]]))
    g = read_sparse(A)
    assert g.directed and arcs(g) == [(0, 1), (1, 2)] and sorted(g.edge_weight.tolist()) == [1.0, 2.0]
    sp.save_npz(tmp_path / "a.npz", A)
    assert arcs(read_sparse(tmp_path / "a.npz", directed=False)) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    with pytest.raises(DatasetError, match=r"d\.npz: not a scipy.sparse.save_npz file"):
        read_sparse(tmp_path / "d.npz")
    with pytest.raises(DatasetError, match="expects a scipy sparse matrix"):
        read_sparse(np.eye(3))
