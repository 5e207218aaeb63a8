r"""Synthetic expressivity datasets: EXP, SR25 and substructure counting, generated reproducibly.

**EXP** (Abboud, Ceylan, Grohe & Lukasiewicz, IJCAI 2021, "The Surprising Power of Graph Neural
Networks with Random Node Initialization", `arXiv:2010.01179 <https://arxiv.org/abs/2010.01179>`_):
pairs of graphs encoding CNF formulas (a node per literal :math:`x`, :math:`\neg x` and per
clause; edges literal-clause for membership and :math:`x - \neg x`; node feature 0 = clause,
1 = literal), one satisfiable (label 1) and one not (label 0), 1-WL indistinguishable.  Each
pair is a shared random satisfiable *base* formula plus one of the two **core** formulas of the
authors' ``GraphGen.py``, built exactly as there: with :math:`L = 2\,\mathrm{randint}(2, 4)`
variables, the UNSAT core is one implication chain :math:`(\neg v_i \vee v_{i+1 \bmod L})` over
all :math:`L` variables, the SAT core two chains of :math:`L/2` (the second one reversed), and
both get the same "bridge" clauses :math:`(v_a \vee v_b), (\neg v_a \vee \neg v_b)` pairing
:math:`a` with its mirror (:func:`_bridge_index`).  **Simplification (named):** the base formula
of the paper is a random *planar* bipartite graph from ``plantri`` (12 or 15 nodes, clause widths
2-5, every variable in at least two clauses) with random signs, kept when satisfiable; plantri is
not available, so the base here is a random bipartite variable-clause graph with the same sizes
and width limits, not necessarily planar (satisfiability checked by exhaustive assignment).
The 1-WL indistinguishability of every pair and the (un)satisfiability are tested.

**SR25**: strongly regular graphs with parameters :math:`(25, 12, 5, 6)`, generated as the
Latin-square graphs :math:`L_3(5)` of the two main classes of Latin squares of order 5 (cells
adjacent when they share a row, a column or a symbol: :math:`k = 3 \cdot 4`,
:math:`\lambda = 3 + 2`, :math:`\mu = 6`), their complements (same parameters) and the Paley
graph :math:`P_{25}`, kept up to isomorphism: **3 pairwise non-isomorphic graphs**.  The published
SR25 set (Balcilar et al. 2021) holds all 15 graphs of the family (Paulus 1973); the other 12
need constructions not reproduced here (named simplification).

**Counting** (Chen, Chen, Villar & Bruna, NeurIPS 2020, "Can Graph Neural Networks Count
Substructures?", `arXiv:2002.04025 <https://arxiv.org/abs/2002.04025>`_): Erdős–Rényi graphs with
exact (non-induced) subgraph counts of triangles, 4-cycles and chordal cycles (4-cycle plus one
chord), computed from the adjacency matrix:

.. math::
    \#K_3 = \tfrac16 \mathrm{tr}(A^3), \quad
    \#C_4 = \tfrac18\Big(\mathrm{tr}(A^4) - 4\sum_v \tbinom{d_v}{2} - 2|E|\Big), \quad
    \#\text{chordal} = \sum_{\{u,v\} \in E} \tbinom{(A^2)_{uv}}{2}.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from gnnkit.graph import Graph
from gnnkit.graphlevel.dataset import GraphDataset

__all__ = ["exp_pair", "exp_dataset", "satisfiable", "latin_square_graph", "paley_graph",
           "is_strongly_regular", "sr25_graphs", "sr25_dataset", "substructure_counts",
           "counting_dataset"]


# ---------------------------------------------------------------------------------- EXP
def satisfiable(clauses: list[list[int]], num_vars: int) -> bool:
    """Exhaustive SAT check of a CNF over variables ``1..num_vars`` (literal ``-i`` = not i)."""
    if num_vars > 22:
        raise ValueError(f"satisfiable: exhaustive check limited to 22 variables, got {num_vars}")
    assign = ((np.arange(2 ** num_vars)[:, None] >> np.arange(num_vars)[None, :]) & 1).astype(bool)
    ok = np.ones(assign.shape[0], dtype=bool)
    for cl in clauses:
        sat = np.zeros(assign.shape[0], dtype=bool)
        for lit in cl:
            v = assign[:, abs(lit) - 1]
            sat |= v if lit > 0 else ~v
        ok &= sat
        if not ok.any():
            return False
    return bool(ok.any())


def _bridge_index(nb: int, half: int) -> int:
    """The bridge clause pair of core variable ``nb`` (``get_conj_index`` of GraphGen.py)."""
    div = nb // half
    return 2 * (((1 - 2 * div) * nb - div) % half)


def _chain(vars_: list[int], reverse: bool) -> list[list[int]]:
    n = len(vars_)
    step = -1 if reverse else 1
    return [[-vars_[i], vars_[(i + step) % n]] for i in range(n)]


def _core(first_var: int, L: int, sat: bool) -> list[list[int]]:
    vs = list(range(first_var, first_var + L))
    half = L // 2
    clauses = _chain(vs[:half], False) + _chain(vs[half:], True) if sat else _chain(vs, False)
    bridge = [[] for _ in range(L)]
    for nb in range(L):
        j = _bridge_index(nb, half)
        bridge[j].append(vs[nb])
        bridge[j + 1].append(-vs[nb])
    return clauses + bridge


def _random_base(rng: np.random.Generator, size: int) -> tuple[list[list[int]], int] | None:
    """A random satisfiable base formula on ``size`` bipartite nodes (variables + clauses),
    clause widths in [2, 5], every variable in >= 2 clauses, random signs; None if rejected."""
    n_cl = int(rng.integers(2, size // 2 + 1))
    n_var = size - n_cl
    widths = rng.integers(2, 6, size=n_cl)
    widths = np.minimum(widths, n_var)
    member = [set(rng.choice(n_var, size=int(w), replace=False).tolist()) for w in widths]
    occ = np.zeros(n_var, dtype=int)
    for m in member:
        for v in m:
            occ[v] += 1
    if (occ < 2).any():
        return None
    clauses = [[(v + 1) * (1 if rng.random() < 0.5 else -1) for v in sorted(m)] for m in member]
    uniq = {tuple(sorted(c)) for c in clauses}               # drop duplicate clauses
    clauses = [list(c) for c in sorted(uniq)]
    if not satisfiable(clauses, n_var):
        return None
    return clauses, n_var


def _formula_graph(clauses: list[list[int]], num_vars: int):
    """Nodes: literals x_i (2i), not x_i (2i + 1), then clauses; feature 1 = literal, 0 = clause."""
    src, dst = [], []
    for i in range(num_vars):
        src.append(2 * i)
        dst.append(2 * i + 1)
    for c, cl in enumerate(clauses):
        for lit in cl:
            src.append(2 * (abs(lit) - 1) + (0 if lit > 0 else 1))
            dst.append(2 * num_vars + c)
    n = 2 * num_vars + len(clauses)
    g = Graph.from_edge_index(torch.tensor([src, dst]), num_nodes=n, directed=False)
    x = torch.cat([torch.ones(2 * num_vars, 1), torch.zeros(len(clauses), 1)])
    return g, x


def exp_pair(rng: np.random.Generator, size: int = 12):
    """One EXP pair ``((g_sat, x_sat), (g_unsat, x_unsat), clauses_sat, clauses_unsat, num_vars)``."""
    while True:
        base = _random_base(rng, size)
        if base is not None:
            break
    clauses, n_var = base
    L = 2 * int(rng.integers(2, 5))
    sat_cl = clauses + _core(n_var + 1, L, True)
    unsat_cl = clauses + _core(n_var + 1, L, False)
    nv = n_var + L
    return _formula_graph(sat_cl, nv), _formula_graph(unsat_cl, nv), sat_cl, unsat_cl, nv


def exp_dataset(seed: int = 0, sizes=((12, 500), (15, 100))) -> GraphDataset:
    """EXP: for every ``(size, count)`` in ``sizes``, ``count`` pairs with ``size``-node bases
    (the paper: 500 pairs of 12 and 100 of 15 plantri nodes; 1200 graphs).  Graphs ``2i`` (SAT,
    label 1) and ``2i + 1`` (UNSAT, label 0) form pair ``i``; each is relabelled by a random
    permutation so the pair members' node orders differ."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    graphs, xs, ys = [], [], []
    for size, count in sizes:
        for _ in range(count):
            (gs, xs_), (gu, xu), *_ = exp_pair(rng, size)
            for (g, x), label in (((gs, xs_), 1), ((gu, xu), 0)):
                perm = torch.randperm(g.num_nodes, generator=gen)
                ei = perm[g.edge_index]
                xp = torch.empty_like(x)
                xp[perm] = x
                graphs.append(Graph.from_edge_index(ei, num_nodes=g.num_nodes, directed=False))
                xs.append(xp)
                ys.append(label)
    return GraphDataset.from_graphs(graphs, torch.tensor(ys), x=xs, name="exp", metric="accuracy")


