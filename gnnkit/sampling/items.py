r"""Stage 1 of the loader pipeline: the item sampler (which seeds go into which batch).

An epoch's items -- node ids ``[M]``, node pairs ``[2, P]`` (link prediction) or graph ids --
are shuffled with a generator seeded by the epoch seed and cut into batches of ``batch_size``
(as DGL GraphBolt's ``ItemSampler`` and PyG's loaders).  Every batch carries

* ``index``: its position :math:`b` in the epoch's *global* batch order, and
* ``seed``: :math:`\mathrm{mix}(s_e, b + 1)`, the seed of everything random downstream
  (neighbour sample, negatives), where :math:`s_e = \mathrm{mix}(s, e + 1)` is the seed of epoch
  :math:`e` and ``mix`` is a splitmix64 combination.

**Sharding.**  With ``world_size`` :math:`W > 1`, rank :math:`r` takes the global batches
:math:`b \equiv r \pmod W`; the shuffle, the cut and the seeds are those of the one-process
run, so a batch's content never depends on the rank, the number of ranks that see it, the
thread count or the prefetch depth.  ``drop_uneven=True`` gives every rank
:math:`\lfloor n_b / W \rfloor` batches (the same step count on every rank, as DDP needs).

**With replacement** (``replacement=True``, GraphSAINT's roots): batch :math:`b` draws
``batch_size`` items uniformly with replacement with a generator seeded by its own seed, for
``num_batches`` batches per epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["ItemSampler", "ItemBatch", "mix_seed"]

_MASK63 = (1 << 63) - 1


def mix_seed(a: int, b: int) -> int:
    """splitmix64-style combination of two ints (epoch seeds from the loader seed, batch seeds
    from the epoch seed); a 63-bit non-negative int."""
    z = (a * 0x9E3779B97F4A7C15 + b + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & _MASK63


_mix = mix_seed  # the name the loaders used before the pipeline split


def draw_seed(generator: torch.Generator | None = None) -> int:
    """A 62-bit seed drawn from torch's (default or given) generator."""
    return int(torch.randint(0, 2**62, (1,), generator=generator).item())


@dataclass
class ItemBatch:
    """One batch of items.

    Attributes:
        index (int): position in the epoch's global batch order (the same on every rank).
        items (Tensor): int64 ``[B]`` node / graph ids or ``[2, B]`` node pairs.
        labels (Tensor or None): the items' labels ``[B, ...]`` when the sampler has them.
        seed (int): seed of everything random in this batch downstream.
    """

    index: int
    items: Tensor
    labels: Tensor | None
    seed: int

    @property
    def num_items(self) -> int:
        return int(self.items.shape[-1])


def _as_items(items, name: str) -> Tensor:
    if isinstance(items, np.ndarray):
        items = torch.from_numpy(np.ascontiguousarray(items))
    elif isinstance(items, (list, tuple, range)):
        items = torch.as_tensor(list(items))
    if not isinstance(items, Tensor):
        raise TypeError(f"ItemSampler: '{name}' must be a Tensor, numpy array or list, got "
                        f"{type(items).__name__}")
    if items.dtype == torch.bool:
        if items.dim() != 1:
            raise ValueError(f"ItemSampler: a bool '{name}' mask must be 1-D, got shape {tuple(items.shape)}")
        return items.nonzero().view(-1)
    if items.is_floating_point() or items.is_complex():
        raise TypeError(f"ItemSampler: '{name}' must hold integer ids, got dtype {items.dtype}")
    if items.dim() not in (1, 2) or (items.dim() == 2 and items.shape[0] != 2):
        raise ValueError(f"ItemSampler: '{name}' must be ids [M] or node pairs [2, P], got shape "
                         f"{tuple(items.shape)}")
    if items.numel() and bool((items < 0).any()):
        flat = int((items.reshape(-1) < 0).nonzero()[0])
        pos = flat if items.dim() == 1 else f"{flat // items.shape[1]}, {flat % items.shape[1]}"
        raise IndexError(f"ItemSampler: {name}[{pos}] = {int(items.reshape(-1)[flat])} is negative")
    return items.to(torch.int64)


def _check_int(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"ItemSampler: {name} must be an int >= {lo}, got {v!r}")
    return int(v)


