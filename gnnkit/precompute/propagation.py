r"""Exact (deterministic) feature propagation by repeated sparse-dense products.

=============================  ==================================================================
:func:`gbp_weights`            level weights :math:`w_\ell`: PPR, heat kernel, single hop, custom
:func:`gbp_transition`         the graph with the arc weights of :math:`T = D^{r-1} A D^{-r}`
:func:`propagate_exact`        :math:`P = \sum_{\ell=0}^{L} w_\ell T^\ell X` by ``L`` calls of
                               :func:`gnnkit.ops.spmm` (the validation oracle of GBP)
:func:`sgc_features`           :math:`S^K X` with the GCN-normalised :math:`S` (SGC)
:func:`sign_features`          :math:`[X, S X, \dots, S^K X]` (SIGN)
=============================  ==================================================================

Conventions: a :class:`gnnkit.Graph` stores in-arcs per node (row ``i`` lists the sources of the
arcs ``j -> i``), so ``spmm(g, x)[i] = sum_j x[j]``: :math:`A` below is the aggregation matrix
:math:`A_{ij} = \#\{\text{arcs } j \to i\}` and :math:`d_i = \max(\sum_j A_{ij}, 1)` the in-degree
(clamped to 1 so that nodes without in-arcs keep finite weights).  For an undirected graph these
are the usual symmetric adjacency and degree.
"""
from __future__ import annotations

import math
import torch

from gnnkit.ops import spmm
from gnnkit.graphlike import as_graph

__all__ = ["gbp_weights", "gbp_transition", "propagate_exact", "sgc_features", "sign_features", "as_graph"]


def gbp_weights(weights="ppr", num_levels: int = 4, *, alpha: float = 0.1, t: float = 5.0) -> torch.Tensor:
    r"""Level weights :math:`w_0..w_L` (float64 ``[L + 1]``).

    * ``'ppr'``: :math:`w_\ell = \alpha (1 - \alpha)^\ell` (personalized PageRank, truncated at L);
    * ``'heat'``: :math:`w_\ell = e^{-t} t^\ell / \ell!` (heat kernel);
    * ``'last'``: :math:`w_L = 1`, others 0 (the single power :math:`T^L X`, SGC-style);
    * a sequence of ``L + 1`` numbers: used as given.

    >>> gbp_weights("ppr", 2, alpha=0.5).tolist()
    [0.5, 0.25, 0.125]
    """
    if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 0:
        raise ValueError(f"num_levels must be a non-negative int, got {num_levels!r}")
    L = num_levels
    if isinstance(weights, str):
        if weights == "ppr":
            if not 0 < alpha <= 1:
                raise ValueError(f"gbp_weights: alpha must be in (0, 1], got {alpha!r}")
            return torch.tensor([alpha * (1 - alpha) ** l for l in range(L + 1)], dtype=torch.float64)
        if weights == "heat":
            if not t > 0:
                raise ValueError(f"gbp_weights: heat-kernel t must be > 0, got {t!r}")
            return torch.tensor([math.exp(-t) * t**l / math.factorial(l) for l in range(L + 1)],
                                dtype=torch.float64)
        if weights == "last":
            w = torch.zeros(L + 1, dtype=torch.float64)
            w[L] = 1.0
            return w
        raise ValueError(f"gbp_weights: unknown weights {weights!r}; use 'ppr', 'heat', 'last' or a sequence")
    w = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
    if w.numel() != L + 1:
        raise ValueError(f"gbp_weights: got {w.numel()} weights for num_levels={L}; expected L + 1 = {L + 1}")
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"gbp_weights: weights must be finite, got {w.tolist()}")
    return w


def _check_r(r) -> float:
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r <= 1:
        raise ValueError(f"r must be a number in [0, 1], got {r!r}")
    return float(r)


def gbp_transition(graph, r: float = 0.5, dtype=torch.float64):
    r"""The graph with arc weights :math:`T_{ij} = A_{ij} / (d_i^{1-r} d_j^{r})`,
    i.e. :math:`T = D^{r-1} A D^{-r}` (GBP's generalised normalisation: ``r = 1/2`` is the
    symmetric GCN normalisation, ``r = 0`` mean aggregation :math:`D^{-1}A`, ``r = 1``
    :math:`A D^{-1}`).  Edge weights of the input are not allowed (GBP's :math:`A` is 0/1 with
    multiplicities).
    """
    g = as_graph(graph)
    r = _check_r(r)
    if g.edge_weight is not None:
        raise ValueError("GBP propagation is defined on the unweighted adjacency, but the graph has "
                         "edge weights; build it without them (e.g. Graph(g.indptr, g.indices))")
    deg = g.indptr.diff().clamp(min=1).to(dtype)
    dst = g.dst_index()
    src = g.indices.to(torch.int64)
    w = deg[dst].pow(r - 1.0) * deg[src].pow(-r)
    return g.with_edge_weight(w)