# ---------------------------------------------------------------------------------- SR25
def latin_square_graph(square) -> Graph:
    """:math:`L_3(n)` of a Latin square: cells ``(r, c)`` adjacent when they share a row, a
    column or a symbol."""
    L = np.asarray(square)
    n = L.shape[0]
    r, c = np.divmod(np.arange(n * n), n)
    s = L[r, c]
    adj = (r[:, None] == r[None, :]) | (c[:, None] == c[None, :]) | (s[:, None] == s[None, :])
    np.fill_diagonal(adj, False)
    src, dst = np.nonzero(adj)
    return Graph.from_edge_index(torch.from_numpy(np.stack([src, dst])), num_nodes=n * n, directed=False)


def paley_graph(q: int = 25) -> Graph:
    r"""Paley graph on :math:`\mathrm{GF}(q)` for :math:`q = 25` (:math:`\mathrm{GF}(5)[i]/(i^2 - 2)`,
    2 being a non-residue mod 5) or a prime :math:`q \equiv 1 \pmod 4`: :math:`a \sim b` iff
    :math:`a - b` is a non-zero square."""
    if q == 25:
        elems = [(a, b) for a in range(5) for b in range(5)]        # a + b i, i^2 = 2

        def mul(u, v):
            return ((u[0] * v[0] + 2 * u[1] * v[1]) % 5, (u[0] * v[1] + u[1] * v[0]) % 5)
        squares = {mul(e, e) for e in elems if e != (0, 0)}
        idx = {e: i for i, e in enumerate(elems)}
        src, dst = [], []
        for u in elems:
            for v in elems:
                d = ((u[0] - v[0]) % 5, (u[1] - v[1]) % 5)
                if d in squares:
                    src.append(idx[u])
                    dst.append(idx[v])
        return Graph.from_edge_index(torch.tensor([src, dst]), num_nodes=25, directed=False)
    if q < 5 or q % 4 != 1 or any(q % p == 0 for p in range(2, int(q ** 0.5) + 1)):
        raise ValueError(f"paley_graph: q must be 25 or a prime = 1 mod 4, got {q}")
    sq = {(a * a) % q for a in range(1, q)}
    src, dst = zip(*[(a, b) for a in range(q) for b in range(q) if (a - b) % q in sq])
    return Graph.from_edge_index(torch.tensor([src, dst]), num_nodes=q, directed=False)


