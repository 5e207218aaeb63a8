r"""GraphSAGE neighbour sampling behind the :class:`~gnnkit.sampling.BaseSampler` interface.

``sample_from_nodes`` is :func:`~gnnkit.sampling.sample_neighbors` (C++, thread-count
independent, blocks built in C++ with no Python loop over nodes or arcs).  ``sample_from_edges``
(link prediction, as PyG's ``LinkNeighborLoader``):

1. negatives from the :class:`~gnnkit.sampling.NegativeSampling` config, drawn with the seed
   :math:`\mathrm{mix}(s, 1)`;
2. the seed nodes are the distinct endpoints of all pairs (ascending ids) and their
   neighbourhood is sampled with seed :math:`s` -- so a positive pair's own arc is usually in
   the blocks (label leakage);
3. ``exclude_seed_edges=True`` removes, after sampling, every sampled arc :math:`u \to v` of a
   positive pair :math:`(u, v)` (and :math:`v \to u` on an undirected graph) from every block,
   as DGL GraphBolt's ``exclude_seed_edges``.  Blocks keep the parent graph's degrees in
   ``src_degree`` (the full-graph GCN normalisation is not recomputed without the removed arcs).
"""
from __future__ import annotations

import torch
from torch import Tensor

from gnnkit.block import Block
from gnnkit.sampling.base import BaseSampler, NegativeSampling, SamplerOutput, check_pairs
from gnnkit.sampling.items import mix_seed
from gnnkit.sampling.negative import strict_negatives, uniform_negatives
from gnnkit.sampling.neighbor import as_graph, check_fanouts, sample_neighbors

__all__ = ["NeighborSampler"]


class NeighborSampler(BaseSampler):
    r"""Multi-hop neighbour sampler over a :class:`gnnkit.Graph` or memory-mapped ``DiskGraph``.

    Args:
        graph: the graph (CSR by destination; arcs :math:`u \to v` live in row :math:`v`).
        fanouts (list[int]): per-hop fan-outs, ``-1`` = all neighbours.
        weighted (bool): sample proportionally to the edge weights. (default: :obj:`False`)
        directed (bool): also sample out-arcs (``out_blocks``, Dir-GNN). (default: :obj:`False`)
        exclude_seed_edges (bool): link batches: drop the positive pairs' arcs from the blocks.
            (default: :obj:`False`)

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    >>> out = NeighborSampler(g, [-1]).sample_from_edges(torch.tensor([[0], [1]]), seed=0)
    >>> out.n_id.tolist(), out.edge_label_index.tolist(), out.edge_label.tolist()
    ([0, 1, 2], [[0], [1]], [1.0])
    """

    def __init__(self, graph, fanouts, *, weighted: bool = False, directed: bool = False,
                 exclude_seed_edges: bool = False):
        self.graph = as_graph(graph)
        self.fanouts = check_fanouts(fanouts)
        self.weighted, self.directed = bool(weighted), bool(directed)
        self.exclude_seed_edges = bool(exclude_seed_edges)
        if self.weighted and getattr(self.graph, "edge_weight", None) is None:
            raise ValueError("NeighborSampler: weighted=True but the graph has no edge_weight")

    @property
    def num_nodes(self) -> int:
        return int(self.graph.indptr.shape[0] - 1)

    def sample_from_nodes(self, seeds: Tensor, *, seed: int) -> SamplerOutput:
        s = sample_neighbors(self.graph, seeds, self.fanouts, weighted=self.weighted,
                             directed=self.directed, seed=seed)
        return SamplerOutput(s.n_id, s.batch_size, s.blocks, s.out_blocks, s.num_sampled_nodes,
                             s.num_sampled_edges)

    def sample_from_edges(self, pairs: Tensor, *, labels: Tensor | None = None,
                          neg_sampling: NegativeSampling | None = None, seed: int) -> SamplerOutput:
        n = self.num_nodes
        pos = check_pairs(pairs, n, "NeighborSampler.sample_from_edges")
        p = pos.shape[1]
        if labels is not None and labels.shape[0] != p:
            raise ValueError(f"NeighborSampler.sample_from_edges: labels has {labels.shape[0]} rows for "
                             f"{p} pairs")
        meta = {}
        all_pairs, edge_label = pos, (torch.ones(p) if labels is None else labels)
        neg = None
        if neg_sampling is not None:
            num = neg_sampling.num_negatives(p)
            nseed = mix_seed(seed, 1)
            if neg_sampling.sampler is None:
                neg = strict_negatives(self.graph, pos, num, seed=nseed, mode=neg_sampling.mode)
            else:
                neg = neg_sampling.sampler(self.graph, pos, num, seed=nseed)
                if neg_sampling.mode == "triplet" and isinstance(neg, torch.Tensor) and neg.dim() == 1:
                    neg = torch.stack([pos[0].repeat_interleave(int(neg_sampling.amount)), neg.to(torch.int64)])
            neg = check_pairs(neg, n, "NegativeSampling.sampler output")
            if neg.shape[1] != num:
                raise ValueError(f"NegativeSampling.sampler returned {neg.shape[1]} pairs, expected {num}")
            if neg_sampling.mode == "binary":
                edge_label = torch.cat([edge_label, edge_label.new_zeros(num)])
                all_pairs = torch.cat([pos, neg], 1)
            else:
                amount = int(neg_sampling.amount)
                if not torch.equal(neg[0], pos[0].repeat_interleave(amount)):
                    raise ValueError("NegativeSampling.sampler: in triplet mode row 0 of the negatives "
                                     "must be pairs[0].repeat_interleave(amount)")
        ends = torch.cat([all_pairs.reshape(-1), neg[1] if neg is not None and neg_sampling.mode == "triplet"
                          else all_pairs.new_empty(0)])
        uniq, inv = torch.unique(ends, return_inverse=True)
        s = sample_neighbors(self.graph, uniq, self.fanouts, weighted=self.weighted,
                             directed=self.directed, seed=seed)
        m = all_pairs.shape[1]
        eli = inv[: 2 * m].view(2, m)
        if neg is not None and neg_sampling.mode == "triplet":
            meta = {"src_index": eli[0], "dst_pos_index": eli[1],
                    "dst_neg_index": inv[2 * m:].view(p, int(neg_sampling.amount))}
        blocks, out_blocks = s.blocks, s.out_blocks
        if self.exclude_seed_edges:
            keys = _arc_keys(pos[0], pos[1], n, undirected=not bool(getattr(self.graph, "directed", True)))
            blocks = [_drop_arcs(b, s.n_id, keys, n, s.batch_size) for b in blocks]
            if out_blocks is not None:
                out_blocks = [_drop_arcs(b, s.n_id, keys, n, s.batch_size) for b in out_blocks]
        return SamplerOutput(s.n_id, s.batch_size, blocks, out_blocks, s.num_sampled_nodes,
                             s.num_sampled_edges, seed_pairs=all_pairs, edge_label_index=eli,
                             edge_label=edge_label, metadata=meta)

    def __repr__(self) -> str:
        return (f"NeighborSampler(num_nodes={self.num_nodes}, fanouts={self.fanouts}, "
                f"directed={self.directed}, exclude_seed_edges={self.exclude_seed_edges})")


