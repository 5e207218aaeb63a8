r"""Distributed mini-batch training of a sampled GNN on a partitioned graph (torch.distributed).

Launch one process per partition with ``torchrun`` (one host: ``--standalone``; several:
a rendezvous endpoint)::

    gnnkit data partition GRAPH parts/ --parts 2 --method metis
    torchrun --standalone --nproc_per_node=2 -m gnnkit.distributed.train parts/ \
        --fanouts 15 10 5 --batch-size 1024 --epochs 3 --checkpoint ckpt/

Every rank opens its part and the book and builds a :class:`~gnnkit.distributed.DistNodeTask`
(its own training seeds, sampled across parts, features fetched from their owners); the model
is wrapped in ``DistributedDataParallel`` and trained by :func:`gnnkit.train.fit`, the one loop
of every task (one optimiser step = one process stepping on the mean of the ranks' batch
losses).  Rank 0 prints progress and writes ``CKPT/last.pt`` after every epoch (atomically);
``--resume`` continues from it.  A rank that dies makes the others fail in their next
collective (gloo: connection closed; every collective is also bounded by ``--timeout``); they
exit with code 1 and a message naming the rank.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from gnnkit.train import Callback, TrainConfig, fit

__all__ = ["main", "Checkpoint", "Resume", "EpochLog", "build"]


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
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--patience", type=int, default=None, help="early stopping on the validation metric")
    p.add_argument("--eval-every", type=int, default=None, help="epochs between evaluations (default: at the end)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="steps per epoch at most (benchmarks)")
    p.add_argument("--checkpoint", default=None, help="directory for last.pt (rank 0 writes)")
    p.add_argument("--resume", action="store_true", help="continue from CHECKPOINT/last.pt")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a collective may wait for a peer")
    p.add_argument("--backend", default=None, help="gloo or nccl (default: nccl with --device cuda, else gloo)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where each rank trains: cuda = cuda:LOCAL_RANK (sampling and feature shards stay "
                        "in host memory; each batch is copied to the GPU)")
    p.add_argument("--json", default=None, help="rank 0 writes the per-epoch records and the result here")
    return p


class Checkpoint(Callback):
    """Rank 0 writes ``DIR/last.pt`` (model, optimiser, epoch, graph fingerprint, world size)
    after every epoch, atomically; every rank waits for it (barrier)."""

    def __init__(self, directory, book):
        self.dir, self.book = Path(directory), book

    def on_epoch_end(self, state):
        if dist.get_rank() == 0:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / f".last.pt.tmp-{os.getpid()}"
            torch.save({"epoch": state.epoch, "model": state.model.module.state_dict(),
                        "opt": state.optimizer.state_dict(), "fingerprint": self.book.meta["fingerprint"],
                        "world": dist.get_world_size()}, tmp)
            tmp.replace(self.dir / "last.pt")
        dist.barrier()
        die = os.environ.get("GNNKIT_TEST_DIE")  # failure tests: "rank:epoch" dies after that epoch's checkpoint
        if die and die == f"{dist.get_rank()}:{state.epoch}":
            os._exit(3)


class Resume(Callback):
    """Load ``DIR/last.pt`` at the start (model, optimiser, epoch); refuse one written for
    another graph or world size."""

    def __init__(self, directory, book):
        self.file, self.book = Path(directory) / "last.pt", book

    def on_fit_start(self, state):
        if not self.file.is_file():
            return
        from gnnkit.data import DatasetError
        from gnnkit.data.torch_file import load_torch_file

        hint = "delete it to train from epoch 0"
        ck = load_torch_file(self.file, hint=hint)  # CRC-checked, weights_only: DatasetError if damaged
        if not isinstance(ck, dict) or not {"epoch", "model", "opt"} <= set(ck) or not isinstance(
                ck["epoch"], int) or isinstance(ck["epoch"], bool) or ck["epoch"] < 0:
            raise DatasetError(f"{self.file}: not a checkpoint of this trainer (a dict with epoch >= 0, model, "
                               f"opt); {hint}")
        if ck.get("fingerprint") != self.book.meta["fingerprint"] or ck.get("world") != dist.get_world_size():
            raise ValueError(f"{self.file} was written by a job on another graph or world size; refusing to resume")
        state.model.module.load_state_dict(ck["model"])
        state.optimizer.load_state_dict(ck["opt"])
        state.start_epoch = int(ck["epoch"])
        state.task.epoch = int(ck["epoch"])  # batch schedule: epochs completed so far


class EpochLog(Callback):
    """Rank 0 prints one line per epoch (loss, per-phase times, bytes sent per batch)."""

    def __init__(self):
        self.records = []

    def on_epoch_end(self, state):
        rec = {**state.task.last_epoch, "loss": state.loss, **(state.scores or {})}
        self.records.append(rec)
        if dist.get_rank() == 0:
            n = max(rec["steps"], 1)
            print(f"epoch {state.epoch}: loss {state.loss:.4f}  {rec['wall_s']:.2f}s = sample {rec['sample_s']:.2f} "
                  f"+ gather {rec['gather_s']:.2f} + compute {rec['compute_s']:.2f} (in collectives "
                  f"{rec['exchange_s']:.2f}), {rec['bytes_per_batch'] / 1e3:.1f} kB sent/batch, {n} steps"
                  + (f", val {state.scores.get('val', float('nan')):.4f}" if state.scores else ""), flush=True)


def build(parts, *, model="sage", fanouts=(10, 5), hidden=128, dropout=0.5, batch_size=1024, seed=0,
          max_steps=None, device="cpu"):
    """``(task, ddp_model, book)`` of this rank (the process group must be initialised).

    ``device``: a ``torch.device`` (or string) for the model; a CUDA device makes DDP reduce the
    gradients on it (``device_ids=[index]``) and :func:`~gnnkit.train.fit` copies every batch there.
    """
    from gnnkit.distributed.book import PartitionBook, open_partition
    from gnnkit.distributed.task import DistNodeTask
    from gnnkit.sampling import MiniBatchGNN

    book = PartitionBook.open(parts, num_parts=dist.get_world_size())
    part = open_partition(parts, dist.get_rank(), book)
    task = DistNodeTask(part, book, list(fanouts), batch_size=batch_size, seed=seed, max_steps=max_steps)
    torch.manual_seed(seed)
    net = MiniBatchGNN(model, task.num_features, hidden, task.num_outputs, num_layers=len(fanouts), dropout=dropout)
    device = torch.device(device)
    net = net.to(device)
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return task, torch.nn.parallel.DistributedDataParallel(net, device_ids=ids), book


def _device(args) -> torch.device:
    """``cpu`` or this rank's GPU (``cuda:LOCAL_RANK``, torchrun's variable), checked before the
    process group starts so that a CPU-only host fails with a clear message, not inside NCCL."""
    if args.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SystemExit("gnnkit.distributed.train: --device cuda, but torch sees no CUDA device "
                         f"(torch {torch.__version__}, CUDA build: {torch.version.cuda})")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if local >= torch.cuda.device_count():
        raise SystemExit(f"gnnkit.distributed.train: LOCAL_RANK {local} but only {torch.cuda.device_count()} "
                         "CUDA device(s) on this host (start at most that many processes per node)")
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    device = _device(args)
    backend = args.backend or ("nccl" if device.type == "cuda" or (torch.cuda.is_available() and
                                                                 os.environ.get("GNNKIT_DIST_NCCL")) else "gloo")
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=args.timeout))
    rank = dist.get_rank()
    try:
        task, model, book = build(args.parts, model=args.model, fanouts=args.fanouts, hidden=args.hidden,
                                  dropout=args.dropout, batch_size=args.batch_size, seed=args.seed,
                                  max_steps=args.max_steps, device=device)
        cbs = []
        if args.checkpoint and args.resume:
            cbs.append(Resume(args.checkpoint, book))
        if args.checkpoint:
            cbs.append(Checkpoint(args.checkpoint, book))
        log = EpochLog()
        cbs.append(log)
        monitor = "val_metric" if (args.patience and "val" in task.eval_splits) else "last"
        config = TrainConfig(optimizer="adam", lr=args.lr, weight_decay=args.weight_decay, epochs=args.epochs,
                             patience=args.patience if monitor != "last" else None, monitor=monitor,
                             eval_every=args.eval_every or args.epochs)
        res = fit(model, task, config=config, callbacks=cbs)
        if rank == 0:
            print(f"done: {res.epochs} epochs, test {res.metric} {res.test:.4f}, val {res.val:.4f}", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps({"epochs": log.records, "result": res.to_dict()}, indent=1,
                                                      default=float))
        dist.barrier()
    except (RuntimeError, ValueError, OSError) as e:
        print(f"gnnkit.distributed.train: rank {rank}: {type(e).__name__}: {e}\n"
              "(a peer rank failed or timed out, or the job's input is wrong)", file=sys.stderr, flush=True)
        sys.stdout.flush()
        # no orderly teardown: with a dead peer, tearing the process group down can block or
        # abort in gloo's threads; the exit code is what torchrun and the user need
        os._exit(1)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
