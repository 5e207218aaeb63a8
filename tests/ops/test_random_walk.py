"""Random-walk engine: invariants, exact tiny cases, node2vec transition law, reproducibility."""
import numpy as np
import pytest
import torch

import gnnkit
from gnnkit.ops.random_walk import out_csr, ppr_monte_carlo, random_walk, restart_walk

scipy_stats = pytest.importorskip("scipy.stats")


def _arcs(g):
    return set(map(tuple, g.edge_index.t().tolist()))


def _random_graph(n=60, e=300, seed=0, directed=True):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    return gnnkit.Graph.from_edge_index(ei, num_nodes=n, directed=directed)


def _check_walks_follow_arcs(g, walks, start):
    arcs = _arcs(g)
    out_deg = g.out_degree()
    assert walks.dtype == torch.int64
    assert torch.equal(walks[:, 0], start)
    for row in walks.tolist():
        for a, b in zip(row[:-1], row[1:]):
            if a == -1:
                assert b == -1  # padding continues to the end
            elif b == -1:
                assert out_deg[a] == 0  # a walk only stops at a node without out-arcs
            else:
                assert (a, b) in arcs


@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.25, 4.0), (4.0, 0.25)])
@pytest.mark.parametrize("directed", [True, False])
def test_every_step_is_an_arc(p, q, directed):
    g = _random_graph(directed=directed)
    start = torch.arange(g.num_nodes).repeat(3)
    walks = random_walk(g, start, walk_length=12, p=p, q=q, seed=123)
    assert walks.shape == (start.numel(), 13)
    _check_walks_follow_arcs(g, walks, start)


def test_two_cycle_and_isolated_node_exact():
    # 0 <-> 1, node 2 isolated: walks alternate; the isolated node pads with -1 (documented).
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]]), num_nodes=3)
    walks = random_walk(g, torch.tensor([0, 1, 2]), walk_length=4, seed=7)
    assert walks.tolist() == [[0, 1, 0, 1, 0], [1, 0, 1, 0, 1], [2, -1, -1, -1, -1]]
    n2v = random_walk(g, torch.tensor([0, 2]), walk_length=3, p=0.3, q=5.0, seed=7)
    assert n2v.tolist() == [[0, 1, 0, 1], [2, -1, -1, -1]]
    rw = restart_walk(g, torch.tensor([2, 0]), walk_length=3, restart_prob=0.5, seed=7)
    assert rw[0].tolist() == [2, 2, 2, 2]  # restart at a node without out-arcs: stays at its start


def test_walks_follow_out_arcs_not_in_arcs():
    # a directed path 0 -> 1 -> 2: from 0 the only walk is 0, 1, 2, then the sink pads -1.
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    assert random_walk(g, torch.tensor([0, 2]), 3, seed=1).tolist() == [[0, 1, 2, -1], [2, -1, -1, -1]]


def test_empty_inputs():
    g = gnnkit.Graph.empty(0)
    assert random_walk(g, torch.zeros(0, dtype=torch.long), 5, seed=0).shape == (0, 6)
    g = gnnkit.Graph.empty(4)
    assert random_walk(g, None, 2, seed=0).tolist() == [[i, -1, -1] for i in range(4)]
    assert random_walk(g, torch.tensor([1]), 0, seed=0).tolist() == [[1]]


def test_self_loops_and_duplicate_arcs_are_uniform_over_arcs():
    # node 0 has arcs 0->0 and 0->1 twice: P(0 -> 1) = 2/3.
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 0, 0, 1], [0, 1, 1, 0]]), num_nodes=2)
    walks = random_walk(g, torch.zeros(30000, dtype=torch.long), 1, seed=5)
    frac = (walks[:, 1] == 1).double().mean().item()
    assert abs(frac - 2 / 3) < 0.015


def _node2vec_probs(adj, t, v, p, q):
    nbrs = sorted(adj[v])
    w = np.array([1 / p if x == t else (1.0 if x in adj[t] else 1 / q) for x in nbrs])
    return nbrs, w / w.sum()


