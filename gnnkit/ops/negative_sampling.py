r"""Negative sampling for link prediction and embeddings on the compiled kernel.

======================================  ==============================================================
:func:`negative_sampling`               ``S`` pairs ``(u, v)`` uniform over the non-edges (PyG's
                                        ``negative_sampling``), ``[2, S]``
:func:`sample_negatives`                ``K`` corrupted partners per anchor node (per-source
                                        negatives, ogbl-citation2 style), ``[M, K]``
:func:`corrupt_edges`                   ``K`` negatives per positive edge, corrupting its source or
                                        its destination, ``[P, K]``
:func:`degree_weights`                  word2vec's unigram\ :sup:`0.75` noise: ``degree ** power``
======================================  ==============================================================

**Strict mode** (default) rejects candidates that form an existing arc, by binary search in the
sorted CSR row of the kept endpoint.  Rows whose degree reaches half of the candidates, or that
reject 32 draws, switch to exact enumeration of their non-neighbours (same distribution), so
dense rows and near-complete graphs never loop; a row (or a whole graph) without any admissible
candidate raises a :class:`ValueError` naming it.  Sampling is **with replacement** (the same
negative may appear twice, as in PyG's ``LinkNeighborLoader`` and word2vec).

Distribution: ``'uniform'`` over the candidate nodes, or ``'degree'``: proportional to
``degree ** power`` (word2vec's noise distribution, Mikolov et al., NeurIPS 2013,
https://arxiv.org/abs/1310.4546; ``power = 0.75``).  Degrees are in + out degrees for directed
graphs (each undirected edge counts once per endpoint).

Works on :class:`gnnkit.Graph` and on memory-mapped :class:`gnnkit.data.DiskGraph` (the kernel reads
the mapped CSR in place).  Reproducible: sample ``i`` draws from the counter-keyed stream
``(seed, i)`` (``csrc/rng.h``), so the output is identical for any thread count; the seed comes
from torch's generator unless given.

**Devices.**  A graph on a CUDA device runs the CUDA kernel (``csrc/cuda/negative_sample_cuda.cu``,
one thread per requested negative, same modes, checks and errors as the CPU kernel, and outputs
on that device); anchors / edges on another device than the graph raise a :class:`ValueError`.
The CUDA sampler is also keyed by ``(seed, i)`` only, so its output does not depend on the launch
configuration.  With ``distribution='uniform'`` it repeats the CPU kernel's draws step by step
and is meant to return the CPU's output exactly; with ``'degree'`` it draws candidates by
inverting the CDF instead of the CPU's alias table: the same distribution, but a different
output for the same seed.  (As of its first commit the CUDA kernel was compile-checked on a
machine without a GPU; ``tests/ops/test_negative_sampling.py`` holds the tests that run it.)
"""
from __future__ import annotations

import torch
from torch import Tensor

from gnnkit._ext import BUILD_HINT, ExtensionError, has_cuda
from gnnkit.ops._library import ops
from gnnkit.graphlike import as_graph as _as_graph
from gnnkit.ops.random_walk import draw_seed

__all__ = ["negative_sampling", "sample_negatives", "corrupt_edges", "degree_weights"]

_DISTRIBUTIONS = ("uniform", "degree")


def _csr_by(graph, side: str):
    """(rowptr, col) whose row a lists the partners b of a on the kept endpoint.

    side='dst' corrupts destinations: rows are sources (out-arcs, the transposed CSR);
    side='src' corrupts sources: rows are destinations (gnnkit's CSR).
    """
    if side == "src" or getattr(graph, "directed", True) is False:
        return graph.indptr, graph.indices
    t_indptr, t_indices, _ = graph.transpose()
    return t_indptr, t_indices


def degree_weights(graph, power: float = 0.75) -> Tensor:
    r"""``deg(v) ** power`` for every node, float64 ``[N]`` (word2vec noise, ``power = 0.75``).

    ``deg`` is the in-degree of an undirected graph (= its degree) and in + out degree of a
    directed one.  Isolated nodes get weight 0 (they never appear as negatives).
    """
    g = _as_graph(graph)
    if not isinstance(power, (int, float)) or isinstance(power, bool) or not power >= 0:
        raise ValueError(f"degree_weights: power must be a number >= 0, got {power!r}")
    deg = g.indptr.diff().to(torch.float64)
    if getattr(g, "directed", True) is not False:
        deg = deg + g.transpose()[0].diff().to(torch.float64)
    return deg.pow(power) if power != 0 else (deg > 0).to(torch.float64)


