"""Fetch node rows (features, or any per-node array) from their owners across ranks.

``fetch(ids)`` groups the global ids by owner, sends each owner the local row numbers it must
read (one all-to-all), the owner gathers them from its memory-mapped shard and sends the rows
back (one more); rows of this rank's own nodes never leave it.  What crosses the network per
call: 8 bytes per remote id and ``row_bytes`` per remote row.
"""
from __future__ import annotations

import numpy as np
import torch

from gnnkit.distributed.book import LocalPartition, PartitionBook
from gnnkit.distributed.comm import Exchanger

__all__ = ["DistFeatureFetcher", "gather_local"]


def gather_local(shard, rows: torch.Tensor) -> torch.Tensor:
    """``shard[rows]`` as a float32/int64 tensor (rows sorted for sequential reads of a map)."""
    if isinstance(shard, torch.Tensor):
        return shard[rows]
    r = rows.numpy()
    order = np.argsort(r, kind="stable")
    out = np.asarray(shard[r[order]])
    res = np.empty_like(out)
    res[order] = out
    return torch.from_numpy(res)


class DistFeatureFetcher:
    """Rows of a node-sharded array (``part.features`` by default) for any global ids.

    Args:
        part (LocalPartition), book (PartitionBook): this rank's part and the book.
        shard (ndarray or Tensor, optional): ``[num_inner, ...]`` rows of this rank's inner
            nodes (default: ``part.features``, cast to float32).
        exchanger (Exchanger, optional).
    """

    def __init__(self, part: LocalPartition, book: PartitionBook, shard=None,
                 exchanger: Exchanger | None = None):
        self.part, self.book = part, book
        self.shard = part.features if shard is None else shard
        if self.shard is None:
            raise ValueError("DistFeatureFetcher: the partition has no features (write_partitions(features=...))")
        if self.shard.shape[0] != part.num_inner:
            raise ValueError(f"DistFeatureFetcher: the shard has {self.shard.shape[0]} rows, the part has "
                             f"{part.num_inner} inner nodes")
        self.ex = exchanger or Exchanger()

    def fetch(self, ids: torch.Tensor) -> torch.Tensor:
        ids = torch.as_tensor(ids, dtype=torch.int64).reshape(-1)
        W = self.ex.world
        owner = self.book.owner[ids]
        order = torch.argsort(owner, stable=True)
        counts = torch.bincount(owner, minlength=W).tolist()
        reqs = self.ex.exchange(list(self.book.inner[ids[order]].split(counts)))
        rows = [gather_local(self.shard, r) for r in reqs]
        rows = [r.float() if r.is_floating_point() else r for r in rows]
        got = torch.cat(self.ex.exchange(rows))
        out = torch.empty_like(got)
        out[order] = got
        return out
