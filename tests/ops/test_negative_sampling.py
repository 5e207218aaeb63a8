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


def test_device_mismatch_is_a_value_error():
    # runs without a GPU: 'meta' tensors stand in for a second device; the device check comes first
    g = _graph()
    with pytest.raises(ValueError, match=r"sample_negatives: 'anchors' is on meta but the graph is on cpu"):
        sample_negatives(g, torch.tensor([0, 1], device="meta"), 2)
    with pytest.raises(ValueError, match=r"corrupt_edges: 'edge_index' is on meta but the graph is on cpu"):
        corrupt_edges(g, torch.zeros(2, 3, dtype=torch.long, device="meta"))


def test_unsorted_row_is_reported_in_strict_enumeration():
    # the CPU half of test_cuda_kernel_checks_match_cpu: a dense strict row must be sorted
    from gnnkit.ops._library import ops
    rp, col = torch.tensor([0, 2]), torch.tensor([1, 0])
    with pytest.raises(ValueError, match=r"the row containing col\[1\] is not"):
        ops().negative_sample(rp, col, torch.tensor([0]), 1, 3, None, True, True, 0)
    with pytest.raises(ValueError, match=r"the row containing col\[1\] is not"):
        ops().negative_sample(rp, col, None, 1, 2, None, True, True, 0)


# ------------------------------------------------------------------ CUDA (csrc/cuda/negative_sample_cuda.cu)
# These run only where a GPU is present (the CUDA kernel is compile-checked everywhere else by
# tests/test_cuda_sources.py).  With a GPU but an extension built without its CUDA kernels they
# fail with ExtensionError, on purpose: that build is broken for a GPU machine.
cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="no CUDA device: the CUDA negative sampler is only compile-checked here")


def _near_complete(n=6, missing=((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3), (2, 5))):
    # 22 of the 30 non-loop arcs, every node missing one out-arc: 2E + 2N > N^2, so global strict
    # sampling takes the count-weighted path
    pairs = [(u, v) for u in range(n) for v in range(n) if u != v and (u, v) not in missing]
    return gnnkit.Graph.from_edge_index(torch.tensor(pairs).t(), num_nodes=n)


@cuda
def test_cuda_strict_negatives_are_non_edges():
    g = _graph()
    gc = g.to("cuda")
    arcs = _arcs(g)
    for kw in ({}, {"distribution": "degree"}):  # pair rejection / count-weighted global paths
        neg = negative_sampling(gc, 5000, seed=1, **kw)
        assert neg.device == gc.device and neg.shape == (2, 5000) and neg.dtype == torch.long
        assert not any((u, v) in arcs for u, v in neg.t().tolist())
        assert bool((neg[0] != neg[1]).all())
        # per-anchor (citation2 style): [P, K], every (anchor, negative) a non-arc
        src, dst = g.edge_index
        out = corrupt_edges(gc, gc.edge_index, 3, seed=1, **kw)
        assert out.device == gc.device and out.shape == (g.num_edges, 3)
        assert not any((u, v) in arcs for u, row in zip(src.tolist(), out.tolist()) for v in row)
        out = corrupt_edges(gc, gc.edge_index, 2, side="src", seed=1, **kw)
        assert not any((u, v) in arcs for v, row in zip(dst.tolist(), out.tolist()) for u in row)
    # a dense row (node 0 linked to all but 7): the enumeration path returns its only negative
    n = 10
    d = torch.tensor([v for v in range(n) if v != 7])
    star = gnnkit.Graph.from_edge_index(torch.stack([torch.zeros_like(d), d]), num_nodes=n).to("cuda")
    out = sample_negatives(star, torch.tensor([0, 0, 3], device="cuda"), 50, seed=0)
    assert out.shape == (3, 50) and bool((out[:2] == 7).all()) and bool((out[2] != 3).all())


@cuda
def test_cuda_uniform_equals_cpu():
    # weight None: the CUDA kernel repeats the CPU kernel's draws from the same (seed, i) streams
    # (csrc/cuda/negative_sample_cuda.cu, header), so the outputs are equal, on every path
    g = _graph(200, 3000)
    gc = g.to("cuda")
    assert torch.equal(negative_sampling(gc, 20000, seed=7).cpu(), negative_sampling(g, 20000, seed=7))
    assert torch.equal(negative_sampling(gc, 2000, strict=False, seed=7).cpu(),
                       negative_sampling(g, 2000, strict=False, seed=7))
    for side in ("dst", "src"):
        assert torch.equal(corrupt_edges(gc, gc.edge_index, 3, side=side, seed=7).cpu(),
                           corrupt_edges(g, g.edge_index, 3, side=side, seed=7))
    h = _near_complete()
    assert torch.equal(negative_sampling(h.to("cuda"), 3000, seed=3).cpu(), negative_sampling(h, 3000, seed=3))
    anchors = torch.arange(6).repeat(20)
    assert torch.equal(sample_negatives(h.to("cuda"), anchors.cuda(), 4, seed=3).cpu(),
                       sample_negatives(h, anchors, 4, seed=3))


