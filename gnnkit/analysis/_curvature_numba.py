"""numba kernels of :mod:`gnnkit.analysis.curvature` (private).

All kernels take a *simple undirected* graph as sorted CSR arrays (``indptr`` int64 [N+1],
``indices`` int64, symmetric, no self loops, no duplicates) and a list of undirected edges
``eu[e] < ev[e]``. Edges are split into ``nchunks`` contiguous chunks processed with ``prange``;
every chunk owns its scratch arrays and every edge's value depends only on the graph, so the
result is identical for any number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

_TOL = 1e-13
_ONE = np.uint64(1)
_K = 32    # dual groups of the bit-parallel ORC solver: psi in [-_OFF, _K - _OFF)
_OFF = 16


# ---------------------------------------------------------------------------- balanced Forman
@njit(cache=True)
def _bf_value(di, dj, tri, sq, gamma):
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
def _bf_edge(i, j, indptr, indices, mark_i, mark_j, tok):
    di = indptr[i + 1] - indptr[i]
    dj = indptr[j + 1] - indptr[j]
    if min(di, dj) <= 1:
        return 0.0
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
    # 4-cycles i-k-w-j without diagonals: k in S1(i) \ ({j} u S1(j)),
    # w in S1(k) n S1(j) \ S1(i), w != i. Same from j's side with the roles swapped.
    for side in range(2):
        a = i if side == 0 else j
        b = j if side == 0 else i
        mark_a = mark_i if side == 0 else mark_j
        mark_b = mark_j if side == 0 else mark_i
        for p in range(indptr[a], indptr[a + 1]):
            k = indices[p]
            if k == b or mark_b[k] == tok:
                continue
            cnt = 0
            for q in range(indptr[k], indptr[k + 1]):
                w = indices[q]
                if w != a and mark_b[w] == tok and mark_a[w] != tok:
                    cnt += 1
            if cnt > 0:
                sq += 1
                if cnt > gamma:
                    gamma = cnt
    return _bf_value(di, dj, tri, sq, gamma)


@njit(cache=True, parallel=True)
def balanced_forman_kernel(indptr, indices, eu, ev, nchunks):
    n = indptr.shape[0] - 1
    m = eu.shape[0]
    out = np.zeros(m)
    for c in prange(nchunks):
        lo = c * m // nchunks
        hi = (c + 1) * m // nchunks
        mark_i = np.full(n, -1, np.int64)
        mark_j = np.full(n, -1, np.int64)
        for e in range(lo, hi):
            out[e] = _bf_edge(eu[e], ev[e], indptr, indices, mark_i, mark_j, e)
    return out


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
    m = eu.shape[0]
    out = np.zeros(m, np.int64)
    for e in prange(m):
        out[e] = _common(indptr, indices, eu[e], ev[e])
    return out


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


# ---------------------------------------------------------------------------- exact transport
@njit(cache=True)
def transport_int_costs(C, s, t):
    """Exact min-cost transport for small non-negative integer costs C [m, n] (primal-dual).

    Hungarian-type primal-dual method: keep integer dual potentials phi (rows), psi (columns)
    with phi_i + psi_j <= C_ij; repeatedly send a maximum flow (Dinic) through the admissible
    arcs (phi_i + psi_j == C_ij) and, when no augmenting path is left, raise the duals of the
    reachable set by the smallest slack. Every dual step raises the length of the shortest
    augmenting path, which is at most max(C), so there are at most max(C) + 1 phases.
    Returns (cost, residual, F) with F the optimal plan [m, n]; residual is the mass that could not be routed (0 up to
    rounding; > 0 only if sum(s) != sum(t)).
    """
    m, n = C.shape
    # the plan is stored transposed (FT[j, i] = flow i -> j): the searches scan the sources of
    # one sink, which is then a contiguous row
    FT = np.zeros((n, m))
    rs = s.copy()
    rt = t.copy()
    phi = np.zeros(m, np.int64)
    psi = np.zeros(n, np.int64)
    for i in range(m):
        mn = 1 << 30
        for j in range(n):
            if C[i, j] < mn:
                mn = C[i, j]
        phi[i] = mn
    psi[:] = 1 << 30
    for i in range(m):  # column minima of C - phi, row-major for the cache
        pi = phi[i]
        for j in range(n):
            v = C[i, j] - pi
            if v < psi[j]:
                psi[j] = v
    lvl_s = np.empty(m, np.int64)
    lvl_t = np.empty(n, np.int64)
    queue = np.empty(m + n, np.int64)
    unv_s = np.empty(m, np.int64)
    unv_t = np.empty(n, np.int64)
    ptr_s = np.empty(m, np.int64)
    ptr_t = np.empty(n, np.int64)
    path = np.empty(m + n + 1, np.int64)  # alternating source, sink, source, ...
    total = 0.0
    for i in range(m):
        total += rs[i]
    tol = _TOL * (1.0 + total)
    remaining = total
    # greedy start on the admissible arcs, scarcest first: sources and sinks with few admissible
    # partners are served first, so little flow has to be re-routed by the max-flow phase
    deg_s = np.zeros(m, np.int64)
    deg_t = np.zeros(n, np.int64)
    for i in range(m):
        pi = phi[i]
        for j in range(n):
            if C[i, j] == pi + psi[j]:
                deg_s[i] += 1
                deg_t[j] += 1
    order_s = np.argsort(deg_s)
    order_t = np.argsort(deg_t)
    for a in range(m):
        i = order_s[a]
        pi = phi[i]
        for b in range(n):
            if rs[i] <= tol:
                break
            j = order_t[b]
            if rt[j] > tol and C[i, j] == pi + psi[j]:
                d = min(rs[i], rt[j])
                FT[j, i] += d
                rs[i] -= d
                rt[j] -= d
                remaining -= d
    for _phase in range(10_000):
        # ---- maximum flow on the admissible graph (Dinic)
        while True:
            lvl_s[:] = -1
            lvl_t[:] = -1
            qh = 0
            qt = 0
            # lists of not-yet-labelled nodes (swap-remove): a scan only touches unlabelled ones
            cnt_s = 0
            cnt_t = n
            for j in range(n):
                unv_t[j] = j
            for i in range(m):
                if rs[i] > tol:
                    lvl_s[i] = 0
                    queue[qt] = i
                    qt += 1
                else:
                    unv_s[cnt_s] = i
                    cnt_s += 1
            found = -1
            while qh < qt:
                x = queue[qh]
                qh += 1
                if x < m:
                    i = x
                    li = lvl_s[i]
                    if found >= 0 and li >= found:
                        continue
                    pi = phi[i]
                    k = 0
                    while k < cnt_t:
                        j = unv_t[k]
                        if C[i, j] == pi + psi[j]:
                            lvl_t[j] = li + 1
                            if rt[j] > tol and found < 0:
                                found = li + 1
                            queue[qt] = m + j
                            qt += 1
                            cnt_t -= 1
                            unv_t[k] = unv_t[cnt_t]
                        else:
                            k += 1
                else:
                    j = x - m
                    lj = lvl_t[j]
                    if found >= 0 and lj >= found:
                        continue
                    k = 0
                    while k < cnt_s:
                        i = unv_s[k]
                        if FT[j, i] > tol:
                            lvl_s[i] = lj + 1
                            queue[qt] = i
                            qt += 1
                            cnt_s -= 1
                            unv_s[k] = unv_s[cnt_s]
                        else:
                            k += 1
            if found < 0:
                break
            # blocking flow by DFS along level-increasing arcs, current-arc pointers
            ptr_s[:] = 0
            ptr_t[:] = 0
            for i0 in range(m):
                while rs[i0] > tol and lvl_s[i0] == 0:
                    depth = 0
                    path[0] = i0
                    reached = False
                    while True:
                        if depth % 2 == 0:  # at a source
                            i = path[depth]
                            li = lvl_s[i]
                            pi = phi[i]
                            advanced = False
                            while ptr_s[i] < n:
                                j = ptr_s[i]
                                if lvl_t[j] == li + 1 and lvl_t[j] <= found and C[i, j] == pi + psi[j]:
                                    path[depth + 1] = j
                                    depth += 1
                                    advanced = True
                                    break
                                ptr_s[i] += 1
                            if not advanced:
                                lvl_s[i] = -1  # dead end
                                if depth == 0:
                                    break
                                depth -= 1
                                if depth % 2 == 1:
                                    ptr_t[path[depth]] += 1
                                else:
                                    ptr_s[path[depth]] += 1
                                continue
                        else:  # at a sink
                            j = path[depth]
                            if rt[j] > tol:
                                reached = True
                                break
                            lj = lvl_t[j]
                            advanced = False
                            while ptr_t[j] < m:
                                i = ptr_t[j]
                                if lvl_s[i] == lj + 1 and FT[j, i] > tol:
                                    path[depth + 1] = i
                                    depth += 1
                                    advanced = True
                                    break
                                ptr_t[j] += 1
                            if not advanced:
                                lvl_t[j] = -1
                                depth -= 1
                                ptr_s[path[depth]] += 1
                                continue
                    if not reached:
                        break
                    # bottleneck along path[0..depth]
                    delta = min(rs[path[0]], rt[path[depth]])
                    for d in range(2, depth, 2):
                        fb = FT[path[d - 1], path[d]]
                        if fb < delta:
                            delta = fb
                    for d in range(0, depth, 2):
                        FT[path[d + 1], path[d]] += delta
                    for d in range(2, depth, 2):
                        FT[path[d - 1], path[d]] -= delta
                    rs[path[0]] -= delta
                    rt[path[depth]] -= delta
                    remaining -= delta
        if remaining <= tol:
            break
        # ---- dual step on the set reached by the last (failed) search
        delta = 1 << 30
        for i in range(m):
            if lvl_s[i] >= 0:
                pi = phi[i]
                for k in range(cnt_t):  # after a failed search unv_t lists the unreached sinks
                    j = unv_t[k]
                    v = C[i, j] - pi - psi[j]
                    if v < delta:
                        delta = v
        if delta == (1 << 30) or delta <= 0:
            break  # unbalanced input: nothing left to reach
        for i in range(m):
            if lvl_s[i] >= 0:
                phi[i] += delta
        for j in range(n):
            if lvl_t[j] >= 0:
                psi[j] -= delta
    # dual objective = primal cost at the optimum (complementary slackness holds on every arc
    # carrying flow); it avoids another pass over the plan
    cost = 0.0
    for i in range(m):
        cost += phi[i] * s[i]
    for j in range(n):
        cost += psi[j] * t[j]
    return cost, max(remaining, 0.0), FT.T


# ---------------------------------------------------------------------------- Sinkhorn
@njit(cache=True)
def sinkhorn_cost(C, s, t, reg, max_iter, stop):
    """Cost of the rounded log-domain Sinkhorn plan (an upper bound on the exact cost).

    Entropic OT with regulariser ``reg`` (Cuturi 2013), log-domain updates; the plan is then
    projected onto the exact marginals with the rounding of Altschuler et al. (2017, Alg. 2), so
    the returned value is the cost of a feasible plan: W <= value <= W + reg*log(m n) + 2 max(C) err,
    err the l1 marginal violation at stop.
    """
    m, n = C.shape
    f = np.zeros(m)
    g = np.zeros(n)
    ls = np.log(s)
    lt = np.log(t)
    for _it in range(max_iter):
        for i in range(m):
            mx = -1e300
            for j in range(n):
                v = (g[j] - C[i, j]) / reg
                if v > mx:
                    mx = v
            acc = 0.0
            for j in range(n):
                acc += np.exp((g[j] - C[i, j]) / reg - mx)
            f[i] = reg * (ls[i] - mx - np.log(acc))
        err = 0.0
        for j in range(n):
            mx = -1e300
            for i in range(m):
                v = (f[i] - C[i, j]) / reg
                if v > mx:
                    mx = v
            acc = 0.0
            for i in range(m):
                acc += np.exp((f[i] - C[i, j]) / reg - mx)
            col = np.exp(mx + np.log(acc) + g[j] / reg)
            err += abs(col - t[j])
            g[j] = reg * (lt[j] - mx - np.log(acc))
        if err < stop:
            break
    P = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            P[i, j] = np.exp((f[i] + g[j] - C[i, j]) / reg)
    # Altschuler rounding: scale rows / columns down to the marginals, then add the deficit.
    for i in range(m):
        r = 0.0
        for j in range(n):
            r += P[i, j]
        if r > s[i]:
            sc = s[i] / r
            for j in range(n):
                P[i, j] *= sc
    for j in range(n):
        c = 0.0
        for i in range(m):
            c += P[i, j]
        if c > t[j]:
            sc = t[j] / c
            for i in range(m):
                P[i, j] *= sc
    er = np.empty(m)
    ec = np.empty(n)
    tot = 0.0
    for i in range(m):
        r = 0.0
        for j in range(n):
            r += P[i, j]
        er[i] = s[i] - r
        tot += er[i]
    for j in range(n):
        c = 0.0
        for i in range(m):
            c += P[i, j]
        ec[j] = t[j] - c
    cost = 0.0
    for i in range(m):
        for j in range(n):
            p = P[i, j]
            if tot > 0:
                p += er[i] * ec[j] / tot
            cost += C[i, j] * p
    return cost


# ---------------------------------------------------------------------------- Ollivier-Ricci
@njit(cache=True)
def _net_mass(u, v, indptr, indices, alpha, pos_tok, pos_idx, nodes, mu, tok):
    """Net mass mu = m_u - m_v of the lazy walks (m_x = alpha at x, (1 - alpha) / d_x on each
    neighbour) on the local support N[u] u N[v]: fills ``nodes[:cnt]``/``mu[:cnt]`` (``pos_idx``
    maps a node to its slot where ``pos_tok == tok``) and returns ``cnt``."""
    du = indptr[u + 1] - indptr[u]
    dv = indptr[v + 1] - indptr[v]
    cnt = 0
    for z in (u, v):
        if pos_tok[z] != tok:
            pos_tok[z] = tok
            pos_idx[z] = cnt
            nodes[cnt] = z
            mu[cnt] = 0.0
            cnt += 1
    mu[pos_idx[u]] += alpha
    mu[pos_idx[v]] -= alpha
    for side in range(2):
        a = u if side == 0 else v
        da = du if side == 0 else dv
        sign = 1.0 if side == 0 else -1.0
        share = (1.0 - alpha) / da
        for p in range(indptr[a], indptr[a + 1]):
            z = indices[p]
            if pos_tok[z] != tok:
                pos_tok[z] = tok
                pos_idx[z] = cnt
                nodes[cnt] = z
                mu[cnt] = 0.0
                cnt += 1
            mu[pos_idx[z]] += sign * share
    return cnt


@njit(cache=True)
def _orc_problem(u, v, indptr, indices, alpha, r2, use_bits, pos_tok, pos_idx, adj_tok, hop_tok,
                 nodes, mu, tok):
    """Net-mass transport problem of edge (u, v): (src nodes, dst nodes, supply, demand, C)."""
    cnt = _net_mass(u, v, indptr, indices, alpha, pos_tok, pos_idx, nodes, mu, tok)
    ns = 0
    nt = 0
    for k in range(cnt):
        if mu[k] > _TOL:
            ns += 1
        elif mu[k] < -_TOL:
            nt += 1
    src = np.empty(ns, np.int64)
    dst = np.empty(nt, np.int64)
    s = np.empty(ns)
    t = np.empty(nt)
    a_ = 0
    b_ = 0
    for k in range(cnt):
        if mu[k] > _TOL:
            src[a_] = nodes[k]
            s[a_] = mu[k]
            a_ += 1
        elif mu[k] < -_TOL:
            dst[b_] = nodes[k]
            t[b_] = -mu[k]
            b_ += 1
    # balance exactly (rounding) so that the exact solver routes everything
    if ns > 0 and nt > 0:
        t *= s.sum() / t.sum()
    C = np.empty((ns, nt), np.int8)
    for ia in range(ns):
        a = src[ia]
        atok = tok * 4 + 1  # distinct from hop tokens below
        for p in range(indptr[a], indptr[a + 1]):
            adj_tok[indices[p]] = atok
        if not use_bits:
            htok = tok * (2 * nodes.shape[0] + 4) + ia  # unique per (edge, source)
            hop_tok[a] = htok
            for p in range(indptr[a], indptr[a + 1]):
                w = indices[p]
                hop_tok[w] = htok
                for q in range(indptr[w], indptr[w + 1]):
                    hop_tok[indices[q]] = htok
        for ib in range(nt):
            b = dst[ib]
            if adj_tok[b] == atok:
                C[ia, ib] = 1
            elif use_bits:
                if (r2[a, b >> 6] >> np.uint64(b & 63)) & np.uint64(1):
                    C[ia, ib] = 2
                else:
                    C[ia, ib] = 3
            else:
                C[ia, ib] = 2 if hop_tok[b] == htok else 3
        # invalidate the adjacency marks of a for the next source (tokens are per source)
        for p in range(indptr[a], indptr[a + 1]):
            adj_tok[indices[p]] = -1
    return src, dst, s, t, C


@njit(cache=True)
def _orc_edge(u, v, indptr, indices, alpha, r2, use_bits, exact_max, reg, max_iter,
              pos_tok, pos_idx, adj_tok, hop_tok, nodes, mu, tok):
    """Returns (kappa, used_exact)."""
    src, dst, s, t, C = _orc_problem(u, v, indptr, indices, alpha, r2, use_bits, pos_tok, pos_idx,
                                     adj_tok, hop_tok, nodes, mu, tok)
    ns = src.shape[0]
    nt = dst.shape[0]
    if ns == 0 or nt == 0:
        return 1.0, True
    if ns * nt <= exact_max:
        w1, _res, _F = transport_int_costs(C, s, t)
        return 1.0 - w1, True
    w1 = sinkhorn_cost(C.astype(np.float64), s, t, reg, max_iter, 1e-9)
    return 1.0 - w1, False


@njit(cache=True, inline="always")
def _red_word(r1, r2, a, gw, P, w, g1, g2, g3):
    """Word w (global word gw) of the sinks j with C[a, j] - phi[a] - psi[j] == k, from the
    1-hop (r1) and 2-hop (r2) bitsets; groups g* = -1: empty."""
    x1 = r1[a, gw]
    x2 = r2[a, gw]
    r = np.uint64(0)
    if g1 >= 0:
        r |= x1 & P[g1, w]
    if g2 >= 0:
        r |= x2 & ~x1 & P[g2, w]
    if g3 >= 0:
        r |= ~x2 & P[g3, w]
    return r


@njit(cache=True, inline="always")
def _group(c, ph, k, cntP):
    g = c - ph - k + _OFF
    if g < 0 or g >= _K or cntP[g] == 0:
        return -1
    return g


@njit(cache=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, inline="always")
def _add_flow(FT, FS, ns, j, i, d):
    idx = j * ns + i
    bit = _ONE << np.uint64(i & 63)
    if FS[j, i >> 6] & bit:
        FT[idx] += d
    else:
        FT[idx] = d
        FS[j, i >> 6] |= bit


@njit(cache=True)
def _orc_exact_bitset(u, v, indptr, indices, alpha, r1, r2, exact_max, pos_tok, pos_idx, nodes, mu, loc,
                      wpos, node2sink, tok, ints, flts, FS, P, vec, LVt, LVs):
    """Exact W1 of the net-mass problem of edge (u, v) with bit-parallel scans.

    Same primal-dual method as :func:`transport_int_costs`, but the cost matrix is never built:
    C[a, b] = 1 if bit b of r1[a] (adjacency), else 2 if bit b of r2[a] (distance <= 2), else 3
    (always reachable as a-u-v-b). Sinks keep their global bit positions and are grouped by
    their dual value psi (bitsets P[psi + _OFF]), so the admissible sinks of a source
    (C == phi + psi) are three word-wise ANDs per 64 sinks; Dinic's level sets are bitsets too.
    The plan is a dense [nt, ns] array whose support is tracked in the bitsets FS.
    Returns W1, -2.0 if ns * nt > exact_max (caller decides), -1.0 if the duals left the
    bitset range (never seen; the caller then uses the dense solver).
    """
    srcn = ints[0]
    lvl_s = ints[1]
    lvl_t = ints[2]
    ptr_s = ints[3]
    ptr_t = ints[4]
    phi = ints[5]
    psi = ints[6]
    deg_s = ints[7]
    wl = ints[8]
    queue = ints[9]
    path = ints[10]
    cntP = ints[11]
    dstn = ints[12]
    sw = ints[13]      # local word of sink j
    s = flts[0]
    t = flts[1]
    rs = flts[2]
    rt = flts[3]
    Ut = vec[0]
    Us = vec[1]
    avail = vec[2]
    cnt = _net_mass(u, v, indptr, indices, alpha, pos_tok, pos_idx, nodes, mu, tok)
    ns = 0
    nt = 0
    ssum = 0.0
    tsum = 0.0
    for k in range(cnt):
        if mu[k] > _TOL:
            loc[k] = ns
            srcn[ns] = nodes[k]
            s[ns] = mu[k]
            ssum += mu[k]
            ns += 1
        elif mu[k] < -_TOL:
            loc[k] = -2 - nt
            dstn[nt] = nodes[k]
            t[nt] = -mu[k]
            tsum -= mu[k]
            nt += 1
        else:
            loc[k] = -1
    if ns == 0 or nt == 0:
        return 0.0
    if ns * nt > exact_max:
        return -2.0
    FT = np.empty(ns * nt)  # flow i -> j at FT[j * ns + i], valid where FS has the bit
    scale = ssum / tsum  # balance exactly (rounding) so that everything is routed
    # sinks keep their global bit positions; only the words that hold a sink are scanned
    nw = 0
    for j in range(nt):
        t[j] *= scale
        b = dstn[j]
        node2sink[b] = j
        gw = b >> 6
        if wpos[gw] < 0:
            wpos[gw] = nw
            wl[nw] = gw
            nw += 1
    for g in range(_K):
        cntP[g] = 0
        for w in range(nw):
            P[g, w] = 0
    for j in range(nt):
        b = dstn[j]
        psi[j] = 0
        sw[j] = wpos[b >> 6]
        P[_OFF, sw[j]] |= _ONE << np.uint64(b & 63)
    cntP[_OFF] = nt
    for w in range(nw):
        wpos[wl[w]] = -1  # reset for the next edge (wl keeps the map)
    Ws = (ns + 63) >> 6
    # dual start: phi = row minimum of C (1 if the source has a neighbour among the sinks, ...)
    for i in range(ns):
        a = srcn[i]
        c1 = 0
        c2 = 0
        for w in range(nw):
            gw = wl[w]
            c1 += _popcount(r1[a, gw] & P[_OFF, w])
            c2 |= r2[a, gw] & P[_OFF, w]
        deg_s[i] = c1
        phi[i] = 1 if c1 > 0 else (2 if c2 != 0 else 3)
    for j in range(nt):
        for w in range(Ws):
            FS[j, w] = 0
    for i in range(ns):
        rs[i] = s[i]
    for j in range(nt):
        rt[j] = t[j]
    total = ssum
    tol = _TOL * (1.0 + total)
    remaining = total
    # warm start: u -> v at cost 1 first (an exchange argument shows some optimal plan saturates it)
    lu = loc[pos_idx[u]]
    lv = loc[pos_idx[v]]
    if lu >= 0 and lv <= -2:
        j = -2 - lv
        d = min(rs[lu], rt[j])
        _add_flow(FT, FS, ns, j, lu, d)
        rs[lu] -= d
        rt[j] -= d
        remaining -= d
    # greedy on the admissible arcs, scarcest source first
    key = np.empty(ns, np.int64)
    for i in range(ns):
        key[i] = phi[i] * (nt + 1) + deg_s[i]
    order_s = np.argsort(key, kind="mergesort")
    for w in range(nw):
        avail[w] = 0
    for j in range(nt):
        if rt[j] > tol:
            avail[sw[j]] |= _ONE << np.uint64(dstn[j] & 63)
    for a_ in range(ns):
        i = order_s[a_]
        if rs[i] <= tol:
            continue
        a = srcn[i]
        ph = phi[i]
        g1 = _group(1, ph, 0, cntP)
        g2 = _group(2, ph, 0, cntP)
        g3 = _group(3, ph, 0, cntP)
        for w in range(nw):
            word = _red_word(r1, r2, a, wl[w], P, w, g1, g2, g3) & avail[w]
            while word != 0:
                j = node2sink[wl[w] * 64 + trailing_zeros(word)]
                d = min(rs[i], rt[j])
                _add_flow(FT, FS, ns, j, i, d)
                rs[i] -= d
                rt[j] -= d
                remaining -= d
                if rt[j] <= tol:
                    avail[w] &= ~(_ONE << np.uint64(dstn[j] & 63))
                if rs[i] <= tol:
                    break
                word &= word - _ONE
            if rs[i] <= tol:
                break
    for _phase in range(10_000):
        if remaining <= tol:
            break
        # ---- maximum flow on the admissible graph (Dinic)
        found = -1
        while True:
            qh = 0
            qt = 0
            cnt_t = nt
            for w in range(nw):
                Ut[w] = 0
            for j in range(nt):
                lvl_t[j] = -1
                Ut[sw[j]] |= _ONE << np.uint64(dstn[j] & 63)
            for w in range(Ws):
                Us[w] = 0
                LVs[0, w] = 0
            top_s = 0  # highest cleared row of LVs / LVt (level >> 1)
            top_t = -1
            for i in range(ns):
                if rs[i] > tol:
                    LVs[0, i >> 6] |= _ONE << np.uint64(i & 63)
                    lvl_s[i] = 0
                    queue[qt] = i
                    qt += 1
                else:
                    lvl_s[i] = -1
                    Us[i >> 6] |= _ONE << np.uint64(i & 63)
            found = -1
            while qh < qt:
                x = queue[qh]
                qh += 1
                if x < ns:
                    if cnt_t == 0:
                        continue
                    i = x
                    li = lvl_s[i]
                    if found >= 0 and li >= found:
                        continue
                    a = srcn[i]
                    ph = phi[i]
                    g1 = _group(1, ph, 0, cntP)
                    g2 = _group(2, ph, 0, cntP)
                    g3 = _group(3, ph, 0, cntP)
                    for w in range(nw):
                        if Ut[w] == 0:
                            continue
                        word = _red_word(r1, r2, a, wl[w], P, w, g1, g2, g3) & Ut[w]
                        if word == 0:
                            continue
                        Ut[w] &= ~word
                        row = (li + 1) >> 1
                        if row > top_t:
                            for w2 in range(nw):
                                LVt[row, w2] = 0
                            top_t = row
                        LVt[row, w] |= word
                        while word != 0:
                            j = node2sink[wl[w] * 64 + trailing_zeros(word)]
                            word &= word - _ONE
                            lvl_t[j] = li + 1
                            cnt_t -= 1
                            if rt[j] > tol and found < 0:
                                found = li + 1
                            queue[qt] = ns + j
                            qt += 1
                else:
                    j = x - ns
                    lj = lvl_t[j]
                    if found >= 0 and lj >= found:
                        continue
                    for w in range(Ws):
                        word = FS[j, w] & Us[w]
                        if word == 0:
                            continue
                        Us[w] &= ~word
                        row = (lj + 1) >> 1
                        if row > top_s:
                            for w2 in range(Ws):
                                LVs[row, w2] = 0
                            top_s = row
                        LVs[row, w] |= word
                        while word != 0:
                            i = w * 64 + trailing_zeros(word)
                            word &= word - _ONE
                            lvl_s[i] = lj + 1
                            queue[qt] = i
                            qt += 1
            if found < 0:
                break
            # blocking flow by DFS along level-increasing arcs; current-arc pointers are bit
            # positions in the (local word, bit) order of the scans
            for i in range(ns):
                ptr_s[i] = 0
            for j in range(nt):
                ptr_t[j] = 0
            for i0 in range(ns):
                while rs[i0] > tol and lvl_s[i0] == 0:
                    depth = 0
                    path[0] = i0
                    reached = False
                    while True:
                        if depth % 2 == 0:  # at a source
                            i = path[depth]
                            li = lvl_s[i]
                            nxt = -1
                            pnext = nw * 64
                            if li + 1 <= found and ((li + 1) >> 1) <= top_t:
                                a = srcn[i]
                                ph = phi[i]
                                g1 = _group(1, ph, 0, cntP)
                                g2 = _group(2, ph, 0, cntP)
                                g3 = _group(3, ph, 0, cntP)
                                pp = ptr_s[i]
                                w = pp >> 6
                                while w < nw:
                                    row = (li + 1) >> 1
                                    word = LVt[row, w]
                                    if word != 0:
                                        word &= _red_word(r1, r2, a, wl[w], P, w, g1, g2, g3)
                                    if w == (pp >> 6):
                                        word &= ~((_ONE << np.uint64(pp & 63)) - _ONE)
                                    if word != 0:
                                        bpos = trailing_zeros(word)
                                        nxt = node2sink[wl[w] * 64 + bpos]
                                        pnext = w * 64 + bpos
                                        break
                                    w += 1
                            ptr_s[i] = pnext
                            if nxt >= 0:
                                path[depth + 1] = nxt
                                depth += 1
                            else:
                                lvl_s[i] = -1  # dead end
                                LVs[li >> 1, i >> 6] &= ~(_ONE << np.uint64(i & 63))
                                if depth == 0:
                                    break
                                depth -= 1
                                ptr_t[path[depth]] += 1
                        else:  # at a sink
                            j = path[depth]
                            if rt[j] > tol:
                                reached = True
                                break
                            lj = lvl_t[j]
                            nxt = -1
                            pp = ptr_t[j]
                            w = pp >> 6 if ((lj + 1) >> 1) <= top_s else Ws
                            while w < Ws:
                                word = FS[j, w] & LVs[(lj + 1) >> 1, w]
                                if w == (pp >> 6):
                                    word &= ~((_ONE << np.uint64(pp & 63)) - _ONE)
                                if word != 0:
                                    nxt = w * 64 + trailing_zeros(word)
                                    break
                                w += 1
                            if nxt >= 0:
                                ptr_t[j] = nxt
                                path[depth + 1] = nxt
                                depth += 1
                            else:
                                ptr_t[j] = Ws * 64
                                lvl_t[j] = -1
                                LVt[lj >> 1, sw[j]] &= ~(_ONE << np.uint64(dstn[j] & 63))
                                depth -= 1
                                ptr_s[path[depth]] += 1
                    if not reached:
                        break
                    delta = min(rs[path[0]], rt[path[depth]])
                    for d_ in range(2, depth, 2):
                        fb = FT[path[d_ - 1] * ns + path[d_]]
                        if fb < delta:
                            delta = fb
                    for d_ in range(0, depth, 2):
                        _add_flow(FT, FS, ns, path[d_ + 1], path[d_], delta)
                    for d_ in range(2, depth, 2):
                        jb = path[d_ - 1]
                        ib = path[d_]
                        FT[jb * ns + ib] -= delta
                        if FT[jb * ns + ib] <= tol:
                            FS[jb, ib >> 6] &= ~(_ONE << np.uint64(ib & 63))
                    rs[path[0]] -= delta
                    rt[path[depth]] -= delta
                    remaining -= delta
        if remaining <= tol:
            break
        # ---- dual step on the set reached by the last (failed) search: Ut = unreached sinks
        delta = -1
        for dd in range(1, 8):
            hit = False
            for i in range(ns):
                if lvl_s[i] < 0:
                    continue
                a = srcn[i]
                ph = phi[i]
                g1 = _group(1, ph, dd, cntP)
                g2 = _group(2, ph, dd, cntP)
                g3 = _group(3, ph, dd, cntP)
                if g1 < 0 and g2 < 0 and g3 < 0:
                    continue
                for w in range(nw):
                    if _red_word(r1, r2, a, wl[w], P, w, g1, g2, g3) & Ut[w]:
                        hit = True
                        break
                if hit:
                    break
            if hit:
                delta = dd
                break
        if delta < 0:
            break  # unbalanced input: nothing left to reach
        for i in range(ns):
            if lvl_s[i] >= 0:
                phi[i] += delta
        for j in range(nt):
            if lvl_t[j] >= 0:
                g = psi[j] + _OFF
                bit = _ONE << np.uint64(dstn[j] & 63)
                P[g, sw[j]] &= ~bit
                cntP[g] -= 1
                psi[j] -= delta
                g = psi[j] + _OFF
                if g < 0:
                    return -1.0
                P[g, sw[j]] |= bit
                cntP[g] += 1
    if remaining > tol:
        return -1.0
    cost = 0.0
    for i in range(ns):
        cost += phi[i] * s[i]
    for j in range(nt):
        cost += psi[j] * t[j]
    return cost




@njit(cache=True, parallel=True)
def ollivier_ricci_kernel(indptr, indices, eu, ev, alpha, r1, r2, use_bits, fast, exact_max, reg,
                          max_iter, nchunks):
    """Curvature of every edge; ``fast``: exact problems by :func:`_orc_exact_bitset` (needs the
    1-hop bitset r1 and 2-hop bitset r2). Chunk c takes the edges c, c + nchunks, ... so that
    the expensive edges of a hub are spread over all threads."""
    n = indptr.shape[0] - 1
    m = eu.shape[0]
    out = np.zeros(m)
    exact = np.zeros(m, np.bool_)
    maxdeg = 0
    for i in range(n):
        d = indptr[i + 1] - indptr[i]
        if d > maxdeg:
            maxdeg = d
    D = maxdeg + 2
    nwords = r1.shape[1] if fast else 1
    for c in prange(nchunks):
        pos_tok = np.full(n, -1, np.int64)
        pos_idx = np.zeros(n, np.int64)
        adj_tok = np.full(n, -1, np.int64)
        hop_tok = np.full(n, -1, np.int64)
        nodes = np.empty(2 * D, np.int64)
        mu = np.empty(2 * D)
        # scratch of the bit-parallel solver (tiny when it is not used)
        Df = D if fast else 1
        loc = np.empty(2 * Df, np.int64)
        node2sink = np.zeros(n if fast else 1, np.int64)
        wpos = np.full(nwords, -1, np.int64)
        ints = np.empty((14, max(2 * Df + 2, _K)), np.int64)
        flts = np.empty((4, Df))
        FS = np.empty((Df, (Df + 63) >> 6), np.uint64)
        P = np.empty((_K, nwords), np.uint64)
        vec = np.empty((3, max(nwords, (Df + 63) >> 6)), np.uint64)
        LVt = np.empty((Df + 2, nwords), np.uint64)
        LVs = np.empty((Df + 2, (Df + 63) >> 6), np.uint64)
        for e in range(c, m, nchunks):
            u = eu[e]
            v = ev[e]
            w1 = -3.0
            if fast:
                # pos_tok tokens: 2e for this solver, 2e + 1 for the dense fallback below
                w1 = _orc_exact_bitset(u, v, indptr, indices, alpha, r1, r2, exact_max, pos_tok, pos_idx,
                                       nodes, mu, loc, wpos, node2sink, 2 * e, ints, flts, FS, P, vec,
                                       LVt, LVs)
            if w1 >= 0.0:
                out[e] = 1.0 - w1
                exact[e] = True
            else:
                k, ex = _orc_edge(u, v, indptr, indices, alpha, r2, use_bits, exact_max, reg,
                                  max_iter, pos_tok, pos_idx, adj_tok, hop_tok, nodes, mu, 2 * e + 1)
                out[e] = k
                exact[e] = ex
    return out, exact


@njit(cache=True)
def orc_transport_argmax(u, v, indptr, indices, alpha):
    """Exact optimal plan of the net-mass problem of edge (u, v); return the non-adjacent pair
    (p, q), p != q, carrying the most mass (first in source, sink order on ties), or (-1, -1)."""
    n = indptr.shape[0] - 1
    du = indptr[u + 1] - indptr[u]
    dv = indptr[v + 1] - indptr[v]
    pos_tok = np.full(n, -1, np.int64)
    pos_idx = np.zeros(n, np.int64)
    adj_tok = np.full(n, -1, np.int64)
    hop_tok = np.full(n, -1, np.int64)
    nodes = np.empty(du + dv + 2, np.int64)
    mu = np.empty(du + dv + 2)
    r2 = np.zeros((1, 1), np.uint64)
    src, dst, s, t, C = _orc_problem(u, v, indptr, indices, alpha, r2, False, pos_tok, pos_idx,
                                     adj_tok, hop_tok, nodes, mu, 0)
    if src.shape[0] == 0 or dst.shape[0] == 0:
        return -1, -1
    _w, _r, F = transport_int_costs(C, s, t)
    best = 0.0
    bp = -1
    bq = -1
    for i in range(src.shape[0]):
        for j in range(dst.shape[0]):
            if C[i, j] >= 2 and F[i, j] > best + _TOL:
                best = F[i, j]
                bp = src[i]
                bq = dst[j]
    return bp, bq


# ---------------------------------------------------------------------------- SDRF helper
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
    (l, k) came earlier. The value of each equals BF(i, j) recounted in G + kl (``_bf_edge``)
    bit for bit: the same integers (degrees, triangles, 4-cycle count and gamma) go through the
    same formula, but they are updated from those of G instead of recounted:

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
    in_i = np.zeros(n, np.bool_)
    in_j = np.zeros(n, np.bool_)
    for p in range(indptr[i], indptr[i + 1]):
        in_i[indices[p]] = True
    for p in range(indptr[j], indptr[j + 1]):
        in_j[indices[p]] = True
    tri = 0
    for p in range(indptr[i], indptr[i + 1]):
        if in_j[indices[p]]:
            tri += 1
    # S_i, S_j (disjoint) and the 4-cycle count of each member, exactly as in _bf_edge.
    s_i = np.empty(di, np.int64)
    s_j = np.empty(dj, np.int64)
    n_si = 0
    n_sj = 0
    cnt = np.zeros(n, np.int64)
    sq = 0
    gamma = 0
    for side in range(2):
        a = i if side == 0 else j
        b = j if side == 0 else i
        in_a = in_i if side == 0 else in_j
        in_b = in_j if side == 0 else in_i
        for p in range(indptr[a], indptr[a + 1]):
            k = indices[p]
            if k == b or in_b[k]:
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
                if w != a and in_b[w] and not in_a[w]:
                    c += 1
            cnt[k] = c
            if c > 0:
                sq += 1
                if c > gamma:
                    gamma = c
    in_si = np.zeros(n, np.bool_)
    in_sj = np.zeros(n, np.bool_)
    for t in range(n_si):
        in_si[s_i[t]] = True
    for t in range(n_sj):
        in_sj[s_j[t]] = True
    base = _bf_value(di, dj, tri, sq, gamma)

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
    in_ball_j = in_j.copy()
    in_ball_j[j] = True
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
            if pos_i[l] >= 0 and pos_i[l] < t and in_ball_j[k]:
                continue  # (l, k) is the same edge and came first
            if k == i:  # i gains l (l in S_j since l !~ i, l != j)
                for p in range(indptr[l], indptr[l + 1]):
                    zmark[indices[p]] = m
                sq2, g2 = _bf_new_neighbour(l, s_i, n_si, s_j, n_sj, cnt, zmark, m)
                val = _bf_value(di + 1, dj, tri + 1, sq2, g2)
            elif l == j:  # j gains k (k in S_i)
                for p in range(indptr[k], indptr[k + 1]):
                    zmark[indices[p]] = m
                sq2, g2 = _bf_new_neighbour(k, s_j, n_sj, s_i, n_si, cnt, zmark, m)
                val = _bf_value(di, dj + 1, tri + 1, sq2, g2)
            elif in_si[k] and in_sj[l]:  # new 4-cycle i-k-l-j
                sq2 = sq + (1 if cnt[k] == 0 else 0) + (1 if cnt[l] == 0 else 0)
                g2 = max(gamma, cnt[k] + 1, cnt[l] + 1)
                val = _bf_value(di, dj, tri, sq2, g2)
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
