r"""GraphSAINT random-walk subgraph sampling with the paper's normalisation coefficients.

Zeng, Zhou, Srivastava, Kannan & Prasanna, "GraphSAINT: Graph Sampling Based Inductive Learning
Method", ICLR 2020 (https://arxiv.org/abs/1907.04931).  Each training step draws ``num_roots``
root nodes uniformly at random, runs a uniform random walk of ``walk_length`` steps from each
and trains a full GCN on the subgraph :math:`\mathcal G_s` induced by the visited nodes.  To make
the sampled aggregation and loss unbiased the paper (Sec. 3.2, Algorithm 2) pre-samples
:math:`N` subgraphs and counts, for every node :math:`v` and arc :math:`u \to v`, the number of
subgraphs :math:`C_v` and :math:`C_{u,v}` that contain them:

.. math::
    \alpha_{u,v} = \frac{C_{u,v}}{C_v}, \qquad \lambda_v = \frac{C_v}{N};

an arc :math:`u \to v` of a subgraph then aggregates with weight :math:`\tilde A_{v,u} /
\alpha_{u,v}` (``edge_norm`` :math:`= 1/\alpha_{u,v}`, to multiply into the normalised adjacency)
and node :math:`v`'s loss is weighted by ``node_norm`` :math:`= 1 / (|\mathcal V| \lambda_v)`, so
that :math:`\sum_{v \in \mathcal G_s} \mathrm{node\_norm}_v L_v` estimates the mean loss
:math:`\frac{1}{|\mathcal V|} \sum_{v} L_v`.  As in PyG's ``GraphSAINTSampler`` and the
authors' code, the number of pre-sampled subgraphs is set by ``sample_coverage``: subgraphs are
drawn until :math:`\sum_s |\mathcal V_s| \ge` ``sample_coverage`` :math:`\cdot |\mathcal V|`;
counts that stay 0 (nodes / arcs never seen while pre-sampling) are replaced by 0.1 as in PyG.

The walks are run by :func:`saint_random_walk` (C++ op ``gnnkit::saint_random_walk``) on the
project's walk engine, the one behind :func:`gnnkit.ops.random_walk`: a step from :math:`v`
moves to a uniformly chosen in-neighbour (an arc :math:`j \to v`; for an undirected graph, a
uniform neighbour), and a node without in-arcs keeps the walk in place (torch_cluster's
semantics; ``random_walk`` pads with -1 there instead).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gnnkit._graph_utils import row_index
from gnnkit.graph import Graph
from gnnkit.ops._library import ops
from gnnkit.sampling.base import BaseSampler, SamplerOutput
from gnnkit.sampling.neighbor import _tensor, as_graph, draw_seed

__all__ = ["saint_random_walk", "induced_subgraph", "SaintSubgraph", "GraphSAINTRandomWalkSampler"]


def saint_random_walk(graph, start, walk_length: int, seed: int | None = None) -> Tensor:
    r"""Uniform random walks along in-arcs, one per start node.

    Args:
        graph: a :class:`gnnkit.Graph`, ``DiskGraph`` or CSR graph-like object.
        start (Tensor or list): int start nodes ``[B]`` (repeats allowed).
        walk_length (int): steps per walk, ``>= 0``.
        seed (int, optional): the walks are a function of ``(graph, start, walk_length, seed)``
            whatever the thread count. (default: :obj:`None`: drawn from torch's generator)

    Returns:
        Tensor: int64 ``[B, walk_length + 1]``; column 0 is ``start``.

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[1, 0], [0, 1]]), num_nodes=3)
    >>> saint_random_walk(g, [0, 2], 3, seed=0).tolist()
    [[0, 1, 0, 1], [2, 2, 2, 2]]
    """
    g = as_graph(graph)
    if isinstance(walk_length, bool) or not isinstance(walk_length, int) or walk_length < 0:
        raise ValueError(f"saint_random_walk: walk_length must be an int >= 0, got {walk_length!r}")
    s = torch.as_tensor(start) if not isinstance(start, Tensor) else start
    if s.is_floating_point() or s.dtype == torch.bool:
        raise TypeError(f"saint_random_walk: 'start' must hold integer node ids, got {s.dtype}")
    if seed is None:
        seed = draw_seed()
    return ops().saint_random_walk(_tensor(g.indptr, "indptr"), _tensor(g.indices, "indices"),
                                   s.to(torch.int64), walk_length, int(seed) & (2**63 - 1))


def induced_subgraph(graph, nodes: Tensor):
    r"""Subgraph induced by the distinct, **ascending** node ids ``nodes``, in
    :math:`O(\sum_{v \in S} d_{in}(v) \log |S|)` (reads only the rows of ``nodes``).

    Returns:
        ``(Graph, edge_pos)``: the subgraph on ``len(nodes)`` nodes (node ``i`` is
        ``nodes[i]``) and the int64 CSR position in ``graph`` of each of its arcs.  Equal to
        :meth:`gnnkit.Graph.subgraph` for sorted ``nodes``.
    """
    g = as_graph(graph)
    indptr, indices = _tensor(g.indptr, "indptr"), _tensor(g.indices, "indices")
    lo, hi = indptr[nodes], indptr[nodes + 1]
    deg = hi - lo
    total = int(deg.sum())
    row = torch.repeat_interleave(torch.arange(nodes.numel()), deg, output_size=total)
    start = torch.cumsum(deg, 0) - deg
    pos = lo[row] + (torch.arange(total) - start[row])
    src = indices[pos].to(torch.int64)
    loc = torch.searchsorted(nodes, src).clamp_(max=max(nodes.numel() - 1, 0))
    keep = nodes[loc] == src if nodes.numel() else torch.zeros(0, dtype=torch.bool)
    counts = torch.bincount(row[keep], minlength=nodes.numel())
    sub_indptr = torch.zeros(nodes.numel() + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=sub_indptr[1:])
    edge_pos = pos[keep]
    w = getattr(g, "edge_weight", None)
    w = None if w is None else _tensor(w, "edge_weight")[edge_pos]
    # rows keep the parent's ascending source order and `nodes` is ascending: a valid CSR
    sub = Graph(sub_indptr, loc[keep], edge_weight=w, directed=bool(getattr(g, "directed", True)),
                validate=False)
    return sub, edge_pos


@dataclass
class SaintSubgraph:
    """One GraphSAINT subgraph.

    Attributes:
        graph (Graph): the induced subgraph (local ids).
        n_id (Tensor): int64 ``[n]`` global id of each local node (ascending).
        edge_pos (Tensor): int64 ``[E_s]`` CSR position of each arc in the full graph.
        edge_norm (Tensor): ``[E_s]`` aggregator normalisation :math:`1/\\alpha_{u,v} = C_v / C_{u,v}`.
        node_norm (Tensor): ``[n]`` loss normalisation :math:`1 / (|V| \\lambda_v) = N / (|V| C_v)`.
    """

    graph: Graph
    n_id: Tensor
    edge_pos: Tensor
    edge_norm: Tensor
    node_norm: Tensor


class GraphSAINTRandomWalkSampler(BaseSampler):
    r"""GraphSAINT's random-walk sampler ("RW" in the paper) with pre-computed normalisation.

    See the module docstring for the algorithm and the coefficients.  As a pipeline sampler
    (:class:`~gnnkit.sampling.GraphSAINTLoader`), :meth:`sample_from_nodes` takes the walk roots
    (drawn by the item sampler) and returns the induced subgraph as a
    :class:`~gnnkit.sampling.SamplerOutput` with ``metadata`` ``edge_norm``, ``node_norm``,
    ``edge_pos``.

    Args:
        graph: a :class:`gnnkit.Graph` (or ``DiskGraph`` / CSR graph-like object).
        num_roots (int): walks (root nodes, uniform with replacement) per subgraph.
        walk_length (int): steps per walk.
        num_steps (int): subgraphs per epoch (``len(sampler)``). (default: :obj:`1`)
        sample_coverage (float): pre-sample until the subgraphs hold
            ``sample_coverage * N`` nodes in total; ``0`` skips the normalisation (all
            coefficients 1). (default: :obj:`50`)
        seed (int, optional): seed of the pre-sampling and of the epochs.
            (default: :obj:`None`: drawn from torch's generator)

    Attributes:
        node_count, edge_count (Tensor): :math:`C_v` ``[N]`` and :math:`C_{u,v}` ``[E]``.
        num_presampled (int): :math:`N`, the number of pre-sampled subgraphs.

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.randint(0, 30, (2, 120)), num_nodes=30).to_undirected()
    >>> sampler = GraphSAINTRandomWalkSampler(g, num_roots=5, walk_length=2, num_steps=3, seed=0)
    >>> subs = list(sampler)
    >>> len(subs), subs[0].edge_norm.shape[0] == subs[0].graph.num_edges
    (3, True)
    """

    def __init__(self, graph, num_roots: int, walk_length: int, num_steps: int = 1,
                 sample_coverage: float = 50, seed: int | None = None):
        self.graph = as_graph(graph)
        name = type(self).__name__
        for arg, v, lo in (("num_roots", num_roots, 1), ("walk_length", walk_length, 0),
                           ("num_steps", num_steps, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}: {arg} must be an int >= {lo}, got {v!r}")
        if not sample_coverage >= 0:
            raise ValueError(f"{name}: sample_coverage must be >= 0, got {sample_coverage!r}")
        self.num_nodes = int(self.graph.indptr.shape[0] - 1)
        if self.num_nodes == 0:
            raise ValueError(f"{name}: the graph has no nodes")
        self.num_edges = int(self.graph.indices.shape[0])
        self.num_roots, self.walk_length, self.num_steps = num_roots, walk_length, num_steps
        self.sample_coverage = sample_coverage
        self.seed = draw_seed() if seed is None else int(seed) & (2**63 - 1)
        self._gen = torch.Generator().manual_seed(self.seed)
        self.node_count, self.edge_count, self.num_presampled = self._presample()
        if self.num_presampled:
            nc = self.node_count.to(torch.float64)
            nc[nc == 0] = 0.1
            ec = self.edge_count.to(torch.float64)
            ec[ec == 0] = 0.1
            self._node_norm = self.num_presampled / (nc * self.num_nodes)
            dst = row_index(_tensor(self.graph.indptr, "indptr"), self.num_edges)
            self._edge_norm = nc[dst] / ec
        else:
            self._node_norm = torch.full((self.num_nodes,), 1.0 / self.num_nodes, dtype=torch.float64)
            self._edge_norm = torch.ones(self.num_edges, dtype=torch.float64)

    def _nodes(self, seed: int, roots: Tensor | None = None) -> Tensor:
        if roots is None:
            gen = torch.Generator().manual_seed(seed)
            roots = torch.randint(0, self.num_nodes, (self.num_roots,), generator=gen)
        walks = saint_random_walk(self.graph, roots, self.walk_length, seed=seed)
        return torch.unique(walks)  # sorted

    def sample_from_nodes(self, seeds: Tensor, *, seed: int) -> SamplerOutput:
        """The subgraph induced by the walks from the roots ``seeds`` (repeats allowed); every
        node of it is an output row (``batch_size = len(n_id)``)."""
        nodes = self._nodes(int(seed), seeds)
        sub, pos = induced_subgraph(self.graph, nodes)
        meta = {"edge_norm": self._edge_norm[pos], "node_norm": self._node_norm[nodes], "edge_pos": pos}
        return SamplerOutput(nodes, nodes.numel(), sub, num_sampled_nodes=[nodes.numel()],
                             num_sampled_edges=[sub.num_edges], metadata=meta)

    def _presample(self):
        node_count = torch.zeros(self.num_nodes, dtype=torch.int32)
        edge_count = torch.zeros(self.num_edges, dtype=torch.int32)
        if self.sample_coverage == 0:
            return node_count, edge_count, 0
        total, n = 0, 0
        while total < self.sample_coverage * self.num_nodes:
            nodes = self._nodes(draw_seed(self._gen))
            _, pos = induced_subgraph(self.graph, nodes)
            node_count[nodes] += 1
            edge_count[pos] += 1
            total += nodes.numel()
            n += 1
        return node_count, edge_count, n

    @property
    def lam(self) -> Tensor:
        r""":math:`\lambda_v = C_v / N` ``[N]`` (with the 0.1 replacement of zero counts)."""
        return 1.0 / (self._node_norm * self.num_nodes)

    def sample(self, seed: int | None = None) -> SaintSubgraph:
        """Draw one subgraph (``seed`` default: the sampler's generator)."""
        nodes = self._nodes(draw_seed(self._gen) if seed is None else int(seed))
        sub, pos = induced_subgraph(self.graph, nodes)
        return SaintSubgraph(sub, nodes, pos, self._edge_norm[pos], self._node_norm[nodes])

    def __len__(self) -> int:
        return self.num_steps

    def __iter__(self):
        for _ in range(self.num_steps):
            yield self.sample()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_roots={self.num_roots}, walk_length={self.walk_length}, "
                f"num_steps={self.num_steps}, presampled={self.num_presampled})")
