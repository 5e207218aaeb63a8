"""Curvatures against closed forms and brute-force implementations of the definitions."""
import itertools
import math

import numpy as np
import pytest
import scipy.sparse.csgraph as csgraph
import torch
from scipy.optimize import linprog

from gnnkit import Graph
from gnnkit.analysis import balanced_forman_curvature, curvature, forman_curvature, ollivier_ricci_curvature
from gnnkit.analysis.curvature import simple_graph


def und(edges, n=None):
    return Graph.from_edge_index(torch.tensor(edges, dtype=torch.long).reshape(-1, 2).T, num_nodes=n,
                                 directed=False)


def complete_edges(n):
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def random_edges(rng, n, p):
    return [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]


# ------------------------------------------------------------------ brute-force references
def brute_bf(n, edges):
    """Topping et al. 2022, Definition 1, written with Python sets."""
    nb = {v: set() for v in range(n)}
    for a, b in edges:
        nb[a].add(b)
        nb[b].add(a)
    out = {}
    for i, j in edges:
        di, dj = len(nb[i]), len(nb[j])
        if min(di, dj) == 1:
            out[(i, j)] = 0.0
            continue
        tri = nb[i] & nb[j]
        sq = {}
        for a, b in ((i, j), (j, i)):
            for k in nb[a] - nb[b] - {b}:
                ws = {w for w in (nb[k] & nb[b]) - nb[a] if w != a}
                if ws:
                    sq[(a, k)] = len(ws)
        val = 2 / di + 2 / dj - 2 + 2 * len(tri) / max(di, dj) + len(tri) / min(di, dj)
        if sq:
            val += len(sq) / (max(sq.values()) * max(di, dj))
        out[(i, j)] = val
    return out


def brute_orc(n, edges, alpha, only=None):
    """1 - W1(m_i, m_j) with the full transport LP (scipy HiGHS) on the full measures
    (for the edges ``only``, default all)."""
    a = np.zeros((n, n))
    for u, v in edges:
        a[u, v] = a[v, u] = 1
    dist = csgraph.shortest_path(a, unweighted=True)
    out = {}
    for u, v in (edges if only is None else only):
        def meas(x):
            m = np.zeros(n)
            m[x] = alpha
            nbr = np.flatnonzero(a[x])
            m[nbr] += (1 - alpha) / nbr.size
            return m
        mu, mv = meas(u), meas(v)
        i, j = np.flatnonzero(mu > 0), np.flatnonzero(mv > 0)
        k, l = i.size, j.size
        aeq = np.zeros((k + l, k * l))
        for r in range(k):
            aeq[r, r * l:(r + 1) * l] = 1
        for c in range(l):
            aeq[k + c, c::l] = 1
        res = linprog(dist[np.ix_(i, j)].ravel(), A_eq=aeq, b_eq=np.r_[mu[i], mv[j]], bounds=(0, None),
                      method="highs")
        out[(u, v)] = 1 - res.fun
    return out


def per_edge(fn, g, **kw):
    sg = simple_graph(g)
    vals = fn(g, per_edge=True, **kw).numpy()
    return {(int(a), int(b)): float(v) for a, b, v in zip(sg.eu, sg.ev, vals)}


# ------------------------------------------------------------------ balanced Forman
@pytest.mark.parametrize("n", [3, 4, 7])
def test_bf_complete_graph(n):
    bf = balanced_forman_curvature(und(complete_edges(n)))
    assert torch.allclose(bf, torch.full_like(bf, n / (n - 1)))


@pytest.mark.parametrize("n,value", [(4, 1.0), (5, 0.0), (8, 0.0)])
def test_bf_cycles(n, value):
    bf = balanced_forman_curvature(und([(i, (i + 1) % n) for i in range(n)]))
    assert torch.allclose(bf, torch.full_like(bf, value))


def test_bf_tree():
    # spider: center 0 with 3 arms of length 2 plus extra leaves
    edges = [(0, 1), (0, 2), (0, 3), (1, 4), (2, 5), (3, 6), (4, 7), (4, 8)]
    deg = np.bincount(np.array(edges).ravel())
    got = per_edge(balanced_forman_curvature, und(edges))
    for (a, b), v in got.items():
        expect = 0.0 if min(deg[a], deg[b]) == 1 else 2 / deg[a] + 2 / deg[b] - 2
        assert v == pytest.approx(expect), (a, b)
    assert got[(0, 1)] == pytest.approx(2 / 3 + 1 - 2)


