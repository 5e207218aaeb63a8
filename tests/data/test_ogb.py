"""OGB node property prediction loader (gnnkit.data.ogb) against ogb's own NodePropPredDataset.

Each test writes a tiny dataset in exactly OGB's directory layout (see ogb/io/read_graph_raw.py and
ogb/nodeproppred/dataset.py): ``<root>/<ogbn_name>/{RELEASE_v<version>.txt, raw/, split/<scheme>/,
processed/}``.  ``RELEASE_v*.txt`` keeps OGB from prompting for an update, the raw files keep it
from downloading, and ``processed/`` must exist for OGB to save its cache.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gnnkit.data import DatasetError, download_ogb, get_dataset, load_ogb, ogb_evaluate, ogb_meta
from gnnkit.tasks.metrics import get_metric

ogb = pytest.importorskip("ogb")

N, E = 12, 20


def _csv(path: Path, a) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.asarray(a)).to_csv(path, header=False, index=False, compression="gzip")


def make_ogb_dir(root: Path, name: str, seed: int = 0) -> Path:
    """Write a random ``name`` dataset with N nodes / E edges in OGB's raw layout."""
    meta = ogb_meta(name)
    rng = np.random.default_rng(seed)
    d = root / meta["dir_name"]
    raw = d / "raw"
    raw.mkdir(parents=True)
    (d / "processed").mkdir()
    (d / f"RELEASE_v{meta['version']}.txt").write_text("test\n")
    edge = rng.integers(0, N, size=(E, 2))
    edge[0] = edge[1]  # a duplicate edge
    edge[2] = [3, 3]  # a self loop
    T, C = meta["num_tasks"], meta["num_classes"]
    labels = rng.integers(0, C, size=(N, T))
    if meta["binary"]:
        labels = labels.astype(np.float32)
        labels[[1, 5], 0] = np.nan  # unlabelled nodes (papers100M style), kept out of the splits
        np.savez(raw / "data.npz", edge_index=edge.T, num_nodes_list=np.array([N]),
                 num_edges_list=np.array([E]), node_feat=rng.standard_normal((N, 4)).astype(np.float32),
                 node_year=rng.integers(2000, 2020, size=(N, 1)))
        np.savez(raw / "node-label.npz", node_label=labels)
    else:
        _csv(raw / "edge.csv.gz", edge)
        _csv(raw / "num-node-list.csv.gz", [[N]])
        _csv(raw / "num-edge-list.csv.gz", [[E]])
        _csv(raw / "node-label.csv.gz", labels)
        if meta["has_node_attr"]:
            _csv(raw / "node-feat.csv.gz", rng.standard_normal((N, 5)).round(4))
        if meta["has_edge_attr"]:
            _csv(raw / "edge-feat.csv.gz", rng.random((E, 3)).round(3))
        for f in meta["additional_node_files"]:
            _csv(raw / f"{f}.csv.gz", rng.integers(0, 5, size=(N, 1)))
    perm = rng.permutation([i for i in range(N) if not (meta["binary"] and i in (1, 5))])
    split = d / "split" / meta["split"]
    _csv(split / "train.csv.gz", perm[:5, None])
    _csv(split / "valid.csv.gz", perm[5:7, None])
    _csv(split / "test.csv.gz", perm[7:, None])
    return d