class ItemSampler:
    r"""Shuffled, seeded, rank-sharded batches of items (see the module docstring).

    Args:
        items (Tensor, ndarray or list): int ids ``[M]``, a bool mask ``[N]`` (its ``True``
            positions), or node pairs ``[2, P]``.
        batch_size (int): items per batch. (default: :obj:`1024`)
        labels (Tensor, optional): one label per item ``[M, ...]`` (e.g. link labels), sliced
            with the items.
        shuffle (bool): reshuffle every epoch. (default: :obj:`True`)
        drop_last (bool): drop the last incomplete global batch. (default: :obj:`False`)
        seed (int, optional): loader seed :math:`s`. (default: :obj:`None`: drawn from torch)
        rank (int), world_size (int): shard of this process. (default: 0, 1)
        drop_uneven (bool): every rank gets :math:`\lfloor n_b / W \rfloor` batches.
            (default: :obj:`False`: rank :math:`r` gets every batch :math:`b \equiv r`)
        replacement (bool): draw each batch with replacement (see above). (default: :obj:`False`)
        num_batches (int, optional): batches per epoch with ``replacement``. (default: :obj:`None`:
            :math:`\lceil M / B \rceil`)

    >>> s = ItemSampler(torch.arange(10), batch_size=4, shuffle=False, seed=0)
    >>> [b.items.tolist() for b in s]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    >>> [b.index for b in ItemSampler(torch.arange(10), 4, seed=0, rank=1, world_size=2)]
    [1]
    """

    def __init__(self, items, batch_size: int = 1024, *, labels=None, shuffle: bool = True,
                 drop_last: bool = False, seed: int | None = None, rank: int = 0, world_size: int = 1,
                 drop_uneven: bool = False, replacement: bool = False, num_batches: int | None = None):
        self.items = _as_items(items, "items")
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.world_size = _check_int("world_size", world_size, 1)
        self.rank = _check_int("rank", rank, 0)
        if self.rank >= self.world_size:
            raise ValueError(f"ItemSampler: rank = {rank} must be < world_size = {world_size}")
        m = self.num_items
        if labels is not None:
            labels = _as_labels(labels)
            if labels.shape[0] != m:
                raise ValueError(f"ItemSampler: labels has {labels.shape[0]} rows for {m} items")
        self.labels = labels
        if replacement and m == 0:
            raise ValueError("ItemSampler: replacement=True needs at least one item")
        if num_batches is not None:
            if not replacement:
                raise ValueError("ItemSampler: num_batches is only for replacement=True")
            num_batches = _check_int("num_batches", num_batches, 1)
        self.shuffle, self.drop_last, self.drop_uneven = bool(shuffle), bool(drop_last), bool(drop_uneven)
        self.replacement, self._num_batches = bool(replacement), num_batches
        self.seed = draw_seed() if seed is None else int(seed) & _MASK63
        self.epoch = 0

    @property
    def num_items(self) -> int:
        return int(self.items.shape[-1])

    @property
    def num_global_batches(self) -> int:
        """Batches per epoch over all ranks."""
        if self.replacement:
            return self._num_batches or math.ceil(self.num_items / self.batch_size)
        m = self.num_items
        return m // self.batch_size if self.drop_last else math.ceil(m / self.batch_size)

    def batch_indices(self) -> range:
        """The global batch indices this rank takes, in order."""
        n, w, r = self.num_global_batches, self.world_size, self.rank
        stop = (n // w) * w if self.drop_uneven else n
        return range(r, stop, w)

    def __len__(self) -> int:
        return len(self.batch_indices())

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (as ``DistributedSampler.set_epoch``)."""
        self.epoch = _check_int("epoch", epoch, 0)

    def epoch_seed(self, epoch: int) -> int:
        return mix_seed(self.seed, epoch + 1)

    def __iter__(self):
        """Batches of the current epoch; the epoch counter then advances."""
        es = self.epoch_seed(self.epoch)
        self.epoch += 1
        return self._iter_epoch(es)

    def _iter_epoch(self, es: int):
        items, labels, bs = self.items, self.labels, self.batch_size
        if self.replacement:
            for b in self.batch_indices():
                seed = mix_seed(es, b + 1)
                pos = torch.randint(0, self.num_items, (bs,), generator=torch.Generator().manual_seed(seed))
                yield ItemBatch(b, items[..., pos], None if labels is None else labels[pos], seed)
            return
        perm = None
        if self.shuffle:
            perm = torch.randperm(self.num_items, generator=torch.Generator().manual_seed(mix_seed(es, 0)))
        for b in self.batch_indices():
            sl = slice(b * bs, (b + 1) * bs)
            pos = perm[sl] if perm is not None else None
            it = items[..., sl] if pos is None else items[..., pos]
            lab = None if labels is None else (labels[sl] if pos is None else labels[pos])
            yield ItemBatch(b, it, lab, mix_seed(es, b + 1))

    def __repr__(self) -> str:
        return (f"ItemSampler(num_items={self.num_items}, batch_size={self.batch_size}, "
                f"rank={self.rank}/{self.world_size}, num_batches={len(self)})")


def _as_labels(labels) -> Tensor:
    if isinstance(labels, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(labels))
    if isinstance(labels, Tensor):
        return labels
    return torch.as_tensor(labels)
