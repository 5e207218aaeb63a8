"""Ollivier-Ricci curvature kernels: the net-mass transport problem of an edge, its layout for
:func:`.transport.exact_w1` (global or local bitsets), the per-edge kernel and the plan argmax of
BORF.

kappa(u, v) = 1 - W1(m_u, m_v) with the lazy walks m_x = alpha at x, (1 - alpha) / d_x on each
neighbour (Ollivier 2009; Lin, Lu & Yau 2011 for alpha); the transport is solved on the net mass
mu = m_u - m_v over N[u] u N[v] with costs d(a, b) in {1, 2, 3} (a-u-v-b is always a path).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from gnnkit.analysis._curvature_numba.transport import (ONE, TOL, Layout, exact_w1, new_scratch,
                                                         sinkhorn_cost)
from gnnkit.analysis._curvature_numba.twin import serial_twin

#: Per-thread scratch of one edge's problem: node marks (token arrays over the graph), the net
#: mass on the local support, the sources / sinks and the bitset layout maps.
EdgeScratch = namedtuple("EdgeScratch", [
    "pos_tok", "pos_idx", "adj_tok", "hop_tok",   # [n] marks: slot of a node in the support, adjacency / 2-hop
    "nodes", "mu", "loc",                          # [2D] support nodes, their net mass, their source / sink index
    "srcn", "dstn", "s", "t",                      # [D] source / sink nodes and masses
    "sw", "sbit", "words", "wpos", "pos2sink",     # layout: see transport.Layout
])


# ---------------------------------------------------------------------------- 1- and 2-hop bitsets
@njit(cache=True, parallel=True)
def one_hop_bitset(indptr, indices, nwords):
    """Row a: bit b set iff a ~ b."""
    n = indptr.shape[0] - 1
    adj = np.zeros((n, nwords), np.uint64)
    for a in prange(n):
        for p in range(indptr[a], indptr[a + 1]):
            b = indices[p]
            adj[a, b >> 6] |= np.uint64(1) << np.uint64(b & 63)
    return adj


@njit(cache=True, parallel=True)
def two_hop_bitset(indptr, indices, nwords):
    """Row a: bit b set iff dist(a, b) <= 2 (a itself included)."""
    n = indptr.shape[0] - 1
    adj = np.zeros((n, nwords), np.uint64)
    for a in prange(n):
        adj[a, a >> 6] |= np.uint64(1) << np.uint64(a & 63)
        for p in range(indptr[a], indptr[a + 1]):
            b = indices[p]
            adj[a, b >> 6] |= np.uint64(1) << np.uint64(b & 63)
    r2 = np.zeros((n, nwords), np.uint64)
    for a in prange(n):
        for t in range(nwords):
            r2[a, t] = adj[a, t]
        for p in range(indptr[a], indptr[a + 1]):
            w = indices[p]
            for t in range(nwords):
                r2[a, t] |= adj[w, t]
    return r2


# ---------------------------------------------------------------------------- the problem of an edge
@njit(cache=True)
def new_edge_scratch(n, cap, nwords):
    """Scratch for problems with at most ``cap`` sources / sinks; ``nwords`` > 0: global layout."""
    return EdgeScratch(np.full(n, -1, np.int64), np.zeros(n, np.int64), np.full(n, -1, np.int64),
                       np.full(n, -1, np.int64), np.empty(2 * cap, np.int64), np.empty(2 * cap),
                       np.empty(2 * cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64),
                       np.empty(cap), np.empty(cap), np.empty(cap, np.int64), np.empty(cap, np.int64),
                       np.empty(max(nwords, (cap + 63) >> 6), np.int64), np.full(max(nwords, 1), -1, np.int64),
                       np.zeros(max(n if nwords > 0 else 0, 64 * ((cap + 63) >> 6)), np.int64))


@njit(cache=True)
def net_mass(u, v, indptr, indices, alpha, E, tok):
    """Net mass mu = m_u - m_v on the local support N[u] u N[v], split into sources (mu > 0) and
    sinks (mu < 0) in support order. Fills ``E.srcn/s[:ns]``, ``E.dstn/t[:nt]`` (t = -mu, not yet
    balanced) and ``E.loc`` (support slot -> source index, -2 - sink index, or -1);
    ``E.pos_idx[z]`` is the slot of node z where ``E.pos_tok[z] == tok``. Returns (ns, nt, ssum,
    tsum) with the sums accumulated in that order."""
    pos_tok, pos_idx, nodes, mu = E.pos_tok, E.pos_idx, E.nodes, E.mu
    du = indptr[u + 1] - indptr[u]
    dv = indptr[v + 1] - indptr[v]
    share_u = (1.0 - alpha) / du
    share_v = (1.0 - alpha) / dv
    cnt = 0
    # the terms of m_u - m_v in support order: u (+alpha), v (-alpha), N(u) (+share_u), N(v)
    # (-share_v); a node gets its slot at its first term
    for k in range(2 + du + dv):
        if k < 2:
            z = u if k == 0 else v
            add = alpha if k == 0 else -alpha
        elif k < 2 + du:
            z = indices[indptr[u] + k - 2]
            add = share_u
        else:
            z = indices[indptr[v] + k - 2 - du]
            add = -share_v
        if pos_tok[z] != tok:
            pos_tok[z] = tok
            pos_idx[z] = cnt
            nodes[cnt] = z
            mu[cnt] = 0.0
            cnt += 1
        mu[pos_idx[z]] += add
    ns = 0
    nt = 0
    ssum = 0.0
    tsum = 0.0
    for k in range(cnt):
        if mu[k] > TOL:
            E.loc[k] = ns
            E.srcn[ns] = nodes[k]
            E.s[ns] = mu[k]
            ssum += mu[k]
            ns += 1
        elif mu[k] < -TOL:
            E.loc[k] = -2 - nt
            E.dstn[nt] = nodes[k]
            E.t[nt] = -mu[k]
            tsum -= mu[k]
            nt += 1
        else:
            E.loc[k] = -1
    return ns, nt, ssum, tsum


@njit(cache=True)
def _warm_pair(u, v, E):
    """(source index of u, sink index of v), -1 where u is no source or v no sink."""
    lu = E.loc[E.pos_idx[u]]
    lv = E.loc[E.pos_idx[v]]
    if lu >= 0 and lv <= -2:
        return lu, -2 - lv
    return -1, -1


@njit(cache=True)
def global_layout(E, nt, r1, r2):
    """Layout on the graph's bitsets: sink j at bit ``dstn[j]``; the scanned words are those that
    hold a sink, in order of first appearance."""
    nw = 0
    for j in range(nt):
        b = E.dstn[j]
        E.pos2sink[b] = j
        gw = b >> 6
        if E.wpos[gw] < 0:
            E.wpos[gw] = nw
            E.words[nw] = gw
            nw += 1
        E.sw[j] = E.wpos[gw]
        E.sbit[j] = b & 63
    for w in range(nw):
        E.wpos[E.words[w]] = -1  # reset for the next edge
    return Layout(r1, r2, E.srcn, E.words, nw, E.sw, E.sbit, E.pos2sink)


@njit(cache=True)
def local_layout(E, ns, nt, indptr, indices, r2, use_bits, tok):
    """Layout on local bitsets [ns, ceil(nt / 64)] built from the graph (1-hop marks; 2-hop from
    the global 2-hop bitset when ``use_bits``, else from 2-hop marks): O(ns nt / 64) memory.

    Sinks take compact positions in the order :func:`global_layout` scans them (words by first
    appearance, bits by node id), so :func:`.transport.exact_w1` makes the same choices on either
    layout and returns bit-identical values.
    """
    dstn = E.dstn
    # rank of each sink in the global scan order: key = (first sink index of its word, node & 63)
    order = np.argsort(dstn[:nt], kind="mergesort")
    first = np.empty(nt, np.int64)
    a_ = 0
    while a_ < nt:
        b_ = a_
        f = order[a_]
        while b_ < nt and (dstn[order[b_]] >> 6) == (dstn[order[a_]] >> 6):
            f = min(f, order[b_])
            b_ += 1
        for c in range(a_, b_):
            first[order[c]] = f
        a_ = b_
    key = np.empty(nt, np.int64)
    for j in range(nt):
        key[j] = first[j] * 64 + (dstn[j] & 63)
    rank = np.argsort(key, kind="mergesort")
    nw = (nt + 63) >> 6
    for r in range(nt):
        j = rank[r]
        E.sw[j] = r >> 6
        E.sbit[j] = r & 63
        E.pos2sink[r] = j
    for w in range(nw):
        E.words[w] = w
    X1 = np.zeros((ns, nw), np.uint64)
    X2 = np.zeros((ns, nw), np.uint64)
    rows = np.arange(ns)
    for i in range(ns):
        a = E.srcn[i]
        atok = tok * 4 + 1
        for p in range(indptr[a], indptr[a + 1]):
            E.adj_tok[indices[p]] = atok
        htok = tok * (2 * E.nodes.shape[0] + 4) + i  # unique per (edge, source)
        if not use_bits:
            E.hop_tok[a] = htok
            for p in range(indptr[a], indptr[a + 1]):
                w = indices[p]
                E.hop_tok[w] = htok
                for q in range(indptr[w], indptr[w + 1]):
                    E.hop_tok[indices[q]] = htok
        for j in range(nt):
            b = dstn[j]
            bit = ONE << np.uint64(E.sbit[j])
            if E.adj_tok[b] == atok:
                X1[i, E.sw[j]] |= bit
                X2[i, E.sw[j]] |= bit
            elif use_bits:
                if (r2[a, b >> 6] >> np.uint64(b & 63)) & ONE:
                    X2[i, E.sw[j]] |= bit
            elif E.hop_tok[b] == htok:
                X2[i, E.sw[j]] |= bit
        for p in range(indptr[a], indptr[a + 1]):
            E.adj_tok[indices[p]] = -1  # adjacency tokens are per source
    return Layout(X1, X2, rows, E.words, nw, E.sw, E.sbit, E.pos2sink)


@njit(cache=True)
def cost_matrix(L, ns, nt):
    """Dense C [ns, nt] (float64) of a layout (for Sinkhorn)."""
    C = np.empty((ns, nt))
    for i in range(ns):
        a = L.rows[i]
        for j in range(nt):
            gw = L.words[L.sw[j]]
            bit = np.uint64(L.sbit[j])
            if (L.r1[a, gw] >> bit) & ONE:
                C[i, j] = 1.0
            elif (L.r2[a, gw] >> bit) & ONE:
                C[i, j] = 2.0
            else:
                C[i, j] = 3.0
    return C


# ---------------------------------------------------------------------------- the kernel
@njit(cache=True)
def orc_edge(u, v, indptr, indices, alpha, r1, r2, use_bits, fast, exact_max, reg, max_iter, E, S, tok):
    """(kappa, exact) of edge u~v. Exact transport (:func:`.transport.exact_w1` on the global layout
    when ``fast``, else on local bitsets) when ns * nt <= exact_max, else Sinkhorn (an upper bound
    on W1, so a lower bound on kappa). kappa = NaN if the exact solver failed (cannot happen for a
    balanced problem; the caller raises)."""
    ns, nt, ssum, tsum = net_mass(u, v, indptr, indices, alpha, E, tok)
    if ns == 0 or nt == 0:
        return 1.0, True
    if ns * nt <= exact_max:
        scale = ssum / tsum  # balance exactly (rounding) so that everything is routed
        for j in range(nt):
            E.t[j] *= scale
        L = (global_layout(E, nt, r1, r2) if fast
             else local_layout(E, ns, nt, indptr, indices, r2, use_bits, tok))
        wi, wj = _warm_pair(u, v, E)
        w1, _plan = exact_w1(L, E.s, E.t, ns, nt, wi, wj, S)
        if w1 < 0.0:
            return np.nan, True
        return 1.0 - w1, True
    L = local_layout(E, ns, nt, indptr, indices, r2, use_bits, tok)
    s = E.s[:ns].copy()
    t = E.t[:nt].copy()
    t *= s.sum() / t.sum()
    w1 = sinkhorn_cost(cost_matrix(L, ns, nt), s, t, reg, max_iter, 1e-9)
    return 1.0 - w1, False


@njit(cache=True)
def _orc_chunk(c, nchunks, indptr, indices, eu, ev, alpha, r1, r2, use_bits, fast, exact_max, reg, max_iter,
               cap, out, exact):
    n = indptr.shape[0] - 1
    nwords = r1.shape[1] if fast else 0
    E = new_edge_scratch(n, cap, nwords)
    S = new_scratch(cap, nwords if fast else (cap + 63) >> 6)
    for e in range(c, eu.shape[0], nchunks):
        k, ex = orc_edge(eu[e], ev[e], indptr, indices, alpha, r1, r2, use_bits, fast, exact_max, reg,
                         max_iter, E, S, e)
        out[e] = k
        exact[e] = ex


@njit(cache=True)
def _max_degree(indptr):
    maxdeg = 0
    for i in range(indptr.shape[0] - 1):
        maxdeg = max(maxdeg, indptr[i + 1] - indptr[i])
    return maxdeg


@njit(cache=True, parallel=True)
def ollivier_ricci_kernel(indptr, indices, eu, ev, alpha, r1, r2, use_bits, fast, exact_max, reg,
                          max_iter, nchunks):
    """Curvature of every edge and whether it is exact. ``fast``: exact problems on the global
    1-hop (r1) and 2-hop (r2) bitsets; else on local bitsets (r2 used when ``use_bits``). Chunk c
    takes the edges c, c + nchunks, ... so that the expensive edges of a hub are spread over all
    threads; every edge's value depends only on the graph (identical for any thread count)."""
    m = eu.shape[0]
    out = np.zeros(m)
    exact = np.zeros(m, np.bool_)
    cap = _max_degree(indptr) + 2
    for c in prange(nchunks):
        _orc_chunk(c, nchunks, indptr, indices, eu, ev, alpha, r1, r2, use_bits, fast, exact_max, reg,
                   max_iter, cap, out, exact)
    return out, exact


