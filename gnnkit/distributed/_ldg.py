"""Compiled pass of the LDG streaming partitioner (see :mod:`gnnkit.distributed.partition`)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _ldg(indptr, indices, train, parts, cap, cap_t, owner):  # pragma: no cover - compiled
    n = indptr.shape[0] - 1
    size = np.zeros(parts, dtype=np.float64)
    tsize = np.zeros(parts, dtype=np.float64)
    hits = np.zeros(parts, dtype=np.int64)
    for v in range(n):
        for k in range(indptr[v], indptr[v + 1]):
            u = indices[k]
            if owner[u] >= 0:  # neighbours already placed (stream order = id order)
                hits[owner[u]] += 1
        best, best_score, best_size = -1, -1.0, 0.0
        for i in range(parts):
            if size[i] >= cap or (train[v] and tsize[i] >= cap_t):
                continue
            s = (hits[i] + 1e-9) * (1.0 - size[i] / cap)
            if train[v]:
                s *= 1.0 - tsize[i] / cap_t
            # ties: the smaller part (LDG's tie rule), then the lower index
            if s > best_score or (s == best_score and size[i] < best_size):
                best, best_score, best_size = i, s, size[i]
        if best < 0:  # every part at capacity (rounding): the smallest one
            best = int(np.argmin(size))
        owner[v] = best
        size[best] += 1.0
        if train[v]:
            tsize[best] += 1.0
        for k in range(indptr[v], indptr[v + 1]):
            u = indices[k]
            if owner[u] >= 0:
                hits[owner[u]] = 0
    return owner


def ldg_assign(indptr, indices, train, parts: int, cap: float, cap_t: float) -> np.ndarray:
    """LDG owners for nodes ``0..N-1`` streamed in id order (int32 ``[N]``)."""
    n = indptr.shape[0] - 1
    owner = np.full(n, -1, dtype=np.int32)
    return _ldg(indptr, indices, train.astype(np.bool_), np.int64(parts), float(cap), float(cap_t), owner)
