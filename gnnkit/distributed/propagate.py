r"""Distributed SGC / SIGN precompute: row-partitioned propagation with a halo exchange per hop.

Rank :math:`r` holds the rows of its inner nodes.  With the GCN operator
:math:`S = \hat D^{-1/2} \hat A \hat D^{-1/2}`, :math:`\hat A = A + I` (self-loops added only
where missing, degrees = weighted in-degrees of :math:`\hat A`, as
:meth:`gnnkit.Graph.normalize` ``('sym')``), one hop is

.. math:: (S X)_i = \sum_{j \to i} \hat d_j^{-1/2} w_{ji} \hat d_i^{-1/2} X_j ,

so rank :math:`r` needs :math:`X_j` for its halo nodes :math:`j` (sources of its in-arcs owned
elsewhere).  The halo lists are fixed, so they are exchanged once (who needs which rows of
whom); each hop then sends exactly the halo rows (``4 F`` bytes per halo node and hop) and runs
gnnkit's ``spmm`` on the local CSR.  Results equal the one-process
:func:`gnnkit.precompute.sign_features` up to float32 summation order (≤ 1e-6 relative).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gnnkit.distributed.book import LocalPartition, PartitionBook
from gnnkit.distributed.comm import Exchanger

__all__ = ["DistPropagator", "dist_sign_features", "dist_sgc_features", "dist_gbp_precompute"]


class DistPropagator:
    """The normalised local operator of one rank (rows: its local nodes, halo rows empty) and
    its halo exchange plan."""

    def __init__(self, part: LocalPartition, book: PartitionBook, *, add_self_loops: bool = True,
                 exchanger: Exchanger | None = None):
        from gnnkit import Graph

        self.part, self.book = part, book
        self.ex = exchanger or Exchanger()
        ni, nl = part.num_inner, part.nodes.numel()
        rp, col = part.rowptr, part.col.long()
        w = torch.ones(col.numel(), dtype=torch.float32) if part.edge_weight is None else part.edge_weight.float()
        dst = torch.repeat_interleave(torch.arange(nl), rp[1:] - rp[:-1])  # local ids
        if add_self_loops:  # remaining loops: only where missing (Graph.add_self_loops(remaining=True))
            has = torch.zeros(nl, dtype=torch.bool)
            has[dst[col == dst]] = True
            miss = part.inner_pos[~has[part.inner_pos]]
            dst = torch.cat([dst, miss])
            col = torch.cat([col, miss])
            w = torch.cat([w, torch.ones(miss.numel(), dtype=torch.float32)])
        deg = torch.zeros(nl, dtype=torch.float32).index_add_(0, dst, w)
        dinv = torch.where(deg > 0, deg.clamp_min(1e-38).rsqrt(), torch.zeros_like(deg))
        # halo plan: which rows this rank needs from each owner (fixed for every hop)
        is_halo = torch.ones(nl, dtype=torch.bool)
        is_halo[part.inner_pos] = False
        self.halo_pos = torch.nonzero(is_halo).reshape(-1)
        halo = part.nodes[self.halo_pos]
        owner = book.owner[halo]
        self.order = torch.argsort(owner, stable=True)
        self.counts = torch.bincount(owner, minlength=self.ex.world).tolist()
        self.serve = self.ex.exchange(list(book.inner[halo[self.order]].split(self.counts)))
        d_all = torch.empty(nl, dtype=torch.float32)
        d_all[part.inner_pos] = dinv[part.inner_pos]
        d_all[self.halo_pos] = self._halo_rows(dinv[part.inner_pos].unsqueeze(1)).reshape(-1)
        ew = d_all[col] * w * d_all[dst]
        order = torch.argsort(dst * nl + col, stable=True)  # rows grouped, sources ascending
        ptr = torch.zeros(nl + 1, dtype=torch.int64)
        ptr[1:] = torch.cumsum(torch.bincount(dst, minlength=nl), 0)
        self.graph = Graph(ptr, col[order], ew[order], num_nodes=nl, directed=True, validate=False)
        self.inner_pos = part.inner_pos
        self.num_local = nl

    def _halo_rows(self, x_inner: torch.Tensor) -> torch.Tensor:
        """Rows of the halo nodes (in local halo order) from their owners."""
        sent = self.ex.exchange([x_inner[r] for r in self.serve])
        got = torch.cat(sent) if sent else x_inner[:0]
        out = torch.empty_like(got)
        out[self.order] = got
        return out

    def hop(self, x_inner: torch.Tensor) -> torch.Tensor:
        """One application of :math:`S` to the rows of this rank's inner nodes."""
        from gnnkit.ops import spmm

        x = x_inner.new_zeros((self.num_local,) + tuple(x_inner.shape[1:]))
        x[self.inner_pos] = x_inner
        x[self.halo_pos] = self._halo_rows(x_inner)
        return spmm(self.graph, x)[self.inner_pos]


