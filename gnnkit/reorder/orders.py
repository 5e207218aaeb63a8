r"""Node orderings with locality: which old node gets new id :math:`i` (``perm[i] = old``).

===========  =================================================================================
``rcm``      reverse Cuthill-McKee (Cuthill & McKee 1969; George 1971): BFS from a
             peripheral node, neighbours by ascending degree, reversed -- small bandwidth, so
             a row's neighbours have nearby ids (``scipy.sparse.csgraph``).
``degree``   hub sorting: nodes by descending in-degree (stable) -- the hot rows of a power-law
             graph share cache lines and pages (Zhang et al., "Making caches work for graph
             analytics", 2017, "degree sort").
``rabbit``   Rabbit order (Arai et al., IPDPS 2016): community detection by incremental
             aggregation, then DFS over the dendrogram (:mod:`gnnkit.reorder.rabbit`).
``metis``    METIS order: ``num_parts`` balanced parts of minimum edge cut (Karypis & Kumar
             1998, via the optional ``pymetis``), nodes grouped by part, original order
             within a part.
===========  =================================================================================

``rcm``, ``rabbit`` and ``metis`` look at the undirected structure: a directed graph is
symmetrised first (arcs of both directions).
"""
from __future__ import annotations

import numpy as np

__all__ = ["METHODS", "order_from_csr"]

METHODS = ("rcm", "degree", "rabbit", "metis")


def _symmetric(indptr: np.ndarray, indices: np.ndarray, directed: bool):
    """CSR of the union of both arc directions (the same arrays for an undirected graph)."""
    if not directed:
        return indptr, indices
    import scipy.sparse as sp

    n = indptr.shape[0] - 1
    a = sp.csr_matrix((np.ones(indices.shape[0], np.int8), indices, indptr), shape=(n, n))
    s = (a + a.T).tocsr()
    s.sort_indices()
    return s.indptr.astype(np.int64), s.indices


def order_from_csr(indptr: np.ndarray, indices: np.ndarray, method: str, *, directed: bool = True,
                   num_parts: int | None = None, seed: int = 0) -> tuple[np.ndarray, dict]:
    """``(perm int64 [N], info)`` for a destination-major CSR; ``perm[new] = old``."""
    if method not in METHODS:
        raise ValueError(f"reorder: method must be one of {METHODS}, got {method!r}")
    n = indptr.shape[0] - 1
    info: dict = {"method": method}
    if method == "degree":
        deg = np.diff(indptr)
        return np.argsort(-deg, kind="stable").astype(np.int64), info
    ip, ix = _symmetric(indptr, indices, directed)
    if method == "rcm":
        import scipy.sparse as sp
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        a = sp.csr_matrix((np.ones(ix.shape[0], np.int8), ix, ip), shape=(n, n))
        return np.asarray(reverse_cuthill_mckee(a, symmetric_mode=True), dtype=np.int64), info
    if method == "rabbit":
        from gnnkit.reorder.rabbit import rabbit_order

        perm, ncomm = rabbit_order(ip, ix)
        info["top_level_communities"] = int(ncomm)
        return perm, info
    try:
        import pymetis
    except ImportError as e:
        raise ImportError("reorder(method='metis') needs the optional package pymetis "
                          "(pip install pymetis)") from e
    parts = num_parts if num_parts is not None else max(2, n // 4096)
    if isinstance(parts, bool) or not isinstance(parts, (int, np.integer)) or parts < 1:
        raise ValueError(f"reorder: num_parts must be an int >= 1, got {num_parts!r}")
    # METIS wants no self loops
    row = np.repeat(np.arange(n, dtype=np.int64), np.diff(ip))
    keep = ix != row
    if not keep.all():
        cnt = np.bincount(row[keep], minlength=n)
        ip = np.zeros(n + 1, np.int64)
        np.cumsum(cnt, out=ip[1:])
        ix = ix[keep]
    del row, keep
    opts = pymetis.Options(seed=int(seed))
    adj = pymetis.CSRAdjacency(ip, ix) if hasattr(pymetis, "CSRAdjacency") else None
    if adj is not None:
        _, membership = pymetis.part_graph(int(parts), adjacency=adj, options=opts)
    else:  # older pymetis
        _, membership = pymetis.part_graph(int(parts), xadj=ip, adjncy=ix, options=opts)
    membership = np.asarray(membership, dtype=np.int64)
    info["num_parts"] = int(parts)
    return np.argsort(membership, kind="stable").astype(np.int64), info