@pytest.mark.parametrize("seed", range(4))
def test_bf_random_against_definition(seed):
    rng = np.random.default_rng(seed)
    n = 14
    edges = random_edges(rng, n, 0.3)
    ref = brute_bf(n, edges)
    got = per_edge(balanced_forman_curvature, und(edges, n=n))
    for e, v in ref.items():
        assert got[e] == pytest.approx(v, abs=1e-12), e


# ------------------------------------------------------------------ Forman
def test_forman_and_augmented():
    g = und(complete_edges(4) + [(3, 4)])
    f = per_edge(forman_curvature, g, augmented=False)
    af = per_edge(forman_curvature, g)
    assert f[(0, 1)] == 4 - 3 - 3 and af[(0, 1)] == 4 - 3 - 3 + 3 * 2
    assert f[(3, 4)] == 4 - 4 - 1 and af[(3, 4)] == f[(3, 4)]
    assert torch.equal(curvature(g, "augmented_forman"), forman_curvature(g))


# ------------------------------------------------------------------ Ollivier-Ricci
@pytest.mark.parametrize("n", [3, 5, 8])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_orc_complete_graph(n, alpha):
    # W1 moves only the net mass alpha - (1 - alpha)/(n - 1) of x to y (if positive)
    d = n - 1
    w1 = abs(alpha - (1 - alpha) / d)
    k = ollivier_ricci_curvature(und(complete_edges(n)), alpha=alpha)
    assert torch.allclose(k, torch.full_like(k, 1 - w1))


@pytest.mark.parametrize("n", [4, 5, 6, 9])
def test_orc_cycle_against_linprog(n):
    edges = [(i, i + 1) for i in range(n - 1)] + [(0, n - 1)]
    ref = brute_orc(n, edges, 0.5)
    got = per_edge(ollivier_ricci_curvature, und(edges))
    for e, v in ref.items():
        assert got[e] == pytest.approx(v, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_orc_random_against_linprog(seed):
    rng = np.random.default_rng(seed)
    n = 12
    edges = random_edges(rng, n, 0.35)
    alpha = [0.5, 0.0, 0.25, 0.9, 0.5][seed]
    ref = brute_orc(n, edges, alpha)
    g = und(edges, n=n)
    for kw in ({}, {"max_bitset_bytes": 0}):  # bitset path and 2-hop marking path
        got = per_edge(ollivier_ricci_curvature, g, alpha=alpha, **kw)
        for e, v in ref.items():
            assert got[e] == pytest.approx(v, abs=1e-9), (e, kw)
    sk, exact = ollivier_ricci_curvature(g, alpha=alpha, method="sinkhorn", per_edge=True, return_exact=True)
    refv = np.array([ref[e] for e in per_edge(ollivier_ricci_curvature, g, alpha=alpha)])
    assert not exact.any()
    # rounded Sinkhorn plan: feasible, so W1 is over-estimated (kappa under-estimated), by < reg*log(mn)
    assert np.all(sk.numpy() <= refv + 1e-9)
    assert np.all(refv - sk.numpy() <= 0.01 * math.log(n * n) + 1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.8])
def test_orc_trees_and_degree_one(alpha):
    # double star: u = 0 with 3 leaves, v = 1 with 5 leaves; plus a pendant path (degree-1 nodes)
    edges = [(0, 1)] + [(0, 2 + k) for k in range(3)] + [(1, 5 + k) for k in range(5)] + [(9, 10), (10, 11)]
    got = per_edge(ollivier_ricci_curvature, und(edges), alpha=alpha)
    if alpha == 0.0:  # Jost & Liu (2014), Thm. 3: on a tree edge kappa = -2 (1 - 1/d_u - 1/d_v)_+
        assert got[(0, 1)] == pytest.approx(-2 * (1 - 1 / 4 - 1 / 6), abs=1e-12)
        assert got[(9, 10)] == pytest.approx(0.0, abs=1e-12)  # degrees 1 and 2
    ref = brute_orc(12, edges, alpha)
    for e, v in ref.items():
        assert got[e] == pytest.approx(v, abs=1e-9), e


