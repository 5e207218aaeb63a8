"""DiskGraph: the memory-mapped on-disk format (gnnkit/data/disk.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gnnkit import Graph
from gnnkit.data.disk import (FORMAT_NAME, FORMAT_VERSION, HEADER_BYTES, DiskGraph,
                              DiskGraphError, save_graph)

# 5 nodes: a self loop (2->2), a duplicate arc (0->1 twice), node 4 isolated.
EDGES = torch.tensor([[0, 0, 1, 2, 3, 0, 2], [1, 2, 2, 2, 1, 1, 3]])


@pytest.fixture
def graph():
    return Graph.from_edge_index(EDGES, num_nodes=5)


@pytest.fixture
def saved(tmp_path, graph):
    x = torch.arange(10, dtype=torch.float32).view(5, 2)
    y = torch.tensor([0, 1, 1, -1, 2])
    splits = {"train": torch.tensor([0, 1]), "val": torch.tensor([2]),
              "test": torch.tensor([False, False, False, False, True])}
    return save_graph(tmp_path / "g", graph, features=x, labels=y, splits=splits, transpose=True)


def test_roundtrip_arrays_and_meta(saved, graph):
    dg = saved
    assert (dg.num_nodes, dg.num_edges, dg.directed) == (5, 7, True)
    assert dg.indptr.tolist() == graph.indptr.tolist() == [0, 0, 3, 6, 7, 7]
    assert dg.indices.dtype == np.int32 and dg.indices.tolist() == graph.indices.tolist()
    assert dg.features.dtype == np.float32 and dg.features[4].tolist() == [8.0, 9.0]
    assert dg.labels.tolist() == [0, 1, 1, -1, 2]
    assert {k: v.tolist() for k, v in dg.splits.items()} == {"train": [0, 1], "val": [2],
                                                             "test": [4]}
    assert dg.meta["format"] == FORMAT_NAME and dg.meta["format_version"] == FORMAT_VERSION
    assert dg.meta["coalesced"] is False  # 0->1 is stored twice
    assert (dg.path / f"RELEASE_v{FORMAT_VERSION}.txt").is_file()
    assert isinstance(dg.indices, np.memmap)
    for entry in dg.meta["arrays"].values():
        assert entry["offset"] == HEADER_BYTES
        assert (dg.path / entry["file"]).stat().st_size == entry["bytes"]
    assert repr(dg) == (f"DiskGraph('{dg.path}', num_nodes=5, num_edges=7, directed=True, "
                        "features=(5, 2) float32, transpose)")


def test_graph_is_zero_copy_and_uses_stored_transpose(saved, graph):
    dg = saved
    g = dg.graph()
    assert g is dg.as_graph()  # cached
    assert g.indptr.data_ptr() == dg.indptr.ctypes.data
    assert g.indices.data_ptr() == dg.indices.ctypes.data
    assert g.indices.dtype == torch.int32 and g.num_nodes == 5 and g.directed
    t = g.transpose()
    assert t[2].data_ptr() == dg.t_perm.ctypes.data  # the stored arrays, not a rebuilt copy
    for a, b in zip(t, graph.transpose()):
        assert torch.equal(a, b)
    assert dg.tensor("features").data_ptr() == dg.features.ctypes.data
    # Copy-on-write maps: writes stay in the process and never reach the file.
    dg.tensor("features")[0, 0] = 100.0
    assert DiskGraph(dg.path).features[0, 0] == 0.0


def test_ops_accept_disk_graph(saved, graph):
    from gnnkit._ext import has_ext

    if not has_ext():
        pytest.skip("gnnkit._C is not built")
    from gnnkit.ops import spmm

    x = torch.randn(5, 3)
    assert torch.allclose(spmm(saved.graph(), x), spmm(graph, x))


def test_weighted_float16_and_undirected(tmp_path):
    g = Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), num_nodes=4,
                              edge_weight=torch.tensor([0.5, 2.0]), directed=False)
    dg = save_graph(tmp_path / "w", g, features=np.ones((4, 3)), features_dtype="float16")
    assert not dg.directed and dg.meta["coalesced"] is True
    assert dg.features.dtype == np.float16
    assert dg.edge_weight.tolist() == g.edge_weight.tolist()
    assert torch.equal(dg.graph().edge_weight, g.edge_weight)
    assert not dg.has_transpose  # transpose() then builds it, as Graph.transpose() does
    assert all(torch.equal(a, b) for a, b in zip(dg.transpose(), g.transpose()))
    dg.verify()


@pytest.mark.parametrize("n", [0, 3])
def test_empty_graphs(tmp_path, n):
    g = Graph.empty(n)
    dg = save_graph(tmp_path / "e", g, transpose=True)
    assert (dg.num_nodes, dg.num_edges) == (n, 0)
    assert dg.indptr.tolist() == [0] * (n + 1)
    assert dg.verify()["ok"]
    assert dg.info()["in_degree"]["max"] == 0
    assert dg.graph().num_edges == 0


def test_info(saved):
    info = saved.info()
    # in-degrees [0, 3, 3, 1, 0]; out-degrees [3, 1, 2, 1, 0]
    assert info["in_degree"] == {"min": 0, "max": 3, "mean": 1.4,
                                 "std": pytest.approx(np.std([0, 3, 3, 1, 0])), "zero": 2}
    assert info["out_degree"]["max"] == 3 and info["out_degree"]["zero"] == 1
    assert info["labels"] == {"shape": [5], "num_classes": 3, "labelled": 4}
    assert info["splits"] == {"train": 2, "val": 1, "test": 1}
    assert info["features"] == {"shape": [5, 2], "dtype": "float32"}
    assert saved.in_degree().tolist() == [0, 3, 3, 1, 0]
    assert saved.out_degree().tolist() == [3, 1, 2, 1, 0]


def _flip_byte(path, pos):
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x10]))


@pytest.mark.parametrize("name", ["indices.npy", "features.npy", "t_perm.npy"])
def test_flipped_byte_at_the_ends_fails_open(saved, name):
    assert saved.verify()["ok"]
    _flip_byte(saved.path / name, HEADER_BYTES + 3)
    with pytest.raises(DiskGraphError, match=rf"{name}: the first/last bytes of array"):
        DiskGraph(saved.path)  # open samples the first and last 4 KiB of every payload


@pytest.mark.parametrize("name", ["indices.npy", "t_perm.npy"])
def test_verify_detects_flipped_byte_mid_file(tmp_path, name):
    g = Graph.from_edge_index(torch.randint(0, 300, (2, 6000), generator=torch.Generator()
                                            .manual_seed(0)), num_nodes=300)
    saved = save_graph(tmp_path / "g", g, transpose=True)
    _flip_byte(saved.path / name, (saved.path / name).stat().st_size // 2)
    dg = DiskGraph(saved.path)  # opening does not hash whole payloads (O(1)) ...
    with pytest.raises(DiskGraphError, match=rf"{name}: checksum mismatch: expected xxh3_64:"):
        dg.verify()  # ... verify does


def test_verify_structure(tmp_path):
    # Unsorted row and an out-of-range id cannot come from Graph's validated constructors;
    # build them with validate=False: the checksums are right, the structure is not.
    bad = Graph(torch.tensor([0, 2, 3]), torch.tensor([1, 0, 0]), validate=False)
    dg = save_graph(tmp_path / "u", bad, coalesced=False)
    with pytest.raises(DiskGraphError, match=r"indices\[1\]=0 \(row 0\) is not ascending"):
        dg.verify()
    assert dg.verify(structure=False)["ok"]
    dup = Graph(torch.tensor([0, 2]), torch.tensor([0, 0]), validate=False)
    with pytest.raises(DiskGraphError, match="duplicate in a coalesced row"):
        save_graph(tmp_path / "d", dup, coalesced=True).verify()
    oob = Graph(torch.tensor([0, 1, 2]), torch.tensor([0, 5]), validate=False)
    with pytest.raises(DiskGraphError, match=r"indices\[1\]=5 \(row 1\) is out of range \[0, 2\)"):
        save_graph(tmp_path / "o", oob, coalesced=False).verify()


def test_truncated_file_raises_on_open(saved):
    f = saved.path / "indices.npy"
    size = f.stat().st_size
    with open(f, "r+b") as fh:
        fh.truncate(size - 4)
    with pytest.raises(DiskGraphError,
                       match=rf"indices.npy: truncated: expected {size} bytes, found {size - 4}"):
        DiskGraph(saved.path)
    with open(f, "ab") as fh:
        fh.write(b"\0" * 8)
    with pytest.raises(DiskGraphError, match="has trailing bytes"):
        DiskGraph(saved.path)


def test_missing_files_and_bad_meta(saved, tmp_path):
    (saved.path / "labels.npy").unlink()
    with pytest.raises(DiskGraphError, match=r"labels.npy: missing file \(array 'labels'"):
        DiskGraph(saved.path)
    with pytest.raises(DiskGraphError, match="no such DiskGraph directory"):
        DiskGraph(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DiskGraphError, match="meta.json: missing"):
        DiskGraph(tmp_path / "empty")
    meta_path = saved.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    for change, pattern in [({"format": "zarr"}, "wrong format magic 'zarr'"),
                            ({"format_version": FORMAT_VERSION + 1}, "newer than this gnnkit"),
                            ({"format_version": "1"}, "invalid format_version")]:
        meta_path.write_text(json.dumps({**meta, **change}))
        with pytest.raises(DiskGraphError, match=pattern):
            DiskGraph(saved.path)
    meta_path.write_text("{not json")
    with pytest.raises(DiskGraphError, match="not valid JSON"):
        DiskGraph(saved.path)


def test_header_must_match_meta(saved):
    meta_path = saved.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["arrays"]["features"]["shape"] = [5, 1]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DiskGraphError, match=r"offset 128 and bytes 168 disagree with dtype "
                                             r"float32 and shape \[5, 1\]"):
        DiskGraph(saved.path)
    meta["arrays"]["features"]["shape"] = [5, 2]
    meta["arrays"]["features"]["dtype"] = "int32"  # same size, other dtype than the header
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DiskGraphError, match="header says dtype float32 shape"):
        DiskGraph(saved.path)


def test_atomic_write_and_overwrite(tmp_path, graph):
    save_graph(tmp_path / "g", graph)
    with pytest.raises(DiskGraphError, match="already exists"):
        save_graph(tmp_path / "g", graph)
    with pytest.raises(DiskGraphError, match=r"features have shape \(2, 2\)"):
        save_graph(tmp_path / "g", graph, features=np.ones((2, 2)), overwrite=True)
    assert DiskGraph(tmp_path / "g").num_edges == 7  # the failed write left it alone
    dg = save_graph(tmp_path / "g", Graph.empty(2), overwrite=True)
    assert dg.num_nodes == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]  # no temporaries left


def test_read_only_mode(saved):
    dg = DiskGraph(saved.path, mmap_mode="r")
    assert not dg.indices.flags.writeable
    assert torch.equal(dg.graph().indices, saved.graph().indices)
    with pytest.raises(DiskGraphError, match="mmap_mode must be 'c' or 'r'"):
        DiskGraph(saved.path, mmap_mode="w+")
    with pytest.raises(KeyError, match="no array 'nope'"):
        dg.tensor("nope")
