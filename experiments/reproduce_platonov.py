"""Platonov et al. (ICLR 2023) protocol on the heterophily graphs: the paper's model family
(gnnkit.nn.ResidualGNN via the registry names res-gcn, res-sage, res-gat, res-gat-sep, res-gt,
res-gt-sep, resnet, resnet-sgc, resnet-adj), one logit + BCE for binary graphs (ROC-AUC) or
cross-entropy (accuracy), AdamW (no weight decay on biases and normalisation, as the official
``get_parameter_groups``), full-batch steps, evaluation every ``--eval-every`` steps (the paper: 1)
and the test metric at the best validation step (no early stopping).

    python experiments/reproduce_platonov.py --dataset minesweeper --model res-gcn --splits 0 1 2 \
        --hidden 128 --layers 3 --lr 1e-3 --steps 1000 --eval-every 5 --amp --threads 1

``--amp`` runs forward passes under CPU bf16 autocast (the paper trains with CUDA fp16 AMP).
Prints one line per split and a last line ``RESULT {json}`` (mean/std of the test metric, time).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Exact ROC-AUC (Mann-Whitney U with midranks for ties)."""
    from scipy.stats import rankdata

    pos = labels == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    r = rankdata(scores)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def param_groups(model):
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "norm" in n]
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "norm" in n)]
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


def run_split(ds, args, split):
    from gnnkit.nn import get_model

    binary = ds.num_classes == 2
    y = ds.y.float() if binary else ds.y
    sp = ds.split(split)
    torch.manual_seed(split)
    kw = {"hidden_channels": args.hidden, "num_layers": args.layers, "dropout": args.dropout}
    if args.model in ("res-gat", "res-gat-sep", "res-gt", "res-gt-sep"):
        kw["heads"] = args.heads
    if args.model == "resnet-adj":
        kw["num_nodes"] = ds.num_nodes
    model = get_model(args.model, ds.num_features, 1 if binary else ds.num_classes, **kw)
    opt = torch.optim.AdamW(param_groups(model), lr=args.lr, weight_decay=args.weight_decay)
    loss_fn = F.binary_cross_entropy_with_logits if binary else F.cross_entropy

    def metric(out, idx):
        if binary:
            return roc_auc(out[idx].numpy(), y[idx].numpy())
        return float((out[idx].argmax(-1) == y[idx]).float().mean())

    best, t_train, t0 = (-1.0, 0.0, 0), 0.0, time.perf_counter()
    for step in range(1, args.steps + 1):
        t = time.perf_counter()
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
            out = model(ds.x, ds.graph)
        out = out.float()[:, 0] if binary else out.float()
        loss = loss_fn(out[sp["train"]], y[sp["train"]])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t_train += time.perf_counter() - t
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
                out = model(ds.x, ds.graph)
            out = out.float()[:, 0] if binary else out.float()
            val = metric(out, sp["val"])
            if val > best[0]:
                best = (val, metric(out, sp["test"]), step)
    return {"split": split, "val": best[0], "test": best[1], "best_step": best[2],
            "time_s": time.perf_counter() - t0, "train_ms_per_step": 1000 * t_train / args.steps,
            "num_parameters": sum(p.numel() for p in model.parameters())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="minesweeper")
    p.add_argument("--model", default="res-gcn")
    p.add_argument("--splits", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--eval-every", type=int, default=1)
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CPU)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--root", default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from gnnkit.data import get_dataset

    ds = get_dataset(args.dataset, root=args.root)
    t0 = time.perf_counter()
    runs = []
    for s in args.splits:
        r = run_split(ds, args, s)
        runs.append(r)
        print(json.dumps(r), flush=True)
    tests = [100 * r["test"] for r in runs]
    res = {"dataset": args.dataset, "model": args.model, "metric": ds.metric, "splits": args.splits,
           "test_mean": statistics.fmean(tests), "test_std": statistics.stdev(tests) if len(tests) > 1 else 0.0,
           "wall_s": time.perf_counter() - t0, "threads": torch.get_num_threads(),
           "loadavg": os.getloadavg(), "args": vars(args), "command": " ".join(sys.argv)}
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