def _rows(ei, *cols) -> np.ndarray:
    """Arcs (and their attributes) as a lexicographically sorted [E, k] array: a multiset."""
    a = np.concatenate([np.asarray(ei).T.astype(np.float64)] +
                       [np.asarray(c, dtype=np.float64).reshape(ei.shape[1], -1) for c in cols], axis=1)
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize("name", ["ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-papers100M"])
def test_matches_ogb_nodeproppred(tmp_path, name):
    from ogb.nodeproppred import NodePropPredDataset

    make_ogb_dir(tmp_path / "ours", name)
    shutil.copytree(tmp_path / "ours", tmp_path / "theirs")
    ref = NodePropPredDataset(name, root=str(tmp_path / "theirs"))
    graph, labels = ref[0]
    ds = load_ogb(name, root=tmp_path / "ours")
    meta = ogb_meta(name)

    assert ds.num_nodes == graph["num_nodes"] == N
    assert ds.directed == (not meta["add_inverse_edge"])
    assert ds.num_edges == graph["edge_index"].shape[1] == (2 * E if meta["add_inverse_edge"] else E)
    if graph["edge_feat"] is not None:
        ours = _rows(ds.graph.edge_index.numpy(), ds.edge_attr.numpy())
        np.testing.assert_allclose(ours, _rows(graph["edge_index"], graph["edge_feat"]), rtol=1e-6)
    else:
        assert ds.edge_attr is None
        np.testing.assert_array_equal(_rows(ds.graph.edge_index.numpy()), _rows(graph["edge_index"]))
    if graph["node_feat"] is not None:
        np.testing.assert_allclose(ds.x.numpy(), graph["node_feat"], rtol=1e-6)
    else:
        assert ds.x.shape == (N, 0)
    ref_y = np.where(np.isnan(labels.astype(np.float64)), -1, labels).astype(np.int64)
    np.testing.assert_array_equal(ds.y.numpy().reshape(N, -1), ref_y)
    assert ds.y.dim() == (1 if meta["num_tasks"] == 1 else 2)
    for key in meta["additional_node_files"] + (["node_year"] if meta["binary"] else []):
        np.testing.assert_array_equal(ds.extras[key].numpy().reshape(N, -1), graph[key].reshape(N, -1))
    split = ref.get_idx_split()
    for ours, theirs in (("train", "train"), ("val", "valid"), ("test", "test")):
        np.testing.assert_array_equal(ds.split()[ours].numpy(), split[theirs])
    assert ds.num_classes == meta["num_classes"] and ds.metadata["eval_metric"] == meta["eval_metric"]
    assert ds.metric == f"ogb:{name}"


def test_ogb_metric_uses_ogb_evaluator(tmp_path):
    make_ogb_dir(tmp_path, "ogbn-arxiv")
    ds = get_dataset("ogbn-arxiv", root=tmp_path)
    idx = ds.split()["test"]
    pred = ds.y.clone()
    pred[idx[:2]] = (pred[idx[:2]] + 1) % ds.num_classes  # two wrong test predictions
    expected = 1 - 2 / len(idx)
    metric = get_metric(ds.metric)  # 'ogb:ogbn-arxiv': OGB's Evaluator through gnnkit.tasks
    assert metric(pred[idx], ds.y[idx]) == pytest.approx(expected)
    scores = torch.nn.functional.one_hot(pred, ds.num_classes).float()
    assert metric(scores[idx], ds.y[idx]) == pytest.approx(expected)
    assert ogb_evaluate("ogbn-arxiv", ds.y[idx], pred[idx])["acc"] == pytest.approx(expected)

    make_ogb_dir(tmp_path, "ogbn-proteins")
    pr = load_ogb("ogbn-proteins", root=tmp_path)
    pidx = pr.split()["test"]
    assert get_metric(pr.metric)(pr.y[pidx].float(), pr.y[pidx]) == pytest.approx(1.0)  # ROC-AUC


def test_missing_directory_error_names_dirs_and_url(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_ogb("ogbn-arxiv", root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "ogbn_arxiv") in msg and "raw/edge.csv.gz" in msg
    assert "http://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip" in msg and "download=True" in msg


def test_download_failure_names_url_and_target(tmp_path):
    url = "http://127.0.0.1:9/arxiv.zip"  # closed port: fails at once, never reaches the internet
    with pytest.raises(DatasetError, match=r"downloading http://127\.0\.0\.1:9/arxiv\.zip into .*ogbn_arxiv failed"):
        load_ogb("ogbn-arxiv", root=tmp_path, download=True, url=url)
    assert not (tmp_path / "ogbn_arxiv").exists() and not list(tmp_path.glob("*.zip"))


def _zip_dataset(tmp_path: Path, name: str) -> Path:
    meta = ogb_meta(name)
    src = make_ogb_dir(tmp_path / "build", name)
    z = tmp_path / f"{meta['download_name']}.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"{meta['download_name']}/{p.relative_to(src)}")
    return z


def test_download_from_mirror_and_corrupt_zip(tmp_path):
    z = _zip_dataset(tmp_path, "ogbn-arxiv")
    ds = load_ogb("ogbn-arxiv", root=tmp_path / "dl", download=True, url=z.as_uri())
    assert ds.num_nodes == N and (tmp_path / "dl" / "ogbn_arxiv" / "RELEASE_v1.txt").is_file()
    assert load_ogb("ogbn-arxiv", root=tmp_path / "dl").num_edges == E  # now found offline

    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("arxiv/raw/edge.csv.gz")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10] ^= 0xFF  # flip a byte inside a stored member: its CRC no longer matches
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"corrupt \(CRC error in member 'arxiv/raw/edge.csv.gz'\)"):
        download_ogb("ogbn-arxiv", root=tmp_path / "dl2", url=bad.as_uri())
    assert not (tmp_path / "dl2" / "ogbn_arxiv").exists()
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a valid zip archive"):
        download_ogb("ogbn-arxiv", root=tmp_path / "dl3", url=(tmp_path / "junk.zip").as_uri())


