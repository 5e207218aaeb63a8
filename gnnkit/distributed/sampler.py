r"""Distributed multi-hop neighbour sampling over partitions (one rank per part).

Each rank owns the in-arcs of its inner nodes (:class:`~gnnkit.distributed.LocalPartition`).
Hop :math:`h` of a batch: the rank groups the frontier by owner, sends every owner the ids it
owns (one all-to-all), each owner draws the arcs of those nodes with the stream keyed by
``(seed, h, node)`` with the requesting rank's batch seed (``torch.ops.gnnkit.neighbor_sample_hop``,
the very draw the one-process ``neighbor_sample`` makes for that node), and sends back the global source ids and global arc
positions (two more all-to-alls).  The rank then relabels the returned sources in frontier
order, first occurrence first, exactly as the one-process kernel does, so **the blocks equal
those of** :func:`gnnkit.sampling.sample_neighbors` **for the same seeds and seed** whatever the
number of parts.  Per hop and batch, what crosses the network: 8 bytes per frontier node
(request), 8 per node (count) and 16 per sampled arc (source id, arc id) for the nodes owned
elsewhere.

Scope: in-arc (``directed=False``) unweighted or weighted sampling; Dir-GNN's out-arc blocks
are not distributed (one-process only).
"""
from __future__ import annotations

import torch

from gnnkit.distributed.book import LocalPartition, PartitionBook
from gnnkit.distributed.comm import Exchanger
from gnnkit.sampling.base import BaseSampler, SamplerOutput

__all__ = ["DistNeighborSampler"]


def _ops():
    from gnnkit.ops._library import ops

    return ops()


