r"""Rabbit order (Arai, Shiokawa, Yamamuro, Onizuka & Iwamura, "Rabbit Order: Just-in-time
Parallel Reordering for Fast Graph Analysis", IPDPS 2016), sequential version.

1. **Community detection by incremental aggregation** (the paper's Algorithm 2 run by one
   thread).  Vertices are visited once, in increasing degree order.  Visiting :math:`u` first
   aggregates its edges -- its own and those of every vertex merged into it so far, each
   endpoint replaced by its current community, duplicates summed, internal edges dropped -- into
   one compacted list (the paper's lazy aggregation), then finds the neighbouring community
   :math:`v` of largest modularity gain

   .. math::
       \Delta Q(u, v) = 2 \Big( \frac{w_{uv}}{2m} - \frac{d_u d_v}{(2m)^2} \Big)

   (:math:`w_{uv}` the edge weight between the two communities, :math:`d` the total degree of a
   community, :math:`2m` the total degree).  If :math:`\Delta Q > 0` then :math:`u` merges into
   :math:`v`: :math:`d_v \mathrel{+}= d_u`, :math:`u`'s edge list is appended to :math:`v`'s and
   :math:`u` becomes a child of :math:`v` in the dendrogram; otherwise :math:`u` stays a
   top-level vertex.
2. **Ordering**: a depth-first (pre-order) traversal of each dendrogram, top-level vertices in
   ascending id, numbers the vertices in visit order, so a community and its sub-communities get
   consecutive ids.

Named simplification: the paper's parallel variant (concurrent merges with atomic updates) is not
implemented; the sequential algorithm is the one the parallel one approximates.  The graph is
treated as undirected with unit arc weights (a directed graph: pass the union of both
directions, :func:`gnnkit.reorder.node_order` does).
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["rabbit_order"]


@njit(cache=True)
def _find(parent, x):
    r = x
    while parent[r] >= 0:
        r = parent[r]
    while parent[x] >= 0 and parent[x] != r:  # path compression
        nxt = parent[x]
        parent[x] = r
        x = nxt
    return r


@njit(cache=True)
def _rabbit(indptr, indices, pool_v, pool_w):
    n = indptr.shape[0] - 1
    deg = np.zeros(n, np.float64)
    for u in range(n):
        for k in range(indptr[u], indptr[u + 1]):
            if indices[k] != u:
                deg[u] += 1.0
    m2 = deg.sum()
    strength = deg.copy()
    parent = np.full(n, -1, np.int64)
    child = np.full(n, -1, np.int64)
    sibling = np.full(n, -1, np.int64)
    # edge-list segments: kind 0 = an original CSR row (weights 1), kind 1 = compacted in the pool
    cap_seg = 2 * n + 1
    seg_kind = np.zeros(cap_seg, np.int8)
    seg_lo = np.zeros(cap_seg, np.int64)
    seg_hi = np.zeros(cap_seg, np.int64)
    seg_next = np.full(cap_seg, -1, np.int64)
    head = np.arange(n)
    tail = np.arange(n)
    for u in range(n):
        seg_lo[u] = indptr[u]
        seg_hi[u] = indptr[u + 1]
    nseg = n
    cap = pool_v.shape[0]
    used = 0
    acc = np.zeros(n, np.float64)
    stamp = np.full(n, -1, np.int64)
    touched = np.empty(n, np.int64)
    order = np.argsort(deg, kind="mergesort")
    for u in order:
        nt = 0
        s = head[u]
        while s >= 0:
            for k in range(seg_lo[s], seg_hi[s]):
                if seg_kind[s] == 0:
                    x, w = indices[k], 1.0
                else:
                    x, w = pool_v[k], float(pool_w[k])
                c = _find(parent, x)
                if c == u:
                    continue
                if stamp[c] != u:
                    stamp[c] = u
                    acc[c] = 0.0
                    touched[nt] = c
                    nt += 1
                acc[c] += w
            s = seg_next[s]
        if used + nt > cap:  # grow the pool
            cap = max(2 * cap, used + nt)
            nv = np.empty(cap, pool_v.dtype)
            nw = np.empty(cap, pool_w.dtype)
            nv[:used] = pool_v[:used]
            nw[:used] = pool_w[:used]
            pool_v, pool_w = nv, nw
        best, best_dq = -1, 0.0
        for t in range(nt):
            c = touched[t]
            pool_v[used + t] = c
            pool_w[used + t] = int(acc[c])
            dq = acc[c] / m2 - strength[u] * strength[c] / (m2 * m2)
            if dq > best_dq:
                best, best_dq = c, dq
        # u's chain becomes its one compacted segment
        s = nseg
        nseg += 1
        seg_kind[s] = 1
        seg_lo[s] = used
        seg_hi[s] = used + nt
        seg_next[s] = -1
        used += nt
        head[u] = s
        tail[u] = s
        if best >= 0:
            parent[u] = best
            strength[best] += strength[u]
            seg_next[tail[best]] = head[u]
            tail[best] = tail[u]
            sibling[u] = child[best]
            child[best] = u
    # DFS pre-order over each dendrogram, top-level vertices in ascending id
    perm = np.empty(n, np.int64)
    stack = np.empty(n, np.int64)
    pos = 0
    for r in range(n):
        if parent[r] >= 0:
            continue
        top = 0
        stack[0] = r
        top = 1
        while top > 0:
            top -= 1
            v = stack[top]
            perm[pos] = v
            pos += 1
            c = child[v]
            while c >= 0:
                stack[top] = c
                top += 1
                c = sibling[c]
    ncomm = 0
    for r in range(n):
        if parent[r] < 0:
            ncomm += 1
    return perm, ncomm


def rabbit_order(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, int]:
    """``(perm, num_top_level_communities)`` of a symmetric CSR; ``perm[new] = old``.

    The aggregated edge lists live in one pool (community id, integer arc count), int32 while
    ids and counts fit, sized ``E`` at first and doubled when full."""
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    n, e = indptr.shape[0] - 1, int(indptr[-1])
    dt = np.int32 if max(n, e) < 2**31 else np.int64
    cap = max(e, 16)
    return _rabbit(indptr, np.ascontiguousarray(indices), np.empty(cap, dt), np.empty(cap, dt))