@pytest.mark.parametrize("p,q", [(0.5, 2.0), (2.0, 0.5), (1.0, 1.0), (0.1, 10.0)])
def test_node2vec_transition_chi_square(p, q):
    # Undirected: 0-1, 0-2, 1-2, 1-3, 1-4, 3-4.  Condition on the first step 0 -> 1; the second
    # step from 1 goes back to 0 (1/p), to 2 (a neighbour of 0: 1) or to 3, 4 (1/q).
    edges = [(0, 1), (0, 2), (1, 2), (1, 3), (1, 4), (3, 4)]
    ei = torch.tensor(edges).t()
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=5, directed=False)
    adj = {i: set() for i in range(5)}
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    walks = random_walk(g, torch.zeros(120000, dtype=torch.long), 2, p=p, q=q, seed=2024)
    sel = walks[walks[:, 1] == 1]
    nbrs, probs = _node2vec_probs(adj, 0, 1, p, q)
    counts = np.array([(sel[:, 2] == x).sum().item() for x in nbrs])
    assert counts.sum() == sel.shape[0]
    res = scipy_stats.chisquare(counts, probs * counts.sum())
    assert res.pvalue > 1e-3, (counts, probs)


def test_node2vec_chi_square_on_random_graph_all_contexts():
    # Aggregate every (t, v) context of a random undirected graph into one goodness-of-fit test.
    g = _random_graph(n=12, e=40, seed=3, directed=False)
    adj = {i: set() for i in range(12)}
    for a, b in g.edge_index.t().tolist():
        adj[a].add(b)
    walks = random_walk(g, torch.arange(12).repeat(4000), 3, p=0.3, q=3.0, seed=99)
    trans = {}
    for row in walks[:, :3].tolist():
        if -1 in row:
            continue
        trans.setdefault((row[0], row[1]), []).append(row[2])
    obs, exp = [], []
    for (t, v), nxt in trans.items():
        if len(nxt) < 200:
            continue
        # a simple graph here (coalesced undirected): probabilities over the distinct neighbours
        nbrs, probs = _node2vec_probs(adj, t, v, 0.3, 3.0)
        c = np.array([nxt.count(x) for x in nbrs])
        obs.append(c)
        exp.append(probs * len(nxt))
    obs, exp = np.concatenate(obs), np.concatenate(exp)
    # Pearson statistic summed over contexts: chi2 with (categories - contexts) degrees of freedom
    stat = ((obs - exp) ** 2 / exp).sum()
    contexts = sum(1 for (t, v), nxt in trans.items() if len(nxt) >= 200)
    pval = scipy_stats.chi2.sf(stat, len(obs) - contexts)
    assert pval > 1e-3


def test_uniform_transition_chi_square():
    g = _random_graph(n=30, e=200, seed=1)
    start = torch.full((60000,), 4, dtype=torch.long)
    walks = random_walk(g, start, 1, seed=11)
    rowptr, col = out_csr(g)
    nbrs = col[rowptr[4]:rowptr[5]].tolist()
    assert nbrs, "node 4 needs out-arcs for this test"
    uniq = sorted(set(nbrs))
    exp = np.array([nbrs.count(u) for u in uniq], dtype=float) / len(nbrs) * start.numel()
    obs = np.array([(walks[:, 1] == u).sum().item() for u in uniq])
    assert scipy_stats.chisquare(obs, exp).pvalue > 1e-3


@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.5, 2.0)])
def test_thread_count_invariance(p, q):
    g = _random_graph(n=500, e=4000, seed=2, directed=False)
    start = torch.arange(500).repeat(8)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = random_walk(g, start, 20, p, q, seed=77)
        torch.set_num_threads(max(2, old))
        b = random_walk(g, start, 20, p, q, seed=77)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(a, b)
    c = restart_walk(g, start, 20, 0.2, seed=77)
    torch.set_num_threads(1)
    try:
        d = restart_walk(g, start, 20, 0.2, seed=77)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(c, d)


def test_seed_comes_from_torch_generator():
    g = _random_graph(directed=False)
    torch.manual_seed(5)
    a = random_walk(g, None, 8)
    torch.manual_seed(5)
    b = random_walk(g, None, 8)
    assert torch.equal(a, b)
    gen1 = torch.Generator().manual_seed(9)
    gen2 = torch.Generator().manual_seed(9)
    assert torch.equal(random_walk(g, None, 8, generator=gen1), random_walk(g, None, 8, generator=gen2))
    assert not torch.equal(random_walk(g, None, 8, seed=1), random_walk(g, None, 8, seed=2))
    # walk i depends only on (seed, i): a prefix of the start list gives a prefix of the walks
    full = random_walk(g, torch.arange(60), 8, seed=3)
    assert torch.equal(random_walk(g, torch.arange(30), 8, seed=3), full[:30])