class DistNeighborSampler(BaseSampler):
    """Sample the :math:`L`-hop neighbourhood of global seed ids across partitions (a
    :class:`gnnkit.sampling.BaseSampler`: ``sample_from_nodes`` returns the blocks the
    one-process :class:`~gnnkit.sampling.NeighborSampler` returns for the same seeds and seed).

    Args:
        part (LocalPartition): this rank's part.
        book (PartitionBook): the partition book (owners, local ids, in-degrees).
        fanouts (list[int]): per-hop fan-outs (``-1`` = all).
        weighted (bool): Efraimidis-Spirakis weighted sampling by the stored edge weights.
        exchanger (Exchanger, optional): the all-to-all helper (default: a new one on the
            default process group).
    """

    def __init__(self, part: LocalPartition, book: PartitionBook, fanouts, *, weighted: bool = False,
                 exchanger: Exchanger | None = None):
        from gnnkit.sampling.neighbor import check_fanouts

        self.part, self.book = part, book
        self.fanouts = check_fanouts(fanouts)
        if weighted and part.edge_weight is None:
            raise ValueError("DistNeighborSampler: weighted=True but the partition has no edge weights")
        self.weight = part.edge_weight if weighted else None
        self.ex = exchanger or Exchanger()
        if self.ex.world != book.num_parts:
            raise ValueError(f"DistNeighborSampler: {book.num_parts} partitions but {self.ex.world} ranks")
        self._map = torch.full((book.num_nodes,), -1, dtype=torch.int64)
        self.num_nodes = book.num_nodes

    def _owner_hop(self, req: torch.Tensor, fanout: int, seed: int, hop: int):
        """Sample the requested global ids (all owned here): (cnt, src global, eid global)."""
        p = self.part
        rows = self.book.local[req]
        cnt, src, pos = _ops().neighbor_sample_hop(p.rowptr, p.col, rows, req, p.nodes.numel(), fanout,
                                                   self.weight, seed, hop)
        return cnt, p.nodes[src], p.eids[pos]

    def sample(self, seeds, seed: int):
        """Returns the raw outputs of ``torch.ops.gnnkit.neighbor_sample`` (undirected mode) for
        these seeds: ``(n_id, hop_ptr, rowptr, col, e_id, _, _, _, in_degree, _)``."""
        W = self.ex.world
        seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
        n = self.book.num_nodes
        if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= n):
            bad = seeds[(seeds < 0) | (seeds >= n)][0]
            raise IndexError(f"DistNeighborSampler: seed {int(bad)} is out of range for {n} nodes")
        seed = int(seed) & (2**63 - 1)
        m = self._map
        if seeds.numel() and bool((m[seeds] >= 0).any()):
            m.fill_(-1)
        m[seeds] = torch.arange(seeds.numel())
        if int((m[seeds] == torch.arange(seeds.numel())).sum()) != seeds.numel():
            m[seeds] = -1
            raise ValueError("DistNeighborSampler: seeds must be distinct")
        # every rank samples its own batch with its own seed, and serves the other ranks' requests
        # with *their* seeds: learn them once per batch
        peer_seed = [int(t) for t in self.ex.exchange([torch.tensor([seed], dtype=torch.int64)] * W)]
        n_id = [seeds]
        total = seeds.numel()
        hop_ptr = [0, total]
        ptrs, cols, eids = [torch.zeros(1, dtype=torch.int64)], [], []
        frontier = seeds
        for h, f in enumerate(self.fanouts):
            owner = self.book.owner[frontier]
            order = torch.argsort(owner, stable=True)
            counts = torch.bincount(owner, minlength=W).tolist()
            reqs = self.ex.exchange(list(frontier[order].split(counts)))
            res = [self._owner_hop(req, f, peer_seed[r], h) for r, req in enumerate(reqs)]
            got_cnt = self.ex.exchange([r[0] for r in res])
            got_src = self.ex.exchange([r[1] for r in res])
            got_eid = self.ex.exchange([r[2] for r in res])
            cnt_sorted = torch.cat(got_cnt)
            src_sorted, eid_sorted = torch.cat(got_src), torch.cat(got_eid)
            # back to frontier order: segment i of the sorted stream belongs to frontier[order[i]]
            seg_start = torch.cumsum(cnt_sorted, 0) - cnt_sorted
            cnt = torch.empty_like(cnt_sorted)
            cnt[order] = cnt_sorted
            start = torch.empty_like(seg_start)
            start[order] = seg_start
            idx = torch.repeat_interleave(start, cnt) + (
                torch.arange(int(cnt.sum())) - torch.repeat_interleave(torch.cumsum(cnt, 0) - cnt, cnt))
            src, eid = src_sorted[idx], eid_sorted[idx]
            # relabel: unseen sources get new local ids in order of first appearance
            loc = m[src]
            new = loc < 0
            if bool(new.any()):
                cand = src[new]
                u, inv = torch.unique(cand, return_inverse=True)
                first = torch.full((u.numel(),), cand.numel(), dtype=torch.int64)
                first.scatter_reduce_(0, inv, torch.arange(cand.numel()), reduce="amin")
                fresh = u[torch.argsort(first)]
                m[fresh] = torch.arange(total, total + fresh.numel())
                n_id.append(fresh)
                total += fresh.numel()
                loc = m[src]
            else:
                fresh = src[:0]
            base = ptrs[-1][-1]
            ptrs.append(base + torch.cumsum(cnt, 0))
            cols.append(loc)
            eids.append(eid)
            hop_ptr.append(total)
            frontier = fresh
        n_id = torch.cat(n_id)
        m[n_id] = -1
        rowptr = torch.cat(ptrs)
        col = torch.cat(cols) if cols else torch.empty(0, dtype=torch.int64)
        col = col.to(torch.int32) if total < 2**31 else col
        e_id = torch.cat(eids) if eids else torch.empty(0, dtype=torch.int64)
        empty = torch.empty(0, dtype=torch.int64)
        return (n_id, torch.tensor(hop_ptr, dtype=torch.int64), rowptr, col, e_id, torch.zeros(1, dtype=torch.int64),
                empty.to(col.dtype), empty, self.book.in_degree[n_id], empty)

    def sample_from_nodes(self, seeds, *, seed: int) -> SamplerOutput:
        """Blocks (input layer first) of the seeds' sampled neighbourhood; a collective call:
        every rank calls it once per batch (with its own seeds and seed)."""
        from gnnkit.sampling.neighbor import build_blocks

        n_id, hop_ptr, ptr, col, eid, _, _, _, deg, _ = self.sample(seeds, seed)
        L = len(self.fanouts)
        hp = hop_ptr.tolist()
        blocks = build_blocks(hp, ptr, col, eid, n_id, L, None, False, deg)
        at = torch.tensor(hp[: L + 1], dtype=torch.int64)
        bounds = ptr[at].tolist() if L else [0]
        return SamplerOutput(n_id=n_id, batch_size=int(hp[1]), graph=blocks,
                             num_sampled_nodes=[hp[h + 1] - hp[h] for h in range(L + 1)],
                             num_sampled_edges=[bounds[h + 1] - bounds[h] for h in range(L)])

    def sample_from_edges(self, pairs, *, labels=None, neg_sampling=None, seed: int) -> SamplerOutput:
        raise NotImplementedError("DistNeighborSampler samples from nodes only; distributed link "
                                  "prediction is not implemented")
