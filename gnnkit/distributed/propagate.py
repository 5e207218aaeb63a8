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

__all__ = ["DistPropagator", "dist_sign_features", "dist_sgc_features"]


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
