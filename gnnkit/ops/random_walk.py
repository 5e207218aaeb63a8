r"""Random walks on the compiled engine: uniform, node2vec and walks with restart.

====================  =================================================================
:func:`random_walk`   uniform or node2vec :math:`(p, q)` walks along out-arcs
:func:`restart_walk`  uniform walks that jump back to their start (random walk with restart)
:func:`ppr_monte_carlo`  personalized PageRank from restart-walk visit frequencies
====================  =================================================================

Walks follow **out-arcs** ``u -> v``: the kernels read the CSR grouped by source, i.e. the
graph's :meth:`~gnnkit.Graph.transpose` (for an undirected graph the CSR itself).  Every walk is
reproducible: the 64-bit seed comes from torch's generator (``torch.randint`` under the given or
the default generator, so ``torch.manual_seed`` controls it) and walk ``i`` draws only from its
own stream keyed by ``(seed, i)``, hence the result does not depend on the number of threads.

Edge weights are ignored: transitions are uniform over the out-arcs (a duplicate arc counts
twice).
"""
from __future__ import annotations

import torch

from gnnkit.ops._library import ops
from gnnkit.graphlike import as_graph

__all__ = ["random_walk", "restart_walk", "ppr_monte_carlo", "draw_seed", "out_csr"]

def draw_seed(generator: torch.Generator | None = None) -> int:
    """A 63-bit seed drawn from ``generator`` (default: torch's global generator)."""
    return int(torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.long).item())


def out_csr(graph):
    """``(rowptr, col)`` grouped by **source** (out-arcs), sorted within rows.

    For an undirected graph (``directed=False``) the stored CSR is already symmetric; otherwise
    the cached :meth:`~gnnkit.Graph.transpose` is used.
    """
    g = as_graph(graph, where="out_csr", edge_index=False)
    if getattr(g, "directed", True) is False:
        return g.indptr, g.indices
    t_indptr, t_indices, _ = g.transpose()
    return t_indptr, t_indices


def _start_tensor(start, num_nodes: int, device) -> torch.Tensor:
    if start is None:
        return torch.arange(num_nodes, device=device)
    if not isinstance(start, torch.Tensor):
        start = torch.as_tensor(start)
    if start.dtype.is_floating_point or start.dtype == torch.bool:
        raise TypeError(f"'start' must hold integer node ids, got dtype {start.dtype}")
    if start.dim() != 1:
        raise ValueError(f"'start' must be a 1-D tensor of node ids, got shape {tuple(start.shape)}")
    return start.to(device=device, dtype=torch.long)


def _check_len(walk_length) -> int:
    if isinstance(walk_length, bool) or not isinstance(walk_length, int) or walk_length < 0:
        raise ValueError(f"walk_length must be a non-negative int, got {walk_length!r}")
    return walk_length


def _walk(graph, start, walk_length: int, p, q, restart_prob, seed, generator) -> torch.Tensor:
    """Run the ``random_walk`` kernel (arguments already checked) from ``start`` nodes."""
    rowptr, col = out_csr(graph)
    start = _start_tensor(start, rowptr.numel() - 1, rowptr.device)
    if seed is None:
        seed = draw_seed(generator)
    return ops().random_walk(rowptr, col, start, walk_length, float(p), float(q),
                             float(restart_prob), int(seed))


