"""Out-of-core conversion (gnnkit/data/convert.py) and the power-law generator (powerlaw.py)."""
from __future__ import annotations

import gzip
import os

import numpy as np
import pytest
import torch

from gnnkit import Graph
import gnnkit.data.convert as convert_mod
import gnnkit.data.disk_format as disk_format
from gnnkit.data.convert import convert_to_disk as convert
from gnnkit.data.convert import csr_from_edges, detect_format, parse_memory
from gnnkit.data.disk import DiskGraph, DiskGraphError
from gnnkit.data.powerlaw import (BLOCK_EDGES, powerlaw_graph, rmat_edges,
                                  write_powerlaw_edgelist)

N, E = 300, 4000


@pytest.fixture(scope="module")
def edgelist(tmp_path_factory):
    path = tmp_path_factory.mktemp("el") / "edges.i32"
    write_powerlaw_edgelist(path, N, E, seed=7)
    pairs = np.fromfile(path, np.int32).reshape(-1, 2)
    return path, torch.from_numpy(pairs.T.astype(np.int64))


def _assert_same_csr(dg, ref, transpose=True):
    g = dg.graph()
    assert torch.equal(g.indptr, ref.indptr)
    assert torch.equal(g.indices, ref.indices)
    if transpose:
        for a, b in zip(g.transpose(), ref.transpose()):
            assert torch.equal(a, b)


def _symmetrized(ei):
    off = ei[0] != ei[1]
    return torch.cat([ei, ei[:, off].flip(0)], 1)


# (symmetrize, dedup) -> reference built with gnnkit.Graph from the same edges
CASES = {
    (True, True): lambda ei: Graph.from_edge_index(ei, num_nodes=N).to_undirected(),
    (False, True): lambda ei: Graph.from_edge_index(ei, num_nodes=N).coalesce("drop"),
    (False, False): lambda ei: Graph.from_edge_index(ei, num_nodes=N),
    (True, False): lambda ei: Graph.from_edge_index(_symmetrized(ei), num_nodes=N),
}


@pytest.mark.parametrize("partitioned", [False, True])
@pytest.mark.parametrize("symmetrize,dedup", list(CASES))
def test_convert_matches_graph_with_many_buckets(tmp_path, edgelist, symmetrize, dedup,
                                                 partitioned, monkeypatch):
    path, ei = edgelist
    if partitioned:  # the cache-blocked scatter of wide graphs, on 16-node partitions
        monkeypatch.setattr(convert_mod, "_PART_MIN_NODES", 8)
        monkeypatch.setattr(convert_mod, "_PART_MIN_SHIFT", 4)
    stats = {}
    # A tiny budget and small chunks force many buckets and many chunks per bucket.
    dg = convert(path, tmp_path / "g", num_nodes=N, symmetrize=symmetrize, dedup=dedup,
                 memory="12KB", chunk_edges=128, transpose=True, stats=stats)
    assert stats["buckets"] >= 3 and stats["transpose_buckets"] >= 3
    ref = CASES[(symmetrize, dedup)](ei)
    _assert_same_csr(dg, ref)
    assert dg.directed == (not symmetrize) and dg.meta["coalesced"] == dedup
    assert stats["input_edges"] == E and dg.num_edges == ref.num_edges
    assert dg.verify()["ok"]
    if symmetrize:  # t_indptr / t_indices are the CSR files themselves
        assert dg.meta["arrays"]["t_indices"]["file"] == "indices.npy"
    # One bucket (default budget) gives the same bytes.
    one = convert(path, tmp_path / "one", num_nodes=N, symmetrize=symmetrize, dedup=dedup,
                  transpose=True)
    for name in ("indptr", "indices", "t_perm"):
        assert one.meta["arrays"][name]["checksum"] == dg.meta["arrays"][name]["checksum"]


def test_num_nodes_inferred_and_isolated_tail(tmp_path):
    path = tmp_path / "e.txt"
    path.write_text("# a comment\n\n0 3\n3 1\n")
    dg = convert(path, tmp_path / "a")
    assert dg.num_nodes == 4 and dg.indptr.tolist() == [0, 0, 1, 1, 2]
    dg = convert(path, tmp_path / "b", num_nodes=6)
    assert dg.num_nodes == 6 and dg.in_degree().tolist() == [0, 1, 0, 1, 0, 0]


