"""Node reorderings: valid permutations, P A P^T, round trip to the original ids, locality,
DiskGraph / CLI with the permutation stored."""
import numpy as np
import pytest
import torch

import gnnkit
from gnnkit.reorder import Reordering, load_reordering, reorder_disk

pytestmark = pytest.mark.usefixtures("one_thread")


def random_graph(n=300, e=2000, seed=0, weighted=False, undirected=True):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    w = torch.rand(e, generator=gen) if weighted else None
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n, edge_weight=w)
    return g.to_undirected() if undirected else g


def arcs(g, w=None):
    ei = g.edge_index.t().tolist()
    ws = [None] * len(ei) if g.edge_weight is None else g.edge_weight.tolist()
    return sorted((s, d, x) for (s, d), x in zip(ei, ws))


METHODS = ["rcm", "degree", "rabbit"] + (["metis"] if __import__("importlib").util.find_spec("pymetis") else [])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("undirected", [True, False])
def test_reorder_is_P_A_Pt_and_results_map_back(method, undirected):
    g = random_graph(weighted=True, undirected=undirected)
    g2, r = g.reorder(method, **({"num_parts": 8} if method == "metis" else {}))
    assert torch.equal(r.perm.sort().values, torch.arange(g.num_nodes))
    assert torch.equal(r.inverse[r.perm], torch.arange(g.num_nodes))
    # arc (u -> v, w) becomes (inv[u] -> inv[v], w); rows stay sorted (Graph validates)
    mapped = sorted((int(r.inverse[s]), int(r.inverse[d]), w) for s, d, w in arcs(g))
    assert arcs(g2) == mapped
    gnnkit.Graph(g2.indptr, g2.indices, edge_weight=g2.edge_weight, directed=g2.directed)
    x = torch.randn(g.num_nodes, 4, dtype=torch.float64)
    out = gnnkit.ops.spmm(g2, r.nodes(x))
    torch.testing.assert_close(r.original(out), gnnkit.ops.spmm(g, x))
    train = torch.tensor([5, 17, 250])
    assert torch.equal(r.original_ids(r.ids(train)), train)
    mask = torch.zeros(g.num_nodes, dtype=torch.bool)
    mask[train] = True
    assert torch.equal(r.perm[r.ids(mask)].sort().values, train)


def bandwidth(g):
    ei = g.edge_index
    return int((ei[0] - ei[1]).abs().max())


def test_rcm_and_degree_orders_hand_checked():
    # a path 0-1-...-49 under a random numbering: RCM gives bandwidth 1
    n = 50
    lab = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    ei = torch.stack([lab[:-1], lab[1:]])
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n).to_undirected()
    assert bandwidth(g) > 1 and bandwidth(g.reorder("rcm")[0]) == 1
    # degree: hubs first, ties in id order
    star = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 2, 3, 0], [3, 3, 3, 2, 2]]))
    assert star.reorder("degree")[1].perm.tolist() == [3, 2, 0, 1]


def test_rabbit_puts_communities_together():
    # 6 cliques of 8 nodes, one arc pair between consecutive cliques, ids shuffled
    k, c = 8, 6
    blocks = [(i * k + a, i * k + b) for i in range(c) for a in range(k) for b in range(k) if a != b]
    blocks += [(i * k, ((i + 1) % c) * k + 1) for i in range(c)]
    ei = torch.tensor(blocks).t()
    lab = torch.randperm(k * c, generator=torch.Generator().manual_seed(0))
    g = gnnkit.Graph.from_edge_index(lab[ei], num_nodes=k * c).to_undirected()
    _, r = g.reorder("rabbit")
    clique_of_new = (torch.argsort(lab)[r.perm] // k).tolist()  # clique of the node at each new id
    runs = [clique_of_new[i:i + k] for i in range(0, k * c, k)]
    assert all(len(set(run)) == 1 for run in runs), clique_of_new
    assert r.info["top_level_communities"] == c


def test_reorder_disk(tmp_path):
    from gnnkit.data.disk import DiskGraph, save_graph

    g = random_graph(n=200, e=900)
    x, y = torch.randn(200, 3), torch.arange(200) % 4
    save_graph(tmp_path / "g", g, features=x, labels=y, splits={"train": torch.arange(0, 200, 3)})
    r = reorder_disk(tmp_path / "g", tmp_path / "g2", "rabbit")
    d = DiskGraph(tmp_path / "g2")
    d.verify()
    r2 = load_reordering(tmp_path / "g2")
    assert isinstance(r2, Reordering) and torch.equal(r2.perm, r.perm) and r2.method == "rabbit"
    assert np.array_equal(d.features, x[r.perm].numpy()) and np.array_equal(d.labels, y[r.perm].numpy())
    assert torch.equal(r.perm[torch.from_numpy(np.asarray(d.splits["train"]))].sort().values,
                       torch.arange(0, 200, 3))
    assert load_reordering(tmp_path / "g") is None


@pytest.mark.slow  # the convert pipeline's numba kernels compile on a fresh cache
def test_cli_convert_reorder(tmp_path):
    from gnnkit.cli import main
    from gnnkit.data.disk import DiskGraph

    g = random_graph(n=200, e=900)
    src = tmp_path / "edges.txt"
    np.savetxt(src, g.edge_index.t().numpy(), fmt="%d")
    assert main(["data", "convert", str(src), str(tmp_path / "c"), "--reorder", "rcm", "--num-nodes", "200"]) == 0
    rc = load_reordering(tmp_path / "c")
    dc = DiskGraph(tmp_path / "c")
    assert rc.method == "rcm" and not (tmp_path / "c.unordered.tmp").exists()
    assert arcs(dc.graph()) == sorted((int(rc.inverse[s]), int(rc.inverse[d]), None) for s, d, _ in arcs(g))


def test_bad_input():
    g = random_graph(n=20, e=40)
    with pytest.raises(ValueError, match="method must be one of"):
        g.reorder("random")
    with pytest.raises(ValueError, match="must be a permutation"):
        Reordering(torch.tensor([0, 0, 1]))


def test_load_reordering_refuses_damaged_files(tmp_path):
    import json

    from gnnkit.data import DatasetError, save_graph

    save_graph(tmp_path / "g", random_graph(n=30, e=90))
    g = tmp_path / "g"
    perm = np.random.default_rng(0).permutation(30).astype("<i8")
    perm.tofile(g / "reorder_perm.i64")
    (g / "reorder.json").write_text(json.dumps({"method": "random", "num_nodes": 30}))
    assert torch.equal(load_reordering(g).perm, torch.from_numpy(perm))
    (g / "reorder_perm.i64").write_bytes(perm.tobytes() + b"\0")     # np.fromfile dropped this
    with pytest.raises(DatasetError, match="not a whole number of int64 entries"):
        load_reordering(g)
    perm[:29].tofile(g / "reorder_perm.i64")                           # another graph's permutation
    (g / "reorder.json").write_text(json.dumps({"method": "random", "num_nodes": 29}))
    with pytest.raises(DatasetError, match="29 entries, the DiskGraph .* has 30 nodes"):
        load_reordering(g)
    bad = perm.copy()
    bad[7] = bad[3]
    bad.tofile(g / "reorder_perm.i64")
    (g / "reorder.json").write_text(json.dumps({"method": "random", "num_nodes": 30}))
    with pytest.raises(DatasetError, match=r"perm\[7\] = \d+ repeats perm\[3\]"):
        load_reordering(g)
    (g / "reorder_perm.i64").unlink()
    with pytest.raises(DatasetError, match="interrupted reorder_disk"):
        load_reordering(g)