def test_restart_walk_steps_are_arcs_or_restarts():
    g = _random_graph(n=40, e=120, seed=4)
    arcs = _arcs(g)
    start = torch.arange(40).repeat(5)
    walks = restart_walk(g, start, 30, restart_prob=0.3, seed=8)
    assert (walks >= 0).all()
    for s, row in zip(start.tolist(), walks.tolist()):
        for a, b in zip(row[:-1], row[1:]):
            assert (a, b) in arcs or b == s


def test_ppr_monte_carlo_matches_power_iteration():
    g = _random_graph(n=15, e=45, seed=6)
    n, alpha = 15, 0.2
    A = np.zeros((n, n))
    for a, b in g.edge_index.t().tolist():
        A[a, b] += 1
    out_deg = A.sum(1)
    P = np.where(out_deg[:, None] > 0, A / np.maximum(out_deg, 1)[:, None], 0.0)
    src = 3
    e = np.zeros(n)
    e[src] = 1
    dangling = out_deg == 0
    pi = e.copy()
    for _ in range(500):  # dangling mass restarts at the source
        pi = alpha * e + (1 - alpha) * (pi @ P + pi[dangling].sum() * e)
    est = ppr_monte_carlo(g, torch.tensor([src]), alpha, num_walks=400, walk_length=500, seed=1)[0].numpy()
    assert abs(est.sum() - 1) < 1e-9
    assert np.abs(est - pi).max() < 0.01


def test_bad_input():
    g = _random_graph()
    with pytest.raises(IndexError, match=r"start\[1\] = 60 is out of range"):
        random_walk(g, torch.tensor([0, 60]), 3, seed=0)
    with pytest.raises(IndexError, match="out of range"):
        random_walk(g, torch.tensor([-1]), 3, seed=0)
    with pytest.raises(ValueError, match="p must be a positive"):
        random_walk(g, None, 3, p=0.0)
    with pytest.raises(ValueError, match="q must be a positive"):
        random_walk(g, None, 3, q=-1.0)
    with pytest.raises(ValueError, match="walk_length"):
        random_walk(g, None, -1)
    with pytest.raises(ValueError, match="restart_prob"):
        restart_walk(g, None, 3, restart_prob=1.5)
    with pytest.raises(TypeError, match="integer node ids"):
        random_walk(g, torch.tensor([0.5]), 3)
    with pytest.raises(TypeError, match="gnnkit.Graph"):
        random_walk("not a graph", None, 3)


# ---------------------------------------------------------------------------------------------
# A pure-Python model of csrc/rng.h + csrc/random_walk.h (walk_one, used by the CUDA kernel):
# the CPU kernel (step-interleaved batches) must produce exactly the same walks.
M64 = (1 << 64) - 1


def _splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class _Xoshiro:
    def __init__(self, seed, stream):
        _, a = _splitmix(seed & M64)
        x = a ^ ((stream * 0xD1B54A32D192ED03 + 0x8CB92BA72F3D8DD7) & M64)
        x, _ = _splitmix(x)
        x ^= stream
        self.s = []
        for _ in range(4):
            x, z = _splitmix(x)
            self.s.append(z)

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53

    def below(self, n):
        m = self.next() * n
        lo = m & M64
        if lo < n:
            thresh = ((1 << 64) - n) % n
            while lo < thresh:
                m = self.next() * n
                lo = m & M64
        return m >> 64


def _walk_model(rp, col, start, L, p, q, seed, wid):
    g = _Xoshiro(seed, wid)
    inv_p, inv_q = 1 / p, 1 / q
    upper, lower = max(inv_p, 1.0, inv_q), min(inv_p, 1.0, inv_q)
    out, prev, cur = [start], -1, start
    for _ in range(L):
        lo, hi = rp[cur], rp[cur + 1]
        if hi == lo:
            return out + [-1] * (L + 1 - len(out))
        if (p == 1 and q == 1) or prev < 0:
            nxt = col[lo + g.below(hi - lo)]
        else:
            while True:
                x = col[lo + g.below(hi - lo)]
                u = g.uniform() * upper
                if u < lower:
                    break
                a = inv_p if x == prev else (1.0 if x in col[rp[prev]:rp[prev + 1]] else inv_q)
                if u < a:
                    break
            nxt = x
        prev, cur = cur, nxt
        out.append(cur)
    return out


@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.5, 2.0)])
def test_kernel_matches_reference_model(p, q):
    g = _random_graph(n=40, e=160, seed=12)
    rowptr, col = out_csr(g)
    rp, cl = rowptr.tolist(), col.tolist()
    start = torch.arange(40).repeat(2)  # 80 walks: several interleaved batches, one partial
    walks = random_walk(g, start, 6, p, q, seed=2**40 + 3)
    for i, s in enumerate(start.tolist()):
        assert walks[i].tolist() == _walk_model(rp, cl, s, 6, p, q, 2**40 + 3, i), i