def test_text_csv_gz_header_and_weights(tmp_path):
    rows = [(0, 1, 0.5), (1, 0, 2.0), (2, 2, 1.0), (0, 1, 1.5), (3, 0, 4.0)]
    csv = tmp_path / "w.csv.gz"
    with gzip.open(csv, "wt") as f:
        f.write("src,dst,weight\n" + "".join(f"{s},{d},{w}\n" for s, d, w in rows))
    ei = torch.tensor([[r[0] for r in rows], [r[1] for r in rows]])
    w = torch.tensor([r[2] for r in rows])
    g = Graph.from_edge_index(ei, num_nodes=4, edge_weight=w)
    for sym, reduce, ref in [(True, "max", g.to_undirected("max")),
                             (True, "sum", g.to_undirected("sum")),
                             (False, "sum", g.coalesce("sum")),
                             (False, "mean", g.coalesce("mean"))]:
        dg = convert(csv, tmp_path / f"{sym}{reduce}", weighted=True, symmetrize=sym,
                     dedup=True, reduce=reduce, memory="16KB", chunk_edges=2)
        _assert_same_csr(dg, ref, transpose=False)
        assert torch.allclose(dg.graph().edge_weight, ref.edge_weight)
    # without dedup the duplicates stay, in input order
    dg = convert(csv, tmp_path / "raw", weighted=True)
    assert torch.equal(dg.graph().edge_weight, g.edge_weight)
    # unweighted read of the same file ignores the third column
    assert convert(csv, tmp_path / "uw").edge_weight is None


def test_npz_source_streams_edges_and_node_data(tmp_path, edgelist):
    _, ei = edgelist
    n = N
    x = np.random.default_rng(0).standard_normal((n, 3)).astype(np.float32)
    y = np.arange(n) % 4
    train = np.zeros(n, bool)
    train[:10] = True
    for layout, arr in [("planar", ei.numpy()), ("pairs", np.ascontiguousarray(ei.numpy().T)),
                        ("fortran", np.asfortranarray(ei.numpy()))]:
        src = tmp_path / f"{layout}.npz"
        np.savez_compressed(src, edge_index=arr, num_nodes=np.array([n]), x=x, y=y,
                            train_mask=train, val_idx=np.array([20, 21]),
                            test_mask=~train)
        dg = convert(src, tmp_path / layout, symmetrize=True, dedup=True, memory="64KB",
                     chunk_edges=300, features_dtype="float16")
        _assert_same_csr(dg, CASES[(True, True)](ei), transpose=False)
        assert dg.features.dtype == np.float16
        assert np.allclose(dg.features, x, atol=1e-2)
        assert dg.labels.tolist() == y.tolist()
        assert dg.splits["train"].tolist() == list(range(10))
        assert dg.splits["val"].tolist() == [20, 21]
        assert dg.splits["test"].shape == (n - 10,)


def test_ogb_directory(tmp_path):
    root = tmp_path / "ogbn_toy"
    (root / "raw").mkdir(parents=True)
    (root / "split" / "time").mkdir(parents=True)

    def gz(path, text):
        with gzip.open(path, "wt") as f:
            f.write(text)

    gz(root / "raw" / "edge.csv.gz", "0,1\n1,2\n3,0\n")
    gz(root / "raw" / "num-node-list.csv.gz", "5\n")
    gz(root / "raw" / "num-edge-list.csv.gz", "3\n")
    gz(root / "raw" / "node-feat.csv.gz", "".join(f"{i}.0,{-i}.5\n" for i in range(5)))
    gz(root / "raw" / "node-label.csv.gz", "1\n0\nnan\n2\n1\n")
    for name, ids in (("train", "0\n1\n"), ("valid", "2\n"), ("test", "3\n4\n")):
        gz(root / "split" / "time" / f"{name}.csv.gz", ids)
    dg = convert(root, tmp_path / "out")
    assert dg.num_nodes == 5 and dg.indptr.tolist() == [0, 1, 2, 3, 3, 3]
    assert dg.indices.tolist() == [3, 0, 1]
    assert dg.features.tolist()[4] == [4.0, -4.5]
    assert dg.labels.tolist() == [1, 0, -1, 2, 1]
    assert {k: v.tolist() for k, v in dg.splits.items()} == {"train": [0, 1], "val": [2],
                                                             "test": [3, 4]}
    assert dg.meta["source"]["format"] == "ogb"
    gz(root / "raw" / "edge.csv.gz", "0,1\n1,7\n3,0\n")
    with pytest.raises(DiskGraphError, match=r"edge.csv.gz: edge 1 = \(1, 7\) has a node id "
                                             r"outside \[0, 5\)"):
        convert(root, tmp_path / "bad")


