r"""Multi-hop neighbour sampling (GraphSAGE) into bipartite blocks.

Hamilton, Ying & Leskovec, "Inductive Representation Learning on Large Graphs", NeurIPS 2017
(https://arxiv.org/abs/1706.02216): every node aggregates a fixed-size sample of its
neighbourhood, so a mini-batch of :math:`B` seeds through :math:`L` layers touches at most
:math:`B \prod_h k_h` nodes instead of the whole :math:`L`-hop neighbourhood.

Layout (PyG ``NeighborLoader``): nodes are numbered hop by hop -- the seeds first, then the
nodes first discovered at hop 1, and so on -- and node :math:`v` first seen at hop :math:`h < L`
gets up to :math:`k_h` = ``fanouts[h]`` of its in-arcs :math:`u \to v`, drawn without
replacement (all of them for ``-1``), either uniformly or, with weights, by Efraimidis-Spirakis
keys :math:`\log(U)/w_{uv}` (successive sampling proportional to :math:`w`; arcs of weight 0 are
never drawn by a finite fan-out).  A node's sample is drawn once and reused by every layer in
which it is a destination.  The block of GNN layer :math:`\ell` (0 = input) has as destinations
the nodes of hops :math:`0..L-1-\ell` and as sources the nodes of hops :math:`0..L-\ell`; the
destinations are the first ``num_dst_nodes`` sources, so with all neighbours (``-1``) a
mini-batch forward pass computes exactly the full-graph outputs of the seeds.

Reproducibility: the sample of node :math:`v` at hop :math:`h` is drawn from a counter-based
random stream keyed by ``(seed, h, direction, v)``, and new nodes are numbered by one sequential
pass in seed order, so for a given ``seed`` the result is identical for any thread count.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from gnnkit.ops._library import ops
from gnnkit.block import Block
from gnnkit.graphlike import as_graph

__all__ = ["NeighborSample", "sample_neighbors", "as_graph", "check_fanouts", "draw_seed", "build_blocks"]


def _tensor(a, name: str) -> Tensor:
    if isinstance(a, Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a)  # zero copy, also for np.memmap
    raise TypeError(f"'{name}' must be a torch.Tensor or numpy array, got {type(a).__name__}")


def check_fanouts(fanouts) -> list[int]:
    """``fanouts`` as a list of ints; each must be ``-1`` (all) or ``>= 0``."""
    if isinstance(fanouts, (int, np.integer)) or isinstance(fanouts, (str, bytes)):
        raise TypeError(f"'fanouts' must be a list of ints (one per hop), got {fanouts!r}")
    out = []
    for h, k in enumerate(list(fanouts)):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"fanouts[{h}] must be an int, got {k!r}")
        if k < -1:
            raise ValueError(f"fanouts[{h}] = {k} is invalid; use a count >= 0, or -1 for all neighbours")
        out.append(int(k))
    return out


def draw_seed(generator: torch.Generator | None = None) -> int:
    """A 62-bit sampler seed drawn from torch's (default or given) generator."""
    return int(torch.randint(0, 2**62, (1,), generator=generator).item())


def _check_seeds(seeds, num_nodes: int) -> Tensor:
    if isinstance(seeds, (list, tuple, range)):
        seeds = torch.as_tensor(list(seeds), dtype=torch.int64)
    s = _tensor(seeds, "seeds")
    if s.dtype == torch.bool or s.is_floating_point() or s.is_complex():
        raise TypeError(f"'seeds' must hold integer node ids, got dtype {s.dtype}")
    if s.dim() != 1:
        raise ValueError(f"'seeds' must have shape [num_seeds], got {tuple(s.shape)}")
    s = s.to(torch.int64)
    if s.numel():
        bad = (s < 0) | (s >= num_nodes)
        if bool(bad.any()):
            k = int(bad.nonzero()[0])
            raise IndexError(f"seeds[{k}] = {int(s[k])} is out of range for a graph with {num_nodes} nodes")
    return s


@dataclass
class NeighborSample:
    r"""The result of :func:`sample_neighbors` for one batch of seeds.

    Attributes:
        n_id (Tensor): int64 ``[N_s]`` global ids of every sampled node, seeds first, in hop order.
        batch_size (int): number of seeds ``B`` (``n_id[:B]`` are the seeds, in input order).
        blocks (list[Block]): one block per layer, **input layer first**; ``blocks[-1]`` has the
            seeds as destinations.  Each block's sources are ``n_id[:block.num_src_nodes]``.
        out_blocks (list[Block] or None): directed mode only: the out-arc blocks (rows list the
            sampled out-neighbours), aligned with ``blocks`` (same node sets).
        num_sampled_nodes (list[int]): nodes first seen at each hop, ``[B, n_1, ..., n_L]``.
        num_sampled_edges (list[int]): arcs sampled at each hop (both directions).
    """

    n_id: Tensor
    batch_size: int
    blocks: list
    out_blocks: list | None = None
    num_sampled_nodes: list = field(default_factory=list)
    num_sampled_edges: list = field(default_factory=list)

    @property
    def seeds(self) -> Tensor:
        return self.n_id[: self.batch_size]

    @property
    def num_edges(self) -> int:
        return int(sum(self.num_sampled_edges))


