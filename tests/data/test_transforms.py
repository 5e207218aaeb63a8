"""Load-time dataset transforms (gnnkit.data.transforms) and loading a Platonov-layout ``.npz``
by path or by name."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gnnkit import Graph
from gnnkit.data import (DatasetError, NodeDataset, get_dataset, node_features_from_edges,
                         symmetrized)
from gnnkit.data.heterophily import BINARY_NAMES, HETEROPHILY_NAMES

REPO = Path(__file__).resolve().parents[2]


def _npz(path, n=9, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    edges = np.array([[i, (i + 1) % n] for i in range(n)] + [[0, 4], [2, 7]])
    masks = np.zeros((3, 10, n), dtype=bool)
    for s in range(10):
        perm = rng.permutation(n)
        masks[0, s, perm[:5]], masks[1, s, perm[5:7]], masks[2, s, perm[7:]] = True, True, True
    np.savez(path, node_features=rng.standard_normal((n, 3)).astype(np.float32),
             node_labels=np.arange(n) % classes, edges=edges, train_masks=masks[0],
             val_masks=masks[1], test_masks=masks[2])
    return edges


def test_npz_path_and_metric(tmp_path):
    edges = _npz(tmp_path / "my_graph.npz")
    ds = get_dataset(str(tmp_path / "my_graph.npz"))
    assert ds.name == "my_graph" and not ds.directed and ds.num_splits == 10
    assert ds.num_edges == 2 * len(edges) and ds.metric == "roc_auc"
    _npz(tmp_path / "multi_directed.npz", classes=3)
    ds = get_dataset(str(tmp_path / "multi_directed.npz"))
    assert ds.directed and ds.num_edges == len(edges) and ds.metric == "accuracy"
    with pytest.raises(DatasetError, match="takes no loader arguments"):
        get_dataset(str(tmp_path / "my_graph.npz"), download=True)
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 2)))
    with pytest.raises(DatasetError, match=r"bad\.npz: missing key\(s\)"):
        get_dataset(str(tmp_path / "bad.npz"))


def test_symmetrize_flag(tmp_path):
    _npz(tmp_path / "g_directed.npz")
    d = get_dataset(str(tmp_path / "g_directed.npz"))
    u = get_dataset(str(tmp_path / "g_directed.npz"), symmetrize=True)
    assert d.directed and not u.directed and u.metadata["symmetrized"]
    fwd = set(map(tuple, d.graph.edge_index.t().tolist()))
    assert set(map(tuple, u.graph.edge_index.t().tolist())) == fwd | {(b, a) for a, b in fwd}
    assert symmetrized(u) is u
    assert torch.equal(u.x, d.x) and d.directed   # the input is not modified


def test_node_features_from_edges():
    # arcs 0->1, 2->1, 1->0 with 2-d attributes; node 2 has no in-arc
    g = Graph.from_edge_index(torch.tensor([[0, 2, 1], [1, 1, 0]]), num_nodes=3)
    order = g.edge_index.t().tolist()
    attr_of = {(0, 1): [1.0, 2.0], (2, 1): [3.0, 6.0], (1, 0): [5.0, 5.0]}
    ea = torch.tensor([attr_of[tuple(a)] for a in order])
    ds = NodeDataset(g, torch.zeros(3, 0), torch.tensor([0, 1, 0]),
                     [{"train": torch.tensor([0]), "val": torch.tensor([1]), "test": torch.tensor([2])}],
                     name="toy", edge_attr=ea)
    mean = node_features_from_edges(ds, "mean").x
    torch.testing.assert_close(mean, torch.tensor([[5.0, 5.0], [2.0, 4.0], [0.0, 0.0]]))
    torch.testing.assert_close(node_features_from_edges(ds, "sum").x[1], torch.tensor([4.0, 8.0]))
    torch.testing.assert_close(node_features_from_edges(ds, "max").x, torch.tensor(
        [[5.0, 5.0], [3.0, 6.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="reduce must be one of"):
        node_features_from_edges(ds, "median")
    with pytest.raises(DatasetError, match="cannot symmetrise a dataset with edge_attr"):
        symmetrized(ds)
    ds.edge_attr = None
    with pytest.raises(DatasetError, match="needs edge_attr"):
        node_features_from_edges(ds)


def test_platonov_names_and_registry():
    for name in ("roman_empire", "amazon_ratings", "minesweeper", "tolokers", "questions",
                 "texas_4_classes"):
        assert name in HETEROPHILY_NAMES
    reg = {e["name"]: e for e in json.loads((REPO / "datasets" / "registry.json").read_text())["datasets"]}
    for name in BINARY_NAMES:
        assert reg[name]["metric"] == "roc_auc" and reg[name]["num_classes"] == 2
    assert reg["roman_empire"]["metric"] == "accuracy"
    assert reg["texas_4_classes"]["files"]["texas_4_classes.npz"]["sha256"] == "unknown"
    with pytest.raises(DatasetError, match=r"roman_empire\.npz not found; looked in"):
        get_dataset("roman-empire", root=REPO / "no-such-folder")


@pytest.mark.data
def test_minesweeper_upstream_file(data_root):
    p = data_root / "heterophily" / "minesweeper.npz"
    if not p.is_file():
        pytest.skip(f"{p} not found")
    reg = {e["name"]: e for e in json.loads((REPO / "datasets" / "registry.json").read_text())["datasets"]}
    assert hashlib.sha256(p.read_bytes()).hexdigest() == reg["minesweeper"]["files"]["minesweeper.npz"]["sha256"]
    ds = get_dataset("minesweeper", root=data_root)
    assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_classes, ds.metric) == \
        (10000, 78804, 7, 2, "roc_auc")