def test_bad_inputs_name_file_and_position(tmp_path):
    t = tmp_path / "e.txt"
    t.write_text("# header comment\n0 1\n\n2 -3\n")
    with pytest.raises(DiskGraphError, match=r"e.txt: line 4 \('2 -3'\): node id -3 is out of "
                                             r"range"):
        convert(t, tmp_path / "o")
    t.write_text("0 1\n1 9\n")
    with pytest.raises(DiskGraphError, match=r"line 2 .*node id 9 is out of range \[0, 5\)"):
        convert(t, tmp_path / "o", num_nodes=5)
    t.write_text("0 1\n1 x\n")
    with pytest.raises(DiskGraphError, match=r"e.txt: line 2 .*column 2 is not an integer"):
        convert(t, tmp_path / "o")
    t.write_text("0\n1\n")
    with pytest.raises(DiskGraphError, match=r"line 1 .*has 1 column"):
        convert(t, tmp_path / "o")
    b = tmp_path / "e.i64"
    np.array([0, 1, 2, 5, 1, 2], np.int64).tofile(b)
    with pytest.raises(DiskGraphError, match=r"e.i64: edge 1 \(byte offset 16\): node id 5 is "
                                             r"out of range \[0, 4\)"):
        convert(b, tmp_path / "o", num_nodes=4)
    with open(b, "ab") as f:
        f.write(b"\0\0\0")
    with pytest.raises(DiskGraphError, match=r"e.i64: 51 bytes is not a whole number of int64"):
        convert(b, tmp_path / "o")
    with pytest.raises(DiskGraphError, match="no such file"):
        convert(tmp_path / "missing.txt", tmp_path / "o")
    z = tmp_path / "bad.npz"
    z.write_bytes(b"not a zip")
    with pytest.raises(DiskGraphError, match="not a valid .npz"):
        convert(z, tmp_path / "o")
    np.savez(z, x=np.ones(3))
    with pytest.raises(DiskGraphError, match="no 'edge_index' array"):
        convert(z, tmp_path / "o")
    assert not (tmp_path / "o").exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_bad_arguments(tmp_path, edgelist):
    path, _ = edgelist
    with pytest.raises(ValueError, match="memory must be"):
        convert(path, tmp_path / "o", memory="lots")
    with pytest.raises(ValueError, match="reduce must be one of"):
        convert(path, tmp_path / "o", reduce="prod")
    with pytest.raises(ValueError, match="format must be one of"):
        convert(path, tmp_path / "o", format="parquet")
    with pytest.raises(DiskGraphError, match="memory budget 1024 bytes is too small"):
        convert(path, tmp_path / "o", memory=1024, chunk_edges=16)
    with pytest.raises(DiskGraphError, match="node 0 alone has .* incoming arcs"):
        convert(path, tmp_path / "o", num_nodes=N, memory="4KB", chunk_edges=16,
                symmetrize=True)
    convert(path, tmp_path / "o")
    with pytest.raises(DiskGraphError, match="already exists"):
        convert(path, tmp_path / "o")
    assert convert(path, tmp_path / "o", overwrite=True, dedup=True).meta["coalesced"]


def test_interrupted_conversion_leaves_nothing_valid(tmp_path, edgelist, monkeypatch):
    path, _ = edgelist
    kernels = convert_mod._kernels()
    real = kernels.compact
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:  # die in the middle of the bucket loop
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(kernels, "compact", failing)
    with pytest.raises(KeyboardInterrupt):
        convert(path, tmp_path / "g", num_nodes=N, memory="12KB", chunk_edges=128)
    assert len(calls) == 3
    assert sorted(os.listdir(tmp_path)) == []  # no dst, no temporary directory
    # Even if the temporary directory survives (a kill -9 skips the cleanup), it never opens:
    # meta.json is written last.
    calls.clear()
    monkeypatch.setattr(disk_format.DirWriter, "cleanup", lambda self: None)
    with pytest.raises(KeyboardInterrupt):
        convert(path, tmp_path / "g", num_nodes=N, memory="12KB", chunk_edges=128)
    (left,) = tmp_path.iterdir()
    assert left.name.startswith("g.tmp-") and (left / "indptr.npy").exists()
    with pytest.raises(DiskGraphError, match="incomplete write"):
        DiskGraph(left)
    assert not (tmp_path / "g").exists()


def test_parse_memory_and_detect_format(tmp_path):
    assert parse_memory("4GB") == 4 << 30 and parse_memory("512 MiB") == 512 << 20
    assert parse_memory("100") == 100 and parse_memory("2k") == 2048
    for bad in ("0", "-1GB", "4 parsecs", "", True):
        with pytest.raises(ValueError, match="memory must be"):
            parse_memory(bad)
    assert detect_format(tmp_path) == "ogb"
    assert [detect_format(f"a{s}") for s in (".i64", ".bin", ".bin32", ".csv", ".tsv.gz")] == [
        "int64", "int64", "int32", "text", "text"]


