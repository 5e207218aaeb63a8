"""k-fold cross-validation of graph classifiers on the expressivity sets (CSL, EXP).

Protocol (PathNN paper, official ``synthetic/configs``): Adam lr 1e-3, no weight decay, fixed
epochs, the model of the config (PathNN-SP / SP+: K = 11 (``cutoff`` 12), hidden 64, batch 32;
PathNN-AP: K = 5 (``cutoff`` 6), hidden 64, batch 8, distance encoding and l2 normalisation; no
batch norm, residual, dropout 0).  Folds: ``GraphDataset.kfold`` (stratified, seeded); the test
fold ``i`` tests on slice ``i``, validates on slice ``i + 1`` and trains on the other 8; the test
accuracy of a fold is read at the epoch of best validation accuracy (latest on ties), as the
official code selects its checkpoint on a validation split.

    python experiments/graph_cv.py --dataset csl --model pathnn-sp+ --epochs 200 --log run.log
    python experiments/graph_cv.py ... --fold-ids 0,2,4,6,8 --log a.log   # folds split over
    python experiments/graph_cv.py ... --fold-ids 1,3,5,7,9 --log b.log   # two processes
    python experiments/graph_cv.py --merge a.log b.log

Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gnnkit.graphlevel import GraphLoader, PathCache  # noqa: E402
from gnnkit.graphlevel.synthetic import load_synthetic  # noqa: E402
from gnnkit.nn.gin import GIN  # noqa: E402
from gnnkit.nn.pathnn import PathNN  # noqa: E402

PAPER = {  # model -> (K, hidden, batch size, distances+l2)
    "pathnn-sp": (11, 64, 32, False), "pathnn-sp+": (11, 64, 32, False),
    "pathnn-ap": (5, 64, 8, True),
}


def build(name, ds, args):
    if name == "gin":
        return GIN(ds.num_features, args.hidden or 64, ds.num_classes, num_layers=args.layers,
                   dropout=0.0, readout="add", mlp_ratio=1), None, args.bs or 32
    K, d, bs, dist = PAPER[name]
    K = args.K or K
    mode = name.split("-")[1]
    model = PathNN(ds.num_features, args.hidden or d, ds.num_classes, K, mode=mode,
                   batch_norm=args.batch_norm, encode_distances=dist, l2_norm=dist and args.l2_norm,
                   readout=args.readout, dedupe=args.dedupe)
    cache = PathCache(ds, K, mode, distances=dist, cache_dir=args.cache, parents=not args.dedupe)
    return model, cache, args.bs or bs


def forward(model, b):
    if isinstance(model, PathNN):
        return model(b.x, b.extra["paths"], b.batch, b.num_graphs)
    return model(b.x, b.graph, b.batch, b.num_graphs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="csl")
    ap.add_argument("--model", default="pathnn-sp+")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--K", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=None)
    ap.add_argument("--bs", type=int, default=None)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run-folds", type=int, default=None,
                    help="train only the first N of the folds (reported as such)")
    ap.add_argument("--fold-ids", default=None,
                    help="comma-separated fold numbers to train (e.g. 0,2,4: split the folds "
                         "over processes; merge the RESULT lines with --merge)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="LOG",
                    help="print one RESULT over the per-fold lines of these logs and exit")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=10, help="progress line every N epochs")
    ap.add_argument("--no-dedupe", dest="dedupe", action="store_false")
    # departures from the paper's PathNN recipe (reported as such): batch norm in the encoder and
    # the path layers, no l2 normalisation, another readout
    ap.add_argument("--batch-norm", action="store_true")
    ap.add_argument("--no-l2", dest="l2_norm", action="store_false")
    ap.add_argument("--readout", default="add", choices=("add", "mean", "max"))
    ap.add_argument("--cache", default=None)
    ap.add_argument("--log", default=None)
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge)
    torch.set_num_threads(args.threads)
    ds = load_synthetic(args.dataset)
    log = open(args.log, "a") if args.log else None

    def say(msg):
        print(msg, flush=True)
        if log:
            log.write(msg + "\n")
            log.flush()

    say(f"# {args.dataset} {args.model} {vars(args)} load={os.getloadavg()[0]:.1f}")
    accs, times, cpus = [], [], []
    folds = list(enumerate(ds.kfold(args.folds, seed=args.seed)))[:args.run_folds]
    if args.fold_ids is not None:
        ids = [int(i) for i in args.fold_ids.split(",")]
        bad = [i for i in ids if not 0 <= i < args.folds]
        if bad:
            raise ValueError(f"graph_cv: --fold-ids must lie in [0, {args.folds}), got {bad}")
        folds = [folds[i] for i in ids]
    for f, split in folds:
        torch.manual_seed(args.seed + f)
        model, cache, bs = build(args.model, ds, args)
        extras = [cache] if cache is not None else []
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        train = GraphLoader(ds, split["train"], bs, shuffle=True, seed=args.seed + f, extras=extras)
        evals = {k: GraphLoader(ds, split[k], 256, extras=extras) for k in ("valid", "test")}
        t0, c0 = time.perf_counter(), time.process_time()
        best = (-1.0, 0.0, 0)
        for ep in range(args.epochs):
            model.train()
            tot = 0.0
            for b in train:
                opt.zero_grad()
                loss = F.cross_entropy(forward(model, b), b.target)
                loss.backward()
                loss = loss.detach()
                opt.step()
                tot += float(loss) * b.num_graphs
            model.eval()
            acc = {}
            with torch.no_grad():
                for k, ld in evals.items():
                    correct = sum(int((forward(model, b).argmax(1) == b.target).sum()) for b in ld)
                    acc[k] = 100.0 * correct / split[k].numel()
            if acc["valid"] >= best[0]:
                best = (acc["valid"], acc["test"], ep + 1)
            if (ep + 1) % args.log_every == 0 or ep == args.epochs - 1:
                say(f"fold {f} epoch {ep + 1} loss {tot / split['train'].numel():.4f} val {acc['valid']:.1f} "
                    f"test {acc['test']:.1f} best@{best[2]} {best[1]:.1f} t {time.perf_counter() - t0:.0f}s "
                    f"load {os.getloadavg()[0]:.1f}")
        accs.append(best[1])
        times.append((time.perf_counter() - t0) / args.epochs)
        cpus.append((time.process_time() - c0) / args.epochs)
        say(f"FOLD {json.dumps({'fold': f, 'acc': best[1], 'best_epoch': best[2], 'cpu_per_epoch': cpus[-1]})}")
    res = {"dataset": args.dataset, "model": args.model, "folds": args.folds,
           "folds_run": len(accs), "epochs": args.epochs,
           "acc_mean": statistics.mean(accs), "acc_std": statistics.pstdev(accs), "acc": accs,
           "sec_per_epoch": statistics.mean(times), "cpu_sec_per_epoch": statistics.mean(cpus)}
    say("RESULT " + json.dumps(res))
    return 0


def merge(logs) -> int:
    """One ``RESULT`` line over the ``FOLD`` lines of several logs (a fold seen twice: last)."""
    head, per = None, {}
    for path in logs:
        for line in open(path):
            if line.startswith("# ") and head is None:
                head = line.strip()
            if line.startswith("FOLD "):
                rec = json.loads(line[5:])
                per[rec["fold"]] = rec
    if not per:
        raise ValueError(f"graph_cv --merge: no FOLD lines in {logs}")
    accs = [per[f]["acc"] for f in sorted(per)]
    print(head)
    print("RESULT " + json.dumps({"folds_run": sorted(per), "acc_mean": statistics.mean(accs),
                                  "acc_std": statistics.pstdev(accs), "acc": accs,
                                  "best_epoch": [per[f]["best_epoch"] for f in sorted(per)],
                                  "cpu_sec_per_epoch": statistics.mean(
                                      per[f]["cpu_per_epoch"] for f in sorted(per))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