# ------------------------------------------------------------------ validation memo (csrc/memo.h)
# A CSR with >= 2^20 entries in rowptr + col is checked in full (O(N + E)) once, then remembered
# while the very same tensors are unchanged (version counter); the kernels check every row / id
# they read, so a write behind torch's back still ends in a typed error where a walk reads it.
MEMO_N, MEMO_DEG = 1 << 18, 4  # 262,145 + 1,048,576 entries: above the 2^20 threshold
Z, A, B, D = 7, 100, 200, 300  # Z: self-loops only; A: every arc to B; B, D: corrupted below
WALK_MODES = {"uniform": (1.0, 1.0, 0.0), "node2vec": (0.5, 2.0, 0.0), "restart": (1.0, 1.0, 0.15),
              "saint": None}


def _memo_csr():
    gen = torch.Generator().manual_seed(5)
    rowptr = torch.arange(0, (MEMO_N + 1) * MEMO_DEG, MEMO_DEG, dtype=torch.int64)
    col = torch.randint(0, MEMO_N, (MEMO_N * MEMO_DEG,), generator=gen, dtype=torch.int64)
    col[Z * MEMO_DEG:(Z + 1) * MEMO_DEG] = Z
    col[A * MEMO_DEG:(A + 1) * MEMO_DEG] = B
    return rowptr, col


def _run(mode, rowptr, col, start, L=6):
    from gnnkit.ops._library import ops
    if WALK_MODES[mode] is None:
        return ops().saint_random_walk(rowptr, col, start, L, 11)
    p, q, r = WALK_MODES[mode]
    return ops().random_walk(rowptr, col, start, L, p, q, r, 11)


@pytest.mark.parametrize("mode", list(WALK_MODES))
def test_memo_in_place_torch_write_is_checked_again(mode):
    rowptr, col = _memo_csr()
    start = torch.randint(0, MEMO_N, (300,), generator=torch.Generator().manual_seed(1))
    a = _run(mode, rowptr, col, start)
    assert torch.equal(a, _run(mode, rowptr, col, start))  # second call: the memo skips the full pass
    col[MEMO_N * MEMO_DEG - 2] = MEMO_N + 5  # an untouched arc, but the version counter moved
    with pytest.raises(IndexError, match=rf"col\[{MEMO_N * MEMO_DEG - 2}\] = {MEMO_N + 5} is out of range"):
        _run(mode, rowptr, col, start)
    col[MEMO_N * MEMO_DEG - 2] = 0
    rowptr[B + 1] = -1
    with pytest.raises(ValueError, match=rf"rowptr is not a valid CSR offset array at row {B}"):
        _run(mode, rowptr, col, start)


@pytest.mark.parametrize("mode", list(WALK_MODES))
def test_memo_write_behind_torch_is_caught_where_it_is_read(mode):
    rowptr, col = _memo_csr()
    safe = torch.full((1000,), Z)
    start = safe.clone()
    start[490], start[505] = A, D  # walk 490 reaches row B at step 2, walk 505 reads row D at step 1
    _run(mode, rowptr, col, start)  # checked in full and remembered
    rowptr.numpy()[B + 1] = -1  # no version bump: the memo still says "checked"
    col.numpy()[D * MEMO_DEG:(D + 1) * MEMO_DEG] = -7
    assert bool((_run(mode, rowptr, col, safe) == Z).all())  # nothing read the damage: no error
    only_d = safe.clone()
    only_d[3] = D
    arcs_d = "|".join(str(D * MEMO_DEG + j) for j in range(MEMO_DEG))
    with pytest.raises(IndexError, match=rf"col\[({arcs_d})\] = -7 is out of range \[0, {MEMO_N}\)"):
        _run(mode, rowptr, col, only_d)
    # several walks fail: the error is the smallest failing walk's (490, bad row B, met at its
    # second step), not the first one met in the interleaved batches (505 fails at its first
    # step), for any thread count: 1000 walks split over 2 threads at 500, not a batch boundary
    threads = torch.get_num_threads()
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            with pytest.raises(ValueError, match=rf"rowptr is not a valid CSR offset array at row {B}: "
                                                 rf"rowptr\[{B}\] = {B * MEMO_DEG}, rowptr\[{B + 1}\] = -1"):
                _run(mode, rowptr, col, start)
    finally:
        torch.set_num_threads(threads)