@pytest.mark.parametrize("seed", range(2))
def test_orc_global_and_local_layouts_agree_bitwise(seed):
    # several 64-bit words of sinks, hubs (dense neighbourhoods), leaves, triangles: the one exact
    # solver on the graph's bitsets (default), on local bitsets with the 2-hop bitset, and on local
    # bitsets from 2-hop marks gives bit-identical values (the local layout keeps the scan order)
    rng = np.random.default_rng(seed)
    n = 180
    edges = set(tuple(sorted(e)) for e in rng.integers(0, n, (700, 2)).tolist() if e[0] != e[1])
    edges |= {(0, k) for k in range(1, n, 2)} | {(1, k) for k in range(2, n, 3)}  # two hubs
    g = und(sorted(edges), n=n)
    r2_only = n * ((n + 63) // 64) * 8  # the 2-hop bitset fits, the fast path's extra bitsets do not
    for alpha in (0.5, 0.1):
        fast = ollivier_ricci_curvature(g, alpha=alpha, method="exact", per_edge=True)
        for cap in (0, r2_only):
            local = ollivier_ricci_curvature(g, alpha=alpha, method="exact", per_edge=True, max_bitset_bytes=cap)
            assert torch.equal(fast, local), (alpha, cap)
    sub = [e for e in sorted(edges) if 0 in e][:6] + [e for e in sorted(edges) if 0 not in e][:6]
    ref = brute_orc(n, sorted(edges), 0.5, only=sub)
    got = per_edge(ollivier_ricci_curvature, g)
    for e in sub:
        assert got[e] == pytest.approx(ref[e], abs=1e-9), e


def test_orc_auto_switches_to_sinkhorn():
    g = und(complete_edges(6) + [(5, 6), (6, 7)])
    k, exact = ollivier_ricci_curvature(g, exact_max_pairs=1, return_exact=True)
    kk = ollivier_ricci_curvature(g, method="exact")
    assert exact.numel() == g.num_edges and not bool(exact.all())
    assert torch.allclose(k[exact], kk[exact])


def test_arc_alignment_self_loops_duplicates_directed():
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 2, 2, 2, 0, 0]])  # duplicate 1->2, self loop 2->2, directed
    g = Graph.from_edge_index(ei)
    bf = balanced_forman_curvature(g)
    orc = ollivier_ricci_curvature(g)
    ea = g.edge_index
    loop = ea[0] == ea[1]
    assert bf.shape == (6,) and int(loop.sum()) == 1
    assert torch.isnan(bf[loop]).all() and torch.isnan(orc[loop]).all()
    assert not torch.isnan(bf[~loop]).any() and not torch.isnan(orc[~loop]).any()
    dup = ((ea[0] == 1) & (ea[1] == 2)).nonzero().view(-1)
    assert dup.numel() == 2 and bf[dup[0]] == bf[dup[1]]
    ref = per_edge(balanced_forman_curvature, und([(0, 1), (1, 2), (0, 2), (0, 3)]))
    for k in range(6):
        a, b = int(ea[0, k]), int(ea[1, k])
        if a != b:
            assert bf[k].item() == pytest.approx(ref[(min(a, b), max(a, b))])


def test_empty_and_isolated():
    g = Graph.empty(3)
    assert balanced_forman_curvature(g).numel() == 0
    assert ollivier_ricci_curvature(g).numel() == 0
    assert forman_curvature(g).numel() == 0
    # an isolated node does not disturb the rest
    k = ollivier_ricci_curvature(und([(0, 1)], n=3))
    assert torch.allclose(k, torch.ones(2, dtype=torch.float64))  # single edge: both walks swap mass


def test_bad_input():
    g = und([(0, 1)])
    with pytest.raises(ValueError, match="alpha must be in"):
        ollivier_ricci_curvature(g, alpha=1.5)
    with pytest.raises(ValueError, match="method='lp'"):
        ollivier_ricci_curvature(g, method="lp")
    with pytest.raises(ValueError, match="sinkhorn_reg must be > 0"):
        ollivier_ricci_curvature(g, sinkhorn_reg=0)
    with pytest.raises(ValueError, match="method='ricci'"):
        curvature(g, "ricci")
