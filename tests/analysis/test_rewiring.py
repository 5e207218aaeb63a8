"""SDRF / BORF / FoSR: invariants of the edits and the quantity each method improves."""
import math

import numpy as np
import pytest
import torch

from gnnkit import Graph
from gnnkit.analysis import RewireResult, balanced_forman_curvature, borf, fosr, ollivier_ricci_curvature, sdrf, spectral_gap
from gnnkit.analysis.curvature import simple_graph


def und(edges, n=None):
    return Graph.from_edge_index(torch.tensor(edges, dtype=torch.long).T, num_nodes=n, directed=False)


def barbell(k=5, path=1):
    e = [(i, j) for i in range(k) for j in range(i + 1, k)]
    off = k + path
    e += [(off + i, off + j) for i in range(k) for j in range(i + 1, k)]
    chain = [k - 1] + [k + t for t in range(path)] + [off]
    e += list(zip(chain[:-1], chain[1:]))
    return und(e)


def edge_set(g):
    sg = simple_graph(g)
    return set(zip(sg.eu.tolist(), sg.ev.tolist()))


def check_edits(before: Graph, res: RewireResult):
    assert isinstance(res, RewireResult)
    assert res.added.dtype == torch.int64 and res.added.shape[0] == 2
    assert res.removed.shape[0] == 2
    assert res.graph.num_nodes == before.num_nodes and not res.graph.directed
    cur = edge_set(before)
    added = set(map(tuple, res.added.T.tolist()))
    removed = set(map(tuple, res.removed.T.tolist()))
    assert all(u < v for u, v in added | removed)
    # replay: each added edge was absent at its time; each removed edge was present
    for u, v in res.added.T.tolist():
        assert (u, v) not in edge_set(before)  # absent in the input
    assert (cur | added) - removed == edge_set(res.graph)
    assert removed <= cur | added


def test_sdrf_barbell_improves_bottleneck():
    g = barbell()
    res = sdrf(g, max_iterations=8, tau=5.0, seed=0)
    check_edits(g, res)
    assert res.added.shape[1] == 8 and res.removed.shape[1] == 0
    assert balanced_forman_curvature(res.graph).min() > balanced_forman_curvature(g).min()
    assert spectral_gap(res.graph) >= spectral_gap(g)


def test_sdrf_deterministic_and_greedy():
    g = barbell(4, 2)
    a = sdrf(g, max_iterations=5, seed=3)
    b = sdrf(g, max_iterations=5, seed=3)
    assert torch.equal(a.added, b.added) and torch.equal(a.removed, b.removed)
    greedy = sdrf(g, max_iterations=1, tau=float("inf"))
    # the greedy edit is the candidate with the largest curvature gain at the bottleneck
    assert greedy.added.shape == (2, 1)


def test_sdrf_removal_threshold():
    g = barbell()
    res = sdrf(g, max_iterations=4, tau=2.0, c_plus=0.5, seed=0)
    check_edits(g, res)
    assert res.removed.shape[1] == 4  # K5 edges have curvature 5/4 > 0.5
    none = sdrf(g, max_iterations=4, c_plus=10.0)
    assert none.removed.shape[1] == 0


# ---------------------------------------------------------------- SDRF against a pure-Python reference
def bf_reference(adj, i, j):
    """Balanced Forman curvature of i~j (Topping et al. 2022, Def. 1) from adjacency sets, by brute force."""
    si, sj = adj[i], adj[j]
    di, dj = len(si), len(sj)
    if min(di, dj) <= 1:
        return 0.0
    dmin, dmax = min(di, dj), max(di, dj)
    tri = len(si & sj)
    sq, gamma = 0, 0
    for a, b in ((i, j), (j, i)):
        for k in adj[a] - adj[b] - {b}:
            c = len({w for w in adj[k] & adj[b] if w != a and w not in adj[a]})
            if c:
                sq += 1
                gamma = max(gamma, c)
    val = 2.0 / di + 2.0 / dj - 2.0 + 2.0 * tri / dmax + tri / dmin  # same operations as the kernel
    if gamma > 0:
        val += sq / (gamma * dmax)
    return val


