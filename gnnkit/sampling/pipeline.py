r"""The loader pipeline: item sampler -> sampler -> feature fetcher -> :class:`gnnkit.tasks.Batch`.

:class:`Loader` composes the three stages (DGL GraphBolt's ``ItemSampler`` ->
``SubgraphSampler`` -> ``FeatureFetcher``; PyG's ``NodeLoader`` / ``LinkLoader`` over a
``BaseSampler``).  Node items ``[B]`` go to ``sampler.sample_from_nodes``, pair items
``[2, B]`` to ``sampler.sample_from_edges`` with the loader's ``neg_sampling``.

Batches are prepared ``prefetch`` ahead by one background thread (bounded queue), which overlaps
sampling and gathering (C++ and ``index_select``, both release the GIL) with the training step,
and come out in order.  Each batch is a function of its :class:`~gnnkit.sampling.ItemBatch`
(items and seed) only, so the stream is the same whatever ``prefetch``, the thread count or
the rank that runs it.
"""
from __future__ import annotations

import queue
import threading

from torch import Tensor

from gnnkit.sampling.base import BaseSampler, NegativeSampling
from gnnkit.sampling.fetcher import FeatureFetcher
from gnnkit.sampling.items import ItemBatch, ItemSampler

__all__ = ["Loader", "prefetch_iter"]


class Loader:
    r"""Iterate over :class:`gnnkit.tasks.Batch` es made by the three stages.

    Args:
        items (ItemSampler): stage 1 (seeds per batch, shuffling, rank sharding).
        sampler (BaseSampler): stage 2.
        fetcher (FeatureFetcher, optional): stage 3. (default: :obj:`None`: no features)
        neg_sampling (NegativeSampling, optional): negatives of link batches.
        prefetch (int): batches prepared ahead in a background thread; ``0`` runs every stage in
            the calling thread. (default: :obj:`2`)
        split (str): name of the split the items belong to (``batch.split_index``).
            (default: :obj:`'train'`)
        split_mask (Tensor, optional): bool ``[N]``; subgraph batches then list in
            ``split_index[split]`` the output rows whose node is in the mask.
        progress (bool): wrap iteration in a ``tqdm`` bar when tqdm is installed.

    ``len(loader)`` is the number of batches this rank gets per epoch.
    """

    def __init__(self, items: ItemSampler, sampler: BaseSampler, fetcher: FeatureFetcher | None = None,
                 *, neg_sampling: NegativeSampling | None = None, prefetch: int = 2,
                 split: str = "train", split_mask: Tensor | None = None, progress: bool = False):
        name = type(self).__name__
        if not isinstance(items, ItemSampler):
            raise TypeError(f"{name}: items must be an ItemSampler, got {type(items).__name__}")
        if not isinstance(sampler, BaseSampler):
            raise TypeError(f"{name}: sampler must be a BaseSampler, got {type(sampler).__name__}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"{name}: prefetch must be an int >= 0, got {prefetch!r}")
        if neg_sampling is not None and not isinstance(neg_sampling, NegativeSampling):
            raise TypeError(f"{name}: neg_sampling must be a NegativeSampling, got {type(neg_sampling).__name__}")
        n = getattr(sampler, "num_nodes", None)
        if n is not None and items.num_items and int(items.items.max()) >= n:
            flat = int((items.items.reshape(-1) >= n).nonzero()[0])
            where = flat if items.items.dim() == 1 else f"{flat // items.num_items}, {flat % items.num_items}"
            raise IndexError(f"{name}: items[{where}] = {int(items.items.reshape(-1)[flat])} is out of "
                             f"range for a graph with {n} nodes")
        self.items, self.sampler = items, sampler
        self.fetcher = fetcher if fetcher is not None else FeatureFetcher()
        self.neg_sampling, self.prefetch, self.split = neg_sampling, prefetch, split
        self.split_mask, self.progress = split_mask, progress

    @property
    def is_link(self) -> bool:
        return self.items.items.dim() == 2

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.items.set_epoch(epoch)

    def make_batch(self, ib: ItemBatch):
        """Run stages 2 and 3 on one item batch (what the background thread runs)."""
        if self.is_link:
            out = self.sampler.sample_from_edges(ib.items, labels=ib.labels,
                                                 neg_sampling=self.neg_sampling, seed=ib.seed)
        else:
            out = self.sampler.sample_from_nodes(ib.items, seed=ib.seed)
        return self.fetcher(out, ib, self.split, self.split_mask)

    def __iter__(self):
        it = prefetch_iter(map(self.make_batch, iter(self.items)), self.prefetch, type(self).__name__)
        if self.progress:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is optional
                return it
            return iter(tqdm(it, total=len(self), desc="batches"))
        return it

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items!r}, {self.sampler!r}, prefetch={self.prefetch})"


def prefetch_iter(source, prefetch: int, name: str = "loader"):
    """Iterate ``source`` in a background thread, ``prefetch`` items ahead (in order); errors of
    the producer are re-raised in the consumer; closing the consumer stops the producer."""
    if prefetch == 0:
        yield from source
        return
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in source:
                if not put(item):
                    return
            put(done)
        except BaseException as e:  # handed to the consumer, re-raised there
            put(_Raised(e))

    th = threading.Thread(target=work, name=f"gnnkit-{name}", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        th.join()


class _Raised:
    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error
