r"""Distributed node classification as a :class:`gnnkit.tasks.Task`, so that
:func:`gnnkit.train.fit` (the one training loop) trains it.

Per rank: the train loader yields the rank's own mini-batches (:mod:`gnnkit.distributed.loader`
schedule) sampled across partitions (:class:`DistNeighborSampler`) with features fetched from
their owners (:class:`DistFeatureFetcher`); the model is a ``DistributedDataParallel`` module, so
each optimiser step applies the mean of the ranks' gradients.  Evaluation samples each rank's
own val/test nodes, then :meth:`DistNodeTask.gather` all-gathers outputs and targets so that every
rank scores the whole split (identical scores on every rank, hence identical early-stopping and
checkpoint decisions).  Every loader step makes the same collectives on every rank (ranks with
fewer nodes run empty evaluation steps).
"""
from __future__ import annotations

import time

import torch
import torch.distributed as dist
from torch import Tensor

from gnnkit.distributed.book import LocalPartition, PartitionBook
from gnnkit.distributed.comm import Exchanger, comm_device
from gnnkit.distributed.features import DistFeatureFetcher, gather_local
from gnnkit.distributed.loader import rank_batch, steps_per_epoch
from gnnkit.distributed.sampler import DistNeighborSampler
from gnnkit.tasks import Batch, Task

__all__ = ["DistNodeTask"]


def _all_max(v: int) -> int:
    t = torch.tensor([int(v)], device=comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t)