def dist_sign_features(part: LocalPartition, book: PartitionBook, num_hops: int = 2, *,
                       add_self_loops: bool = True, out=None) -> list[torch.Tensor]:
    """SIGN's :math:`[X, SX, \\dots, S^K X]` for this rank's inner nodes (``[num_inner, F]``
    each, float32), from the part's features.  ``out``: a directory to write
    ``hop<k>.npy`` of this part into (``out/part-<p>/``)."""
    if isinstance(num_hops, bool) or not isinstance(num_hops, int) or num_hops < 0:
        raise ValueError(f"num_hops must be a non-negative int, got {num_hops!r}")
    if part.features is None:
        raise ValueError("dist_sign_features: the partition has no features")
    prop = DistPropagator(part, book, add_self_loops=add_self_loops)
    xs = [torch.from_numpy(np.asarray(part.features, dtype=np.float32))]
    for _ in range(num_hops):
        xs.append(prop.hop(xs[-1]))
    if out is not None:
        d = Path(out) / f"part-{part.part}"
        d.mkdir(parents=True, exist_ok=True)
        for k, x in enumerate(xs):
            tmp = d / f".hop{k}.npy.tmp"
            with open(tmp, "wb") as f:
                np.save(f, x.numpy())
            tmp.replace(d / f"hop{k}.npy")
    return xs


def dist_sgc_features(part: LocalPartition, book: PartitionBook, K: int = 2, *, add_self_loops: bool = True,
                      out=None) -> torch.Tensor:
    """SGC's :math:`S^K X` for this rank's inner nodes."""
    return dist_sign_features(part, book, K, add_self_loops=add_self_loops, out=out)[-1]


def dist_gbp_precompute(graph, x=None, targets=None, *, out, seed: int | None = None, block_size: int = 16,
                        resume: bool = True, group=None, **options):
    r"""GBP (:func:`gnnkit.precompute.gbp_precompute`) split across the ranks **by feature column**.

    GBP treats every feature column on its own: the reverse push of column :math:`c` reads only
    :math:`x_c`, and the walk correction combines the shared walks (keyed by ``(seed, target,
    walk)``) with that column's residues.  So the work partitions naturally by columns, exactly;
    by rows it does not: the ``n_r`` walks of a target go wherever the graph leads, so a row
    partition would ship walk states between ranks at every step (and the push threshold is
    relative to the whole column's norm).  With :math:`B` = ``block_size`` and
    :math:`n_b = \lceil F / B \rceil` column blocks, rank :math:`r` of :math:`P` computes blocks
    :math:`[\lfloor r n_b / P \rfloor, \lfloor (r + 1) n_b / P \rfloor)` into the same ``out``
    ``.npy`` (a path every rank sees: a shared filesystem), with rank 0's seed; the blocks and the
    seed are the one-process run's, so the file equals ``gbp_precompute(graph, x, targets,
    seed=seed, out=...)`` bit for bit.  Every rank reads the whole graph and its own columns of
    ``x`` (memory-mapped for a :class:`~gnnkit.data.DiskGraph` / ``.npy``); the only messages are
    the seed broadcast and a barrier.  Resumable like the one-process run (the state file lists the
    finished blocks of every rank).

    Args:
        graph, x, targets, **options: as :func:`~gnnkit.precompute.gbp_precompute`.
        out (str or Path): the shared output file (float32 ``[len(targets), F]``).
        seed (int, optional): walk seed; default: drawn on rank 0 and broadcast.
        block_size (int): columns per block, the unit of the split and of resume (default: 16).
        resume (bool): ``False`` makes rank 0 delete a previous ``out`` and its state first.
        group: the process group (default: the world).

    Returns:
        ``np.memmap [len(targets), F]`` with every rank's columns (after a barrier).
    """
    import torch.distributed as dist

    from gnnkit.distributed.comm import comm_device
    from gnnkit.ops.random_walk import draw_seed
    from gnnkit.precompute import gbp_precompute
    from gnnkit.precompute.gbp import STATE_SUFFIX, feature_source

    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"dist_gbp_precompute: block_size must be a positive int, got {block_size!r}")
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    out = Path(out)
    dev = comm_device(group)
    if seed is None:
        seed = draw_seed() if rank == 0 else 0
        t = torch.tensor([seed], dtype=torch.int64, device=dev)
        dist.broadcast(t, src=dist.get_global_rank(group, 0) if group is not None else 0, group=group)
        seed = int(t)
    if not resume and rank == 0:
        for p in (out, Path(str(out) + STATE_SUFFIX)):
            p.unlink(missing_ok=True)
    dist.barrier(group=group)
    F = int(feature_source(graph, x).shape[1])
    nb = -(-F // block_size)
    b0, b1 = rank * nb // world, (rank + 1) * nb // world
    cols = slice(min(b0 * block_size, F), min(b1 * block_size, F))
    if rank == 0 or cols.start < cols.stop:  # rank 0 always opens (creates) the file
        gbp_precompute(graph, x, targets, seed=seed, columns=cols, out=out, block_size=block_size,
                       resume=True, **options)
    dist.barrier(group=group)
    return np.load(out, mmap_mode="r")