def is_strongly_regular(g: Graph):
    """``(n, k, lambda, mu)`` if ``g`` is strongly regular, else :obj:`None`."""
    n = g.num_nodes
    A = torch.zeros(n, n, dtype=torch.int64)
    A[g.edge_index[1], g.edge_index[0]] = 1
    deg = A.sum(1)
    if n < 2 or int(deg.min()) != int(deg.max()):
        return None
    A2 = A @ A
    off = ~torch.eye(n, dtype=torch.bool)
    lam = A2[(A == 1) & off]
    mu = A2[(A == 0) & off]
    if lam.numel() == 0 or mu.numel() == 0:
        return None
    if int(lam.min()) != int(lam.max()) or int(mu.min()) != int(mu.max()):
        return None
    return n, int(deg[0]), int(lam[0]), int(mu[0])


# The two main classes of Latin squares of order 5: the cyclic group table and a square with an
# intercalate (a 2 x 2 subsquare, impossible in Z_5's table, so not isotopic to it).
LATIN_SQUARES_5 = (
    [[(r + c) % 5 for c in range(5)] for r in range(5)],
    [[0, 1, 2, 3, 4], [1, 0, 3, 4, 2], [2, 3, 4, 0, 1], [3, 4, 1, 2, 0], [4, 2, 0, 1, 3]],
)


def _complement(g: Graph) -> Graph:
    n = g.num_nodes
    A = torch.ones(n, n, dtype=torch.bool)
    A[g.edge_index[1], g.edge_index[0]] = False
    A.fill_diagonal_(False)
    dst, src = A.nonzero(as_tuple=True)
    return Graph.from_edge_index(torch.stack([src, dst]), num_nodes=n, directed=False)


def sr25_graphs() -> list[Graph]:
    """Pairwise non-isomorphic srg(25, 12, 5, 6) from the constructions of the module docstring
    (isomorphism tested exactly with networkx's VF2)."""
    import networkx as nx

    cands = [paley_graph(25)]
    for L in LATIN_SQUARES_5:
        g = latin_square_graph(L)
        cands += [g, _complement(g)]
    kept, kept_nx = [], []
    for g in cands:
        if is_strongly_regular(g) != (25, 12, 5, 6):
            raise AssertionError("sr25_graphs: a construction is not srg(25, 12, 5, 6)")
        h = g.to_networkx().to_undirected()
        if not any(nx.vf2pp_is_isomorphic(h, k) for k in kept_nx):
            kept.append(g)
            kept_nx.append(h)
    return kept


