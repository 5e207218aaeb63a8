"""The shared readers (gnnkit/data/readers) against ogb's own readers, and the structure of
gnnkit.data: a registry of its own, no import cycle, no private import across modules."""
from __future__ import annotations

import ast
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gnnkit.data import DatasetError, available_datasets, get_dataset, register_family
from gnnkit.data.readers import NpzArchive, OgbRaw, TextEdgeList, read_npz
from gnnkit.data.registry import dataset_family, unregister_family

DATA = Path(__file__).resolve().parents[2] / "gnnkit" / "data"


# ---------------------------------------------------------------------------- structure
def _data_imports() -> dict[str, set[str]]:
    """gnnkit.data module -> gnnkit.data modules it imports (top-level or inside functions)."""
    mods = {}
    for p in DATA.rglob("*.py"):
        rel = p.relative_to(DATA.parent.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "gnnkit.data"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("gnnkit.data"))
        mods[name] = deps
    return {m: {d for d in deps if d in mods and d != m} for m, deps in mods.items()}


def test_no_import_cycle_in_gnnkit_data():
    graph = {m: d - {"gnnkit.data"} for m, d in _data_imports().items() if m != "gnnkit.data"}
    graph = {m: {d for d in deps if not (m.startswith(d + ".") and d.endswith("readers"))}
             for m, deps in graph.items()}  # a package's own submodules import through it
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_no_private_import_across_gnnkit_data_modules():
    bad = []
    for p in DATA.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gnnkit."):
                for a in node.names:
                    if a.name.startswith("_") and not node.module.endswith("._paths"):
                        bad.append(f"{p.name}: from {node.module} import {a.name}")
    assert not bad, bad


def test_registry_register_family_and_prefix():
    seen = []

    def loader(name, root=None, **kw):
        seen.append((name, root, kw))
        return name

    register_family("toyfam", loader, lambda: ["toy-one"], prefix="toyfam_")
    try:
        assert "toy-one" in available_datasets("toyfam") and dataset_family("TOY_ONE") == "toyfam"
        assert get_dataset("Toy_One", root="/r", k=1) == "toy-one"
        assert get_dataset("toyfam-unlisted") == "toyfam-unlisted"  # the prefix routes it
        assert seen[0] == ("toy-one", "/r", {"k": 1})
        with pytest.raises(ValueError, match="already exists"):
            register_family("toyfam", loader, [])
        with pytest.raises(ValueError, match="already exists"):
            register_family("planetoid", loader, [])
    finally:
        unregister_family("toyfam")
    assert "toy-one" not in available_datasets()
    with pytest.raises(DatasetError, match="unknown dataset 'toy-one'"):
        get_dataset("toy-one")


# ---------------------------------------------------------------------------- OGB raw layout
def _csv(path: Path, a) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.asarray(a)).to_csv(path, header=False, index=False, compression="gzip")


def _graph_family_dir(root: Path, seed=0) -> Path:
    """Three molecules-like graphs in OGB's raw layout, with integer node / edge features."""
    rng = np.random.default_rng(seed)
    nn, ne = np.array([3, 5, 2]), np.array([2, 6, 1])
    edges = np.concatenate([rng.integers(0, n, (m, 2)) for n, m in zip(nn, ne)])
    raw = root / "raw"
    _csv(raw / "edge.csv.gz", edges)
    _csv(raw / "num-node-list.csv.gz", nn[:, None])
    _csv(raw / "num-edge-list.csv.gz", ne[:, None])
    _csv(raw / "node-feat.csv.gz", rng.integers(0, 9, (nn.sum(), 2)))
    _csv(raw / "edge-feat.csv.gz", rng.integers(0, 4, (ne.sum(), 3)))
    _csv(raw / "edge_weight.csv.gz", rng.random((ne.sum(), 1)).round(3))
    _csv(raw / "graph-label.csv.gz", np.array([[1.0], [np.nan], [0.0]]))
    for k, ids in (("train", [0]), ("valid", [1]), ("test", [2])):
        _csv(root / "split" / "scaffold" / f"{k}.csv.gz", np.array(ids)[:, None])
    return root


@pytest.mark.parametrize("inverse", [False, True])
def test_ogb_raw_graphs_match_ogb_read_csv_graph_raw(tmp_path, inverse):
    pytest.importorskip("ogb")
    from ogb.io.read_graph_raw import read_csv_graph_raw

    d = _graph_family_dir(tmp_path / "ogbg_toy")
    ours = OgbRaw(d).graphs(add_inverse_edge=inverse, additional_edge_files=["edge_weight"])
    theirs = read_csv_graph_raw(str(d / "raw"), add_inverse_edge=inverse,
                                additional_edge_files=["edge_weight"])
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        assert a["num_nodes"] == b["num_nodes"] and set(a) == set(b)
        for k in ("edge_index", "edge_feat", "node_feat", "edge_weight"):
            np.testing.assert_array_equal(a[k], b[k])
            assert a[k].dtype == b[k].dtype
    r = OgbRaw(d)
    labels = r.labels("graph", 1, 2, task_type="binary classification")
    assert labels[:, 0].tolist() == [1, -1, 0]
    assert {k: v.tolist() for k, v in r.index_split("scaffold", 3).items()} == \
        {"train": [0], "valid": [1], "test": [2]}
    with pytest.raises(DatasetError, match=r"test ids 2 is outside \[0, 2\)"):
        r.index_split("scaffold", 2)


