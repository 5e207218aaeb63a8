"""Negative sampler: exclusion, uniformity, dense rows, determinism, bad input, DiskGraph."""
import pytest
import torch

import gnnkit
from gnnkit.testing import admissible_negatives
from gnnkit.ops.negative_sampling import corrupt_edges, degree_weights, negative_sampling, sample_negatives


def _graph(n=50, m=200, seed=0, directed=True):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, m), generator=gen)
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n).coalesce()
    return g if directed else g.to_undirected()


def _arcs(g):
    src, dst = g.edge_index
    return set(zip(src.tolist(), dst.tolist()))


def test_global_strict_excludes_edges_and_self():
    g = _graph()
    neg = negative_sampling(g, 5000, seed=1)
    assert neg.shape == (2, 5000) and neg.dtype == torch.long
    arcs = _arcs(g)
    assert not any((u, v) in arcs for u, v in neg.t().tolist())
    assert bool((neg[0] != neg[1]).all())
    assert int(neg.min()) >= 0 and int(neg.max()) < 50


def test_global_uniform_over_non_edges():
    # 6 nodes, dense: the exact (count-weighted) path; every non-edge about equally often
    ei = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5], [1, 2, 3, 4, 0, 2, 3, 0, 5, 4, 5, 0]])
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=6)
    neg = negative_sampling(g, 60000, seed=3)
    allowed = admissible_negatives(g)
    keys, counts = torch.unique(neg[0] * 6 + neg[1], return_counts=True)
    got = {(int(k) // 6, int(k) % 6) for k in keys}
    assert got == allowed
    expect = 60000 / len(allowed)
    assert float((counts.double() - expect).abs().max()) < 6 * expect ** 0.5


def test_per_anchor_dense_rows_and_enumeration():
    # node 0 is linked to every node but 7: its only admissible negative is 7
    n = 10
    dst = torch.tensor([v for v in range(n) if v != 7])
    ei = torch.stack([torch.zeros_like(dst), dst])
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n)
    out = sample_negatives(g, torch.tensor([0, 0, 3]), 50, side="dst", seed=0)
    assert out.shape == (3, 50)
    assert bool((out[:2] == 7).all())
    assert bool((out[2] != 3).all())
    # side='src': sources u with no arc u -> 5; only node 0 links to 5
    src = sample_negatives(g, torch.tensor([5]), 200, side="src", seed=0)
    assert not bool((src == 0).any()) and not bool((src == 5).any())


def test_complete_graph_strict_raises_naming_the_problem():
    n = 5
    full = torch.tensor([[u for u in range(n) for v in range(n) if u != v],
                         [v for u in range(n) for v in range(n) if u != v]])
    g = gnnkit.Graph.from_edge_index(full, num_nodes=n)
    with pytest.raises(ValueError, match="complete"):
        negative_sampling(g, 3, seed=0)
    with pytest.raises(ValueError, match="anchor node 2 has no admissible"):
        sample_negatives(g, torch.tensor([2]), 1, seed=0)
    assert negative_sampling(g, 10, strict=False, seed=0).shape == (2, 10)


def test_bad_input():
    g = _graph()
    with pytest.raises(ValueError, match="'graph' has no nodes"):
        negative_sampling(gnnkit.Graph.empty(0), 3)
    with pytest.raises(IndexError, match="'anchors' entry 1 = 50"):
        sample_negatives(g, torch.tensor([0, 50]), 2)
    with pytest.raises(IndexError, match="'edge_index'"):
        corrupt_edges(g, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match="'num_samples'"):
        negative_sampling(g, -1)
    with pytest.raises(TypeError, match="integer"):
        sample_negatives(g, torch.tensor([0.5]))
    with pytest.raises(ValueError, match="distribution"):
        negative_sampling(g, 3, distribution="zipf")


def test_kernel_checks_before_memory():
    from gnnkit.ops._library import ops
    rowptr, col = torch.tensor([0, 1, 5]), torch.tensor([1, 0], dtype=torch.int32)
    with pytest.raises(ValueError, match=r"rowptr\[-1\]"):
        ops().negative_sample(rowptr, col, None, 3, 2, None, True, True, 0)
    with pytest.raises(IndexError, match=r"anchor\[0\] = 9"):
        ops().negative_sample(torch.tensor([0, 1, 2]), col, torch.tensor([9]), 1, 2, None, True, True, 0)
    with pytest.raises(ValueError, match="'weight' must be finite"):
        ops().negative_sample(torch.tensor([0, 1, 2]), col, None, 1, 2, torch.tensor([1.0, float("nan")]),
                              True, True, 0)
    with pytest.raises(ValueError, match="num_candidates"):
        ops().negative_sample(torch.tensor([0, 1, 2]), col, None, 1, 0, None, True, True, 0)


def test_deterministic_for_any_thread_count():
    g = _graph(200, 3000)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = negative_sampling(g, 20000, seed=7)
        b = corrupt_edges(g, g.edge_index, 3, seed=7)
        torch.set_num_threads(max(2, old))
        assert torch.equal(a, negative_sampling(g, 20000, seed=7))
        assert torch.equal(b, corrupt_edges(g, g.edge_index, 3, seed=7))
    finally:
        torch.set_num_threads(old)
    assert not torch.equal(a, negative_sampling(g, 20000, seed=8))


def test_degree_biased():
    # star: the hub has degree 20, the leaves 1: hub weight 20**0.75 ~ 9.5 vs leaves 1 each
    n = 21
    leaves = torch.arange(1, n)
    g = gnnkit.Graph.from_edge_index(torch.stack([torch.zeros(20, dtype=torch.long), leaves]),
                                     num_nodes=n).to_undirected()
    w = degree_weights(g)
    assert torch.allclose(w[0], torch.tensor(20.0, dtype=torch.float64) ** 0.75)
    neg = sample_negatives(g, torch.tensor([1] * 4000), 1, strict=False, distribution="degree", seed=0)
    frac = float((neg == 0).double().mean())
    assert abs(frac - 20 ** 0.75 / (20 ** 0.75 + 19)) < 0.03  # self (1) excluded: 19 other leaves
    strict = sample_negatives(g, torch.tensor([1] * 500), 1, distribution="degree", seed=0)
    assert not bool((strict == 0).any()) and not bool((strict == 1).any())


def test_disk_graph(tmp_path):
    from gnnkit.data.disk import DiskGraph, save_graph
    g = _graph(100, 800, directed=False)
    save_graph(tmp_path / "g", g)
    dg = DiskGraph.open(tmp_path / "g")
    assert torch.equal(negative_sampling(dg, 1000, seed=2), negative_sampling(g, 1000, seed=2))
    assert torch.equal(corrupt_edges(dg, g.edge_index[:, :50], 4, seed=2),
                       corrupt_edges(g, g.edge_index[:, :50], 4, seed=2))


def test_validation_memo_on_a_large_graph():
    # >= 1M entries: the full CSR check is remembered (csrc/memo.h) and skipped on the next call;
    # an in-place write (version counter) or a smaller id bound is checked in full again.
    from gnnkit.ops._library import ops

    n, deg = 1024, 1024
    rowptr = torch.arange(0, n * deg + 1, deg)
    col = torch.arange(deg).repeat(n)
    for _ in range(2):
        a, b = ops().negative_sample(rowptr, col, None, 64, 2 * deg, None, True, True, 0)
        assert bool((b >= deg).all())  # every id < deg is an edge of every row
    with pytest.raises(IndexError, match=r"col\[1000\] = 1000 is out of range \[0, 1000\)"):
        ops().negative_sample(rowptr, col, None, 1, 1000, None, True, True, 0)
    col[5] = 5000
    with pytest.raises(IndexError, match=r"col\[5\] = 5000 is out of range \[0, 2048\)"):
        ops().negative_sample(rowptr, col, None, 1, 2 * deg, None, True, True, 0)