@pytest.mark.parametrize("damage, match", [
    (lambda d: (d / "raw" / "node-feat.csv.gz").unlink(), r"raw: missing \['node-feat.csv.gz'\]"),
    (lambda d: (d / "split" / "time" / "valid.csv.gz").unlink(), r"valid.csv.gz: missing"),
    (lambda d: (d / "raw" / "edge.csv.gz").write_bytes((d / "raw" / "edge.csv.gz").read_bytes()[:30]),
     r"edge.csv.gz: cannot read edges near row 1; the file is truncated, corrupt"),
    (lambda d: _csv(d / "raw" / "num-edge-list.csv.gz", [[E + 1]]),
     rf"edge.csv.gz: holds {E} edges but num-edge-list says {E + 1}"),
    (lambda d: _csv(d / "raw" / "edge.csv.gz", np.full((E, 2), N)),
     rf"edge.csv.gz: edge 0 = \({N}, {N}\) has a node id outside \[0, {N}\)"),
    (lambda d: _csv(d / "raw" / "node-label.csv.gz", np.full((N, 1), 40)), r"labels out of range"),
    (lambda d: _csv(d / "raw" / "node-label.csv.gz", np.zeros((N - 1, 1), int)),
     rf"labels have shape \({N - 1}, 1\), expected \({N}, 1\)"),
    (lambda d: _csv(d / "split" / "time" / "test.csv.gz", np.arange(4)[:, None]), r"overlapping splits"),
    (lambda d: _csv(d / "raw" / "node-feat.csv.gz", np.zeros((N - 2, 3))), rf"node-feat.csv.gz: node-feat has shape \({N - 2}, 3\), expected {N} rows"),
])
def test_bad_ogb_directories(tmp_path, damage, match):
    d = make_ogb_dir(tmp_path, "ogbn-arxiv")
    damage(d)
    with pytest.raises(DatasetError, match=match):
        load_ogb("ogbn-arxiv", root=tmp_path)


def test_bad_binary_and_names(tmp_path):
    d = make_ogb_dir(tmp_path, "ogbn-papers100M")
    np.savez(d / "raw" / "data.npz", edge_index=np.zeros((2, 3), int), num_nodes_list=np.array([N]))
    with pytest.raises(DatasetError, match=r"data.npz: missing key\(s\) \['num_edges_list'\]"):
        load_ogb("ogbn-papers100M", root=tmp_path)
    with pytest.raises(DatasetError, match="heterogeneous"):
        get_dataset("ogbn-mag", root=tmp_path)
    with pytest.raises(DatasetError, match=r"unknown OGB node dataset 'ogbn-cora'.*ogbn-arxiv"):
        get_dataset("ogbn-cora")


def test_species_alias_and_root_subfolder(tmp_path):
    d = make_ogb_dir(tmp_path / "ogb", "ogbn-proteins")  # root/ogb/<dir> is searched too
    (d / "raw" / "node_species.csv.gz").rename(d / "raw" / "species.csv.gz")  # name inside OGB's zip
    ds = load_ogb("ogbn-proteins", root=tmp_path)
    assert ds.extras["node_species"].shape == (N,) and ds.y.shape == (N, 112)
    assert ds.edge_attr.shape == (2 * E, 3) and not ds.directed
