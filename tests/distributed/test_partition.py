"""Partitioners, partition directories, the book, verification and the CLI (one process)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import gnnkit
from gnnkit.distributed import (PartitionBook, PartitionError, open_partition, partition_nodes,
                                partition_stats, verify_partitions, write_partitions)


def _graph(n=400, e=3000, seed=0, communities=4):
    """A symmetric graph with planted communities (so a good partitioner beats random)."""
    g = torch.Generator().manual_seed(seed)
    comm = torch.arange(n) % communities
    src = torch.randint(0, n, (e,), generator=g)
    same = torch.rand(e, generator=g) < 0.9
    # 90 % of arcs stay inside the source's community
    other = torch.randint(0, n // communities, (e,), generator=g) * communities + comm[src]
    dst = torch.where(same, other.clamp_max(n - 1), torch.randint(0, n, (e,), generator=g))
    ei = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    return gnnkit.Graph.from_edge_index(ei, num_nodes=n).to_undirected() if False else \
        gnnkit.Graph.from_edge_index(ei, num_nodes=n)


@pytest.fixture(scope="module")
def graph():
    return _graph()


@pytest.mark.parametrize("method", ["metis", "stream", "random"])
def test_methods_balance_nodes_and_seeds(graph, method):
    if method == "metis":
        pytest.importorskip("pymetis", reason="pymetis (gnnkit[distributed]) not installed")
    train = torch.arange(0, graph.num_nodes, 3)
    owner = partition_nodes(graph, 4, method, train_nodes=train, seed=1)
    assert owner.shape == (graph.num_nodes,) and owner.dtype == np.int32
    assert set(np.unique(owner)) == {0, 1, 2, 3}
    st = partition_stats(graph, owner, train)
    assert st["node_balance"] <= 1.1 and st["train_balance"] <= 1.15, st
    assert sum(st["part_nodes"]) == graph.num_nodes
    # edge-cut recount by brute force
    src, dst = graph.indices.long().numpy(), graph.dst_index().numpy()
    assert st["cut_arcs"] == int((owner[src] != owner[dst]).sum())


def test_locality_methods_cut_fewer_arcs_than_random(graph):
    pytest.importorskip("pymetis", reason="pymetis (gnnkit[distributed]) not installed")
    cut = {m: partition_stats(graph, partition_nodes(graph, 4, m))["edge_cut"] for m in ("metis", "stream", "random")}
    assert cut["metis"] < 0.6 * cut["random"] and cut["stream"] < cut["random"], cut


def test_bad_arguments(graph):
    with pytest.raises(ValueError, match="num_parts"):
        partition_nodes(graph, 0)
    with pytest.raises(ValueError, match="method"):
        partition_nodes(graph, 2, "kmeans")
    with pytest.raises(IndexError, match="train_nodes contains 400"):
        partition_nodes(graph, 2, "random", train_nodes=[1, 400])
    with pytest.raises(ValueError, match="exceeds"):
        partition_nodes(gnnkit.Graph.from_edge_index(torch.tensor([[0], [1]]), num_nodes=2), 3, "random")


@pytest.fixture(scope="module")
def parts(graph, tmp_path_factory):
    out = tmp_path_factory.mktemp("parts") / "p"
    x = torch.randn(graph.num_nodes, 5)
    y = torch.randint(0, 3, (graph.num_nodes,))
    owner = partition_nodes(graph, 3, "stream", train_nodes=torch.arange(200))
    book = write_partitions(graph, owner, out, features=x, labels=y,
                            splits={"train": torch.arange(200), "test": torch.arange(300, 400)}, method="stream")
    return out, book, x, y, owner


def test_written_parts_hold_exactly_the_graph(graph, parts):
    out, book, x, y, owner = parts
    assert verify_partitions(out, graph)["ok"]
    assert book.num_parts == 3 and book.num_nodes == graph.num_nodes
    seen = []
    for p in range(3):
        lp = open_partition(out, p, book)
        inner = lp.nodes[lp.inner_pos]
        assert torch.equal(inner, torch.from_numpy(np.flatnonzero(owner == p)))
        assert np.allclose(lp.features, x[inner].numpy()) and np.array_equal(lp.labels, y[inner].numpy())
        # every stored arc is the graph's arc at that CSR position
        dst_local = torch.repeat_interleave(torch.arange(lp.nodes.numel()), lp.rowptr[1:] - lp.rowptr[:-1])
        assert torch.equal(lp.nodes[lp.col.long()], graph.indices.long()[lp.eids])
        assert torch.equal(lp.nodes[dst_local], graph.dst_index()[lp.eids])
        assert set(lp.splits["train"].tolist()) == {v for v in range(200) if owner[v] == p}
        seen.append(lp.eids)
    assert torch.equal(torch.sort(torch.cat(seen)).values, torch.arange(graph.num_edges))


def test_refuses_other_graph_other_world_and_damage(graph, parts, tmp_path):
    out, book, *_ = parts
    with pytest.raises(PartitionError, match="holds 3 partitions, but the job asks for 2"):
        PartitionBook.open(out, num_parts=2)
    other = _graph(seed=5)
    with pytest.raises(PartitionError, match="another graph"):
        PartitionBook.open(out, graph=other)
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    f = bad / "part-1" / "eids.npy"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(PartitionError, match="checksum mismatch"):
        verify_partitions(bad)
    f.write_bytes(bytes(data[:-8]))
    with pytest.raises(PartitionError, match="truncated or replaced"):
        open_partition(bad, 1)
    (bad / "book.json").write_text("{not json")
    with pytest.raises(PartitionError, match="not valid JSON"):
        PartitionBook.open(bad)


def test_write_is_atomic(graph, tmp_path):
    owner = np.zeros(graph.num_nodes, dtype=np.int64)
    with pytest.raises(PartitionError, match="features has 3 rows"):
        write_partitions(graph, owner, tmp_path / "o", features=np.zeros((3, 2)))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PartitionError, match="owner"):
        write_partitions(graph, owner[:-1], tmp_path / "o")
    for name in ("../x", "nodes", "a/b"):
        with pytest.raises(PartitionError, match="cannot be a file name"):
            write_partitions(graph, owner, tmp_path / "o", splits={name: torch.arange(3)})
    assert list(tmp_path.iterdir()) == []


def test_cli_partition_and_verify(graph, tmp_path):
    from gnnkit.data import save_graph

    src = tmp_path / "g"
    save_graph(src, graph, features=torch.randn(graph.num_nodes, 4), labels=torch.randint(0, 2, (graph.num_nodes,)),
               splits={"train": torch.arange(100)})
    out = tmp_path / "parts"
    r = subprocess.run([sys.executable, "-m", "gnnkit", "data", "partition", str(src), str(out), "--parts", "2",
                        "--method", "random", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["parts"] == 2 and 0 < st["edge_cut"] < 1 and st["train_balance"] == 1.0
    r = subprocess.run([sys.executable, "-m", "gnnkit", "data", "verify", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "2 parts" in r.stdout, r.stderr


def test_metis_on_an_undirected_graph_with_loops_and_isolated_nodes():
    pytest.importorskip("pymetis", reason="pymetis (gnnkit[distributed]) not installed")
    ei = torch.randint(0, 90, (2, 600), generator=torch.Generator().manual_seed(1))
    ei = torch.cat([ei, ei.flip(0), torch.arange(5).repeat(2, 1)], 1)  # loops on 0..4, 90..99 isolated
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=100, directed=None)
    assert g.directed is False
    owner = partition_nodes(g, 2, "metis")
    as_directed = partition_nodes(gnnkit.Graph(g.indptr, g.indices, directed=True), 2, "metis")
    st = partition_stats(g, owner)
    assert st["node_balance"] <= 1.1 and st["edge_cut"] < 0.5
    # the symmetric shortcut sees the same adjacency as the A + A^T path
    assert st["cut_arcs"] == partition_stats(g, as_directed)["cut_arcs"]


def test_forged_books_and_parts_are_refused(parts, tmp_path):
    """Untrusted partition directories (the loader fuzz corpus has many more cases): each
    forgery keeps every checksum consistent, so only the structure checks can tell."""
    import hashlib
    import shutil

    from gnnkit.data import DatasetError

    out, book, *_ = parts

    def forged(edit):
        bad = tmp_path / f"bad{len(list(tmp_path.iterdir()))}"
        shutil.copytree(out, bad)
        meta = json.loads((bad / "book.json").read_text())
        for name in edit(bad, meta) or []:
            meta["files"][name] = {"bytes": (bad / name).stat().st_size,
                                   "blake2b": hashlib.blake2b((bad / name).read_bytes(), digest_size=16).hexdigest()}
        (bad / "book.json").write_text(json.dumps(meta))
        return bad

    def put(bad, name, a):
        np.save(bad / name, a)
        return [name]

    def inner_dup(bad, meta):
        a = np.load(bad / "inner.npy")
        v = np.flatnonzero(book.owner.numpy() == 0)[:2]
        a[v[1]] = a[v[0]]
        return put(bad, "inner.npy", a)

    def eids_shift(bad, meta):
        return put(bad, "part-1/eids.npy", np.load(bad / "part-1/eids.npy") + 1)

    def fingerprint(bad, meta):
        meta["fingerprint"] = "0" * 32

    def huge(bad, meta):
        meta["num_nodes"] = 2 ** 62

    def traversal(bad, meta):
        meta["files"]["../owner.npy"] = meta["files"].pop("owner.npy")

    def no_dtypes(bad, meta):  # a book written before dtypes were recorded still opens
        meta.pop("dtypes")

    def labels_as_float(bad, meta):  # same bytes, another dtype: refused (book.json records it)
        a = np.load(bad / "part-0/labels.npy")
        return put(bad, "part-0/labels.npy", a.view(np.float64))

    assert issubclass(PartitionError, DatasetError)
    assert verify_partitions(forged(no_dtypes))["ok"]
    with pytest.raises(PartitionError, match=r"labels.npy: dtype float64, expected int64"):
        open_partition(forged(labels_as_float), 0)
    with pytest.raises(PartitionError, match=r"inner\[\d+\] = \d+ repeats another node's entry in part 0"):
        PartitionBook.open(forged(inner_dup))
    with pytest.raises(PartitionError, match=r"eids\[0\] = \d+, expected global CSR position"):
        open_partition(forged(eids_shift), 1)
    with pytest.raises(PartitionError, match="is not the fingerprint of the graph the parts hold"):
        verify_partitions(forged(fingerprint))         # caught without the graph
    with pytest.raises(PartitionError, match="the parts' 'inner' add up to"):
        PartitionBook.open(forged(huge))
    with pytest.raises(PartitionError, match="not a file of this format"):
        PartitionBook.open(forged(traversal))
    shutil.move(str(forged(lambda b, m: None)), str(tmp_path / "P.tmp-1-ab"))
    with pytest.raises(PartitionError, match=r"P.tmp-1-ab beside it: an interrupted write_partitions"):
        PartitionBook.open(tmp_path / "P")


def test_resume_refuses_a_damaged_checkpoint(tmp_path):
    """A truncated or foreign ``last.pt`` stops the resume with a typed error (before any
    collective), instead of an unpickling error or a bad epoch."""
    from gnnkit.data import DatasetError
    from gnnkit.distributed.train import Resume

    ck = tmp_path / "last.pt"
    torch.save({"epoch": 2, "model": {}, "opt": {}, "fingerprint": "x", "world": 2}, ck)
    raw = ck.read_bytes()
    for damaged in (raw[: len(raw) // 2], b"junk"):
        ck.write_bytes(damaged)
        with pytest.raises(DatasetError, match="delete it to train from epoch 0"):
            Resume(tmp_path, book=None).on_fit_start(None)
    torch.save({"epoch": -1, "model": {}, "opt": {}}, ck)
    with pytest.raises(DatasetError, match="not a checkpoint of this trainer"):
        Resume(tmp_path, book=None).on_fit_start(None)