def build_blocks(hop_ptr, rowptr, col, e_id, n_id, L, weight, reverse, degree):
    """Per-layer :class:`Block` views (input layer first) of the raw outputs of
    ``torch.ops.gnnkit.neighbor_sample`` (also used by ``gnnkit.distributed``'s sampler, whose
    raw outputs are the same)."""
    out = []
    for layer in range(L):
        n_dst, n_src = hop_ptr[L - layer], hop_ptr[L - layer + 1]
        ne = int(rowptr[n_dst])
        eid = e_id[:ne]
        w = None if weight is None else weight[eid]
        out.append(Block(rowptr[: n_dst + 1], col[:ne], n_src, e_id=eid, edge_weight=w,
                         n_id=n_id[:n_src], reverse=reverse, src_degree=degree[:n_src]))
    return out


def sample_neighbors(graph, seeds, fanouts, *, weighted: bool = False, directed: bool = False,
                     seed: int | None = None, generator: torch.Generator | None = None) -> NeighborSample:
    r"""Sample an :math:`L`-hop neighbourhood of ``seeds`` and return its per-layer blocks.

    Args:
        graph: a :class:`gnnkit.Graph`, a ``DiskGraph`` (memory-mapped, sampled in place) or any
            object with CSR ``indptr`` (int64 ``[N+1]``) and ``indices`` (``[E]``).
        seeds (Tensor, ndarray or list): distinct int node ids ``[B]``.
        fanouts (list[int]): arcs to sample per node at each hop (``fanouts[0]`` for the seeds);
            ``-1`` takes all of them.  ``len(fanouts)`` is the number of layers :math:`L`.
        weighted (bool): sample proportionally to ``graph.edge_weight`` (weighted sampling
            without replacement, Efraimidis-Spirakis); weights must be finite and
            :math:`\ge 0`. (default: :obj:`False`)
        directed (bool): also sample up to ``fanouts[h]`` out-arcs per node (from
            ``graph.transpose()``: stored in a DiskGraph written with ``transpose=True``, else
            built in RAM once and cached), returned as ``out_blocks`` (Dir-GNN).
            (default: :obj:`False`)
        seed (int, optional): seed of the sample; the result is a function of
            ``(graph, seeds, fanouts, seed)`` only. (default: :obj:`None`: drawn from torch's
            random generator, or from ``generator``)
        generator (torch.Generator, optional): generator to draw ``seed`` from.

    Returns:
        NeighborSample: ``n_id``, ``blocks`` (input layer first) and per-hop counts.  Blocks
        carry ``edge_weight = graph.edge_weight[e_id]`` when the graph is weighted.

    Raises:
        IndexError: a seed id is outside ``[0, N)``.
        ValueError: a fan-out is below ``-1``, or seeds repeat.
        TypeError: wrong argument types.

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[1, 2, 3, 0, 3], [0, 0, 0, 1, 2]]))
    >>> s = sample_neighbors(g, [0], [-1, -1], seed=0)
    >>> s.n_id.tolist(), s.num_sampled_nodes
    ([0, 1, 2, 3], [1, 3, 0])
    >>> [b.num_dst_nodes for b in s.blocks], [b.num_src_nodes for b in s.blocks]
    ([4, 1], [4, 4])
    """
    g = as_graph(graph)
    rowptr, col = _tensor(g.indptr, "indptr"), _tensor(g.indices, "indices")
    n = rowptr.numel() - 1
    fan = check_fanouts(fanouts)
    s = _check_seeds(seeds, n)
    ew = getattr(g, "edge_weight", None)
    ew = None if ew is None else _tensor(ew, "edge_weight")
    if weighted and ew is None:
        raise ValueError("sample_neighbors: weighted=True but the graph has no edge_weight")
    t = (None, None, None)
    if directed:
        t = tuple(_tensor(a, "transpose") for a in g.transpose())
    if seed is None:
        seed = draw_seed(generator)
    seed = int(seed) & (2**63 - 1)
    res = ops().neighbor_sample(rowptr, col, s, fan, ew if weighted else None, seed, *t)
    n_id, hop_ptr, ptr, c, eid, tptr, tc, teid, deg, out_deg = res
    L = len(fan)
    hp = hop_ptr.tolist()
    blocks = build_blocks(hp, ptr, c, eid, n_id, L, ew, False, deg)
    out_blocks = build_blocks(hp, tptr, tc, teid, n_id, L, ew, True, out_deg) if directed else None
    # arcs per hop: rows of hop h are hp[h]:hp[h+1] (read only the L+1 hop boundaries)
    at = torch.tensor(hp[: L + 1], dtype=torch.int64)
    bounds = ptr[at].tolist() if L else [0]
    tb = tptr[at].tolist() if directed and L else None
    edges = [bounds[h + 1] - bounds[h] + (tb[h + 1] - tb[h] if tb else 0) for h in range(L)]
    counts = [hp[h + 1] - hp[h] for h in range(L + 1)]
    return NeighborSample(n_id, s.numel(), blocks, out_blocks, counts, edges)