def _weights(g, distribution: str, power: float):
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; expected one of {_DISTRIBUTIONS}")
    if distribution == "uniform":
        return None
    w = degree_weights(g, power)
    if not bool((w > 0).any()):
        raise ValueError("distribution='degree' needs at least one node with an edge; the graph has none")
    return w


def _check_nonempty(g, where: str) -> int:
    n = int(g.indptr.numel() - 1)
    if n == 0:
        raise ValueError(f"{where}: 'graph' has no nodes; negatives cannot be drawn from an empty graph")
    return n


def _check_count(value, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: '{name}' must be an int >= 0, got {value!r}")
    return value


def _check_device(g, where: str) -> torch.device:
    """The graph's device; a CUDA graph needs the extension's CUDA kernels (no silent CPU copy)."""
    device = g.indptr.device
    if device.type == "cuda" and not has_cuda():
        raise ExtensionError(f"{where}: the graph is on {device} but gnnkit._C was built without its CUDA "
                             f"kernels (negative_sample has no CUDA kernel in this build); {BUILD_HINT} on a "
                             "machine with nvcc and a CUDA build of torch, or move the graph with .to('cpu')")
    return device


def _node_ids(x, name: str, n: int, where: str, device: torch.device) -> Tensor:
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x, device=device)
    if x.device != device:
        raise ValueError(f"{where}: '{name}' is on {x.device} but the graph is on {device}; move one "
                         "with .to()")
    if x.dtype.is_floating_point or x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{where}: '{name}' must hold integer node ids, got dtype {x.dtype}")
    x = x.to(torch.long)
    if x.numel():
        bad = (x < 0) | (x >= n)
        if bool(bad.any()):
            k = int(bad.reshape(-1).nonzero()[0])
            raise IndexError(f"{where}: '{name}' entry {k} = {int(x.reshape(-1)[k])} is out of range "
                             f"[0, {n}) for a graph with {n} nodes")
    return x


