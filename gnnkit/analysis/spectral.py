r"""Spectral quantities of the underlying undirected graph: spectral gap and Cheeger bounds.

All functions work on the *underlying undirected weighted graph* of a :class:`gnnkit.Graph`:
for an undirected Graph the stored arcs are used as they are (duplicate arcs add up their
weights); for a directed Graph an edge {u, v} exists when u->v or v->u does, with weight
``max(w_uv, w_vu)``. Self loops are dropped (they do not change the combinatorial Laplacian and
the Cheeger constant ignores them).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla
import torch

from gnnkit.graphlike import as_graph

__all__ = [
    "as_graph",
    "undirected_adjacency",
    "normalized_laplacian",
    "spectral_gap",
    "cheeger_bounds",
    "cheeger_constant",
]

# Dense eigensolvers below this many nodes (exact and faster than ARPACK for small N).
DENSE_LIMIT = 2048


def undirected_adjacency(graph) -> sp.csr_matrix:
    """Symmetric float64 scipy CSR adjacency W (W[u, v] = W[v, u] = weight of {u, v}), no self loops.

    Shapes: output :math:`(N, N)`.
    """
    graph = as_graph(graph)
    n = graph.num_nodes
    indptr = graph.indptr.cpu().numpy()
    indices = graph.indices.cpu().numpy().astype(np.int64)
    if graph.edge_weight is None:
        w = np.ones(indices.shape[0], dtype=np.float64)
    else:
        w = graph.edge_weight.detach().cpu().double().numpy()
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            bad = int(np.flatnonzero((w < 0) | ~np.isfinite(w))[0])
            raise ValueError(
                f"graph.edge_weight must be finite and >= 0 for a Laplacian, got edge_weight[{bad}] = {w[bad]}"
            )
    # CSR grouped by destination: row = dst, column = src, i.e. the transpose of A[src, dst].
    at = sp.csr_matrix((w, indices, indptr), shape=(n, n))
    at.sum_duplicates()
    a = at.T.tocsr()
    if graph.directed:
        a = a.maximum(at)
    a = (a - sp.diags(a.diagonal())).tocsr()  # drop self loops
    a.eliminate_zeros()
    return a


def normalized_laplacian(graph) -> sp.csr_matrix:
    r"""Symmetric normalized Laplacian :math:`\mathcal{L} = I - D^{-1/2} W D^{-1/2}` (Chung's
    convention: :math:`\mathcal{L}_{vv} = 0` for an isolated node, so each isolated node adds an
    eigenvalue 0)."""
    w = undirected_adjacency(graph)
    deg = np.asarray(w.sum(1)).ravel()
    inv = np.zeros_like(deg)
    nz = deg > 0
    inv[nz] = 1.0 / np.sqrt(deg[nz])
    dinv = sp.diags(inv)
    return (sp.diags(nz.astype(np.float64)) - dinv @ w @ dinv).tocsr()


def spectral_gap(graph, *, dense_limit: int = DENSE_LIMIT, tol: float = 1e-10) -> float:
    r"""Spectral gap :math:`\lambda_2` of the normalized Laplacian of the underlying undirected graph.

    :math:`\lambda_2` is the second-smallest eigenvalue of :math:`\mathcal{L} = I - D^{-1/2} W
    D^{-1/2}` (`Chung, "Spectral Graph Theory", 1997
    <https://mathweb.ucsd.edu/~fan/research/revised.html>`_); it is 0 exactly when the graph is
    disconnected (an isolated node counts as a component) and it bounds the Cheeger constant, see
    :func:`cheeger_bounds`. Over-squashing papers (FoSR, `Karhadkar et al. 2023
    <https://arxiv.org/abs/2210.11790>`_) use it as the bottleneck measure to increase.

    Computed with a dense symmetric eigensolver for N <= ``dense_limit`` and otherwise with
    ``scipy.sparse.linalg.eigsh`` in shift-invert mode around :math:`-10^{-6}` (a sparse LU of
    :math:`\mathcal{L} + 10^{-6} I`).

    Args:
        graph (gnnkit.Graph or Tensor): the graph or an ``edge_index``.
        dense_limit (int, optional): largest N solved densely. (default: 2048)
        tol (float, optional): ARPACK tolerance. (default: 1e-10)

    Returns:
        float :math:`\lambda_2 \in [0, 2]` (0.0 for fewer than 2 nodes).

    Examples:
        >>> import torch
        >>> from gnnkit import Graph
        >>> k4 = Graph.from_edge_index(torch.tensor([[0, 0, 0, 1, 1, 2], [1, 2, 3, 2, 3, 3]]),
        ...                            directed=False)
        >>> round(spectral_gap(k4), 6)  # K_n: n / (n - 1)
        1.333333
    """
    lap = normalized_laplacian(graph)
    n = lap.shape[0]
    if n < 2:
        return 0.0
    if n <= dense_limit:
        ev = np.linalg.eigvalsh(lap.toarray())
        return float(max(ev[1], 0.0))
    ev = spla.eigsh(lap, k=2, sigma=-1e-6, which="LM", tol=tol, return_eigenvectors=False)
    return float(max(np.sort(ev)[1], 0.0))


def cheeger_bounds(graph, **kwargs) -> tuple[float, float]:
    r"""Cheeger inequality bounds :math:`\lambda_2 / 2 \le h_G \le \sqrt{2 \lambda_2}`.

    :math:`h_G = \min_{S} |\partial S| / \min(\mathrm{vol}\,S, \mathrm{vol}\,\bar S)` is the
    Cheeger constant (conductance) and :math:`\lambda_2` the spectral gap of the normalized
    Laplacian (:func:`spectral_gap`; Chung 1997, Thm. 2.2). ``kwargs`` go to :func:`spectral_gap`.

    Returns:
        (lower, upper) floats.
    """
    lam = spectral_gap(graph, **kwargs)
    return lam / 2.0, math.sqrt(2.0 * lam)


def cheeger_constant(graph, *, max_nodes: int = 20) -> float:
    r"""Exact Cheeger constant :math:`h_G` by enumerating all vertex subsets (O(2^N E)).

    For tests and tiny graphs only: ``N`` must be <= ``max_nodes``. A disconnected graph has
    :math:`h_G = 0`; a graph with fewer than 2 nodes or no edges returns 0.0.
    """
    w = undirected_adjacency(graph)
    n = w.shape[0]
    if n > max_nodes:
        raise ValueError(f"cheeger_constant enumerates 2^N subsets; N={n} > max_nodes={max_nodes}")
    if n < 2 or w.nnz == 0:
        return 0.0
    if csgraph.connected_components(w, directed=False)[0] > 1:
        return 0.0
    dense = w.toarray()
    deg = dense.sum(1)
    total = deg.sum()
    masks = np.arange(1, 2 ** (n - 1), dtype=np.int64)  # node n-1 always outside S: halves the work
    inside = ((masks[:, None] >> np.arange(n)) & 1).astype(np.float64)  # [2^(n-1)-1, n]
    vol = inside @ deg
    cut = ((inside @ dense) * (1.0 - inside)).sum(1)
    denom = np.minimum(vol, total - vol)
    ok = denom > 0
    return float((cut[ok] / denom[ok]).min())