def random_walk(graph, start=None, walk_length: int = 10, p: float = 1.0, q: float = 1.0, *,
                seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Uniform or node2vec random walks along out-arcs.

    node2vec (Grover & Leskovec, KDD 2016, https://arxiv.org/abs/1607.00653): after stepping
    :math:`t \to v`, the next node :math:`x \in N^+(v)` is drawn with probability proportional to

    .. math::
        \alpha_{pq}(t, x) = \begin{cases} 1/p & x = t \\ 1 & t \to x \text{ is an arc} \\
        1/q & \text{otherwise.} \end{cases}

    Sampling uses rejection as in KnightKing (Yang et al., SOSP 2019): propose a uniform out-arc
    of :math:`v`, accept with probability :math:`\alpha / \max(1/p, 1, 1/q)`; the arc test is a
    binary search in the sorted out-row of :math:`t`.  No alias tables (no :math:`O(E \cdot d)`
    memory).  The first step of a walk is uniform.  ``p = q = 1`` is the plain uniform walk.

    A walk that reaches a node without out-arcs stops there: the remaining entries of its row are
    ``-1`` (so an isolated start node gives ``[s, -1, -1, ...]``).

    Args:
        graph (Graph or DiskGraph): the graph; walks follow its arcs ``source -> target``.
        start (Tensor, optional): int node ids ``[W]``, one walk each (default: every node once).
        walk_length (int): number of steps (default: ``10``).
        p (float): return parameter, > 0 (default: ``1.0``).
        q (float): in-out parameter, > 0 (default: ``1.0``).
        seed (int, optional): explicit 64-bit seed; by default one is drawn from ``generator``.
        generator (torch.Generator, optional): source of the seed (default: torch's global one).

    Returns:
        Tensor: int64 ``[W, walk_length + 1]``; column 0 is ``start``.

    Example:
        >>> import torch, gnnkit
        >>> from gnnkit.ops.random_walk import random_walk
        >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]]), num_nodes=3)
        >>> random_walk(g, torch.tensor([0, 2]), walk_length=3, seed=0).tolist()
        [[0, 1, 0, 1], [2, -1, -1, -1]]
    """
    walk_length = _check_len(walk_length)
    for name, val in (("p", p), ("q", q)):
        if not isinstance(val, (int, float)) or isinstance(val, bool) or not val > 0 or val == float("inf"):
            raise ValueError(f"random_walk: {name} must be a positive finite number, got {val!r}")
    return _walk(graph, start, walk_length, p, q, 0.0, seed, generator)


def restart_walk(graph, start=None, walk_length: int = 100, restart_prob: float = 0.15, *,
                 seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Uniform random walks with restart (Tong et al., ICDM 2006): at each step the walker
    returns to its start with probability ``restart_prob``, otherwise it follows a uniform out-arc.
    A node without out-arcs also sends the walker back to its start (the usual "dangling node"
    rule, which keeps personalized PageRank a probability distribution), so rows hold no ``-1``.

    Args:
        graph (Graph or DiskGraph): the graph.
        start (Tensor, optional): int node ids ``[W]`` (default: every node once).
        walk_length (int): number of steps (default: ``100``).
        restart_prob (float): probability in ``(0, 1]`` of jumping back (default: ``0.15``).
        seed, generator: as in :func:`random_walk`.

    Returns:
        Tensor: int64 ``[W, walk_length + 1]``.
    """
    walk_length = _check_len(walk_length)
    if not isinstance(restart_prob, (int, float)) or not 0 < restart_prob <= 1:
        raise ValueError(f"restart_walk: restart_prob must be in (0, 1], got {restart_prob!r}")
    return _walk(graph, start, walk_length, 1.0, 1.0, restart_prob, seed, generator)


def ppr_monte_carlo(graph, sources, alpha: float = 0.15, num_walks: int = 100, walk_length: int = 200, *,
                    seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Personalized PageRank estimated from restart-walk visit frequencies.

    .. math::
        \pi_s = \alpha \sum_{\ell \ge 0} (1 - \alpha)^\ell\, e_s^\top P^\ell, \qquad
        P_{uv} = 1 / d^+_u \text{ for each arc } u \to v

    (dangling nodes restart).  The restart chain's stationary distribution is :math:`\pi_s`; the
    estimate is the fraction of the ``num_walks * (walk_length + 1)`` visited positions at each
    node.  The walks start at :math:`s`, which biases the estimate by :math:`O(1 / (\alpha \cdot
    \text{walk\_length}))`; it is a Monte Carlo estimate, not an exact solver.

    Returns:
        Tensor: float64 ``[len(sources), N]`` (dense: meant for moderate N).
    """
    if not isinstance(num_walks, int) or num_walks < 1:
        raise ValueError(f"ppr_monte_carlo: num_walks must be a positive int, got {num_walks!r}")
    rowptr, _ = out_csr(graph)
    n = rowptr.numel() - 1
    src = _start_tensor(sources, n, rowptr.device)
    walks = restart_walk(graph, src.repeat_interleave(num_walks), walk_length, alpha, seed=seed,
                         generator=generator)
    rows = torch.arange(src.numel(), device=src.device).repeat_interleave(num_walks * (walk_length + 1))
    out = torch.zeros(src.numel() * n, dtype=torch.float64, device=src.device)
    out.index_add_(0, rows * n + walks.reshape(-1), torch.ones(rows.numel(), dtype=torch.float64,
                                                              device=src.device))
    return out.reshape(src.numel(), n) / (num_walks * (walk_length + 1))