def negative_sampling(graph, num_samples: int | None = None, *, strict: bool = True,
                      exclude_self: bool = True, distribution: str = "uniform", power: float = 0.75,
                      seed: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    r"""``num_samples`` random non-edges ``(u, v)``, uniform over all admissible pairs.

    With ``strict`` an admissible pair is one without an arc :math:`u \to v` (and
    :math:`u \ne v` with ``exclude_self``); the result is exactly uniform over those pairs
    (sparse graphs: pair rejection, accepting with probability :math:`\ge 1/2`; dense graphs: the
    kept endpoint drawn proportionally to its number of non-neighbours).  With
    ``distribution='degree'`` the source :math:`u` is drawn proportionally to
    :math:`\deg(u)^{power}`.  Unlike PyG's ``negative_sampling`` the result always has exactly
    ``num_samples`` pairs (drawn with replacement) and a complete graph raises instead of
    returning fewer.

    Args:
        graph (Graph or DiskGraph): the graph whose arcs are excluded.
        num_samples (int, optional): number of pairs (default: the number of arcs).
        strict (bool): reject existing arcs (default: ``True``).
        exclude_self (bool): reject :math:`u = v` (default: ``True``).
        distribution (str): ``'uniform'`` or ``'degree'`` (default: ``'uniform'``).
        power (float): exponent of ``'degree'`` (default: ``0.75``).
        seed (int, optional): explicit 64-bit seed; by default drawn from ``generator``.

    Returns:
        Tensor: int64 ``[2, num_samples]``, row 0 the sources, row 1 the destinations, on the
        graph's device (a CUDA graph runs the CUDA kernel; see the module docstring).

    Raises:
        ValueError: empty graph, negative ``num_samples``, or (strict) a complete graph.
        ExtensionError: a CUDA graph with an extension built without CUDA kernels.

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    >>> neg = negative_sampling(g, 100, seed=0)
    >>> bool(((neg[0] == 0) & (neg[1] == 1)).any()), bool((neg[0] == neg[1]).any())
    (False, False)
    """
    g = _as_graph(graph)
    where = "negative_sampling"
    n = _check_nonempty(g, where)
    _check_device(g, where)
    num_samples = g.num_edges if num_samples is None else _check_count(num_samples, "num_samples", where)
    w = _weights(g, distribution, power)
    seed = draw_seed(generator) if seed is None else int(seed)
    # rows = destinations (gnnkit's CSR lists the sources of each row), candidates = sources
    a, b = ops().negative_sample(g.indptr, g.indices, None, num_samples, n, w, bool(strict),
                                 bool(exclude_self), seed)
    return torch.stack([b, a])


def sample_negatives(graph, anchors, num_negatives: int = 1, *, side: str = "dst", strict: bool = True,
                     exclude_self: bool = True, distribution: str = "uniform", power: float = 0.75,
                     seed: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    r"""``num_negatives`` corrupted partners for every anchor node.

    ``side='dst'``: the anchors are sources :math:`u` and the result holds destinations
    :math:`v'` with no arc :math:`u \to v'` (per-source negatives, as ogbl-citation2's
    evaluation pairs); ``side='src'``: the anchors are destinations and the result holds sources.

    Args:
        graph (Graph or DiskGraph): the graph whose arcs are excluded.
        anchors (Tensor): int node ids ``[M]``, on the graph's device (a list is moved there).
        num_negatives (int): negatives per anchor ``K`` (default: ``1``).
        side (str): the corrupted endpoint, ``'dst'`` or ``'src'`` (default: ``'dst'``).
        strict, exclude_self, distribution, power, seed, generator: as in :func:`negative_sampling`.

    Returns:
        Tensor: int64 ``[M, K]`` on the graph's device (CUDA graphs: the CUDA kernel).

    Raises:
        IndexError: an anchor outside ``[0, N)``.
        ValueError: empty graph, ``anchors`` on another device than the graph, or (strict) an
            anchor linked to every candidate.
    """
    g = _as_graph(graph)
    where = "sample_negatives"
    n = _check_nonempty(g, where)
    device = _check_device(g, where)
    if side not in ("src", "dst"):
        raise ValueError(f"{where}: side must be 'src' or 'dst', got {side!r}")
    num_negatives = _check_count(num_negatives, "num_negatives", where)
    anchors = _node_ids(anchors, "anchors", n, where, device)
    if anchors.dim() != 1:
        raise ValueError(f"{where}: 'anchors' must be a 1-D tensor of node ids, got shape {tuple(anchors.shape)}")
    w = _weights(g, distribution, power)
    rowptr, col = _csr_by(g, side)
    seed = draw_seed(generator) if seed is None else int(seed)
    _, b = ops().negative_sample(rowptr, col, anchors, num_negatives, n, w, bool(strict),
                                 bool(exclude_self), seed)
    return b


def corrupt_edges(graph, edge_index, num_negatives: int = 1, *, side: str = "dst", **kwargs) -> Tensor:
    r"""``num_negatives`` negatives per positive edge: keep one endpoint, resample the other.

    ``edge_index`` ``[2, P]`` (sources, destinations).  ``side='dst'`` keeps the sources and
    returns negative destinations ``[P, K]``; ``side='src'`` keeps the destinations and returns
    negative sources.  Keyword arguments as in :func:`sample_negatives`.  ``edge_index`` must be
    on the graph's device (``ValueError`` otherwise); the result is there too.
    """
    where = "corrupt_edges"
    g = _as_graph(graph)
    if not isinstance(edge_index, Tensor):
        edge_index = torch.as_tensor(edge_index, device=g.indptr.device)
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{where}: 'edge_index' must have shape [2, P], got {tuple(edge_index.shape)}")
    if side not in ("src", "dst"):
        raise ValueError(f"{where}: side must be 'src' or 'dst', got {side!r}")
    n = _check_nonempty(g, where)
    edge_index = _node_ids(edge_index, "edge_index", n, where, g.indptr.device)
    return sample_negatives(g, edge_index[0 if side == "dst" else 1], num_negatives, side=side, **kwargs)