@cuda
def test_cuda_deterministic_for_a_seed():
    g = _graph(200, 3000).to("cuda")
    for kw in ({}, {"distribution": "degree"}):
        a = negative_sampling(g, 20000, seed=7, **kw)
        assert torch.equal(a, negative_sampling(g, 20000, seed=7, **kw))
        assert not torch.equal(a, negative_sampling(g, 20000, seed=8, **kw))
        b = corrupt_edges(g, g.edge_index, 3, seed=7, **kw)
        assert torch.equal(b, corrupt_edges(g, g.edge_index, 3, seed=7, **kw))


@cuda
def test_cuda_complete_graph_strict_raises():
    n = 5
    full = torch.tensor([[u for u in range(n) for v in range(n) if u != v],
                         [v for u in range(n) for v in range(n) if u != v]])
    g = gnnkit.Graph.from_edge_index(full, num_nodes=n).to("cuda")
    for kw in ({}, {"distribution": "degree"}):
        with pytest.raises(ValueError, match="the graph is complete"):
            negative_sampling(g, 3, seed=0, **kw)
        with pytest.raises(ValueError, match="anchor node 2 has no admissible"):
            sample_negatives(g, torch.tensor([4, 2, 2], device="cuda")[1:], 1, seed=0, **kw)
    assert negative_sampling(g, 10, strict=False, seed=0).shape == (2, 10)


@cuda
def test_cuda_distribution():
    # uniform corruption: anchor 0 of 20 nodes is linked to 1..4, so strict negatives are uniform
    # over the 15 others (self excluded); chi-square with 14 dof, P(X2 > 50) ~ 6e-6
    n, s = 20, 30000
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 0, 0, 0], [1, 2, 3, 4]]), num_nodes=n).to("cuda")
    out = sample_negatives(g, torch.zeros(s, dtype=torch.long, device="cuda"), 1, seed=5)
    counts = torch.bincount(out.view(-1), minlength=n).cpu().double()
    assert counts[:5].sum() == 0
    expect = s / 15
    assert float(((counts[5:] - expect) ** 2 / expect).sum()) < 50
    # the global pairs are uniform over the admissible pairs (count-weighted path)
    h = _near_complete()
    neg = negative_sampling(h.to("cuda"), 60000, seed=3).cpu()
    allowed = admissible_negatives(h)
    keys, counts = torch.unique(neg[0] * 6 + neg[1], return_counts=True)
    assert {(int(k) // 6, int(k) % 6) for k in keys} == allowed
    expect = 60000 / len(allowed)
    assert float((counts.double() - expect).abs().max()) < 6 * expect ** 0.5
    # degree-biased (inverse CDF on the device): the hub of a 21-node star, weight 20**0.75
    # against 19 other leaves of weight 1 (sd of the fraction ~ 0.0033)
    leaves = torch.arange(1, 21)
    star = gnnkit.Graph.from_edge_index(torch.stack([torch.zeros(20, dtype=torch.long), leaves]),
                                        num_nodes=21).to_undirected().to("cuda")
    neg = sample_negatives(star, torch.ones(20000, dtype=torch.long, device="cuda"), 1, strict=False,
                           distribution="degree", seed=0)
    assert abs(float((neg == 0).double().mean()) - 20 ** 0.75 / (20 ** 0.75 + 19)) < 0.02


@cuda
def test_cuda_kernel_checks_match_cpu():
    from gnnkit.ops._library import ops
    dev = "cuda"
    rp, col = torch.tensor([0, 1, 2], device=dev), torch.tensor([1, 0], dtype=torch.int32, device=dev)
    with pytest.raises(ValueError, match=r"rowptr\[-1\]"):
        ops().negative_sample(torch.tensor([0, 1, 5], device=dev), col, None, 3, 2, None, True, True, 0)
    with pytest.raises(IndexError, match=r"anchor\[0\] = 9"):
        ops().negative_sample(rp, col, torch.tensor([9], device=dev), 1, 2, None, True, True, 0)
    with pytest.raises(ValueError, match="'weight' must be finite"):
        ops().negative_sample(rp, col, None, 1, 2, torch.tensor([1.0, float("nan")], device=dev), True, True, 0)
    with pytest.raises(ValueError, match="num_candidates"):
        ops().negative_sample(rp, col, None, 1, 0, None, True, True, 0)
    with pytest.raises(ValueError, match=r"'anchor' is on cpu but 'rowptr' is on cuda"):
        ops().negative_sample(rp, col, torch.tensor([0]), 1, 2, None, True, True, 0)
    with pytest.raises(ValueError, match=r"'weight' is on cpu but 'rowptr' is on cuda"):
        ops().negative_sample(rp, col, None, 1, 2, torch.ones(2, dtype=torch.float64), True, True, 0)
    rp1, col1 = torch.tensor([0, 2], device=dev), torch.tensor([1, 0], device=dev)  # an unsorted row
    with pytest.raises(ValueError, match=r"the row containing col\[1\] is not"):
        ops().negative_sample(rp1, col1, torch.tensor([0], device=dev), 1, 3, None, True, True, 0)
    with pytest.raises(ValueError, match=r"the row containing col\[1\] is not"):
        ops().negative_sample(rp1, col1, None, 1, 2, None, True, True, 0)
    a, b = ops().negative_sample(rp, col, torch.tensor([0, 1], device=dev), 0, 2, None, True, True, 0)
    assert a.shape == b.shape == (2, 0) and a.device == rp.device