def sdrf_reference(edges, n, max_iterations, tau, c_plus, seed):
    """Algorithm 1 of Topping et al. with every curvature recounted from scratch in plain Python."""
    adj = {v: set() for v in range(n)}
    for u, v in edges:
        if u != v:
            adj[u].add(v)
            adj[v].add(u)
    rng = np.random.default_rng(seed)
    added, removed = [], []

    def ric_all():
        es = sorted((u, v) for u in adj for v in adj[u] if u < v)
        return es, [bf_reference(adj, u, v) for u, v in es]

    for _ in range(max_iterations):
        es, ric = ric_all()
        if not es:
            break
        e = int(np.argmin(ric))
        i, j = es[e]
        cands = []
        for k in [i] + sorted(adj[i]):
            for l in [j] + sorted(adj[j]):
                if k != l and l not in adj[k] and (l, k) not in cands:
                    cands.append((k, l))
        if cands:
            gain = []
            for k, l in cands:
                adj[k].add(l), adj[l].add(k)
                gain.append(bf_reference(adj, i, j) - ric[e])
                adj[k].discard(l), adj[l].discard(k)
            gain = np.array(gain)
            if math.isinf(tau):
                c = int(np.argmax(gain))
            else:
                z = tau * gain
                p = np.exp(z - z.max())
                c = int(rng.choice(p.size, p=p / p.sum()))
            k, l = cands[c]
            adj[k].add(l), adj[l].add(k)
            added.append((min(k, l), max(k, l)))
        if c_plus is not None:
            es, ric = ric_all()
            e = int(np.argmax(ric))
            if ric[e] > c_plus:
                u, v = es[e]
                adj[u].discard(v), adj[v].discard(u)
                removed.append((u, v))
    final = sorted((u, v) for u in adj for v in adj[u] if u < v)
    return added, removed, final


def random_edges(rng, n, p):
    return [(u, v) for u in range(n) for v in range(u + 1, n) if rng.random() < p]


@pytest.mark.parametrize("tau, c_plus", [(1.0, None), (5.0, 0.5), (100.0, 1.0), (float("inf"), 0.0)])
def test_sdrf_matches_reference(tau, c_plus):
    rng = np.random.default_rng(7)
    graphs = [[(i, i + 1) for i in range(7)], list(zip(*barbell(4, 2).edge_index.tolist()))]
    graphs += [random_edges(rng, int(rng.integers(3, 16)), float(rng.uniform(0.1, 0.6))) for _ in range(12)]
    for t, edges in enumerate(graphs):
        n = 1 + max(max(e) for e in edges) if edges else 3
        g = und(edges, n) if edges else Graph.empty(n)
        for seed in (0, 1):
            add_ref, rm_ref, final = sdrf_reference(edges, n, 12, tau, c_plus, seed)
            res = sdrf(g, max_iterations=12, tau=tau, c_plus=c_plus, seed=seed)
            assert res.added.T.tolist() == [list(e) for e in add_ref], (t, seed)
            assert res.removed.T.tolist() == [list(e) for e in rm_ref], (t, seed)
            assert sorted(edge_set(res.graph)) == final


def _check_candidates_against_recount(num_graphs: int, max_nodes: int, seed: int) -> int:
    """The incremental candidate scores equal a recount of BF(i, j) in G + kl, bit for bit, for every
    edge of ``num_graphs`` random graphs; returns the number of candidates checked."""
    from gnnkit.analysis._curvature_numba import bf_edge_value, sdrf_candidates

    def recount(edges, n, i, j, k, l):  # BF(i, j) of the graph rebuilt with the edge k~l
        sg2 = simple_graph(und(edges + [(k, l)], n))
        return bf_edge_value(i, j, sg2.indptr, sg2.indices)

    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(num_graphs):
        n = int(rng.integers(2, max_nodes))
        edges = random_edges(rng, n, float(rng.uniform(0.05, 0.7))) or [(0, 1)]
        sg = simple_graph(und(edges, n))
        adj = {v: set(sg.indices[sg.indptr[v]:sg.indptr[v + 1]].tolist()) for v in range(n)}
        for u, v in zip(sg.eu.tolist(), sg.ev.tolist()):
            for i, j in ((u, v), (v, u)):
                kk, ll, val = sdrf_candidates(i, j, sg.indptr, sg.indices)
                want = []
                for k in [i] + sorted(adj[i]):
                    for l in [j] + sorted(adj[j]):
                        if k != l and l not in adj[k] and (l, k) not in want:
                            want.append((k, l))
                assert list(zip(kk.tolist(), ll.tolist())) == want
                assert val.tolist() == [recount(edges, n, i, j, k, l) for k, l in want]
                checked += len(want)
    return checked


def test_sdrf_candidate_kernel_matches_recount():
    """Always-on variant of the exhaustive check below (a few graphs up to 16 nodes)."""
    assert _check_candidates_against_recount(num_graphs=8, max_nodes=16, seed=3) > 300


@pytest.mark.slow
def test_sdrf_candidate_kernel_matches_recount_exhaustive():
    """40 graphs up to 30 nodes (~160k rebuilt graphs, about a minute idle)."""
    assert _check_candidates_against_recount(num_graphs=40, max_nodes=30, seed=3) > 1000


