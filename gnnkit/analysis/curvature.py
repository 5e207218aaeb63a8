r"""Discrete edge curvatures: balanced Forman, Ollivier–Ricci, (augmented) Forman.

Every function works on the *simple undirected* graph underlying a :class:`gnnkit.Graph` (arc
directions, weights, duplicate arcs and self loops are ignored) and returns a float64 tensor
``[E]`` aligned with ``graph.edge_index``: arc ``k`` gets the curvature of the edge
``{edge_index[0, k], edge_index[1, k]}`` (both arcs of an undirected edge get the same value) and
a self-loop arc gets ``nan``. The per-edge work runs in numba (``@njit(cache=True)``) over CSR
arrays, parallel over chunks of edges with per-chunk scratch space, so the values do not depend
on the number of threads.
"""
from __future__ import annotations

import numpy as np
import torch

from gnnkit.analysis.spectral import as_graph

__all__ = [
    "SimpleGraph",
    "simple_graph",
    "balanced_forman_curvature",
    "ollivier_ricci_curvature",
    "forman_curvature",
    "curvature",
]


class SimpleGraph:
    """Sorted symmetric CSR of the underlying simple undirected graph, plus the arc -> edge map.

    Attributes: ``indptr`` int64 [N+1], ``indices`` int64 (sorted rows), ``eu``/``ev`` int64 [M]
    (the undirected edges, ``eu < ev``), ``arc_edge`` int64 [E] (edge id of each arc of the
    original graph, -1 for self loops), ``num_nodes``.
    """

    __slots__ = ("indptr", "indices", "eu", "ev", "arc_edge", "num_nodes")

    def __init__(self, indptr, indices, eu, ev, arc_edge, num_nodes):
        self.indptr, self.indices = indptr, indices
        self.eu, self.ev, self.arc_edge, self.num_nodes = eu, ev, arc_edge, num_nodes

    @classmethod
    def from_edges(cls, eu, ev, num_nodes, arc_edge=None):
        n = int(num_nodes)
        src = np.concatenate([eu, ev])
        dst = np.concatenate([ev, eu])
        order = np.lexsort((dst, src))
        src, dst = src[order], dst[order]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        if arc_edge is None:
            arc_edge = np.arange(eu.shape[0], dtype=np.int64)
        return cls(indptr, dst.astype(np.int64), eu, ev, arc_edge, n)

    def degree(self):
        return np.diff(self.indptr)


def simple_graph(graph) -> SimpleGraph:
    """Build the :class:`SimpleGraph` of a Graph or an ``edge_index``."""
    g = as_graph(graph)
    n = g.num_nodes
    ei = g.edge_index.cpu().numpy()
    a, b = ei[0].astype(np.int64), ei[1].astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    loop = lo == hi
    key = lo * max(n, 1) + hi
    uniq, inv = np.unique(key[~loop], return_inverse=True)
    arc_edge = np.full(a.shape[0], -1, np.int64)
    arc_edge[~loop] = inv
    eu = uniq // max(n, 1)
    ev = uniq % max(n, 1)
    return SimpleGraph.from_edges(eu.astype(np.int64), ev.astype(np.int64), n, arc_edge)


def _nchunks(m: int) -> int:
    from gnnkit._threads import get_num_threads

    return max(1, min(m, 4 * get_num_threads()))


def _edge_work(sg: SimpleGraph, m: int, power: int = 2) -> int:
    """Work estimate (element operations) of a per-edge kernel on m edges of sg: m (mean degree +
    1)^power, for gnnkit's thread policy (:func:`gnnkit._threads.numba_threads`)."""
    n = max(sg.num_nodes, 1)
    return int(m * (sg.indices.shape[0] / n + 1) ** power)


def run_edge_kernel(parallel, serial, work: int, *args):
    """Call ``parallel(*args)`` with numba's pool sized to gnnkit's thread count, or its serial twin
    ``serial(*args)`` on the calling thread when ``work`` is small (README "Threads")."""
    from gnnkit._threads import numba_threads

    with numba_threads(work) as use_pool:
        return parallel(*args) if use_pool else serial(*args)


def _to_arcs(sg: SimpleGraph, per_edge: np.ndarray) -> torch.Tensor:
    out = np.full(sg.arc_edge.shape[0], np.nan)
    ok = sg.arc_edge >= 0
    out[ok] = per_edge[sg.arc_edge[ok]]
    return torch.from_numpy(out)