# ---------------------------------------------------------------- power-law generator
def test_generator_reproducible_regardless_of_chunks(tmp_path):
    n, e = 1000, 3 * BLOCK_EDGES // 2
    a = write_powerlaw_edgelist(tmp_path / "a.i32", n, e, seed=3, chunk_edges=1000)
    write_powerlaw_edgelist(tmp_path / "b.i32", n, e, seed=3, chunk_edges=1 << 20)
    write_powerlaw_edgelist(tmp_path / "c.i32", n, e, seed=4)
    write_powerlaw_edgelist(tmp_path / "p.i32", n, 1000, seed=3)
    raw = {k: (tmp_path / f"{k}.i32").read_bytes() for k in "abcp"}
    assert raw["a"] == raw["b"] and raw["a"] != raw["c"]
    assert raw["a"][:8000] == raw["p"]  # a shorter run is a prefix of a longer one
    assert a["bytes"] == len(raw["a"]) == e * 8 and a["dtype"] == "int32"
    pairs = np.frombuffer(raw["a"], np.int32).reshape(-1, 2)
    assert pairs.min() >= 0 and pairs.max() < n
    # power law: node 0 is the largest hub, far above the mean degree
    deg = np.bincount(pairs[:, 1], minlength=n)
    assert deg.argmax() == 0 and deg[0] > 20 * deg.mean()
    i64 = write_powerlaw_edgelist(tmp_path / "d.i64", n, 10, seed=3, dtype="int64")
    assert i64["bytes"] == 160
    assert np.array_equal(np.fromfile(tmp_path / "d.i64", np.int64), pairs[:10].ravel())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.i32", "b.i32", "c.i32", "d.i64",
                                                          "p.i32"]


def test_generator_edge_cases_and_errors(tmp_path):
    (s, d), = rmat_edges(1, 5, seed=0)
    assert s.tolist() == d.tolist() == [0] * 5
    assert list(rmat_edges(0, 0)) == []
    s, d = next(rmat_edges(3, 2000, seed=1))  # N not a power of two: rejection keeps ids < N
    assert s.max() == 2 and d.max() == 2 and s.min() == 0
    with pytest.raises(ValueError, match="num_nodes=0 cannot hold num_edges=3"):
        next(rmat_edges(0, 3))
    with pytest.raises(ValueError, match="num_edges must be a non-negative int, got -1"):
        next(rmat_edges(5, -1))
    with pytest.raises(ValueError, match="a \\+ b \\+ c <= 1"):
        next(rmat_edges(5, 1, a=0.5, b=0.5, c=0.5))
    with pytest.raises(ValueError, match="dtype=int32 cannot hold"):
        write_powerlaw_edgelist(tmp_path / "x", 2**31 + 1, 1, dtype="int32")
    assert list(tmp_path.iterdir()) == []


def test_powerlaw_graph():
    g = powerlaw_graph(500, 3000, seed=2)
    assert (g.num_nodes, g.num_edges, g.directed) == (500, 3000, True)
    blocks = list(rmat_edges(500, 3000, seed=2))
    ei = torch.from_numpy(np.stack([np.concatenate([b[i] for b in blocks]) for i in (0, 1)]))
    ref = Graph.from_edge_index(ei, num_nodes=500)
    assert torch.equal(g.indptr, ref.indptr) and torch.equal(g.indices, ref.indices)
    u = powerlaw_graph(500, 3000, seed=2, directed=False)
    ref = ref.to_undirected()
    assert not u.directed and torch.equal(u.indices, ref.indices)
    assert torch.equal(u.indptr, ref.indptr)


def test_csr_from_edges():
    src, dst = np.array([3, 0, 0, 2, 2]), np.array([0, 3, 3, 2, 1])
    indptr, indices = csr_from_edges(src, dst, 5)
    assert indptr.tolist() == [0, 1, 2, 3, 5, 5] and indices.tolist() == [3, 2, 2, 0, 0]
    assert indices.dtype == np.int32
    indptr, indices = csr_from_edges(src, dst, 5, symmetrize=True, dedup=True)
    ref = Graph.from_edge_index(torch.from_numpy(np.stack([src, dst])), num_nodes=5,
                                directed=False)
    assert indptr.tolist() == ref.indptr.tolist() and indices.tolist() == ref.indices.tolist()
    assert csr_from_edges(np.zeros(0, np.int64), np.zeros(0, np.int64), 0)[0].tolist() == [0]
    with pytest.raises(ValueError, match=r"edge 1: node id 5 is out of range \[0, 5\)"):
        csr_from_edges(np.array([0, 5]), np.array([1, 1]), 5)
    with pytest.raises(ValueError, match="1-D integer arrays of equal length"):
        csr_from_edges(np.array([0.5]), np.array([1]), 5)
