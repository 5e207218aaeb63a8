r"""Mini-batches of graphs: seeded shuffling, collation, optional worker processes.

Epoch :math:`e` of a loader with ``seed`` :math:`s` shuffles with a generator seeded
:math:`s \cdot 1000003 + e`, so runs are reproducible and epochs differ.  With ``num_workers > 0``
the batches are collated by ``torch.utils.data.DataLoader`` workers (fork: the dataset's arrays
are shared, not copied); the order of batches is the same as with ``num_workers = 0``.
"""
from __future__ import annotations

import torch

from gnnkit.graphlevel.collate import collate_graphs
from gnnkit.graphlevel.dataset import GraphDataset

__all__ = ["GraphLoader"]


class _Chunks(torch.utils.data.Dataset):
    def __init__(self, ds, chunks, extras):
        self.ds, self.chunks, self.extras = ds, chunks, extras

    def __len__(self):
        return len(self.chunks)

    def __getitem__(self, i):
        return collate_graphs(self.ds, self.chunks[i], self.extras)


class GraphLoader:
    """Iterate :class:`gnnkit.tasks.Batch` objects over graph ids of a :class:`GraphDataset`.

    Args:
        ds (GraphDataset): the dataset.
        ids (Tensor, optional): graph ids to iterate (default: all).
        batch_size (int): graphs per batch. (default: ``128``)
        shuffle (bool): reshuffle every epoch. (default: :obj:`False`)
        seed (int): shuffling seed. (default: ``0``)
        drop_last (bool): drop a last incomplete batch. (default: :obj:`False`)
        num_workers (int): collating processes (0: in the calling process). (default: ``0``)
        extras: collate extras, e.g. a :class:`~gnnkit.graphlevel.cache.PathCache`.

    >>> import torch
    >>> from gnnkit.data.graph_datasets import decalin, bicyclopentyl
    >>> ds = GraphDataset.from_graphs([decalin(), bicyclopentyl(), decalin()], torch.tensor([0, 1, 0]))
    >>> [b.num_graphs for b in GraphLoader(ds, batch_size=2)]
    [2, 1]
    """

    def __init__(self, ds: GraphDataset, ids=None, batch_size: int = 128, shuffle: bool = False,
                 seed: int = 0, drop_last: bool = False, num_workers: int = 0, extras=()):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"GraphLoader: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"GraphLoader: num_workers must be an int >= 0, got {num_workers!r}")
        self.ds = ds
        self.ids = torch.arange(len(ds)) if ids is None else torch.as_tensor(ids, dtype=torch.int64)
        if self.ids.numel() and (int(self.ids.min()) < 0 or int(self.ids.max()) >= len(ds)):
            raise IndexError(f"GraphLoader: ids must lie in [0, {len(ds)})")
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.drop_last, self.num_workers, self.extras = drop_last, num_workers, tuple(extras)
        self.epoch = 0

    def __len__(self) -> int:
        n = self.ids.numel()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def chunks(self, epoch: int) -> list:
        ids = self.ids
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1000003 + epoch)
            ids = ids[torch.randperm(ids.numel(), generator=gen)]
        out = list(ids.split(self.batch_size))
        if self.drop_last and out and out[-1].numel() < self.batch_size:
            out.pop()
        return out

    def __iter__(self):
        chunks = self.chunks(self.epoch)
        self.epoch += 1
        if self.num_workers == 0:
            for c in chunks:
                yield collate_graphs(self.ds, c, self.extras)
            return
        dl = torch.utils.data.DataLoader(_Chunks(self.ds, chunks, self.extras), batch_size=None,
                                         shuffle=False, num_workers=self.num_workers,
                                         multiprocessing_context="fork")
        yield from dl
