r"""numba kernels of the out-of-core CSR builder (:mod:`gnnkit.data.convert`) and of
:meth:`gnnkit.data.disk.DiskGraph.verify`.

Module-level, ``nogil`` and cached on disk (``cache=True``): the first call compiles (a few
seconds), later processes load the cache.  Every kernel works on numpy arrays in chunks, so the
callers bound their memory by the chunk size.  The callers validate shapes and id ranges before
calling (:func:`check_ids` is the id check itself); the kernels do no bounds checks of their own.

=========================  =====================================================================
:func:`check_ids`          first arc with an id outside ``[0, limit)``, and the chunk's max id
:func:`count`              in-degree counting (``symmetrize``: both directions)
:func:`partition`          group a chunk's arcs by destination range (cache-friendly scatter)
:func:`plan`               contiguous destination ranges ("buckets") that fit a memory cap
:func:`scatter`            counting-sort placement of arcs into their row slots
:func:`sort_small_rows`    insertion-sort short rows, list the long ones (sorted by numpy)
:func:`compact`            merge duplicate arcs per row (``dedup`` with a weight ``reduce``)
:func:`transpose_scatter`  place CSR entries at their transposed slot (``t_indices``, ``t_perm``)
:func:`check_rows`         CSR row invariants (range, ascending, strictly when coalesced)
:func:`perm_marks`         mark ``t_perm`` entries (is it a permutation of ``0..E-1``?)
:func:`check_transpose`    every transposed entry ``(s <- d, p)`` is CSR position ``p`` = ``d <- s``
=========================  =====================================================================
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["check_ids", "count", "partition", "plan", "scatter", "sort_small_rows", "compact",
           "transpose_scatter", "check_rows", "perm_marks", "check_transpose"]

_jit = numba.njit(cache=True, nogil=True)



@_jit
def check_ids(src, dst, limit):
    # (first position with an id outside [0, limit) or -1, max id of the chunk)
    mx = -1
    for k in range(src.shape[0]):
        s = src[k]
        d = dst[k]
        if s < 0 or d < 0 or s >= limit or d >= limit:
            return k, mx
        if s > mx:
            mx = s
        if d > mx:
            mx = d
    return -1, mx


@_jit
def count(src, dst, deg, symmetrize):
    for k in range(src.shape[0]):
        s = src[k]
        d = dst[k]
        deg[d] += 1
        if symmetrize and s != d:
            deg[s] += 1


@_jit
def _arc(src, dst, k, rev, lo, hi):
    # Arc k read forward (rev 0: target dst[k], other end src[k]) or reversed (rev 1, not for
    # a self loop, which is its own reverse); ok says the target lies in [lo, hi).
    t = dst[k] if rev == 0 else src[k]
    o = src[k] if rev == 0 else dst[k]
    return t, o, t >= lo and t < hi and (rev == 0 or o != t)


@_jit
def partition(src, dst, w, weighted, lo, hi, symmetrize, shift, hist, out_s, out_d, out_w):
    # Group the arcs of a chunk whose destination lies in [lo, hi) by (dst - lo) >> shift
    # (a counting sort on the high bits, written to out_*; returns their number). The
    # scatter that follows then touches one narrow node range at a time, which keeps its
    # random accesses in cache: ~2x faster than scattering the raw stream at 10M nodes.
    # With symmetrize, arc k is also read reversed (rev = 1), self loops once.
    P = hist.shape[0] - 1
    for p in range(P + 1):
        hist[p] = 0
    reps = 2 if symmetrize else 1
    for fill in range(2):  # pass 0 counts, pass 1 places
        if fill == 1:
            for p in range(P):
                hist[p + 1] += hist[p]
        for k in range(src.shape[0]):
            for rev in range(reps):
                t, o, ok = _arc(src, dst, k, rev, lo, hi)
                if not ok:
                    continue
                q = (t - lo) >> shift
                if fill == 0:
                    hist[q + 1] += 1
                    continue
                i = hist[q]
                hist[q] = i + 1
                out_s[i] = o
                out_d[i] = t
                if weighted:
                    out_w[i] = w[k]
    return hist[P]


@_jit
def plan(deg, bytes_per_arc, bytes_per_row, cap):
    # Greedy contiguous ranges whose cost fits cap; returns the bucket ends. Two sweeps
    # (count, then fill) so that nothing O(N) is allocated. A single entry -(i+1) flags
    # node i as too large on its own.
    n = deg.shape[0]
    for i in range(n):
        if deg[i] * bytes_per_arc + bytes_per_row > cap:
            out = np.empty(1, np.int64)
            out[0] = -(i + 1)
            return out
    ends = np.empty(0, np.int64)
    for sweep in range(2):
        nb = 0
        cost = 0
        for i in range(n):
            c = deg[i] * bytes_per_arc + bytes_per_row
            if cost + c > cap:
                if sweep == 1:
                    ends[nb] = i
                nb += 1
                cost = 0
            cost += c
        if sweep == 1:
            ends[nb] = n
        else:
            ends = np.empty(nb + 1, np.int64)
    return ends


@_jit
def scatter(src, dst, w, weighted, lo, hi, cursor, slab, slab_w, symmetrize):
    # Counting-sort placement: arc s -> d (and d -> s with symmetrize, self loops once) goes
    # to the next free slot of its destination row, if that lies in [lo, hi).
    reps = 2 if symmetrize else 1
    for k in range(src.shape[0]):
        for rev in range(reps):
            t, o, ok = _arc(src, dst, k, rev, lo, hi)
            if not ok:
                continue
            p = cursor[t - lo]
            cursor[t - lo] = p + 1
            slab[p] = o
            if weighted:
                slab_w[p] = w[k]


@_jit
def sort_small_rows(slab, deg, thresh, big_rows, big_starts):
    # Insertion-sort the rows of at most `thresh` arcs; list the longer ones, which the
    # caller sorts with numpy's (SIMD) sort, ~10x faster than a compiled quicksort.
    start = 0
    nb = 0
    for r in range(deg.shape[0]):
        if deg[r] > thresh:
            big_rows[nb] = r
            big_starts[nb] = start
            nb += 1
        else:
            _insertion_sort(slab, start, start + deg[r])
        start += deg[r]
    return nb


@_jit
def _insertion_sort(slab, a, b):
    for i in range(a + 1, b):
        v = slab[i]
        j = i - 1
        while j >= a and slab[j] > v:
            slab[j + 1] = slab[j]
            j -= 1
        slab[j + 1] = v


@_jit
def compact(slab, slab_w, weighted, deg, counts, dedup, reduce, outdeg, count_out):
    # Rows lie back to back with deg[r] arcs each; unweighted rows are already sorted,
    # weighted ones are sorted here (stable: duplicates keep input order). Merge
    # duplicates (dedup) and compact in place (write position <= read position).
    rd = 0
    wr = 0
    for r in range(deg.shape[0]):
        a = rd
        b = rd + deg[r]
        rd = b
        start = wr
        n = b - a
        if n > 0:
            if weighted:
                order = np.argsort(slab[a:b], kind="mergesort")
                vals = slab[a:b][order]
                ws = slab_w[a:b][order]
            else:
                vals = slab[a:b]
                ws = slab_w[:0]
            if not dedup:
                if weighted or wr != a:
                    for k in range(n):
                        slab[wr + k] = vals[k]
                        if weighted:
                            slab_w[wr + k] = ws[k]
                wr += n
            else:
                k = 0
                while k < n:
                    v = vals[k]
                    acc = ws[k] if weighted else 0.0
                    m = 1
                    k += 1
                    while k < n and vals[k] == v:
                        if weighted:
                            x = ws[k]
                            if reduce == 0 or reduce == 3:
                                acc += x
                            elif reduce == 1:
                                acc = max(acc, x)
                            elif reduce == 2:
                                acc = min(acc, x)
                        m += 1
                        k += 1
                    slab[wr] = v
                    if weighted:
                        slab_w[wr] = acc / m if reduce == 3 else acc
                    wr += 1
        counts[r] = wr - start
        if count_out:
            for k in range(start, wr):
                outdeg[slab[k]] += 1
    return wr


@_jit
def _row_at(ptr, j, pos):
    # The row (in the block whose indptr slice is ptr) holding position pos, searching
    # forward from row j; positions arrive in increasing order, so the walk is amortised O(1).
    m = ptr.shape[0] - 1
    while j < m - 1 and ptr[j + 1] <= pos:
        j += 1
    return j


@_jit
def transpose_scatter(vals, pos0, ptr, j, row0, lo, hi, cursor, t_idx, t_perm, write_idx):
    # vals: CSR sources at positions pos0..; ptr: indptr block of rows row0.. with
    # ptr[j] <= pos0. Places arcs whose source is in [lo, hi) at their transposed slot.
    for k in range(vals.shape[0]):
        pos = pos0 + k
        j = _row_at(ptr, j, pos)
        s = vals[k]
        if s >= lo and s < hi:
            p = cursor[s - lo]
            cursor[s - lo] = p + 1
            if write_idx:
                t_idx[p] = row0 + j
            t_perm[p] = pos
    return j


@_jit
def check_rows(vals, pos0, ptr, j, prev, n, strict):
    # vals: entries at CSR positions pos0..; ptr: indptr of a block of rows, with
    # ptr[j] <= pos0 < ptr[j+1]. Returns (bad position or -1, code, j, prev).
    # code: 1 out of range, 2 unsorted row, 3 duplicate in a coalesced row.
    for k in range(vals.shape[0]):
        pos = pos0 + k
        j = _row_at(ptr, j, pos)
        v = vals[k]
        if v < 0 or v >= n:
            return pos, 1, j, prev
        if pos != ptr[j]:
            if v < prev:
                return pos, 2, j, prev
            if strict and v == prev:
                return pos, 3, j, prev
        prev = v
    return -1, 0, j, prev


@_jit
def perm_marks(vals, marks, hi):
    # Mark each value in a bitset; return the first position whose value is outside [0, hi)
    # (code 1) or already marked (code 2), else (-1, 0). Over all chunks of an array of hi
    # entries, no hit means the array is a permutation of 0..hi-1.
    for k in range(vals.shape[0]):
        v = vals[k]
        if v < 0 or v >= hi:
            return k, 1
        byte = v >> 3
        bit = np.uint8(1) << np.uint8(v & 7)
        if marks[byte] & bit:
            return k, 2
        marks[byte] |= bit
    return -1, 0


@_jit
def check_transpose(t_idx, t_perm, q0, t_ptr, j, row0, indptr, indices):
    # Transposed entries q0.. (rows of block t_ptr, starting at row0 + j): entry q of source
    # row s says "CSR position p = t_perm[q] is the arc s -> t_idx[q]", i.e. indices[p] == s
    # and p lies in row t_idx[q] of the CSR. t_perm was checked to be in range before.
    # Returns (bad q or -1, code, j): code 1 indices[p] != s, code 2 wrong CSR row.
    for k in range(t_perm.shape[0]):
        q = q0 + k
        j = _row_at(t_ptr, j, q)
        s = row0 + j
        p = t_perm[k]
        if indices[p] != s:
            return q, 1, j
        d = t_idx[k]
        if not (indptr[d] <= p and p < indptr[d + 1]):
            return q, 2, j
    return -1, 0, j