def sr25_dataset() -> GraphDataset:
    """SR25-style set: every graph of :func:`sr25_graphs` is its own class (classification of
    all graphs, as Balcilar et al.; 1-WL maps all of them to one colouring)."""
    graphs = sr25_graphs()
    return GraphDataset.from_graphs(graphs, torch.arange(len(graphs)), name="sr25", metric="accuracy")


# ---------------------------------------------------------------------------------- counting
def substructure_counts(g: Graph) -> dict:
    """Exact non-induced subgraph counts ``{'triangle', '4cycle', 'chordal'}`` of a simple
    undirected graph (formulas in the module docstring)."""
    n = g.num_nodes
    A = torch.zeros(n, n, dtype=torch.float64)
    ei = g.edge_index
    keep = ei[0] != ei[1]
    A[ei[1][keep], ei[0][keep]] = 1.0
    A2 = A @ A
    deg = A.sum(1)
    m = A.sum() / 2
    tri = torch.trace(A2 @ A) / 6
    c4 = (torch.trace(A2 @ A2) - 4 * (deg * (deg - 1) / 2).sum() - 2 * m) / 8
    t = A2 * A                              # common neighbours of adjacent pairs
    chordal = (t * (t - 1) / 2).sum() / 2
    return {"triangle": int(round(float(tri))), "4cycle": int(round(float(c4))),
            "chordal": int(round(float(chordal)))}


def counting_dataset(target: str = "triangle", num_graphs: int = 5000, num_nodes=(10, 20),
                     p=(0.1, 0.4), seed: int = 0) -> GraphDataset:
    """Erdős–Rényi graphs (``n`` uniform in ``num_nodes``, edge probability uniform in ``p``)
    with the exact count of ``target`` (``'triangle'``, ``'4cycle'``, ``'chordal'``) as a
    regression target (float ``[G, 1]``), split 30 / 20 / 50 % (train / valid / test) as Chen et
    al.  The graph sizes and ``p`` range are ours (the paper's generator settings are not
    reproduced)."""
    if target not in ("triangle", "4cycle", "chordal"):
        raise ValueError(f"counting_dataset: target must be 'triangle', '4cycle' or 'chordal', got {target!r}")
    gen = torch.Generator().manual_seed(seed)
    graphs, ys = [], []
    for _ in range(num_graphs):
        n = int(torch.randint(num_nodes[0], num_nodes[1] + 1, (1,), generator=gen))
        prob = p[0] + (p[1] - p[0]) * float(torch.rand(1, generator=gen))
        upper = torch.triu(torch.rand(n, n, generator=gen) < prob, diagonal=1)
        dst, src = upper.nonzero(as_tuple=True)
        g = Graph.from_edge_index(torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]),
                                  num_nodes=n, directed=False)
        graphs.append(g)
        ys.append(float(substructure_counts(g)[target]))
    perm = torch.randperm(num_graphs, generator=gen)
    a, b = int(0.3 * num_graphs), int(0.5 * num_graphs)
    splits = {"train": perm[:a], "valid": perm[a:b], "test": perm[b:]}
    return GraphDataset.from_graphs(graphs, torch.tensor(ys).unsqueeze(1), name=f"count-{target}",
                                    task_type="regression", splits=splits, metric="mae")


def _brute_counts(g: Graph) -> dict:
    """Reference counts by enumerating node triples / quadruples (tests only; small graphs)."""
    n = g.num_nodes
    E = {(int(a), int(b)) for a, b in g.edge_index.t().tolist() if a != b}
    adj = lambda a, b: (a, b) in E  # noqa: E731
    tri = sum(1 for a, b, c in itertools.combinations(range(n), 3) if adj(a, b) and adj(b, c) and adj(a, c))
    c4 = chordal = 0
    for q in itertools.combinations(range(n), 4):
        a, b, c, d = q
        for cyc in ((a, b, c, d), (a, b, d, c), (a, c, b, d)):   # the 3 distinct 4-cycles on q
            if all(adj(cyc[i], cyc[(i + 1) % 4]) for i in range(4)):
                c4 += 1
                chordal += int(adj(cyc[0], cyc[2])) + int(adj(cyc[1], cyc[3]))
    # a chordal cycle (diamond) lies on exactly one 4-cycle with its chord: counted once per chord
    return {"triangle": tri, "4cycle": c4, "chordal": chordal}