ollivier_ricci_serial = serial_twin(ollivier_ricci_kernel, "ollivier_ricci_serial")


@njit(cache=True)
def orc_transport_argmax(u, v, indptr, indices, alpha):
    """Exact optimal plan of the net-mass problem of edge (u, v); return the non-adjacent pair
    (p, q), p != q, carrying the most mass (first in source, sink order on ties), or (-1, -1)."""
    n = indptr.shape[0] - 1
    cap = indptr[u + 1] - indptr[u] + indptr[v + 1] - indptr[v] + 2
    E = new_edge_scratch(n, cap, 0)
    S = new_scratch(cap, (cap + 63) >> 6)
    ns, nt, ssum, tsum = net_mass(u, v, indptr, indices, alpha, E, 0)
    if ns == 0 or nt == 0:
        return -1, -1
    scale = ssum / tsum
    for j in range(nt):
        E.t[j] *= scale
    r2 = np.zeros((1, 1), np.uint64)
    L = local_layout(E, ns, nt, indptr, indices, r2, False, 0)
    wi, wj = _warm_pair(u, v, E)
    _w, FT = exact_w1(L, E.s, E.t, ns, nt, wi, wj, S)
    best = 0.0
    bp = -1
    bq = -1
    for i in range(ns):
        for j in range(nt):
            if not (S.FS[j, i >> 6] >> np.uint64(i & 63)) & ONE:
                continue
            if (L.r1[i, L.sw[j]] >> np.uint64(L.sbit[j])) & ONE:
                continue  # adjacent (cost 1)
            f = FT[j * ns + i]
            if f > best + TOL:
                best = f
                bp = E.srcn[i]
                bq = E.dstn[j]
    return bp, bq