def _arc_keys(src: Tensor, dst: Tensor, n: int, undirected: bool) -> Tensor:
    """``dst * n + src`` of the arcs to exclude (both directions on an undirected graph)."""
    k = dst * n + src
    if undirected:
        k = torch.cat([k, src * n + dst])
    return torch.unique(k)


def _drop_arcs(b: Block, n_id: Tensor, keys: Tensor, n: int, num_seeds: int) -> Block:
    """``b`` without the arcs whose global ``dst * n + src`` is in ``keys`` (sorted, distinct).

    An excluded arc joins two endpoints of positive pairs, and every endpoint is a seed (local id
    ``< num_seeds``, the first rows of every block): only the arcs of the seeds' rows (a prefix of
    the CSR) are compared, and those between two seeds looked up (one binary search each)."""
    rows = min(num_seeds, b.indptr.numel() - 1)
    if keys.numel() == 0 or rows <= 0:
        return b
    end = int(b.indptr[rows])
    cand = (b.indices[:end] < num_seeds).nonzero().view(-1)
    if cand.numel() == 0:
        return b
    r = torch.searchsorted(b.indptr[1:rows + 1], cand, right=True)
    c = b.indices[cand].to(torch.int64)
    src, dst = (n_id[r], n_id[c]) if b.reverse else (n_id[c], n_id[r])
    q = dst * n + src
    hit = keys[torch.searchsorted(keys, q).clamp_(max=keys.numel() - 1)] == q
    if not bool(hit.any()):
        return b
    drop = torch.zeros(b.indices.numel(), dtype=torch.bool)
    drop[cand[hit]] = True
    keep = ~drop
    csum = torch.zeros(keep.numel() + 1, dtype=torch.int64)
    torch.cumsum(keep, 0, out=csum[1:])
    ew = None if b.edge_weight is None else b.edge_weight[keep]
    eid = None if b.e_id is None else b.e_id[keep]
    return Block(csum[b.indptr], b.indices[keep], b.num_src_nodes, e_id=eid, edge_weight=ew,
                 n_id=b.n_id, reverse=b.reverse, src_degree=b.src_degree)
