r"""Laplacian eigenvectors per connected component, with a deterministic sign (for DGN).

For every connected component :math:`C` of the symmetrised, unweighted graph (self loops and
duplicate arcs dropped) with Laplacian :math:`L_C = D_C - A_C` (or
:math:`I - D_C^{-1/2} A_C D_C^{-1/2}` with ``normalization='sym'``), the ``k`` eigenvectors of
the smallest eigenvalues after the trivial one are computed and written to the component's rows.

* **Solver:** dense ``numpy.linalg.eigh`` for components of at most ``dense_threshold`` nodes,
  else ``scipy.sparse.linalg.eigsh`` in shift-invert mode around :math:`\sigma = -10^{-3}`
  with a fixed start vector (so repeated calls agree).
* **Sign:** each eigenvector is flipped so that its entry of largest magnitude is positive; among
  entries within ``1e-6`` (relative) of the largest magnitude the lowest node id decides. Within a
  degenerate eigenspace (e.g. a square grid, a cycle) the basis is whatever the solver returns.
* **Small components:** a component with ``n_C <= k`` nodes has only ``n_C - 1`` non-trivial
  eigenvectors; the missing columns (and all columns of an isolated node) are 0 with
  ``small='pad'`` (the default, so a batch of small graphs works), or raise :class:`GraphError`
  with ``small='raise'``.
* **Cache:** results are kept in a small LRU cache keyed by the graph's arcs and the arguments.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from gnnkit.graph import GraphError
from gnnkit.nn._utils import check_positive_int

__all__ = ["laplacian_eigenvectors", "clear_eigenvector_cache"]

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 32


def clear_eigenvector_cache() -> None:
    _CACHE.clear()


def _key(graph, k, normalization, small, dense_threshold):
    h = hashlib.sha1()
    h.update(graph.indptr.cpu().numpy().tobytes())
    h.update(graph.indices.cpu().to(torch.int64).numpy().tobytes())
    return (h.hexdigest(), graph.num_nodes, k, normalization, small, dense_threshold)


def _fix_sign(v: np.ndarray) -> np.ndarray:
    a = np.abs(v)
    m = a.max()
    if m == 0:
        return v
    first = int(np.flatnonzero(a >= m * (1 - 1e-6))[0])
    return -v if v[first] < 0 else v


def _component_eigvecs(A: sp.csr_matrix, k: int, normalization, dense_threshold: int) -> np.ndarray:
    n = A.shape[0]
    deg = np.asarray(A.sum(1)).ravel()
    if normalization == "sym":
        d = 1.0 / np.sqrt(deg)
        L = sp.eye(n) - sp.diags(d) @ A @ sp.diags(d)
    else:
        L = sp.diags(deg) - A
    m = min(k + 1, n)
    if n <= dense_threshold:
        _, vecs = np.linalg.eigh(L.toarray())
        vecs = vecs[:, :m]
    else:
        v0 = np.cos(np.arange(n) + 1.0)  # fixed start vector: reproducible
        vals, vecs = eigsh(L.tocsc(), k=m, sigma=-1e-3, which="LM", v0=v0)
        vecs = vecs[:, np.argsort(vals)]
    out = np.zeros((n, k))
    for c in range(1, m):
        out[:, c - 1] = _fix_sign(vecs[:, c])
    return out


def laplacian_eigenvectors(graph, k: int = 1, normalization: str | None = None, *,
                           small: str = "pad", dense_threshold: int = 300,
                           cache: bool = True) -> torch.Tensor:
    r"""The ``k`` smallest non-trivial Laplacian eigenvectors of every connected component.

    Args:
        graph (Graph): any graph; arcs are symmetrised and unweighted first.
        k (int): eigenvectors per component. (default: ``1``)
        normalization (str, optional): :obj:`None` (combinatorial :math:`D - A`) or ``'sym'``.
        small (str): ``'pad'`` (zeros) or ``'raise'`` for components with at most ``k`` nodes.
        dense_threshold (int): largest component solved densely. (default: ``300``)
        cache (bool): use / fill the LRU cache. (default: :obj:`True`)

    Returns:
        float64 ``[N, k]``; column ``c`` holds, on each component, its eigenvector number
        ``c + 1`` (0 = the constant one, skipped).

    >>> import torch, gnnkit
    >>> path = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 3]]), directed=False)
    >>> [round(v, 4) for v in laplacian_eigenvectors(path)[:, 0].tolist()]   # Fiedler vector
    [0.6533, 0.2706, -0.2706, -0.6533]
    """
    check_positive_int("laplacian_eigenvectors", k=k)
    if normalization not in (None, "sym"):
        raise ValueError(f"laplacian_eigenvectors: normalization must be None or 'sym', got {normalization!r}")
    if small not in ("pad", "raise"):
        raise ValueError(f"laplacian_eigenvectors: small must be 'pad' or 'raise', got {small!r}")
    key = _key(graph, k, normalization, small, dense_threshold) if cache else None
    if cache and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key].clone()
    N = graph.num_nodes
    ei = graph.edge_index.cpu().numpy()
    keep = ei[0] != ei[1]
    src, dst = ei[0][keep], ei[1][keep]
    A = sp.coo_matrix((np.ones(2 * src.size), (np.r_[src, dst], np.r_[dst, src])), shape=(N, N)).tocsr()
    A.data[:] = 1.0  # duplicates summed by tocsr -> back to 0/1
    out = np.zeros((N, k))
    if N:
        ncomp, labels = connected_components(A, directed=False)
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(ncomp + 1))
        for c in range(ncomp):
            nodes = order[bounds[c]:bounds[c + 1]]
            if nodes.size <= k and small == "raise":
                raise GraphError(
                    f"laplacian_eigenvectors: connected component {c} (nodes {nodes[:5].tolist()}"
                    f"{'...' if nodes.size > 5 else ''}) has {nodes.size} node(s), so only "
                    f"{nodes.size - 1} non-trivial eigenvector(s) but k={k} were asked for; use "
                    "small='pad' to fill them with zeros")
            if nodes.size <= 1:
                continue
            out[nodes] = _component_eigvecs(A[nodes][:, nodes], k, normalization, dense_threshold)
    res = torch.from_numpy(out)
    if cache:
        _CACHE[key] = res.clone()
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return res