def balanced_forman_curvature(graph, *, per_edge: bool = False) -> torch.Tensor:
    r"""Balanced Forman curvature of every edge.

    `Topping et al. (2022), "Understanding over-squashing and bottlenecks on graphs via curvature"
    <https://arxiv.org/abs/2111.14522>`_, Definition 1: for an edge :math:`i \sim j` with degrees
    :math:`d_i, d_j`, :math:`\mathrm{Ric}(i, j) = 0` if :math:`\min(d_i, d_j) = 1`, else

    .. math::
        \mathrm{Ric}(i,j) = \frac{2}{d_i} + \frac{2}{d_j} - 2
        + 2\frac{|\sharp_\Delta(i,j)|}{\max(d_i,d_j)} + \frac{|\sharp_\Delta(i,j)|}{\min(d_i,d_j)}
        + \frac{(\gamma_{max})^{-1}}{\max(d_i,d_j)}\big(|\sharp^i_\square| + |\sharp^j_\square|\big)

    with :math:`\sharp_\Delta(i,j) = S_1(i) \cap S_1(j)` (triangles on the edge),
    :math:`\sharp^i_\square(i,j) = \{k \in S_1(i) \setminus (S_1(j) \cup \{j\}) : \exists w \in
    (S_1(k) \cap S_1(j)) \setminus (S_1(i) \cup \{i\})\}` (neighbours of i starting a 4-cycle
    i-k-w-j without diagonals), :math:`\sharp^j_\square` symmetric, and :math:`\gamma_{max}` the
    largest number of such 4-cycles through one node k (resp. w); the 4-cycle term is 0 when there
    is none. Closed forms: :math:`K_n`: :math:`n/(n-1)`; cycles :math:`C_3, C_4, C_{\ge 5}`:
    3/2, 1, 0; a tree edge with both degrees > 1: :math:`2/d_i + 2/d_j - 2`.

    Cost: :math:`O(\sum_{(i,j)} \sum_{k \in S_1(i) \cup S_1(j)} d_k)` in compiled code.

    Args:
        graph (gnnkit.Graph or Tensor): the graph or an ``edge_index``.
        per_edge (bool, optional): return one value per undirected edge (in the order of
            :func:`simple_graph`'s ``eu, ev``) instead of per arc. (default: ``False``)

    Returns:
        float64 Tensor ``[E]`` aligned with ``graph.edge_index`` (``nan`` on self loops).

    Examples:
        >>> import torch
        >>> from gnnkit import Graph
        >>> c4 = Graph.from_edge_index(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]), directed=False)
        >>> balanced_forman_curvature(c4)
        tensor([1., 1., 1., 1., 1., 1., 1., 1.], dtype=torch.float64)
    """
    from gnnkit.analysis._curvature_numba import balanced_forman_kernel, balanced_forman_serial

    sg = graph if isinstance(graph, SimpleGraph) else simple_graph(graph)
    m = sg.eu.shape[0]
    vals = run_edge_kernel(balanced_forman_kernel, balanced_forman_serial, _edge_work(sg, m),
                           sg.indptr, sg.indices, sg.eu, sg.ev, _nchunks(m))
    return torch.from_numpy(vals) if per_edge else _to_arcs(sg, vals)


def forman_curvature(graph, *, augmented: bool = True, per_edge: bool = False) -> torch.Tensor:
    r"""(Augmented) Forman curvature of every edge of the unweighted graph.

    Forman curvature (`Sreejith et al. 2016 <https://arxiv.org/abs/1603.00386>`_):
    :math:`F(i,j) = 4 - d_i - d_j`. The augmented version with triangles (AFRC-3; `Samal et al.
    2018 <https://doi.org/10.1038/s41598-018-27001-3>`_, used for rewiring by `Fesser & Weber
    2023 <https://arxiv.org/abs/2309.09384>`_) adds 3 per triangle on the edge:

    .. math::
        F^\sharp(i,j) = 4 - d_i - d_j + 3\,|S_1(i) \cap S_1(j)|.

    Args:
        graph (gnnkit.Graph or Tensor): the graph or an ``edge_index``.
        augmented (bool, optional): add the triangle term. (default: ``True``)
        per_edge (bool, optional): see :func:`balanced_forman_curvature`. (default: ``False``)

    Examples:
        >>> import torch
        >>> from gnnkit import Graph
        >>> k3 = Graph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 0]]), directed=False)
        >>> forman_curvature(k3)[:2]  # 4 - 2 - 2 + 3
        tensor([3., 3.], dtype=torch.float64)
    """
    from gnnkit.analysis._curvature_numba import triangle_kernel, triangle_serial

    sg = graph if isinstance(graph, SimpleGraph) else simple_graph(graph)
    deg = sg.degree().astype(np.float64)
    vals = 4.0 - deg[sg.eu] - deg[sg.ev]
    if augmented and sg.eu.shape[0]:
        vals = vals + 3.0 * run_edge_kernel(triangle_kernel, triangle_serial, _edge_work(sg, sg.eu.shape[0], 1),
                                            sg.indptr, sg.indices, sg.eu, sg.ev)
    return torch.from_numpy(vals) if per_edge else _to_arcs(sg, vals)


