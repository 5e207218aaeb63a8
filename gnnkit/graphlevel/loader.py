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
from gnnkit.sampling.pipeline import prefetch_iter

__all__ = ["GraphLoader"]


class _Chunks(torch.utils.data.Dataset):
    def __init__(self, loader, chunks):
        self.loader, self.chunks = loader, chunks

    def __len__(self):
        return len(self.chunks)

    def __getitem__(self, i):
        return self.loader.collate(self.chunks[i])


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
        prefetch (int): with ``num_workers = 0``, collate up to this many batches ahead in a
            background thread (torch's gathers release the GIL, so collation overlaps the
            training step); 0 collates on demand. (default: ``0``)
        extras: collate extras, e.g. a :class:`~gnnkit.graphlevel.cache.PathCache`.
        split (str or list of str): the ``split_index`` key of the batches' items, or one name
            per *position* of ``ids`` (mixed evaluation batches: ``split_index`` then maps each
            name to the positions of its items in the batch). (default: ``'train'``)

    >>> import torch
    >>> from gnnkit.data.graph_datasets import decalin, bicyclopentyl
    >>> ds = GraphDataset.from_graphs([decalin(), bicyclopentyl(), decalin()], torch.tensor([0, 1, 0]))
    >>> [b.num_graphs for b in GraphLoader(ds, batch_size=2)]
    [2, 1]
    """

    def __init__(self, ds: GraphDataset, ids=None, batch_size: int = 128, shuffle: bool = False,
                 seed: int = 0, drop_last: bool = False, num_workers: int = 0, extras=(),
                 split="train", prefetch: int = 0):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"GraphLoader: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"GraphLoader: num_workers must be an int >= 0, got {num_workers!r}")
        self.ds = ds
        self.ids = torch.arange(len(ds)) if ids is None else torch.as_tensor(ids, dtype=torch.int64)
        if self.ids.numel() and (int(self.ids.min()) < 0 or int(self.ids.max()) >= len(ds)):
            raise IndexError(f"GraphLoader: ids must lie in [0, {len(ds)})")
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        if not isinstance(prefetch, int) or isinstance(prefetch, bool) or prefetch < 0:
            raise ValueError(f"GraphLoader: prefetch must be an int >= 0, got {prefetch!r}")
        self.drop_last, self.num_workers, self.extras = drop_last, num_workers, tuple(extras)
        self.prefetch = prefetch
        self.epoch = 0
        if isinstance(split, str):
            self.split_names, self.tags = (split,), torch.zeros(self.ids.numel(), dtype=torch.int64)
        else:
            names = list(split)
            if len(names) != self.ids.numel():
                raise ValueError(f"GraphLoader: split must be a name or one name per id "
                                 f"({self.ids.numel()}), got {len(names)}")
            self.split_names = tuple(dict.fromkeys(names))
            self.tags = torch.tensor([self.split_names.index(n) for n in names], dtype=torch.int64)

    def collate(self, pos):
        """The batch of the positions ``pos`` of ``ids``."""
        b = collate_graphs(self.ds, self.ids[pos], self.extras)
        if len(self.split_names) == 1:
            b.split_index = {self.split_names[0]: None}
        else:
            t = self.tags[pos]
            b.split_index = {n: (t == i).nonzero().view(-1) for i, n in enumerate(self.split_names)}
        return b

    def __len__(self) -> int:
        n = self.ids.numel()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def chunks(self, epoch: int) -> list:
        """Positions in ``ids`` of every batch of ``epoch``."""
        pos = torch.arange(self.ids.numel())
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1000003 + epoch)
            pos = torch.randperm(pos.numel(), generator=gen)
        out = list(pos.split(self.batch_size))
        if self.drop_last and out and out[-1].numel() < self.batch_size:
            out.pop()
        return out

    def __iter__(self):
        chunks = self.chunks(self.epoch)
        self.epoch += 1
        if self.num_workers == 0:  # collated here, or in a thread ``prefetch`` batches ahead
            yield from prefetch_iter(map(self.collate, chunks), self.prefetch, "GraphLoader")
            return
        dl = torch.utils.data.DataLoader(_Chunks(self, chunks), batch_size=None,
                                         shuffle=False, num_workers=self.num_workers,
                                         multiprocessing_context="fork")
        yield from dl