def test_sdrf_local_update_matches_full_recount():
    """The curvatures kept up to date edge by edge equal a full recomputation after every edit."""
    from gnnkit.analysis.rewiring import _CurvedGraph

    rng = np.random.default_rng(11)
    n = 40
    hub = [(0, v) for v in range(1, n) if rng.random() < 0.6]  # a hub makes 2-hop updates large
    cg = _CurvedGraph(simple_graph(und(hub + random_edges(rng, n, 0.12), n)))
    for step in range(60):
        u, v = (int(x) for x in rng.choice(n, 2, replace=False))
        key = min(u, v) * n + max(u, v)
        if key in set(cg.keys.tolist()):
            cg.remove(u, v)
        else:
            cg.add(u, v)
        g = Graph.from_edge_index(torch.from_numpy(np.stack([cg.keys // n, cg.keys % n])), num_nodes=n,
                                  directed=False)
        sg = simple_graph(g)
        assert np.array_equal(cg.indptr, sg.indptr) and np.array_equal(cg.indices, sg.indices)
        assert np.array_equal(cg.ric, balanced_forman_curvature(sg, per_edge=True).numpy()), step


def test_fosr_increases_spectral_gap():
    for g in (und([(i, i + 1) for i in range(11)]), barbell()):
        res = fosr(g, num_iterations=4, seed=0)
        check_edits(g, res)
        assert res.added.shape[1] == 4 and res.removed.shape[1] == 0
        assert spectral_gap(res.graph) > spectral_gap(g)
    again = fosr(barbell(), num_iterations=4, seed=0)
    assert torch.equal(again.added, fosr(barbell(), num_iterations=4, seed=0).added)


def test_fosr_complete_graph_stops():
    k4 = und([(i, j) for i in range(4) for j in range(i + 1, 4)])
    res = fosr(k4, num_iterations=3)
    assert res.added.shape == (2, 0)


def test_borf_reduces_negative_edges():
    g = barbell(5, 2)
    k0 = ollivier_ricci_curvature(g, per_edge=True)
    assert int((k0 < -0.1).sum()) == 2  # the two bridge ends, -0.3 each
    one = borf(g, num_iterations=1, batch_add=2, batch_remove=1)
    check_edits(g, one)
    assert one.added.shape[1] == 2 and one.removed.shape[1] == 1
    k1 = ollivier_ricci_curvature(one.graph, per_edge=True)
    assert int((k1 < -0.1).sum()) < int((k0 < -0.1).sum())
    four = borf(g, num_iterations=4, batch_add=2, batch_remove=1)
    check_edits(g, four)
    k4 = ollivier_ricci_curvature(four.graph, per_edge=True)
    assert int((k4 < -0.1).sum()) == 0 and k4.min() > k0.min()


def test_directed_input_and_empty():
    d = Graph.from_edge_index(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))
    res = fosr(d, num_iterations=1)
    assert not res.graph.directed and res.added.shape == (2, 1)
    e = Graph.empty(4)
    assert sdrf(e, max_iterations=3).added.shape == (2, 0)
    assert borf(e).added.shape == (2, 0)


def test_bad_input():
    g = barbell()
    with pytest.raises(ValueError, match="tau must be > 0"):
        sdrf(g, tau=0)
    with pytest.raises(ValueError, match="max_iterations must be >= 0"):
        sdrf(g, max_iterations=-1)
    with pytest.raises(ValueError, match="batch_add must be >= 0"):
        borf(g, batch_add=-2)
    with pytest.raises(ValueError, match="num_iterations=-1"):
        fosr(g, num_iterations=-1)


def test_borf_keep_nodes_connected_never_isolates():
    """A star with a pendant path: the leaves' edges are the most positively curved, so plain
    BORF isolates leaves; with keep_nodes_connected no node loses its last edge, and exactly
    batch_remove edges are still removed per batch while candidates remain."""
    import torch
    from gnnkit import Graph

    src = [0] * 6 + [6, 7, 8]
    dst = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    g = Graph.from_edge_index(torch.tensor([src, dst]), num_nodes=10, directed=False)
    plain = borf(g, num_iterations=2, batch_add=1, batch_remove=2)
    assert (plain.graph.in_degree() == 0).any()  # the paper's algorithm isolates a leaf here
    safe = borf(g, num_iterations=2, batch_add=1, batch_remove=2, keep_nodes_connected=True)
    assert (safe.graph.in_degree() > 0).all()
    assert safe.removed.shape[1] == plain.removed.shape[1] == 4
