"""Balanced Forman curvature kernels (Topping et al., ICLR 2022, Definition 1), the triangle count
of every edge, and the SDRF helpers (candidate scores in G + kl, edges affected by an edit).

BF(i, j) reads the degrees, the triangles at i~j and the 4-cycles through it; the one counter
:func:`edge_counts` computes them for both the curvature of every edge and SDRF's candidates.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from gnnkit.analysis._curvature_numba.twin import serial_twin


@njit(cache=True)
def bf_value(di, dj, tri, sq, gamma):
    """Balanced Forman curvature Ric(i, j) of Topping et al. (2022), Definition 1, from the degrees,
    the triangle count, the 4-cycle count and gamma_max (0 when min degree <= 1)."""
    dmin = min(di, dj)
    dmax = max(di, dj)
    if dmin <= 1:
        return 0.0
    val = 2.0 / di + 2.0 / dj - 2.0 + 2.0 * tri / dmax + tri / dmin
    if gamma > 0:
        val += sq / (gamma * dmax)
    return val


@njit(cache=True)
def edge_counts(i, j, indptr, indices, mark_i, mark_j, tok, cnt, s_i, s_j):
    """Triangles and 4-cycles of the edge i~j: returns (tri, sq, gamma, n_si, n_sj).

    Marks S1(i) (``mark_i[x] == tok``) and S1(j) (``mark_j``). For side a in {i, j}, b the other
    end: S_a = S1(a) \\ ({b} u S1(b)) goes to ``s_a[:n_sa]``; every k in S_a gets
    ``cnt[k]`` = #{w in S1(k) n S1(b) \\ S1(a), w != a} (the 4-cycles a-k-w-b without diagonals).
    sq = #{k : cnt[k] > 0}, gamma = max cnt (Topping et al.'s #square and gamma_max).
    """
    for p in range(indptr[i], indptr[i + 1]):
        mark_i[indices[p]] = tok
    for p in range(indptr[j], indptr[j + 1]):
        mark_j[indices[p]] = tok
    tri = 0
    for p in range(indptr[i], indptr[i + 1]):
        if mark_j[indices[p]] == tok:
            tri += 1
    gamma = 0
    sq = 0
    n_si = 0
    n_sj = 0
    for side in range(2):
        a = i if side == 0 else j
        b = j if side == 0 else i
        mark_a = mark_i if side == 0 else mark_j
        mark_b = mark_j if side == 0 else mark_i
        for p in range(indptr[a], indptr[a + 1]):
            k = indices[p]
            if k == b or mark_b[k] == tok:
                continue
            if side == 0:
                s_i[n_si] = k
                n_si += 1
            else:
                s_j[n_sj] = k
                n_sj += 1
            c = 0
            for q in range(indptr[k], indptr[k + 1]):
                w = indices[q]
                if w != a and mark_b[w] == tok and mark_a[w] != tok:
                    c += 1
            cnt[k] = c
            if c > 0:
                sq += 1
                if c > gamma:
                    gamma = c
    return tri, sq, gamma, n_si, n_sj


@njit(cache=True)
def bf_edge(i, j, indptr, indices, mark_i, mark_j, tok, cnt, s_i, s_j):
    """BF(i, j) with caller-owned scratch (marks [n], cnt [n], s_i / s_j [max degree])."""
    di = indptr[i + 1] - indptr[i]
    dj = indptr[j + 1] - indptr[j]
    if min(di, dj) <= 1:
        return 0.0
    tri, sq, gamma, _ni, _nj = edge_counts(i, j, indptr, indices, mark_i, mark_j, tok, cnt, s_i, s_j)
    return bf_value(di, dj, tri, sq, gamma)


@njit(cache=True)
def bf_edge_value(i, j, indptr, indices):
    """BF(i, j) with its own scratch (for tests and one-off calls)."""
    n = indptr.shape[0] - 1
    d = max(indptr[i + 1] - indptr[i], indptr[j + 1] - indptr[j])
    return bf_edge(i, j, indptr, indices, np.full(n, -1, np.int64), np.full(n, -1, np.int64), 0,
                   np.zeros(n, np.int64), np.empty(d, np.int64), np.empty(d, np.int64))


@njit(cache=True)
def _bf_chunk(c, nchunks, indptr, indices, eu, ev, out):
    n = indptr.shape[0] - 1
    m = eu.shape[0]
    maxdeg = 0
    for x in range(n):
        maxdeg = max(maxdeg, indptr[x + 1] - indptr[x])
    mark_i = np.full(n, -1, np.int64)
    mark_j = np.full(n, -1, np.int64)
    cnt = np.zeros(n, np.int64)
    s_i = np.empty(maxdeg, np.int64)
    s_j = np.empty(maxdeg, np.int64)
    for e in range(c * m // nchunks, (c + 1) * m // nchunks):
        out[e] = bf_edge(eu[e], ev[e], indptr, indices, mark_i, mark_j, e, cnt, s_i, s_j)


@njit(cache=True, parallel=True)
def balanced_forman_kernel(indptr, indices, eu, ev, nchunks):
    """BF of every edge (eu[e] < ev[e]); contiguous chunks of edges in parallel."""
    out = np.zeros(eu.shape[0])
    for c in prange(nchunks):
        _bf_chunk(c, nchunks, indptr, indices, eu, ev, out)
    return out


balanced_forman_serial = serial_twin(balanced_forman_kernel, "balanced_forman_serial")


# ---------------------------------------------------------------------------- triangles
@njit(cache=True)
def _common(indptr, indices, i, j):
    p, pe = indptr[i], indptr[i + 1]
    q, qe = indptr[j], indptr[j + 1]
    cnt = 0
    while p < pe and q < qe:
        a = indices[p]
        b = indices[q]
        if a == b:
            cnt += 1
            p += 1
            q += 1
        elif a < b:
            p += 1
        else:
            q += 1
    return cnt


@njit(cache=True, parallel=True)
def triangle_kernel(indptr, indices, eu, ev):
    """Triangles through every edge (sorted-list intersection)."""
    m = eu.shape[0]
    out = np.zeros(m, np.int64)
    for e in prange(m):
        out[e] = _common(indptr, indices, eu[e], ev[e])
    return out


triangle_serial = serial_twin(triangle_kernel, "triangle_serial")


# ---------------------------------------------------------------------------- SDRF
@njit(cache=True)
def _bf_new_neighbour(z, s_a, n_a, s_b, n_b, cnt, zmark, tok):
    """(sq, gamma) once endpoint a of i~j gains the neighbour z in S1(b) \\ S1(a): every k in
    S_a loses the 4-cycle through z (if k ~ z) and z leaves S_b (it becomes a triangle)."""
    sq = 0
    gamma = 0
    for t in range(n_a):
        c = cnt[s_a[t]] - (1 if zmark[s_a[t]] == tok else 0)
        if c > 0:
            sq += 1
            if c > gamma:
                gamma = c
    for t in range(n_b):
        if s_b[t] != z:
            c = cnt[s_b[t]]
            if c > 0:
                sq += 1
                if c > gamma:
                    gamma = c
    return sq, gamma


@njit(cache=True)
def sdrf_candidates(i, j, indptr, indices):
    """SDRF candidates of the edge i~j and BF(i, j) in G + kl for each, in one pass.

    Candidates are the pairs (k, l), k in B1(i) = [i, S1(i)...], l in B1(j) = [j, S1(j)...]
    (each ball in CSR order), in row-major order, with k != l, k !~ l, and (k, l) dropped when
    (l, k) came earlier. The value of each equals BF(i, j) recounted in G + kl (:func:`bf_edge`)
    bit for bit: the same integers (degrees, triangles, 4-cycle count and gamma, from the same
    counter :func:`edge_counts`) go through the same formula, but they are updated from those of
    G instead of recounted:

    - k = i (resp. l = j): i gains the neighbour l in S1(j) (resp. j gains k in S1(i)): one more
      triangle, l leaves S_j, and every k' in S_i adjacent to l loses one 4-cycle;
    - otherwise only the 4-cycle counts of k and l can change, each by +1, and only when
      k in S_i = S1(i) \\ S1[j] and l in S_j = S1(j) \\ S1[i].

    Cost O(sum of degrees in B1(i) u B1(j) + |B1(i)| |B1(j)| + (d_i + d_j)^2).
    Returns (cand_k int64, cand_l int64, curvature float64).
    """
    n = indptr.shape[0] - 1
    di = indptr[i + 1] - indptr[i]
    dj = indptr[j + 1] - indptr[j]
    mark_i = np.full(n, -1, np.int64)
    mark_j = np.full(n, -1, np.int64)
    cnt = np.zeros(n, np.int64)
    s_i = np.empty(di, np.int64)
    s_j = np.empty(dj, np.int64)
    tri, sq, gamma, n_si, n_sj = edge_counts(i, j, indptr, indices, mark_i, mark_j, 0, cnt, s_i, s_j)
    in_si = np.zeros(n, np.bool_)
    in_sj = np.zeros(n, np.bool_)
    for t in range(n_si):
        in_si[s_i[t]] = True
    for t in range(n_sj):
        in_sj[s_j[t]] = True
    base = bf_value(di, dj, tri, sq, gamma)

    nbi = di + 1
    nbj = dj + 1
    ball_i = np.empty(nbi, np.int64)
    ball_j = np.empty(nbj, np.int64)
    ball_i[0] = i
    ball_i[1:] = indices[indptr[i]:indptr[i + 1]]
    ball_j[0] = j
    ball_j[1:] = indices[indptr[j]:indptr[j + 1]]
    pos_i = np.full(n, -1, np.int64)
    for t in range(nbi):
        pos_i[ball_i[t]] = t
    adj = np.full(n, -1, np.int64)  # adj[x] == t: x ~ ball_i[t]
    zmark = np.full(n, -1, np.int64)
    out_k = np.empty(nbi * nbj, np.int64)
    out_l = np.empty(nbi * nbj, np.int64)
    out_v = np.empty(nbi * nbj)
    m = 0
    for t in range(nbi):
        k = ball_i[t]
        for p in range(indptr[k], indptr[k + 1]):
            adj[indices[p]] = t
        for s in range(nbj):
            l = ball_j[s]
            if k == l or adj[l] == t:
                continue
            if pos_i[l] >= 0 and pos_i[l] < t and (k == j or mark_j[k] == 0):
                continue  # (l, k) is the same edge and came first
            if k == i:  # i gains l (l in S_j since l !~ i, l != j)
                for p in range(indptr[l], indptr[l + 1]):
                    zmark[indices[p]] = m
                sq2, g2 = _bf_new_neighbour(l, s_i, n_si, s_j, n_sj, cnt, zmark, m)
                val = bf_value(di + 1, dj, tri + 1, sq2, g2)
            elif l == j:  # j gains k (k in S_i)
                for p in range(indptr[k], indptr[k + 1]):
                    zmark[indices[p]] = m
                sq2, g2 = _bf_new_neighbour(k, s_j, n_sj, s_i, n_si, cnt, zmark, m)
                val = bf_value(di, dj + 1, tri + 1, sq2, g2)
            elif in_si[k] and in_sj[l]:  # new 4-cycle i-k-l-j
                sq2 = sq + (1 if cnt[k] == 0 else 0) + (1 if cnt[l] == 0 else 0)
                g2 = max(gamma, cnt[k] + 1, cnt[l] + 1)
                val = bf_value(di, dj, tri, sq2, g2)
            else:
                val = base
            out_k[m] = k
            out_l[m] = l
            out_v[m] = val
            m += 1
    return out_k[:m], out_l[:m], out_v[:m]


@njit(cache=True)
def bf_affected_edges(a, b, indptr, indices):
    """Sorted unique keys ``u * n + v`` (u < v) of the edges whose balanced Forman curvature can
    differ between G and G with the edge a~b toggled; call it on the graph that contains a~b.

    BF(u, v) reads d_u, d_v, S1(u), S1(v) and the edges between S1(u) and S1(v). Toggling a~b
    changes only d_a, d_b, S1(a), S1(b) and the edge a~b itself, so an edge off {a, b} can
    change only if one end is a neighbour of a and the other a neighbour of b. The result is
    the edges at a or b plus the edges between S1(a) and S1(b) (a superset of those that change).
    """
    n = indptr.shape[0] - 1
    if indptr[b + 1] - indptr[b] < indptr[a + 1] - indptr[a]:
        a, b = b, a  # scan the 2-hop neighbourhood of the end of smaller degree
    in_b = np.zeros(n, np.bool_)
    for p in range(indptr[b], indptr[b + 1]):
        in_b[indices[p]] = True
    size = (indptr[a + 1] - indptr[a]) + (indptr[b + 1] - indptr[b])
    for p in range(indptr[a], indptr[a + 1]):
        u = indices[p]
        size += indptr[u + 1] - indptr[u]
    keys = np.empty(size, np.int64)
    m = 0
    for x in (a, b):
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            keys[m] = min(x, y) * n + max(x, y)
            m += 1
    for p in range(indptr[a], indptr[a + 1]):
        u = indices[p]
        for q in range(indptr[u], indptr[u + 1]):
            v = indices[q]
            if in_b[v]:
                keys[m] = min(u, v) * n + max(u, v)
                m += 1
    return np.unique(keys[:m])