class DistNodeTask(Task):
    """Node classification over a partitioned graph, one rank per part.

    Args:
        part (LocalPartition), book (PartitionBook): this rank's part and the book.
        fanouts (list[int]): per-hop fan-outs of training (and, by default, evaluation).
        batch_size (int): seeds per rank and step.
        seed (int): seed of the batch schedule and of the samples.
        metric (str): (default: ``'accuracy'``)
        max_steps (int, optional): cap on the training steps per epoch (benchmarks).
        eval_splits (tuple): splits evaluated (those the partitions hold).
    """

    kind = "node"

    def __init__(self, part: LocalPartition, book: PartitionBook, fanouts, *, batch_size: int = 1024,
                 seed: int = 0, metric: str = "accuracy", max_steps: int | None = None,
                 eval_splits=("val", "test"), exchanger: Exchanger | None = None):
        if part.labels is None or part.features is None:
            raise ValueError(f"{book.path}: the partitions need features and labels for training")
        self.part, self.book = part, book
        self.ex = exchanger or Exchanger()
        self.sampler = DistNeighborSampler(part, book, list(fanouts), exchanger=self.ex)
        self.fetcher = DistFeatureFetcher(part, book, exchanger=self.ex)
        self.rank, self.world = self.ex.rank, self.ex.world
        self.train_ids = part.splits.get("train", torch.empty(0, dtype=torch.int64))
        if self.train_ids.numel() == 0:
            raise ValueError(f"{book.path}: part {self.rank} has no training nodes; repartition with the "
                             "training seeds balanced (gnnkit data partition balances them)")
        labels = part.labels
        num_classes = _all_max(int(labels.max()) + 1 if len(labels) else 0)
        super().__init__(name=f"{book.path.name}/part-{self.rank}", metric=metric, loss="cross_entropy",
                         num_outputs=num_classes, num_features=int(part.features.shape[1]))
        self.batch_size, self.seed, self.max_steps = int(batch_size), int(seed), max_steps
        self.steps = steps_per_epoch(_all_max(self.train_ids.numel()), self.batch_size)
        if max_steps:
            self.steps = min(self.steps, int(max_steps))
        self.eval_splits = tuple(s for s in eval_splits if s in book.meta.get("splits", []))
        self.epoch = 0  # the next training epoch (0-based); the resume callback sets it
        self.phase = {"sample": 0.0, "gather": 0.0}
        self.last_epoch: dict = {}

    def forward(self, model, batch: Batch) -> Tensor:
        return model(batch.x, batch.graph)

    def _batch(self, seeds: Tensor, seed: int, split: str) -> Batch:
        t0 = time.perf_counter()
        sample = self.sampler.sample_from_nodes(seeds, seed=seed)
        t1 = time.perf_counter()
        x = self.fetcher.fetch(sample.n_id)
        y = gather_local(self.part.labels, self.book.inner[seeds]).long()
        self.phase["sample"] += t1 - t0
        self.phase["gather"] += time.perf_counter() - t1
        return Batch(x=x, graph=sample.graph, target=y, split_index={split: None}, n_id=sample.n_id,
                     seed=seed, extra={"batch_size": int(seeds.numel())})

    def _train(self):
        """One epoch of this rank's batches; leaves ``last_epoch`` (wall time of the pass, of which
        sampling / feature gathering / inside collectives, bytes sent per batch)."""
        epoch = self.epoch
        self.phase = {"sample": 0.0, "gather": 0.0}
        b0, s0, c0, t0 = self.ex.bytes_sent, self.ex.seconds, self.ex.calls, time.perf_counter()
        for step in range(self.steps):
            seeds, s = rank_batch(self.train_ids, self.rank, epoch, step, self.batch_size, self.seed)
            yield self._batch(seeds, s, "train")
        wall = time.perf_counter() - t0
        self.last_epoch = {"epoch": epoch, "steps": self.steps, "wall_s": wall, "sample_s": self.phase["sample"],
                           "gather_s": self.phase["gather"],
                           "compute_s": wall - self.phase["sample"] - self.phase["gather"],
                           "exchange_s": self.ex.seconds - s0, "bytes_per_batch": (self.ex.bytes_sent - b0) / self.steps,
                           "collectives_per_batch": (self.ex.calls - c0) / self.steps}
        self.epoch = epoch + 1

    def _eval(self):
        for split in self.eval_splits:
            ids = self.part.splits[split]
            steps = max(1, -(-_all_max(ids.numel()) // self.batch_size))
            for step in range(steps):
                seeds = ids[step * self.batch_size:(step + 1) * self.batch_size]
                yield self._batch(seeds, (self.seed << 20) + step + 1, split)

    def loaders(self, seed=None, **opts) -> dict:
        if opts:
            raise ValueError(f"DistNodeTask.loaders: unknown option(s) {sorted(opts)}")
        task = self

        class _Loader:  # re-iterable: one pass per epoch
            def __init__(self, make):
                self.make = make

            def __iter__(self):
                return task._train() if self.make == "train" else task._eval()

        return {"train": _Loader("train"), "eval": _Loader("eval")}

    def evaluate(self, model, batches, splits=("train", "val", "test")) -> dict:
        """Like :meth:`Task.evaluate`, on the outputs of every rank (all-gathered)."""
        outs: dict = {s: [] for s in splits}
        tgts: dict = {s: [] for s in splits}
        for batch in batches:
            n = batch.extra["batch_size"]
            out = self.forward(model, batch) if n else torch.empty(0, self.num_outputs, device=batch.target.device)
            for s in batch.split_index:
                if s in outs:
                    outs[s].append(out.detach())
                    tgts[s].append(batch.target)
        res = {}
        for s in splits:
            o = torch.cat(outs[s]) if outs[s] else torch.empty(0, self.num_outputs)
            t = torch.cat(tgts[s]) if tgts[s] else torch.empty(0, dtype=torch.int64)
            o, t = self.gather(o, t)
            res[s] = self.score(o, t) if t.numel() else float("nan")
            if s == "val":
                res["val_loss"] = float(self.loss_fn(o, t)) if t.numel() else float("nan")
        res.setdefault("val_loss", float("nan"))
        return res

    def gather(self, out: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Concatenate ``out`` / ``target`` of every rank (rank order), on the collectives' device
        (the rank's GPU under NCCL), returned on ``out``'s device."""
        dev, home = self.ex.device, out.device
        sizes = [torch.zeros(1, dtype=torch.int64, device=dev) for _ in range(self.world)]
        dist.all_gather(sizes, torch.tensor([out.shape[0]], device=dev))
        m = max(int(s) for s in sizes)
        pad_o = torch.zeros((m,) + tuple(out.shape[1:]), dtype=out.dtype, device=dev)
        pad_t = torch.zeros((m,) + tuple(target.shape[1:]), dtype=target.dtype, device=dev)
        pad_o[: out.shape[0]] = out
        pad_t[: target.shape[0]] = target
        os_ = [torch.empty_like(pad_o) for _ in range(self.world)]
        ts_ = [torch.empty_like(pad_t) for _ in range(self.world)]
        dist.all_gather(os_, pad_o)
        dist.all_gather(ts_, pad_t)
        k = [int(s) for s in sizes]
        return (torch.cat([o[:n] for o, n in zip(os_, k)]).to(home),
                torch.cat([t[:n] for t, n in zip(ts_, k)]).to(home))
