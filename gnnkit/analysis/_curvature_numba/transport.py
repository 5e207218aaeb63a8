"""Optimal transport with costs in {1, 2, 3} (Ollivier-Ricci net-mass problems): the one exact
solver, :func:`exact_w1`, and the entropic upper bound :func:`sinkhorn_cost`.

The exact solver is a Hungarian-type primal-dual method (integer duals phi for sources, psi for
sinks, phi_i + psi_j <= C_ij): it sends a maximum flow (Dinic) through the admissible arcs
(phi_i + psi_j == C_ij) and, when no augmenting path is left, raises the duals of the reachable set
by the smallest slack. Every dual step raises the length of the shortest augmenting path, which is
at most max(C) = 3, so there are at most 4 phases and the duals stay in a small range
(psi in [-3, 0], phi in [1, 6]).

The cost matrix is never stored. Costs come from two bitset matrices over sink *positions*:
C[i, j] = 1 if bit pos(j) of ``r1[row(i)]`` is set, else 2 if that bit of ``r2[row(i)]`` is set,
else 3. The caller lays the problem out (:class:`Layout`): with the graph's global 1-hop / 2-hop
bitsets a sink keeps its node id as position and only the words that hold a sink are scanned
(``words``); without them the caller builds local bitsets over compact positions (see
:mod:`.ollivier`). Sinks are grouped by their dual psi (bitsets ``P[psi + OFF]``), so the
admissible sinks of a source are three word-wise ANDs per 64 sinks; Dinic's level sets are bitsets
too. The plan is a dense [nt, ns] array whose support is tracked in the bitsets ``FS``.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

TOL = 1e-13
ONE = np.uint64(1)
K = 32     # dual groups: psi in [-OFF, K - OFF)
OFF = 16

#: Where the sinks of one problem sit in the cost bitsets. ``rows[i]``: row of source i in r1/r2;
#: ``words[w]``: bitset word of scanned word w (``nw`` of them); ``sw[j]``, ``sbit[j]``: scanned
#: word and bit of sink j; ``pos2sink[words[w] * 64 + bit]``: the sink at a position.
Layout = namedtuple("Layout", ["r1", "r2", "rows", "words", "nw", "sw", "sbit", "pos2sink"])

#: Per-thread scratch of :func:`exact_w1` for problems with at most ``cap`` sources and ``cap``
#: sinks and at most ``wcap`` scanned words (allocated once per chunk of edges).
Scratch = namedtuple("Scratch", [
    "lvl_s", "lvl_t", "ptr_s", "ptr_t", "phi", "psi", "deg_s", "queue", "path", "cntP",  # int64
    "rs", "rt",                                                                           # float64
    "FS", "P", "Ut", "Us", "avail", "LVt", "LVs",                                         # uint64
])


@njit(cache=True)
def new_scratch(cap, wcap):
    sw = (cap + 63) >> 6
    vw = max(wcap, sw)
    return Scratch(
        np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64),
        np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64),
        np.empty(2 * cap + 2, np.int64), np.empty(2 * cap + 2, np.int64), np.empty(K, np.int64),
        np.empty(cap), np.empty(cap),
        np.empty((cap, sw), np.uint64), np.empty((K, wcap), np.uint64), np.empty(vw, np.uint64),
        np.empty(vw, np.uint64), np.empty(vw, np.uint64), np.empty((cap + 2, wcap), np.uint64),
        np.empty((cap + 2, sw), np.uint64))


@njit(cache=True, inline="always")
def _red_word(L, a, w, P, g1, g2, g3):
    """Scanned word w of the sinks j with C[a, j] - phi[a] - psi[j] == k, from the 1-hop (r1) and
    2-hop (r2) bitsets of source row a; groups g* = -1: empty."""
    gw = L.words[w]
    x1 = L.r1[a, gw]
    x2 = L.r2[a, gw]
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
    g = c - ph - k + OFF
    if g < 0 or g >= K or cntP[g] == 0:
        return -1
    return g


@njit(cache=True, inline="always")
def _groups(ph, k, cntP):
    """The dual groups of the sinks at reduced cost k from a source with dual ph, for the costs
    1, 2, 3 (-1: no sink there); the ``g1, g2, g3`` of :func:`_red_word`."""
    return _group(1, ph, k, cntP), _group(2, ph, k, cntP), _group(3, ph, k, cntP)


@njit(cache=True, inline="always")
def _enter_level(word, w, U, LV, row, top, nwords):
    """Dinic's BFS: the nodes of ``word`` (scanned word w) leave the unvisited set ``U`` and join
    level row ``row`` of ``LV``, whose rows above ``top`` are cleared first; returns the new top."""
    U[w] &= ~word
    if row > top:
        for w2 in range(nwords):
            LV[row, w2] = 0
        top = row
    LV[row, w] |= word
    return top


@njit(cache=True, inline="always")
def popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, inline="always")
def _add_flow(FT, FS, ns, j, i, d):
    idx = j * ns + i
    bit = ONE << np.uint64(i & 63)
    if FS[j, i >> 6] & bit:
        FT[idx] += d
    else:
        FT[idx] = d
        FS[j, i >> 6] |= bit


@njit(cache=True)
def exact_w1(L, s, t, ns, nt, warm_i, warm_j, S):
    """Exact W1 = min <C, F> over plans F >= 0 with row sums s[:ns] and column sums t[:nt]
    (balanced: sum(s) == sum(t) up to rounding), costs given by the layout ``L``.

    ``warm_i``/``warm_j``: a source and sink at cost 1 to saturate first (-1: none; for the
    net-mass problem of u~v the pair (u, v): an exchange argument shows some optimal plan saturates
    it). ``S``: :class:`Scratch`. Returns (cost, plan): the dual objective sum phi s + sum psi t
    (= the primal cost at the optimum) and the plan ``FT`` (flow i -> j at ``FT[j * ns + i]``, valid
    where bit i of ``S.FS[j]`` is set); cost = -1.0 when mass is left unrouted (unbalanced input)
    or the duals left the group range (impossible for costs in {1, 2, 3}: see the module text).
    """
    nw = L.nw
    FT = np.empty(ns * nt)
    FS, P, cntP = S.FS, S.P, S.cntP
    lvl_s, lvl_t, ptr_s, ptr_t = S.lvl_s, S.lvl_t, S.ptr_s, S.ptr_t
    phi, psi, deg_s, queue, path = S.phi, S.psi, S.deg_s, S.queue, S.path
    rs, rt, Ut, Us, avail, LVt, LVs = S.rs, S.rt, S.Ut, S.Us, S.avail, S.LVt, S.LVs
    rows, sw, sbit, p2s = L.rows, L.sw, L.sbit, L.pos2sink
    words = L.words
    for g in range(K):
        cntP[g] = 0
        for w in range(nw):
            P[g, w] = 0
    for j in range(nt):
        psi[j] = 0
        P[OFF, sw[j]] |= ONE << np.uint64(sbit[j])
    cntP[OFF] = nt
    Ws = (ns + 63) >> 6
    # dual start: phi = row minimum of C (1 if the source has a neighbour among the sinks, ...)
    for i in range(ns):
        a = rows[i]
        c1 = 0
        c2 = 0
        for w in range(nw):
            gw = words[w]
            c1 += popcount(L.r1[a, gw] & P[OFF, w])
            c2 |= L.r2[a, gw] & P[OFF, w]
        deg_s[i] = c1
        phi[i] = 1 if c1 > 0 else (2 if c2 != 0 else 3)
    for j in range(nt):
        for w in range(Ws):
            FS[j, w] = 0
    total = 0.0
    for i in range(ns):
        rs[i] = s[i]
        total += s[i]
    for j in range(nt):
        rt[j] = t[j]
    tol = TOL * (1.0 + total)
    remaining = total
    if warm_i >= 0 and warm_j >= 0:
        d = min(rs[warm_i], rt[warm_j])
        _add_flow(FT, FS, ns, warm_j, warm_i, d)
        rs[warm_i] -= d
        rt[warm_j] -= d
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
            avail[sw[j]] |= ONE << np.uint64(sbit[j])
    for a_ in range(ns):
        i = order_s[a_]
        if rs[i] <= tol:
            continue
        a = rows[i]
        g1, g2, g3 = _groups(phi[i], 0, cntP)
        for w in range(nw):
            word = _red_word(L, a, w, P, g1, g2, g3) & avail[w]
            while word != 0:
                j = p2s[words[w] * 64 + trailing_zeros(word)]
                d = min(rs[i], rt[j])
                _add_flow(FT, FS, ns, j, i, d)
                rs[i] -= d
                rt[j] -= d
                remaining -= d
                if rt[j] <= tol:
                    avail[w] &= ~(ONE << np.uint64(sbit[j]))
                if rs[i] <= tol:
                    break
                word &= word - ONE
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
                Ut[sw[j]] |= ONE << np.uint64(sbit[j])
            for w in range(Ws):
                Us[w] = 0
                LVs[0, w] = 0
            top_s = 0  # highest cleared row of LVs / LVt (level >> 1)
            top_t = -1
            for i in range(ns):
                if rs[i] > tol:
                    LVs[0, i >> 6] |= ONE << np.uint64(i & 63)
                    lvl_s[i] = 0
                    queue[qt] = i
                    qt += 1
                else:
                    lvl_s[i] = -1
                    Us[i >> 6] |= ONE << np.uint64(i & 63)
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
                    a = rows[i]
                    g1, g2, g3 = _groups(phi[i], 0, cntP)
                    for w in range(nw):
                        if Ut[w] == 0:
                            continue
                        word = _red_word(L, a, w, P, g1, g2, g3) & Ut[w]
                        if word == 0:
                            continue
                        top_t = _enter_level(word, w, Ut, LVt, (li + 1) >> 1, top_t, nw)
                        while word != 0:
                            j = p2s[words[w] * 64 + trailing_zeros(word)]
                            word &= word - ONE
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
                        top_s = _enter_level(word, w, Us, LVs, (lj + 1) >> 1, top_s, Ws)
                        while word != 0:
                            i = w * 64 + trailing_zeros(word)
                            word &= word - ONE
                            lvl_s[i] = lj + 1
                            queue[qt] = i
                            qt += 1
            if found < 0:
                break
            # blocking flow by DFS along level-increasing arcs; current-arc pointers are bit
            # positions in the (scanned word, bit) order of the scans
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
                                a = rows[i]
                                g1, g2, g3 = _groups(phi[i], 0, cntP)
                                pp = ptr_s[i]
                                w = pp >> 6
                                while w < nw:
                                    row = (li + 1) >> 1
                                    word = LVt[row, w]
                                    if word != 0:
                                        word &= _red_word(L, a, w, P, g1, g2, g3)
                                    if w == (pp >> 6):
                                        word &= ~((ONE << np.uint64(pp & 63)) - ONE)
                                    if word != 0:
                                        bpos = trailing_zeros(word)
                                        nxt = p2s[words[w] * 64 + bpos]
                                        pnext = w * 64 + bpos
                                        break
                                    w += 1
                            ptr_s[i] = pnext
                            if nxt >= 0:
                                path[depth + 1] = nxt
                                depth += 1
                            else:
                                lvl_s[i] = -1  # dead end
                                LVs[li >> 1, i >> 6] &= ~(ONE << np.uint64(i & 63))
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
                                    word &= ~((ONE << np.uint64(pp & 63)) - ONE)
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
                                LVt[lj >> 1, sw[j]] &= ~(ONE << np.uint64(sbit[j]))
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
                            FS[jb, ib >> 6] &= ~(ONE << np.uint64(ib & 63))
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
                a = rows[i]
                g1, g2, g3 = _groups(phi[i], dd, cntP)
                if g1 < 0 and g2 < 0 and g3 < 0:
                    continue
                for w in range(nw):
                    if _red_word(L, a, w, P, g1, g2, g3) & Ut[w]:
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
                g = psi[j] + OFF
                bit = ONE << np.uint64(sbit[j])
                P[g, sw[j]] &= ~bit
                cntP[g] -= 1
                psi[j] -= delta
                g = psi[j] + OFF
                if g < 0:
                    return -1.0, FT
                P[g, sw[j]] |= bit
                cntP[g] += 1
    if remaining > tol:
        return -1.0, FT
    cost = 0.0
    for i in range(ns):
        cost += phi[i] * s[i]
    for j in range(nt):
        cost += psi[j] * t[j]
    return cost, FT


# ---------------------------------------------------------------------------- Sinkhorn
@njit(cache=True, inline="always")
def _log_sum_exp(pot, c, reg):
    """(mx, acc) with log sum_k exp((pot[k] - c[k]) / reg) = mx + log(acc), shifted by the max."""
    mx = -1e300
    for k in range(c.shape[0]):
        v = (pot[k] - c[k]) / reg
        if v > mx:
            mx = v
    acc = 0.0
    for k in range(c.shape[0]):
        acc += np.exp((pot[k] - c[k]) / reg - mx)
    return mx, acc


@njit(cache=True, inline="always")
def _row_sum(P, i):
    r = 0.0
    for j in range(P.shape[1]):
        r += P[i, j]
    return r


@njit(cache=True)
def _cap_rows(P, s):
    """Scale every row of P whose sum exceeds its marginal s[i] down to it (called on P.T for the
    columns)."""
    for i in range(P.shape[0]):
        r = _row_sum(P, i)
        if r > s[i]:
            sc = s[i] / r
            for j in range(P.shape[1]):
                P[i, j] *= sc


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
            mx, acc = _log_sum_exp(g, C[i], reg)
            f[i] = reg * (ls[i] - mx - np.log(acc))
        err = 0.0
        for j in range(n):
            mx, acc = _log_sum_exp(f, C[:, j], reg)
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
    _cap_rows(P, s)
    _cap_rows(P.T, t)
    er = np.empty(m)
    ec = np.empty(n)
    tot = 0.0
    for i in range(m):
        er[i] = s[i] - _row_sum(P, i)
        tot += er[i]
    for j in range(n):
        ec[j] = t[j] - _row_sum(P.T, j)
    cost = 0.0
    for i in range(m):
        for j in range(n):
            p = P[i, j]
            if tot > 0:
                p += er[i] * ec[j] / tot
            cost += C[i, j] * p
    return cost
