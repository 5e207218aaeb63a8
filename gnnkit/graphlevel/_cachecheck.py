r"""Reading a precompute cache file back as untrusted input (used by :mod:`gnnkit.graphlevel.cache`).

A cache file outlives the process that wrote it: a full disk, a copy from another machine or a
hand edit can leave it truncated or holding other tensors.  Before a cached state is used:

* :func:`load_state` loads it with :func:`~gnnkit.data.torch_file.load_torch_file`: a zip
  archive of uncompressed entries that fit in memory and pass their CRC-32 checks (``torch.load``
  does not verify them: a flipped payload byte would load), ``weights_only=True`` (no code runs),
  every failure a :class:`~gnnkit.data.DatasetError`;
* :func:`check_paths` checks a PathNN state against the dataset: ``K`` levels, offsets ``ptr``
  ``[G + 1]`` from 0 to :math:`P_k` and non-decreasing, local node ids in ``[0, n_g)`` of the
  graph that owns the row, consecutive nodes joined by an arc of the graph (``p_t -> p_{t+1}``),
  parents pointing at the path's own prefix (``p[:, :k]``; the first node for :math:`k = 1`),
  on an undirected dataset each level closed under reversal with no repeated path (which also
  catches a path moved across a graph boundary by a forged ``ptr``), positive finite ``'sp'``
  weights and ``'ap'`` distances in ``[0, k]``;
* :func:`check_field` checks a DGN field is a finite float ``[E, k]``.

The messages name the file, the tensor, the level and the first bad row, and say to delete the
file so that it is recomputed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gnnkit.data.errors import DatasetError
from gnnkit.data.torch_file import load_torch_file

__all__ = ["load_state", "check_paths", "check_field"]


def _bad(path: Path, msg: str) -> DatasetError:
    return DatasetError(f"{path}: {msg}; delete the file to recompute it")


def load_state(path: Path) -> dict:
    """The dict saved in the cache file ``path``, loaded by
    :func:`~gnnkit.data.torch_file.load_torch_file` (zip, CRC-32, size and ``weights_only``)."""
    state = load_torch_file(path, hint="delete the file to recompute it")
    if not isinstance(state, dict):
        raise _bad(path, f"holds a {type(state).__name__}, expected a dict")
    return state


def _tensors(path: Path, state: dict, key: str, K: int) -> list[Tensor]:
    v = state.get(key)
    if not isinstance(v, (list, tuple)) or len(v) != K or not all(isinstance(t, Tensor) for t in v):
        raise _bad(path, f"{key!r} must be a list of {K} tensors, got "
                   f"{type(v).__name__}{'' if not isinstance(v, (list, tuple)) else f' of {len(v)}'}")
    return list(v)


def _int(path: Path, t: Tensor, what: str, shape: tuple) -> None:
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        raise _bad(path, f"{what} has dtype {t.dtype}, expected an integer dtype")
    if tuple(t.shape) != shape:
        raise _bad(path, f"{what} has shape {tuple(t.shape)}, expected {shape}")


def _first_bad(path: Path, bad: Tensor, what: str, values: Tensor, expected: str) -> None:
    if bool(bad.any()):
        r = int(bad.reshape(bad.shape[0], -1).any(1).nonzero()[0]) if bad.dim() else 0
        raise _bad(path, f"{what} row {r} = {values[r].tolist()} {expected}")


def _rows_sorted(t: Tensor) -> Tensor:
    order = np.lexsort(t.numpy().T[::-1])              # rows in lexicographic order
    return t[torch.from_numpy(order)]


def _check_closed(path: Path, k: int, g: Tensor, p: Tensor) -> None:
    """On an undirected graph every path set PathNN uses is closed under reversal: the rows
    ``(graph, p_0 .. p_k)`` and ``(graph, p_k .. p_0)`` are the same set, with no repeats."""
    a = _rows_sorted(torch.cat([g.unsqueeze(1), p], 1))
    if a.shape[0] > 1:
        rep = (a[1:] == a[:-1]).all(1)
        if bool(rep.any()):
            r = int(rep.nonzero()[0])
            raise _bad(path, f"paths[{k - 1}] lists path {a[r, 1:].tolist()} of graph {int(a[r, 0])} twice")
    b = _rows_sorted(torch.cat([g.unsqueeze(1), p.flip(1)], 1))
    if not torch.equal(a, b):
        r = int((a != b).any(1).nonzero()[0])
        raise _bad(path, f"paths[{k - 1}] is not closed under reversal (as the paths of an undirected graph "
                   f"are): path {b[r, 1:].flip(0).tolist()} of graph {int(b[r, 0])} has no reverse, or a path "
                   "was moved to another graph")


def check_paths(path: Path, state: dict, ds, K: int, weights: bool, dists: bool,
                undirected: bool = False) -> None:
    """Check a :class:`~gnnkit.graphlevel.cache.PathCache` state against ``ds`` (see the
    module docstring); raises :class:`~gnnkit.data.DatasetError`."""
    from gnnkit.graphlevel.cache import union_graph

    G, N = len(ds), ds.num_nodes
    paths, ptrs, parents = (_tensors(path, state, k, K) for k in ("paths", "ptr", "parents"))
    w = _tensors(path, state, "weights", K) if weights else None
    d = _tensors(path, state, "dists", K) if dists else None
    for key, want in (("weights", weights), ("dists", dists)):
        if not want and state.get(key) is not None:
            raise _bad(path, f"holds {key!r}, which this cache's mode does not compute")
    sizes = ds.graph_sizes()
    u = union_graph(ds)
    row = torch.repeat_interleave(torch.arange(N), u.indptr[1:] - u.indptr[:-1], output_size=u.num_edges)
    arc_keys = row * N + u.indices.long()        # sorted: rows ascending, sources ascending
    prev = None
    for k in range(1, K + 1):
        ptr, p, par = ptrs[k - 1], paths[k - 1], parents[k - 1]
        lvl = f"level {k}"
        P = int(p.shape[0]) if p.dim() == 2 else -1
        _int(path, p, f"paths[{k - 1}]", (P, k + 1))
        _int(path, ptr, f"ptr[{k - 1}]", (G + 1,))
        _int(path, par, f"parents[{k - 1}]", (P,))
        ptr = ptr.long()
        if int(ptr[0]) != 0 or int(ptr[-1]) != P or bool((ptr[1:] < ptr[:-1]).any()):
            raise _bad(path, f"ptr[{k - 1}] is not offsets from 0 to the {P} paths of {lvl}")
        p, par = p.long(), par.long()
        g = torch.repeat_interleave(torch.arange(G), ptr[1:] - ptr[:-1], output_size=P)
        _first_bad(path, (p < 0) | (p >= sizes[g].unsqueeze(1)), f"paths[{k - 1}]", p,
                   "has a local node id outside its graph")
        glob = p + ds.node_ptr[g].unsqueeze(1)
        q = glob[:, 1:] * N + glob[:, :-1]
        at = torch.searchsorted(arc_keys, q).clamp_(max=max(arc_keys.numel() - 1, 0))
        missing = arc_keys[at] != q if arc_keys.numel() else torch.ones_like(q, dtype=torch.bool)
        _first_bad(path, missing, f"paths[{k - 1}]", p, "steps along a pair of nodes that is not an arc")
        if k == 1:
            _first_bad(path, par != p[:, 0], f"parents[{k - 1}]", par, "is not the path's first node")
        else:
            pptr, pp = prev
            cnt = (pptr[1:] - pptr[:-1])[g]
            _first_bad(path, (par < 0) | (par >= cnt), f"parents[{k - 1}]", par,
                       "is outside its graph's shorter paths")
            _first_bad(path, (pp[pptr[g] + par] != p[:, :k]).any(1), f"parents[{k - 1}]", par,
                       "does not point at the path's prefix")
        if undirected:
            _check_closed(path, k, g, p)
        if w is not None:
            t = w[k - 1]
            if not t.dtype.is_floating_point or tuple(t.shape) != (P,):
                raise _bad(path, f"weights[{k - 1}] has dtype {t.dtype} shape {tuple(t.shape)}, expected float ({P},)")
            _first_bad(path, ~torch.isfinite(t) | (t <= 0), f"weights[{k - 1}]", t, "is not a positive finite weight")
        if d is not None:
            t = d[k - 1]
            _int(path, t, f"dists[{k - 1}]", (P, k + 1))
            _first_bad(path, (t < 0) | (t > k), f"dists[{k - 1}]", t, f"holds a distance outside [0, {k}]")
        prev = (ptr, p)


def check_field(path: Path, state: dict, ds, k: int) -> None:
    """Check a :class:`~gnnkit.graphlevel.cache.FieldCache` state: finite float ``[E, k]``."""
    f = state.get("field")
    if not isinstance(f, Tensor) or not f.dtype.is_floating_point or tuple(f.shape) != (ds.num_arcs, k):
        got = (f.dtype, tuple(f.shape)) if isinstance(f, Tensor) else type(f).__name__
        raise _bad(path, f"'field' is {got}, expected a float tensor ({ds.num_arcs}, {k})")
    _first_bad(path, ~torch.isfinite(f), "field", f, "is not finite")
