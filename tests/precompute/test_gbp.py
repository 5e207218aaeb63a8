"""GBP bidirectional propagation: exactness at r_max = 0, the Hoeffding error bound over seeds,
determinism (threads, blocks, column splits), resumable memory-mapped output, DiskGraph input."""
import json

import numpy as np
import pytest
import torch

import gnnkit
from gnnkit.precompute import (
    gbp_error_bound,
    gbp_precompute,
    gbp_walk_matrix,
    gbp_weights,
    propagate_exact,
)


def _graph(n=300, e=1500, seed=0, directed=False):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    return gnnkit.Graph.from_edge_index(ei, num_nodes=n, directed=directed)


def _x(n, f, seed=0):
    return torch.randn(n, f, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _corner_graph():
    # isolated node 5, self loop at 0, duplicate arc 1->2, a node (4) without in-arcs
    ei = torch.tensor([[0, 0, 1, 1, 2, 3, 4, 2], [0, 1, 2, 2, 1, 2, 3, 3]])
    return gnnkit.Graph.from_edge_index(ei, num_nodes=6)


@pytest.mark.parametrize("r", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("weights", ["ppr", "heat", [0.3, -0.2, 0.5, 0.1]])
@pytest.mark.parametrize("directed", [False, True])
def test_rmax_zero_is_exact(r, weights, directed):
    g = _graph(directed=directed)
    x = _x(g.num_nodes, 7)
    tg = torch.arange(0, g.num_nodes, 3)
    L = 3
    est = gbp_precompute(g, x, tg, num_levels=L, r=r, weights=weights, r_max=0.0, num_walks=10, seed=1)
    ref = propagate_exact(g, x, L, r, weights, targets=tg)
    torch.testing.assert_close(est.double(), ref, atol=1e-5, rtol=1e-5)


def test_corner_cases_exact():
    g = _corner_graph()
    x = _x(6, 3)
    est = gbp_precompute(g, x, None, num_levels=4, r=0.5, r_max=0.0, num_walks=5, seed=0)
    ref = propagate_exact(g, x, 4, 0.5)
    torch.testing.assert_close(est.double(), ref, atol=1e-6, rtol=1e-6)
    # the isolated node keeps w_0 x (T has no entries in its row)
    torch.testing.assert_close(est[5].double(), 0.1 * x[5], atol=1e-7, rtol=1e-6)


def test_dense_oracle_for_propagate_exact():
    g = _corner_graph()
    x = _x(6, 2)
    A = torch.zeros(6, 6, dtype=torch.float64)
    for s, d in g.edge_index.t().tolist():
        A[d, s] += 1  # aggregation matrix: row = destination
    d = A.sum(1).clamp(min=1)
    r = 0.3
    T = d.pow(r - 1).unsqueeze(1) * A * d.pow(-r).unsqueeze(0)
    w = gbp_weights("heat", 3, t=2.0)
    ref = sum(w[l] * torch.linalg.matrix_power(T, l) @ x for l in range(4))
    torch.testing.assert_close(propagate_exact(g, x, 3, r, "heat", t=2.0), ref)


def test_tiny_rmax_with_walks_matches_exact():
    g = _graph(n=400, e=2400, seed=2)
    x = _x(400, 5, seed=2)
    tg = torch.arange(0, 400, 7)
    est = gbp_precompute(g, x, tg, num_levels=4, r=0.5, r_max=1e-9, num_walks=2000, seed=3)
    ref = propagate_exact(g, x, 4, 0.5, targets=tg)
    assert (est.double() - ref).abs().max() < 1e-5


def test_error_bound_holds_over_seeds():
    # Large r_max: most residue stays and the walks do the work; the Hoeffding radius must hold
    # for (much more than) a 1 - delta fraction of the entries over many seeds, and the estimator
    # must be unbiased (the mean over seeds is closer to the truth than one run).
    g = _graph(n=300, e=1800, seed=5)
    x = _x(300, 4, seed=5)
    tg = torch.arange(0, 300, 5)
    L, r, r_max, n_r, delta = 4, 0.5, 2e-3, 200, 0.05
    w = gbp_weights("ppr", L)
    ref = propagate_exact(g, x, L, r, targets=tg)
    bound = gbp_error_bound(g, x, r_max, n_r, w, r, delta, targets=tg)
    runs = torch.stack([gbp_precompute(g, x, tg, num_levels=L, r=r, r_max=r_max, num_walks=n_r, seed=s).double()
                        for s in range(20)])
    err = (runs - ref).abs()
    assert err.max() > 1e-4  # the walks matter in this regime (the test is not vacuous)
    frac = (err > bound + 1e-6).double().mean().item()
    assert frac <= delta, frac
    mean_err = (runs.mean(0) - ref).abs().mean()
    assert mean_err < 0.5 * err.mean()


def test_error_shrinks_with_rmax_and_walks():
    g = _graph(n=300, e=1800, seed=6)
    x = _x(300, 4, seed=6)
    tg = torch.arange(0, 300, 4)
    ref = propagate_exact(g, x, 4, 0.5, targets=tg)

    def err(r_max, n_r):
        return (gbp_precompute(g, x, tg, r_max=r_max, num_walks=n_r, seed=1).double() - ref).abs().mean()

    assert err(1e-4, 200) < err(1e-2, 200)
    assert err(1e-2, 5000) < err(1e-2, 50)


def test_walk_matrix_rows():
    g = _graph(n=100, e=600, seed=1)
    tg = torch.tensor([0, 5, 99])
    ptr, node, cnt = gbp_walk_matrix(g, tg, 3, 50, seed=4)
    assert ptr.numel() == 3 * 3 + 1
    in_deg = g.in_degree()
    for i in range(9):
        seg = slice(int(ptr[i]), int(ptr[i + 1]))
        assert torch.all(node[seg][1:] > node[seg][:-1])  # sorted, distinct
        assert int(cnt[seg].sum()) <= 50
    # step 1 from target s lands on an in-neighbour of s
    for i, s in enumerate(tg.tolist()):
        seg = slice(int(ptr[i * 3]), int(ptr[i * 3 + 1]))
        srcs = set(g.indices[g.indptr[s]:g.indptr[s + 1]].tolist())
        assert set(node[seg].tolist()) <= srcs
        assert int(cnt[seg].sum()) == (50 if in_deg[s] > 0 else 0)


def test_deterministic_across_threads_blocks_and_column_splits():
    g = _graph(n=500, e=3000, seed=7)
    x = _x(500, 20, seed=7)
    tg = torch.arange(0, 500, 3)
    kw = dict(num_levels=4, r=0.5, r_max=1e-3, num_walks=300, seed=11)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = gbp_precompute(g, x, tg, block_size=16, **kw)
        torch.set_num_threads(max(2, old))
        b = gbp_precompute(g, x, tg, block_size=3, **kw)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(a, b)
    c = torch.cat([gbp_precompute(g, x, tg, columns=slice(0, 9), **kw),
                   gbp_precompute(g, x, tg, columns=slice(9, 20), **kw)], 1)
    assert torch.equal(a, c)


def test_push_and_pull_levels_match_reference():
    # A tiny r_max makes every level a dense pull; r_max = 1e-2 keeps frontiers small (push).
    # On a directed graph the pushes read the transposed CSR; both paths must sum identically, so
    # float32 inputs produce identical outputs whichever mode a level picked.
    g = _graph(n=300, e=1200, seed=8, directed=True)
    x = _x(300, 6, seed=8)
    tg = torch.arange(300)
    for r_max in (1e-6, 1e-2):
        est = gbp_precompute(g, x, tg, r_max=r_max, num_walks=0, seed=0)
        # without walks, the estimate is the push-only part: check it against a NumPy re-run
        ref = _push_only_reference(g, x.numpy(), 4, 0.5, gbp_weights("ppr", 4).numpy(), r_max)
        np.testing.assert_allclose(est.numpy(), ref, atol=1e-6, rtol=1e-5)


def _push_only_reference(g, x, L, r, w, r_max):
    n = g.num_nodes
    deg = np.maximum(np.diff(g.indptr.numpy()), 1).astype(float)
    src, dst = g.edge_index.numpy()
    H = x * deg[:, None] ** -r
    thr = r_max * np.abs(H).sum(0)
    acc = w[0] * H
    for l in range(1, L + 1):
        act = np.abs(H) > thr
        Q = np.where(act, H, 0.0)
        nxt = np.zeros_like(H)
        np.add.at(nxt, dst, Q[src] / deg[dst, None])
        H = nxt
        acc = acc + w[l] * H
    return acc * deg[:, None] ** r


def test_resume_and_multi_process_columns(tmp_path):
    g = _graph(n=200, e=1000, seed=9)
    x = _x(200, 40, seed=9).float()
    tg = torch.arange(0, 200, 2)
    kw = dict(num_levels=3, r=0.4, r_max=1e-3, num_walks=100, seed=5, block_size=8)
    full = gbp_precompute(g, x, tg, **kw)
    out = tmp_path / "p.npy"
    # "process 1" does columns 0..16 (blocks [0,8), [8,16)), then stops
    part = gbp_precompute(g, x, tg, out=out, columns=slice(0, 16), **kw)
    assert part.shape == (100, 40)
    state = json.loads((tmp_path / "p.npy.state.json").read_text())
    assert state["done"] == [[0, 8], [8, 16]]
    # poison a finished block: a resumed run must skip it (not recompute)
    mm = np.load(out, mmap_mode="r+")
    mm[:, 0:8] = 123.0
    mm.flush()
    del mm
    res = gbp_precompute(g, x, tg, out=out, **kw)
    assert np.all(np.asarray(res[:, 0:8]) == 123.0)
    np.testing.assert_array_equal(np.asarray(res[:, 8:]), full.numpy()[:, 8:])
    state = json.loads((tmp_path / "p.npy.state.json").read_text())
    assert state["done"] == [[0, 8], [8, 16], [16, 24], [24, 32], [32, 40]]
    # the seed is stored: resuming with seed=None reuses it
    kw2 = dict(kw)
    kw2.pop("seed")
    again = gbp_precompute(g, x, tg, out=out, **kw2)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(res))
    # other parameters on resume: clear error
    with pytest.raises(ValueError, match="r_max"):
        gbp_precompute(g, x, tg, out=out, **dict(kw, r_max=1e-2))
    # resume=False starts over
    fresh = gbp_precompute(g, x, tg, out=out, resume=False, **kw)
    np.testing.assert_array_equal(np.asarray(fresh), full.numpy())


def test_diskgraph_and_memmap_features(tmp_path):
    from gnnkit.data.disk import save_graph

    g = _graph(n=150, e=700, seed=10)
    x = _x(150, 6, seed=10).float()
    dg = save_graph(tmp_path / "dg", g, features=x, transpose=True)
    tg = torch.arange(0, 150, 5)
    kw = dict(num_levels=3, r_max=1e-3, num_walks=50, seed=2)
    a = gbp_precompute(dg, None, tg, **kw)  # features from the DiskGraph's memory map
    b = gbp_precompute(g, x, tg, **kw)
    assert torch.equal(a, b)
    np.save(tmp_path / "x.npy", x.numpy())
    c = gbp_precompute(dg, str(tmp_path / "x.npy"), tg, **kw)
    assert torch.equal(a, c)


def test_bad_input():
    g = _graph(n=50, e=200)
    x = _x(50, 3)
    with pytest.raises(ValueError, match="edge weights"):
        gbp_precompute(g.with_edge_weight(torch.ones(g.num_edges)), x, None, seed=0)
    with pytest.raises(ValueError, match="r must be in"):
        gbp_precompute(g, x, None, r=1.5, seed=0)
    with pytest.raises(ValueError, match="r_max"):
        gbp_precompute(g, x, None, r_max=-1.0, seed=0)
    with pytest.raises(ValueError, match="num_walks"):
        gbp_precompute(g, x, None, num_walks=-5, seed=0)
    with pytest.raises(IndexError, match="node id 50"):
        gbp_precompute(g, x, torch.tensor([0, 50]), seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \[50, F\]"):
        gbp_precompute(g, x[:10], None, seed=0)
    with pytest.raises(ValueError, match="weights"):
        gbp_precompute(g, x, None, num_levels=2, weights=[1.0, 2.0], seed=0)
    with pytest.raises(ValueError, match="x is None"):
        gbp_precompute(g, None, None, seed=0)
    with pytest.raises(ValueError, match="columns"):
        gbp_precompute(g, x, None, columns=slice(0, 3, 2), seed=0)


def test_direct_and_folded_walk_corrections_agree():
    # Walks are keyed by (seed, target node, walk), so a target's estimate does not depend on the
    # other targets.  Three targets on 3000 nodes take the direct correction path; all nodes as
    # targets take the folded one (G buffers, float32): the shared rows must agree.
    g = _graph(n=3000, e=12000, seed=13)
    x = _x(3000, 5, seed=13)
    few = torch.tensor([5, 17, 2999])
    kw = dict(num_levels=4, r_max=5e-3, num_walks=40, seed=21)
    a = gbp_precompute(g, x, few, **kw)
    b = gbp_precompute(g, x, None, **kw)[few]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    ref = propagate_exact(g, x, 4, 0.5, targets=few)
    assert (a.double() - ref).abs().max() > 1e-6  # the walks were used (r_max left residue)


def test_target_chunks_and_page_release_do_not_change_the_result(tmp_path):
    # walk_memory=1 builds the walk matrix one target at a time, per block; release_pages=True
    # hands the pages of read-only maps back between phases: same streams, same sums, same bits.
    from gnnkit.data.disk import DiskGraph, save_graph

    g = _graph(n=400, e=2400, seed=14)
    x = _x(400, 10, seed=14).float()
    tg = torch.arange(0, 400, 3)
    kw = dict(num_levels=4, r_max=2e-3, num_walks=60, seed=8, block_size=4)
    a = gbp_precompute(g, x, tg, **kw)
    b = gbp_precompute(g, x, tg, walk_memory=1, **kw)
    assert torch.equal(a, b)
    save_graph(tmp_path / "dg", g)
    np.save(tmp_path / "x.npy", x.numpy())
    dg = DiskGraph(tmp_path / "dg", mmap_mode="r")
    xm = np.load(tmp_path / "x.npy", mmap_mode="r")
    c = gbp_precompute(dg, xm, tg, walk_memory=5000, release_pages=True, **kw)
    assert torch.equal(a, c)


def test_float16_and_strided_features():
    g = _graph(n=200, e=900, seed=15)
    x = _x(200, 6, seed=15).half()
    tg = torch.arange(0, 200, 4)
    kw = dict(num_levels=3, r_max=0.0, num_walks=5, seed=1)
    est = gbp_precompute(g, x, tg, **kw)
    ref = propagate_exact(g, x.double(), 3, 0.5, targets=tg)
    torch.testing.assert_close(est.double(), ref, atol=1e-5, rtol=1e-5)
    wide = torch.cat([x.float(), torch.randn(200, 3)], 1)  # columns 0..5 of a wider array
    est2 = gbp_precompute(g, wide, tg, columns=slice(0, 6), **kw)
    torch.testing.assert_close(est2, est, atol=0, rtol=0)


def test_kernel_argument_checks():
    from gnnkit.ops._library import ops

    g = _graph(n=30, e=100)
    x = _x(30, 2)
    w = gbp_weights("ppr", 2)
    tg = torch.tensor([0, 1])
    d, thr, rn, rv = ops().gbp_push(g.indptr, g.indices, x, tg, w, 0.5, 1e-2)
    S = ops().gbp_walk_matrix(g.indptr, g.indices, tg, 2, 10, 0)
    with pytest.raises(ValueError, match="residue levels"):
        ops().gbp_correct(g.indptr, x, tg, w, 0.5, thr, rn[:-1], rv[:-1], *S, 10)
    with pytest.raises(ValueError, match="thr"):
        ops().gbp_correct(g.indptr, x, tg, w, 0.5, thr[:1], rn, rv, *S, 10)
    with pytest.raises(ValueError, match="s_ptr"):
        ops().gbp_correct(g.indptr, x, tg[:1], w, 0.5, thr, rn, rv, *S, 10)
    bad = [t.clone() for t in rn]
    bad[1] = torch.tensor([5, 3])
    badv = [t.clone() for t in rv]
    badv[1] = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="sorted"):
        ops().gbp_correct(g.indptr, x, tg, w, 0.5, thr, bad, badv, *S, 10)
    with pytest.raises(ValueError, match="walk_memory"):
        gbp_precompute(g, x, None, walk_memory=0, seed=0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("r_max", [0.0, 1e-4])
def test_gbp_rejects_non_finite_features(bad, r_max):
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    x = torch.tensor([[1.0, 0.0], [2.0, bad], [2.0, 1.0]])
    with pytest.raises(ValueError, match=r"x\[1, 1\] = (nan|inf) is not finite"):
        gbp_precompute(g, x, torch.tensor([0, 2]), r_max=r_max, seed=0)