def ollivier_ricci_curvature(graph, *, alpha: float = 0.5, method: str = "auto",
                             exact_max_pairs: int = 1 << 22, sinkhorn_reg: float = 0.01,
                             sinkhorn_iters: int = 1000, max_bitset_bytes: int = 1 << 28,
                             per_edge: bool = False, return_exact: bool = False):
    r"""Ollivier–Ricci curvature of every edge with the :math:`\alpha`-lazy random-walk measure.

    `Ollivier (2009), "Ricci curvature of Markov chains on metric spaces"
    <https://arxiv.org/abs/math/0701886>`_; used for rewiring by BORF (`Nguyen et al. 2023,
    "Revisiting Over-smoothing and Over-squashing Using Ollivier-Ricci Curvature"
    <https://arxiv.org/abs/2211.15779>`_). With the measure of GraphRicciCurvature
    (idleness :math:`\alpha`, uniform on neighbours),

    .. math::
        m_x^\alpha = \alpha\,\delta_x + \frac{1-\alpha}{d_x} \sum_{z \sim x} \delta_z,\qquad
        \kappa(x, y) = 1 - \frac{W_1(m_x^\alpha, m_y^\alpha)}{d(x, y)} = 1 - W_1(m_x^\alpha, m_y^\alpha)

    for an edge (hop distance :math:`d(x,y) = 1`), where :math:`W_1` is the optimal-transport
    distance for the shortest-path metric. Between :math:`N[x]` and :math:`N[y]` that metric only
    takes the values 0, 1, 2 (a common neighbour or an edge between them) and 3, which the kernel
    reads from a 2-hop bitset (N^2/8 bytes, used while that is <= ``max_bitset_bytes``) or by
    marking 2-hop balls.

    Transport problems: only the net mass :math:`m_x - m_y` is moved (for a metric cost this
    gives the same :math:`W_1`). ``method="exact"`` solves every problem exactly with a
    primal-dual min-cost-flow for integer costs (at most 4 dual phases, each a Dinic max-flow).
    While the 1- and 2-hop bitsets (and per-thread level bitsets) fit in ``max_bitset_bytes``
    the solver never builds the cost matrix: the costs are read 64 sinks at a time from the
    bitsets (cost 1 = adjacent, 2 = common neighbour, 3 otherwise) and the sinks are grouped by
    dual value, so each scan is a few word-wise ANDs; otherwise the same solver runs on local
    bitsets of each problem (sources x sinks / 64 words), laid out so that both give bit-identical
    values.
    ``method="sinkhorn"`` uses log-domain Sinkhorn with regulariser ``sinkhorn_reg`` and returns
    the cost of the plan rounded onto the exact marginals (Altschuler et al. 2017): an *upper*
    bound on :math:`W_1` (so a lower bound on :math:`\kappa`) within
    :math:`\text{reg}\cdot\ln(mn)` plus :math:`6\times` the remaining marginal error (stopped at
    :math:`10^{-9}` or ``sinkhorn_iters``). ``"auto"`` (default) is exact when the number of
    (source, sink) pairs is at most ``exact_max_pairs`` and Sinkhorn otherwise; pass
    ``return_exact=True`` to learn which edges were approximated.

    Isolated endpoints cannot occur (the edge exists). Edge weights are ignored.

    Args:
        graph (gnnkit.Graph or Tensor): the graph or an ``edge_index``.
        alpha (float, optional): idleness in [0, 1]. (default: 0.5)
        method (str, optional): ``"auto"``, ``"exact"`` or ``"sinkhorn"``. (default: ``"auto"``)
        exact_max_pairs (int, optional): size limit of exact problems for ``"auto"``. (default: 2^22)
        sinkhorn_reg (float, optional): entropic regulariser. (default: 0.01)
        sinkhorn_iters (int, optional): Sinkhorn iteration cap. (default: 1000)
        max_bitset_bytes (int, optional): memory cap of the 2-hop bitset. (default: 256 MiB)
        per_edge (bool, optional): see :func:`balanced_forman_curvature`. (default: ``False``)
        return_exact (bool, optional): also return a bool Tensor (per edge or per arc) telling
            which values are exact. (default: ``False``)

    Returns:
        float64 Tensor ``[E]`` (``nan`` on self loops), or ``(curvature, exact)``.

    Examples:
        >>> import torch
        >>> from gnnkit import Graph
        >>> k4 = Graph.from_edge_index(torch.tensor([[0, 0, 0, 1, 1, 2], [1, 2, 3, 2, 3, 3]]),
        ...                            directed=False)
        >>> round(float(ollivier_ricci_curvature(k4)[0]), 6)  # K_n, alpha = 1/2: 1/2 + 1/(2(n-1))
        0.666667
    """
    from gnnkit._threads import get_num_threads
    from gnnkit.analysis._curvature_numba import (ollivier_ricci_kernel, ollivier_ricci_serial, one_hop_bitset,
                                                  two_hop_bitset)

    if not (0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"ollivier_ricci_curvature: alpha must be in [0, 1], got alpha={alpha}")
    if method not in ("auto", "exact", "sinkhorn"):
        raise ValueError(f"ollivier_ricci_curvature: method={method!r} is not 'auto', 'exact' or 'sinkhorn'")
    if sinkhorn_reg <= 0:
        raise ValueError(f"ollivier_ricci_curvature: sinkhorn_reg must be > 0, got {sinkhorn_reg}")
    sg = graph if isinstance(graph, SimpleGraph) else simple_graph(graph)
    n = sg.num_nodes
    nwords = (n + 63) // 64
    use_bits = n * nwords * 8 <= max_bitset_bytes and sg.eu.shape[0] > 0
    r2 = (two_hop_bitset(sg.indptr, sg.indices, nwords) if use_bits
          else np.zeros((1, 1), np.uint64))
    # bit-parallel exact solver: the 1-hop bitset plus per-thread level bitsets (D x nwords words)
    maxdeg = int(sg.degree().max()) if n else 0
    fast_bytes = 8 * nwords * (2 * n + get_num_threads() * (maxdeg + 4))
    fast = bool(use_bits and method != "sinkhorn" and fast_bytes <= max_bitset_bytes)
    r1 = (one_hop_bitset(sg.indptr, sg.indices, nwords) if fast
          else np.zeros((1, 1), np.uint64))
    limit = {"auto": int(exact_max_pairs), "exact": np.iinfo(np.int64).max, "sinkhorn": -1}[method]
    m = sg.eu.shape[0]
    vals, exact = run_edge_kernel(ollivier_ricci_kernel, ollivier_ricci_serial, _edge_work(sg, m, 3),
                                  sg.indptr, sg.indices, sg.eu, sg.ev, float(alpha), r1, r2, use_bits, fast,
                                  limit, float(sinkhorn_reg), int(sinkhorn_iters), _nchunks(m))
    bad = np.flatnonzero(np.isnan(vals))
    if bad.size:  # the exact solver left mass unrouted: impossible for these balanced problems
        e = int(bad[0])
        raise RuntimeError(f"ollivier_ricci_curvature: exact transport failed on edge ({int(sg.eu[e])}, "
                           f"{int(sg.ev[e])}) (internal error; {bad.size} edges affected)")
    if per_edge:
        out, ex = torch.from_numpy(vals), torch.from_numpy(exact)
    else:
        out = _to_arcs(sg, vals)
        ex = torch.zeros(sg.arc_edge.shape[0], dtype=torch.bool)
        ok = sg.arc_edge >= 0
        ex[torch.from_numpy(ok)] = torch.from_numpy(exact[sg.arc_edge[ok]])
    return (out, ex) if return_exact else out


def curvature(graph, method: str = "balanced_forman", **kwargs) -> torch.Tensor:
    """Dispatch: ``method`` in ``"balanced_forman"``, ``"ollivier_ricci"``, ``"forman"``,
    ``"augmented_forman"``; ``kwargs`` go to the chosen function."""
    if method == "balanced_forman":
        return balanced_forman_curvature(graph, **kwargs)
    if method == "ollivier_ricci":
        return ollivier_ricci_curvature(graph, **kwargs)
    if method == "forman":
        return forman_curvature(graph, augmented=False, **kwargs)
    if method == "augmented_forman":
        return forman_curvature(graph, augmented=True, **kwargs)
    raise ValueError(
        f"curvature: method={method!r} is not one of 'balanced_forman', 'ollivier_ricci', 'forman', "
        "'augmented_forman'"
    )