def test_ogb_raw_binary_layout_matches_ogb(tmp_path):
    pytest.importorskip("ogb")
    from ogb.io.read_graph_raw import read_binary_graph_raw

    raw = tmp_path / "d" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    np.savez(raw / "data.npz", edge_index=np.array([[0, 1, 0], [1, 0, 1]]),
             num_nodes_list=np.array([2, 2]), num_edges_list=np.array([2, 1]),
             node_feat=rng.standard_normal((4, 3)).astype(np.float32),
             edge_feat=rng.standard_normal((3, 2)).astype(np.float32))
    ours, theirs = OgbRaw(raw.parent).graphs(), read_binary_graph_raw(str(raw))
    for a, b in zip(ours, theirs):
        for k in ("edge_index", "edge_feat", "node_feat"):
            np.testing.assert_array_equal(a[k], b[k])
        assert a["num_nodes"] == b["num_nodes"]


def test_ogb_raw_checks_ids_per_graph_and_counts(tmp_path):
    d = _graph_family_dir(tmp_path / "g")
    _csv(d / "raw" / "edge.csv.gz", np.array([[0, 1], [2, 0], [0, 4], [0, 1], [1, 1], [0, 0],
                                              [0, 0], [0, 0], [0, 2]]))
    with pytest.raises(DatasetError, match=r"edge 8 = \(0, 2\) has a node id outside \[0, 2\)"):
        OgbRaw(d).edge_index()  # id 2 is fine for graph 1 (5 nodes), not for graph 2 (2 nodes)
    _csv(d / "raw" / "num-edge-list.csv.gz", np.array([[2], [6], [5]]))
    with pytest.raises(DatasetError, match="holds 9 edges but num-edge-list says 13"):
        OgbRaw(d).edge_index()
    with gzip.open(d / "raw" / "num-node-list.csv.gz", "wt") as f:
        f.write("3\n-5\n2\n")
    with pytest.raises(DatasetError, match=r"row 2, column 1: num-node-list -5 is outside \[0, inf\)"):
        OgbRaw(d).num_node_list()


def test_ogb_raw_edge_split(tmp_path):
    d = tmp_path / "ogbl_toy"
    (d / "raw").mkdir(parents=True)
    _csv(d / "raw" / "edge.csv.gz", [[0, 1]])
    s = d / "split" / "time"
    s.mkdir(parents=True)
    torch.save({"edge": torch.tensor([[0, 1], [2, 3]]), "weight": torch.ones(2),
                "year": torch.tensor([2000, 2001])}, s / "train.pt")
    torch.save({"edge": torch.tensor([[1, 2]]), "edge_neg": torch.tensor([[0, 3], [1, 3]])},
               s / "valid.pt")
    torch.save({"edge": torch.tensor([[3, 0]]), "edge_neg": torch.tensor([[2, 2]])},
               s / "test.pt")
    split = OgbRaw(d).edge_split("time", num_nodes=4)
    assert split["train"]["edge"].tolist() == [[0, 1], [2, 3]]
    assert split["valid"]["edge_neg"].dtype == torch.int64
    with pytest.raises(DatasetError, match=r"train\['edge'\] holds node id 3 outside \[0, 3\)"):
        OgbRaw(d).edge_split("time", num_nodes=3)
    torch.save({"edge": torch.tensor([[0, 1]]), "weight": torch.ones(3)}, s / "train.pt")
    with pytest.raises(DatasetError, match="must have the same length"):
        OgbRaw(d).edge_split("time")

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("true",))

    torch.save({"edge": Evil()}, s / "train.pt")
    with pytest.raises(DatasetError, match="weights_only=True refused it"):
        OgbRaw(d).edge_split("time")


# ---------------------------------------------------------------------------- npz, edge lists
def test_npz_headers_are_checked_before_allocation(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, a=np.arange(10), b=np.ones((2, 3)))
    assert read_npz(p)["b"].shape == (2, 3)
    with zipfile.ZipFile(p) as z:
        members = {n: z.read(n) for n in z.namelist()}
    f = io.BytesIO(members["a.npy"])
    np.lib.format.read_magic(f)
    np.lib.format.read_array_header_1_0(f)
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<i8", "fortran_order": False,
                                               "shape": (2 ** 40,)})
    members["a.npy"] = out.getvalue() + members["a.npy"][f.tell():]
    with zipfile.ZipFile(p, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(DatasetError, match=r"member 'a.npy' announces shape \(1099511627776,\)"):
        read_npz(p)
    with NpzArchive(p) as z:  # the other member is still readable
        assert z.array("b").sum() == 6


def test_text_edge_list_chunks_equal_read(tmp_path):
    p = tmp_path / "e.txt.gz"
    lines = ["# comment", "src dst w"] + [f"{i} {(3 * i) % 7} {i / 2}" for i in range(25)]
    with gzip.open(p, "wt") as f:
        f.write("\n".join(lines) + "\n")
    r = TextEdgeList(p, weighted=True)
    assert r.header and r.delimiter is None
    pairs, w = r.read()
    chunks = list(r.chunks(chunk_rows=4))
    assert len(chunks) == 7 and [c[0] for c in chunks] == list(range(0, 25, 4))
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), pairs[:, 0])
    np.testing.assert_allclose(w, np.arange(25) / 2)
    with gzip.open(p, "wt") as f:
        f.write("0 1 0.5\n1 2 nan\n")
    with pytest.raises(DatasetError, match=r"line 2 \('1 2 nan'\): weight nan is not finite"):
        TextEdgeList(p, weighted=True).read()
