r"""Graph rewiring against over-squashing: SDRF, BORF and FoSR.

Each function works on the simple undirected graph underlying its input (directions, weights,
duplicate arcs and self loops are dropped, as in :mod:`gnnkit.analysis.curvature`) and returns a
:class:`RewireResult` with the rewired, undirected :class:`gnnkit.Graph` (same nodes) and the
undirected edges added and removed, each column ``(u, v)`` with ``u < v``, in the order of the
operations. Every run is deterministic given ``seed``.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import torch

from gnnkit.analysis.curvature import (SimpleGraph, _nchunks, ollivier_ricci_curvature, run_edge_kernel,
                                       simple_graph)

__all__ = ["RewireResult", "sdrf", "borf", "fosr"]


@dataclass
class RewireResult:
    """Output of a rewiring method.

    Attributes:
        graph (gnnkit.Graph): the rewired undirected graph.
        added (Tensor): int64 ``[2, K_add]`` undirected edges added (``u < v``); none was in the input.
        removed (Tensor): int64 ``[2, K_rm]`` undirected edges removed (``u < v``); all were in the input
            or added earlier by the same run.
    """

    graph: object
    added: torch.Tensor
    removed: torch.Tensor


class _EdgeSet:
    """Mutable simple undirected graph: a set of (u, v) with u < v, CSR on demand."""

    def __init__(self, sg: SimpleGraph):
        self.n = sg.num_nodes
        self.edges = set(zip(sg.eu.tolist(), sg.ev.tolist()))
        self._sg = sg

    def add(self, u, v):
        self.edges.add((min(u, v), max(u, v)))
        self._sg = None

    def remove(self, u, v):
        self.edges.discard((min(u, v), max(u, v)))
        self._sg = None

    def has(self, u, v):
        return (min(u, v), max(u, v)) in self.edges

    def simple(self) -> SimpleGraph:
        if self._sg is None:
            e = np.array(sorted(self.edges), dtype=np.int64).reshape(-1, 2)
            self._sg = SimpleGraph.from_edges(e[:, 0].copy(), e[:, 1].copy(), self.n)
        return self._sg

    def graph(self):
        from gnnkit.graph import Graph

        sg = self.simple()
        ei = torch.from_numpy(np.stack([sg.eu, sg.ev]))
        return Graph.from_edge_index(ei, num_nodes=self.n, directed=False)


def _pairs(lst) -> torch.Tensor:
    if not lst:
        return torch.zeros(2, 0, dtype=torch.int64)
    return torch.tensor([[min(a, b) for a, b in lst], [max(a, b) for a, b in lst]], dtype=torch.int64)


class _CurvedGraph:
    """Simple undirected graph (sorted CSR + sorted edge keys ``u * n + v``, u < v) with the
    balanced Forman curvature of every edge, aligned with the keys.

    Adding or removing an edge a~b recomputes only the curvatures that can change
    (:func:`~gnnkit.analysis._curvature_numba.bf_affected_edges`: the edges at a or b and those
    between S1(a) and S1(b)), with the same kernel as a full recomputation, so the values stay
    bit-identical to recomputing every edge.
    """

    def __init__(self, sg: SimpleGraph):
        self.n = sg.num_nodes
        self.indptr = sg.indptr.copy()
        self.indices = sg.indices.astype(np.int64)
        self.keys = sg.eu * self.n + sg.ev
        self.ric = self._bf(sg.eu, sg.ev)

    def edge(self, e: int):
        return int(self.keys[e] // self.n), int(self.keys[e] % self.n)

    def _row_pos(self, a: int, b: int) -> int:
        lo, hi = self.indptr[a], self.indptr[a + 1]
        return int(lo + np.searchsorted(self.indices[lo:hi], b))

    def _bf(self, eu: np.ndarray, ev: np.ndarray) -> np.ndarray:
        """BF of the edges eu~ev of the current graph (serial below the thread policy's threshold)."""
        from gnnkit.analysis._curvature_numba import balanced_forman_kernel, balanced_forman_serial

        work = int(eu.shape[0] * (self.indices.shape[0] / max(self.n, 1) + 1) ** 2)
        return run_edge_kernel(balanced_forman_kernel, balanced_forman_serial, work, self.indptr, self.indices,
                               eu, ev, _nchunks(eu.shape[0]))

    def _refresh(self, aff: np.ndarray):
        pos = np.searchsorted(self.keys, aff)
        self.ric[pos] = self._bf(aff // self.n, aff % self.n)

    def add(self, a: int, b: int):
        from gnnkit.analysis._curvature_numba import bf_affected_edges

        a, b = min(a, b), max(a, b)
        # a < b, so row a's slot comes first; equal slots keep the order given (b, then a).
        self.indices = np.insert(self.indices, [self._row_pos(a, b), self._row_pos(b, a)], [b, a])
        self.indptr[a + 1:] += 1
        self.indptr[b + 1:] += 1
        key = a * self.n + b
        pos = int(np.searchsorted(self.keys, key))
        self.keys = np.insert(self.keys, pos, key)
        self.ric = np.insert(self.ric, pos, np.nan)
        self._refresh(bf_affected_edges(a, b, self.indptr, self.indices))

    def remove(self, a: int, b: int):
        from gnnkit.analysis._curvature_numba import bf_affected_edges

        a, b = min(a, b), max(a, b)
        key = a * self.n + b
        aff = bf_affected_edges(a, b, self.indptr, self.indices)  # on the graph that has a~b
        aff = aff[aff != key]
        self.indices = np.delete(self.indices, [self._row_pos(a, b), self._row_pos(b, a)])
        self.indptr[a + 1:] -= 1
        self.indptr[b + 1:] -= 1
        pos = int(np.searchsorted(self.keys, key))
        self.keys = np.delete(self.keys, pos)
        self.ric = np.delete(self.ric, pos)
        self._refresh(aff)

    def graph(self):
        from gnnkit.graph import Graph

        ei = torch.from_numpy(np.stack([self.keys // self.n, self.keys % self.n]))
        return Graph.from_edge_index(ei, num_nodes=self.n, directed=False)


def sdrf(graph, *, max_iterations: int = 50, tau: float = 1.0, c_plus: float | None = None,
         seed: int = 0) -> RewireResult:
    r"""Stochastic Discrete Ricci Flow (SDRF) rewiring.

    `Topping et al. (2022), "Understanding over-squashing and bottlenecks on graphs via curvature"
    <https://arxiv.org/abs/2111.14522>`_, Algorithm 1, with the balanced Forman curvature
    :math:`\mathrm{Ric}` (:func:`gnnkit.analysis.balanced_forman_curvature`). Each iteration:

    1. take the edge :math:`i \sim j` of minimal curvature;
    2. for every candidate :math:`k \in B_1(i)`, :math:`l \in B_1(j)` (closed 1-balls),
       :math:`k \ne l`, :math:`k \not\sim l`, compute the improvement
       :math:`x_{kl} = \mathrm{Ric}_{G + kl}(i, j) - \mathrm{Ric}_G(i, j)`; sample one with
       probability :math:`\mathrm{softmax}(\tau x)_{kl}` and add it (nothing is added if there
       is no candidate);
    3. take the edge of maximal curvature; if it exceeds :math:`C^+` remove it.

    Ties in arg min / arg max go to the first edge in (u, v) order; candidates are ordered by
    the position of k in :math:`[i, S_1(i)]`, then of l in :math:`[j, S_1(j)]` (neighbours in
    increasing order), keeping the first of (k, l) and (l, k).

    All curvatures are exact. The candidates of step 2 are scored in one compiled pass
    (:math:`O(d_i d_j + (d_i + d_j)^2 + \sum_{k \in B_1(i) \cup B_1(j)} d_k)`): the counts of
    :math:`\mathrm{Ric}_G(i, j)` (degrees, triangles, 4-cycles) are updated per candidate rather
    than recounted. After an edge a~b is added or removed only the curvatures that can change are
    recomputed (the edges at a or b and those between :math:`S_1(a)` and :math:`S_1(b)`: the
    balanced Forman curvature of u~v reads only the degrees of u and v and the edges among
    :math:`B_1(u) \cup B_1(v)`), so the result is the same as recomputing every edge.

    Args:
        graph (gnnkit.Graph or Tensor): the graph or an ``edge_index``.
        max_iterations (int, optional): number of iterations. (default: 50)
        tau (float, optional): softmax temperature :math:`\tau` (``inf``: always the best
            candidate, the first one on ties). (default: 1.0)
        c_plus (float, optional): removal threshold :math:`C^+`; ``None`` never removes.
            (default: ``None``)
        seed (int, optional): seed of the candidate sampling. (default: 0)

    Returns:
        :class:`RewireResult`.

    Examples:
        >>> import torch
        >>> from gnnkit import Graph
        >>> path = Graph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 3]]), directed=False)
        >>> sdrf(path, max_iterations=1, tau=float("inf")).added  # closes the triangle 0-1-2
        tensor([[0],
                [2]])
    """
    from gnnkit.analysis._curvature_numba import sdrf_candidates

    if max_iterations < 0:
        raise ValueError(f"sdrf: max_iterations must be >= 0, got {max_iterations}")
    if not tau > 0:
        raise ValueError(f"sdrf: tau must be > 0, got {tau}")
    cg = _CurvedGraph(simple_graph(graph))
    rng = np.random.default_rng(seed)
    added, removed = [], []
    for _ in range(max_iterations):
        if cg.keys.shape[0] == 0:
            break
        e = int(np.argmin(cg.ric))
        i, j = cg.edge(e)
        kk, ll, ric_kl = sdrf_candidates(i, j, cg.indptr, cg.indices)
        if kk.size:
            gain = ric_kl - cg.ric[e]
            if math.isinf(tau):
                c = int(np.argmax(gain))
            else:
                z = tau * gain
                p = np.exp(z - z.max())
                c = int(rng.choice(p.size, p=p / p.sum()))
            k, l = int(kk[c]), int(ll[c])
            cg.add(k, l)
            added.append((k, l))
        if c_plus is not None and cg.keys.shape[0]:
            e = int(np.argmax(cg.ric))
            if cg.ric[e] > c_plus:
                u, v = cg.edge(e)
                cg.remove(u, v)
                removed.append((u, v))
    return RewireResult(cg.graph(), _pairs(added), _pairs(removed))


def borf(graph, *, num_iterations: int = 1, batch_add: int = 4, batch_remove: int = 2,
         alpha: float = 0.5, keep_nodes_connected: bool = False) -> RewireResult:
    r"""Batch Ollivier–Ricci Flow (BORF) rewiring.

    `Nguyen et al. (2023), "Revisiting Over-smoothing and Over-squashing Using Ollivier-Ricci
    Curvature" <https://arxiv.org/abs/2211.15779>`_, Algorithm 1. Each of ``num_iterations``
    batches computes the Ollivier–Ricci curvature :math:`\kappa` of every edge (exact, idleness
    ``alpha``; :func:`gnnkit.analysis.ollivier_ricci_curvature`), then

    - for each of the ``batch_add`` (h) most negatively curved edges (u, v), solves the optimal
      transport between :math:`m_u^\alpha` and :math:`m_v^\alpha` exactly and adds the edge
      between the pair (p, q), :math:`p \in N[u], q \in N[v]`, that carries the most mass in the
      optimal plan among pairs that are not already adjacent (those are the paths of length 2–3
      that make the transport expensive); an edge whose plan moves no mass between non-adjacent
      nodes adds nothing;
    - removes the ``batch_remove`` (k) most positively curved edges (of the curvatures computed at
      the start of the batch).

    The plan is the one of the net mass :math:`m_u^\alpha - m_v^\alpha` (the mass shared by both
    measures stays in place, which leaves :math:`W_1` unchanged); where several plans are optimal
    the solver's is used. Ties are broken by edge order.

    The most positively curved edges are often those of degree-1 nodes (a leaf's edge has
    :math:`\kappa > 0`), so Algorithm 1 can isolate nodes (on the WebKB graphs the spectral gap
    drops to 0). ``keep_nodes_connected=True`` (not in the paper) skips a removal that would leave
    an endpoint without edges and takes the next most positively curved edge instead.

    Args:
        graph (gnnkit.Graph or Tensor): the graph or an ``edge_index``.
        num_iterations (int, optional): number of batches. (default: 1)
        batch_add (int, optional): edges to add per batch, h. (default: 4)
        batch_remove (int, optional): edges to remove per batch, k. (default: 2)
        alpha (float, optional): idleness of the random walk. (default: 0.5)
        keep_nodes_connected (bool, optional): never remove the last edge of a node (an
            extension, see above). (default: :obj:`False`, the paper's algorithm)

    Returns:
        :class:`RewireResult`.
    """
    from gnnkit.analysis._curvature_numba import orc_transport_argmax

    for name, val in (("num_iterations", num_iterations), ("batch_add", batch_add), ("batch_remove", batch_remove)):
        if val < 0:
            raise ValueError(f"borf: {name} must be >= 0, got {val}")
    es = _EdgeSet(simple_graph(graph))
    added, removed = [], []
    for _ in range(num_iterations):
        sg = es.simple()
        if sg.eu.shape[0] == 0:
            break
        kappa = ollivier_ricci_curvature(sg, alpha=alpha, method="exact", per_edge=True).numpy()
        n_added = len(added)
        order = np.argsort(kappa, kind="stable")
        for e in order[:batch_add].tolist():
            if kappa[e] >= 0:
                break
            p, q = orc_transport_argmax(int(sg.eu[e]), int(sg.ev[e]), sg.indptr, sg.indices, float(alpha))
            if p >= 0 and not es.has(p, q):
                es.add(int(p), int(q))
                added.append((int(p), int(q)))
        desc = np.argsort(-kappa, kind="stable")
        deg = None
        if keep_nodes_connected:  # current degrees: the batch's graph plus its additions
            deg = np.bincount(np.concatenate([sg.eu, sg.ev]), minlength=sg.num_nodes).astype(np.int64)
            for p, q in added[n_added:]:
                deg[p] += 1
                deg[q] += 1
        done = 0
        for e in desc.tolist():
            if done == batch_remove:
                break
            u, v = int(sg.eu[e]), int(sg.ev[e])
            if deg is not None:
                if deg[u] <= 1 or deg[v] <= 1:
                    continue
                deg[u] -= 1
                deg[v] -= 1
            es.remove(u, v)  # an edge of the batch's graph, not removed yet in this batch
            removed.append((u, v))
            done += 1
    return RewireResult(es.graph(), _pairs(added), _pairs(removed))


def _power_step(sg: SimpleGraph, x: np.ndarray, v0: np.ndarray) -> np.ndarray:
    """One lazy power-iteration step on (I + Â)/2, Â = D̂^{-1/2}(A + I)D̂^{-1/2}, deflating v0."""
    deg = sg.degree().astype(np.float64) + 1.0
    y = x / np.sqrt(deg)
    ay = y.copy()  # self loop
    np.add.at(ay, sg.eu, y[sg.ev])
    np.add.at(ay, sg.ev, y[sg.eu])
    ax = ay / np.sqrt(deg)
    out = 0.5 * (x + ax)
    out -= (out @ v0) * v0
    nrm = np.linalg.norm(out)
    return out / nrm if nrm > 0 else out


def _min_product_non_edge(es: _EdgeSet, y: np.ndarray):
    """Non-edge (u, v), u != v, minimising y_u * y_v, by best-first search over sorted entries."""
    n = y.size
    pos = np.flatnonzero(y > 0)
    neg = np.flatnonzero(y < 0)
    if pos.size and neg.size:
        pos = pos[np.argsort(-y[pos], kind="stable")]  # largest first
        neg = neg[np.argsort(y[neg], kind="stable")]  # most negative first
        heap = [(y[pos[0]] * y[neg[0]], 0, 0)]
        seen = {(0, 0)}
        while heap:
            val, a, b = heapq.heappop(heap)
            u, v = int(pos[a]), int(neg[b])
            if not es.has(u, v):
                return u, v
            for a2, b2 in ((a + 1, b), (a, b + 1)):
                if a2 < pos.size and b2 < neg.size and (a2, b2) not in seen:
                    seen.add((a2, b2))
                    heapq.heappush(heap, (y[pos[a2]] * y[neg[b2]], a2, b2))
    # No usable pair of opposite signs: exhaustive search over all non-edges (O(N^2)).
    best, arg = math.inf, None
    for u in range(n):
        for v in range(u + 1, n):
            if y[u] * y[v] < best and not es.has(u, v):
                best, arg = y[u] * y[v], (u, v)
    return arg


def fosr(graph, *, num_iterations: int = 10, initial_power_iters: int = 5, seed: int = 0) -> RewireResult:
    r"""First-order Spectral Rewiring (FoSR): add edges that increase the spectral gap most,
    to first order.

    `Karhadkar et al. (2023), "FoSR: First-order spectral rewiring for addressing oversquashing in
    GNNs" <https://arxiv.org/abs/2210.11790>`_, Algorithm 1. With :math:`\hat A = \hat
    D^{-1/2}(A + I)\hat D^{-1/2}`, :math:`\hat d_u = d_u + 1`, and :math:`x` an approximation of
    the eigenvector of its second-largest eigenvalue, adding the edge (u, v) changes that
    eigenvalue by :math:`\approx 2 x_u x_v / \sqrt{\hat d_u \hat d_v}` (first-order
    perturbation), so each iteration adds the non-edge

    .. math::
        (u, v) = \arg\min_{(u,v) \notin E,\; u \ne v} \frac{x_u x_v}{\sqrt{(1 + d_u)(1 + d_v)}},

    updates the degrees and refreshes :math:`x` with one power-iteration step. :math:`x` starts
    random (``seed``), orthogonal to the top eigenvector :math:`\hat D^{1/2}\mathbf 1`, and gets
    ``initial_power_iters`` steps first. Our power step uses the lazy matrix
    :math:`(I + \hat A)/2` (same eigenvectors, eigenvalues shifted into [0, 1]) so that it
    converges to the second *largest* eigenvector rather than one of large negative eigenvalue.

    Args:
        graph (gnnkit.Graph or Tensor): the graph or an ``edge_index``.
        num_iterations (int, optional): number of edges to add. (default: 10)
        initial_power_iters (int, optional): power-iteration steps before the first edge. (default: 5)
        seed (int, optional): seed of the initial vector. (default: 0)

    Returns:
        :class:`RewireResult` (``removed`` is empty).
    """
    if num_iterations < 0 or initial_power_iters < 0:
        raise ValueError(f"fosr: num_iterations={num_iterations} and initial_power_iters={initial_power_iters} "
                         "must be >= 0")
    es = _EdgeSet(simple_graph(graph))
    n = es.n
    added = []
    if n < 2:
        return RewireResult(es.graph(), _pairs(added), _pairs([]))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)

    def top(sg):
        v0 = np.sqrt(sg.degree().astype(np.float64) + 1.0)
        return v0 / np.linalg.norm(v0)

    sg = es.simple()
    v0 = top(sg)
    x -= (x @ v0) * v0
    x /= np.linalg.norm(x)
    for _ in range(initial_power_iters):
        x = _power_step(sg, x, v0)
    for _ in range(num_iterations):
        if len(es.edges) >= n * (n - 1) // 2:
            break  # complete graph
        deg = sg.degree().astype(np.float64)
        uv = _min_product_non_edge(es, x / np.sqrt(deg + 1.0))
        if uv is None:
            break
        u, v = uv
        es.add(u, v)
        added.append((u, v))
        sg = es.simple()
        v0 = top(sg)
        x = _power_step(sg, x, v0)
    return RewireResult(es.graph(), _pairs(added), _pairs([]))
