r"""Distributed mini-batch training of a sampled GNN on a partitioned graph (torch.distributed).

Launch one process per partition with ``torchrun`` (one host: ``--standalone``; several:
a rendezvous endpoint)::

    gnnkit data partition GRAPH parts/ --parts 2 --method metis
    torchrun --standalone --nproc_per_node=2 -m gnnkit.distributed.train parts/ \
        --fanouts 15 10 5 --batch-size 1024 --epochs 3 --checkpoint ckpt/

Every rank opens its part (:func:`~gnnkit.distributed.open_partition`) and the book; its seeds
are its own training nodes (:mod:`gnnkit.distributed.loader`); it samples across parts
(:class:`~gnnkit.distributed.DistNeighborSampler`), fetches the sampled nodes' features from
their owners (:class:`~gnnkit.distributed.DistFeatureFetcher`) and trains a
``DistributedDataParallel`` model (gradients averaged over ranks, so one step equals one
process stepping on the mean of the ranks' batch losses).  Rank 0 prints progress and writes a
checkpoint after every epoch (atomically: ``last.pt``); ``--resume`` continues from it.  A rank
that dies makes the others fail in their next collective (gloo: connection closed; every
collective also has the ``--timeout``), and they exit with code 1 and a message naming the rank.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

__all__ = ["main", "DistTrainer"]


def _parser():
    p = argparse.ArgumentParser(prog="gnnkit.distributed.train", description=__doc__.split("\n\n")[0])
    p.add_argument("parts", help="partition directory (gnnkit data partition)")
    p.add_argument("--model", default="sage", choices=["sage", "gcn"], help="sampled GNN kind")
    p.add_argument("--fanouts", type=int, nargs="+", default=[10, 5])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="steps per epoch at most (benchmarks)")
    p.add_argument("--checkpoint", default=None, help="directory for last.pt (rank 0 writes)")
    p.add_argument("--resume", action="store_true", help="continue from CHECKPOINT/last.pt")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a collective may wait for a peer")
    p.add_argument("--backend", default=None, help="gloo (default on CPU) or nccl")
    p.add_argument("--eval", action="store_true", help="test accuracy after the last epoch")
    p.add_argument("--json", default=None, help="rank 0 writes the per-epoch records here")
    return p


class DistTrainer:
    """One rank's training state (used by :func:`main` and by tests)."""

    def __init__(self, parts, *, model="sage", fanouts=(10, 5), hidden=128, dropout=0.5, batch_size=1024,
                 lr=0.003, seed=0):
        from gnnkit.distributed.book import PartitionBook, open_partition
        from gnnkit.distributed.comm import Exchanger
        from gnnkit.distributed.features import DistFeatureFetcher, gather_local
        from gnnkit.distributed.sampler import DistNeighborSampler
        from gnnkit.sampling.minibatch import MiniBatchGNN

        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.book = PartitionBook.open(parts, num_parts=self.world)
        self.part = open_partition(parts, self.rank, self.book)
        if self.part.labels is None or self.part.features is None:
            raise ValueError(f"{parts}: the partitions need features and labels for training")
        self.train_ids = self.part.splits.get("train")
        if self.train_ids is None or self.train_ids.numel() == 0:
            raise ValueError(f"{parts}: part {self.rank} has no training nodes; repartition with the "
                             "training seeds balanced (gnnkit data partition ... balances them)")
        self.ex = Exchanger()
        self.sampler = DistNeighborSampler(self.part, self.book, list(fanouts), exchanger=self.ex)
        self.fetcher = DistFeatureFetcher(self.part, self.book, exchanger=self.ex)
        self._gather_local = gather_local
        labels = self.part.labels
        num_classes = torch.tensor([int(labels.max()) + 1 if len(labels) else 0])
        dist.all_reduce(num_classes, op=dist.ReduceOp.MAX)
        self.num_classes = int(num_classes)
        torch.manual_seed(seed)
        net = MiniBatchGNN(model, self.part.features.shape[1], hidden, self.num_classes,
                           num_layers=len(fanouts), dropout=dropout)
        self.model = torch.nn.parallel.DistributedDataParallel(net)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.batch_size, self.seed = batch_size, seed
        n = torch.tensor([self.train_ids.numel()])
        dist.all_reduce(n, op=dist.ReduceOp.MAX)
        from gnnkit.distributed.loader import steps_per_epoch

        self.steps = steps_per_epoch(int(n), batch_size)

    def labels_of(self, seeds: torch.Tensor) -> torch.Tensor:
        return self._gather_local(self.part.labels, self.book.inner[seeds]).long()

    def batch(self, epoch: int, step: int):
        from gnnkit.distributed.loader import rank_batch

        return rank_batch(self.train_ids, self.rank, epoch, step, self.batch_size, self.seed)

    def train_epoch(self, epoch: int, max_steps: int | None = None) -> dict:
        self.model.train()
        t = {"sample": 0.0, "gather": 0.0, "compute": 0.0}
        b0, s0, c0 = self.ex.bytes_sent, self.ex.seconds, self.ex.calls
        total_loss, steps = 0.0, min(self.steps, max_steps or self.steps)
        for step in range(steps):
            seeds, s = self.batch(epoch, step)
            t0 = time.perf_counter()
            sample = self.sampler.sample_neighbors(seeds, s)
            t1 = time.perf_counter()
            x = self.fetcher.fetch(sample.n_id)
            y = self.labels_of(seeds)
            t2 = time.perf_counter()
            self.opt.zero_grad()
            loss = F.cross_entropy(self.model(x, sample.blocks), y)
            loss.backward()
            self.opt.step()
            t["compute"] += time.perf_counter() - t2
            t["gather"] += t2 - t1
            t["sample"] += t1 - t0
            total_loss += float(loss.detach())
        rec = {"epoch": epoch, "steps": steps, "loss": total_loss / steps, **{f"{k}_s": v for k, v in t.items()},
               "exchange_s": self.ex.seconds - s0, "bytes_per_batch": (self.ex.bytes_sent - b0) / steps,
               "collectives_per_batch": (self.ex.calls - c0) / steps}
        return rec

    @torch.no_grad()
    def evaluate(self, split: str = "test") -> float:
        """Accuracy over every rank's ``split`` nodes (sampled with the training fan-outs)."""
        self.model.eval()
        ids = self.part.splits.get(split, torch.empty(0, dtype=torch.int64))
        n = torch.tensor([ids.numel()])
        dist.all_reduce(n, op=dist.ReduceOp.MAX)
        correct = torch.zeros(2, dtype=torch.float64)
        for step, lo in enumerate(range(0, max(int(n), 1), self.batch_size)):
            seeds = ids[lo:lo + self.batch_size]
            sample = self.sampler.sample_neighbors(seeds, (self.seed << 20) + step + 1)
            x = self.fetcher.fetch(sample.n_id)
            if seeds.numel():
                pred = self.model.module(x, sample.blocks).argmax(-1)
                correct[0] += float((pred == self.labels_of(seeds)).sum())
                correct[1] += seeds.numel()
        dist.all_reduce(correct)
        return float(correct[0] / correct[1]) if correct[1] else float("nan")

    def save(self, ckpt: Path, epoch: int) -> None:
        if self.rank == 0:
            ckpt.mkdir(parents=True, exist_ok=True)
            tmp = ckpt / f".last.pt.tmp-{os.getpid()}"
            torch.save({"epoch": epoch, "model": self.model.module.state_dict(), "opt": self.opt.state_dict(),
                        "fingerprint": self.book.meta["fingerprint"], "world": self.world}, tmp)
            tmp.replace(ckpt / "last.pt")
        dist.barrier()

    def load(self, ckpt: Path) -> int:
        """Load ``ckpt/last.pt``; returns the next epoch (0 when there is none)."""
        f = ckpt / "last.pt"
        if not f.is_file():
            return 0
        state = torch.load(f, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != self.book.meta["fingerprint"] or state.get("world") != self.world:
            raise ValueError(f"{f} was written by a job on another graph or world size; refusing to resume")
        self.model.module.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        return int(state["epoch"]) + 1


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    backend = args.backend or ("nccl" if torch.cuda.is_available() and os.environ.get("GNNKIT_DIST_NCCL") else "gloo")
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=args.timeout))
    rank = dist.get_rank()
    try:
        tr = DistTrainer(args.parts, model=args.model, fanouts=args.fanouts, hidden=args.hidden,
                         dropout=args.dropout, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
        ckpt = Path(args.checkpoint) if args.checkpoint else None
        start = tr.load(ckpt) if (ckpt and args.resume) else 0
        records = []
        for epoch in range(start, args.epochs):
            die = os.environ.get("GNNKIT_TEST_DIE")  # failure tests: "rank:epoch" dies as it starts
            if die and die == f"{rank}:{epoch}":
                os._exit(3)
            t0 = time.perf_counter()
            rec = tr.train_epoch(epoch, args.max_steps)
            rec["epoch_s"] = time.perf_counter() - t0
            if ckpt:
                tr.save(ckpt, epoch)
            records.append(rec)
            if rank == 0:
                print(f"epoch {epoch}: loss {rec['loss']:.4f}  {rec['epoch_s']:.2f}s (sample {rec['sample_s']:.2f}, "
                      f"gather {rec['gather_s']:.2f}, compute {rec['compute_s']:.2f}, exchange "
                      f"{rec['exchange_s']:.2f})  {rec['bytes_per_batch'] / 1e6:.2f} MB/batch sent", flush=True)
        if args.eval:
            acc = tr.evaluate("test")
            if rank == 0:
                print(f"test accuracy {100 * acc:.2f}", flush=True)
                records.append({"test_acc": acc})
        if rank == 0 and args.json:
            Path(args.json).write_text(json.dumps(records, indent=1))
        dist.barrier()
    except (RuntimeError, ValueError, OSError) as e:
        print(f"gnnkit.distributed.train: rank {rank}: {type(e).__name__}: {e}\n"
              "(a peer rank failed or timed out, or the job's input is wrong)", file=sys.stderr, flush=True)
        return 1
    finally:
        if dist.is_initialized():
            try:
                dist.destroy_process_group()
            except Exception:  # pragma: no cover - tearing down after a failure
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
