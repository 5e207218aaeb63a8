"""k-fold cross-validation of graph classifiers on the expressivity sets (CSL, EXP).

Protocol (PathNN paper, official ``synthetic/configs``): Adam lr 1e-3, no weight decay, fixed
epochs, the model of the config (PathNN-SP / SP+: K = 11 (``cutoff`` 12), hidden 64, batch 32;
PathNN-AP: K = 5 (``cutoff`` 6), hidden 64, batch 8, distance encoding and l2 normalisation; no
batch norm, residual, dropout 0).  Folds: ``GraphDataset.kfold`` (stratified, seeded); the test
fold ``i`` tests on slice ``i``, validates on slice ``i + 1`` and trains on the other 8; the test
accuracy of a fold is read at the epoch of best validation accuracy (latest on ties), as the
official code selects its checkpoint on a validation split.

    python experiments/graph_cv.py --dataset csl --model pathnn-sp+ --epochs 200 --log run.log

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
                   batch_norm=False, encode_distances=dist, l2_norm=dist, dedupe=args.dedupe)
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
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-dedupe", dest="dedupe", action="store_false")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--log", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_synthetic(args.dataset)
    log = open(args.log, "a") if args.log else None

    def say(msg):
        print(msg, flush=True)
        if log:
            log.write(msg + "\n")
            log.flush()

    say(f"# {args.dataset} {args.model} {vars(args)} load={os.getloadavg()[0]:.1f}")
    accs, times = [], []
    for f, split in enumerate(ds.kfold(args.folds, seed=args.seed)[:args.run_folds]):
        torch.manual_seed(args.seed + f)
        model, cache, bs = build(args.model, ds, args)
        extras = [cache] if cache is not None else []
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        train = GraphLoader(ds, split["train"], bs, shuffle=True, seed=args.seed + f, extras=extras)
        evals = {k: GraphLoader(ds, split[k], 256, extras=extras) for k in ("valid", "test")}
        t0 = time.perf_counter()
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
            if ep % 10 == 9 or ep == args.epochs - 1:
                say(f"fold {f} epoch {ep + 1} loss {tot / split['train'].numel():.4f} val {acc['valid']:.1f} "
                    f"test {acc['test']:.1f} best@{best[2]} {best[1]:.1f} t {time.perf_counter() - t0:.0f}s "
                    f"load {os.getloadavg()[0]:.1f}")
        accs.append(best[1])
        times.append((time.perf_counter() - t0) / args.epochs)
    res = {"dataset": args.dataset, "model": args.model, "folds": args.folds,
           "folds_run": len(accs), "epochs": args.epochs,
           "acc_mean": statistics.mean(accs), "acc_std": statistics.pstdev(accs), "acc": accs,
           "sec_per_epoch": statistics.mean(times)}
    say("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