def propagate_exact(graph, x, num_levels: int = 4, r: float = 0.5, weights="ppr", *, alpha: float = 0.1,
                    t: float = 5.0, targets=None, dtype=torch.float64) -> torch.Tensor:
    r"""Exact generalized-PageRank propagation :math:`P = \sum_{\ell=0}^{L} w_\ell T^\ell X`,
    :math:`T = D^{r-1} A D^{-r}` (GBP, Chen et al., NeurIPS 2020,
    `arXiv:2010.15421 <https://arxiv.org/abs/2010.15421>`_, Eq. 2), computed with ``L`` calls
    of :func:`gnnkit.ops.spmm` in ``dtype``.  Cost :math:`O(L \cdot E \cdot F)`, memory
    :math:`O(N F)`; the deterministic oracle for :func:`gnnkit.precompute.gbp_precompute`.

    Args:
        graph (Graph or DiskGraph): unweighted graph.
        x (Tensor or ndarray): node features ``[N, F]``.
        num_levels (int): L (default: ``4``).
        r (float): convolution coefficient in [0, 1] (default: ``0.5``).
        weights (str or sequence): see :func:`gbp_weights` (default: ``'ppr'``).
        alpha (float): PPR teleport probability (default: ``0.1``).
        t (float): heat-kernel time (default: ``5.0``).
        targets (Tensor, optional): return only these rows (default: all nodes).
        dtype (torch.dtype): computation dtype (default: float64).

    Shapes:
        ``x [N, F] -> [N, F]`` (or ``[len(targets), F]``).
    """
    g = gbp_transition(graph, r, dtype)
    w = gbp_weights(weights, num_levels, alpha=alpha, t=t).to(dtype)
    x = torch.as_tensor(x).to(dtype)
    if x.dim() != 2 or x.shape[0] != g.num_nodes:
        raise ValueError(f"x must have shape [{g.num_nodes}, F], got {tuple(x.shape)}")
    h = x
    out = w[0] * x
    for l in range(1, num_levels + 1):
        h = spmm(g, h)
        out = out + w[l] * h
    if targets is not None:
        out = out[torch.as_tensor(targets, dtype=torch.long)]
    return out


def _sym_graph(graph, add_self_loops: bool):
    g = as_graph(graph)
    return g.normalize("sym", add_self_loops=add_self_loops, dtype=torch.float32)


def sign_features(graph, x, num_hops: int = 2, *, add_self_loops: bool = True) -> list[torch.Tensor]:
    r"""SIGN's precomputed hops :math:`[X, S X, S^2 X, \dots, S^K X]` (Frasca et al., 2020,
    `arXiv:2004.11198 <https://arxiv.org/abs/2004.11198>`_) with the GCN operator
    :math:`S = \hat D^{-1/2} \hat A \hat D^{-1/2}`, :math:`\hat A = A + I`.

    Shapes:
        ``x [N, F] -> K + 1`` tensors ``[N, F]`` (float32).
    """
    if isinstance(num_hops, bool) or not isinstance(num_hops, int) or num_hops < 0:
        raise ValueError(f"num_hops must be a non-negative int, got {num_hops!r}")
    g = _sym_graph(graph, add_self_loops)
    x = torch.as_tensor(x).to(torch.float32)
    out = [x]
    for _ in range(num_hops):
        out.append(spmm(g, out[-1]))
    return out


def sgc_features(graph, x, K: int = 2, *, add_self_loops: bool = True) -> torch.Tensor:
    r"""SGC's features :math:`S^K X` (Wu et al., ICML 2019,
    `arXiv:1902.07153 <https://arxiv.org/abs/1902.07153>`_), :math:`S` as in
    :func:`sign_features`.

    Shapes:
        ``x [N, F] -> [N, F]``.
    """
    return sign_features(graph, x, K, add_self_loops=add_self_loops)[-1]
