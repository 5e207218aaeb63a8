"""What the Platonov et al. protocol costs on this machine: the 20-minute budget of issue #16.

The paper's minesweeper protocol (Platonov et al., ICLR 2023): 10 splits x 1000 full-batch AdamW
steps of a 5 x 512 residual model (``res-gcn``: input linear, 5 pre-LayerNorm blocks of GCN ->
GELU -> linear, output linear), evaluated after every step.  This script times one training step
and one evaluation of exactly that model (bf16 autocast, the CPU counterpart of the paper's fp16
AMP, and float32), counts their matmul FLOPs (torch's FlopCounterMode: mm / addmm / bmm), measures
the machine's dense matmul rate at the model's shape ``[N, 512] x [512, 512]`` and its triad
bandwidth, and projects the whole protocol:

    projected = 10 splits x 1000 x (t_train_step + t_eval)
    matmul bound = 10 x 1000 x (FLOPs_train + FLOPs_eval) / measured matmul rate

The matmul bound is a floor (the rest of a step -- LayerNorm, GELU, dropout, residual adds, the
aggregation, casts -- streams [N, 512] activations through memory and adds to it).

    python experiments/platonov_budget.py --threads 2 [--dtype bf16 fp32] [--steps 10]

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import triad_gbps  # noqa: E402

SPLITS, STEPS, BUDGET_S = 10, 1000, 20 * 60


def matmul_rate(n: int, d: int, dtype: torch.dtype, reps: int = 10) -> float:
    """GFLOP/s of ``[n, d] @ [d, d]`` (best of ``reps``)."""
    a, b = torch.randn(n, d, dtype=dtype), torch.randn(d, d, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n * d * d / best / 1e9


def measure(ds, split: int, dtype: str, hidden: int, layers: int, steps: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from gnnkit.nn import get_model

    torch.manual_seed(0)
    model = get_model("res-gcn", ds.num_features, 1, hidden_channels=hidden, num_layers=layers, dropout=0.2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5)
    y, tr = ds.y.float(), ds.split(split)["train"]
    amp = dtype == "bf16"

    def train_step():
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(ds.x, ds.graph)
        loss = F.binary_cross_entropy_with_logits(out.float()[:, 0][tr], y[tr])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def evaluate():
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            model(ds.x, ds.graph)

    def timed(fn):
        for _ in range(2):
            fn()
        ts = []
        for _ in range(steps):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    t_train, t_eval = timed(train_step), timed(evaluate)
    with FlopCounterMode(display=False) as fc:
        train_step()
    f_train = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        evaluate()
    f_eval = fc.get_total_flops()
    rate = matmul_rate(ds.num_nodes, hidden, torch.bfloat16 if amp else torch.float32)
    per_step = t_train + t_eval
    projected = SPLITS * STEPS * per_step
    bound = SPLITS * STEPS * (f_train + f_eval) / (rate * 1e9)
    return {"dtype": dtype, "train_step_s": round(t_train, 4), "eval_s": round(t_eval, 4),
            "matmul_gflop_train": round(f_train / 1e9, 2), "matmul_gflop_eval": round(f_eval / 1e9, 2),
            "matmul_gflops_measured": round(rate, 1),
            "matmul_share_of_step": round((f_train + f_eval) / (rate * 1e9) / per_step, 3),
            "projected_protocol_min": round(projected / 60, 1), "matmul_bound_min": round(bound / 60, 1),
            "budget_min": BUDGET_S / 60, "speedup_needed": round(projected / BUDGET_S, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="minesweeper")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="timed steps (median)")
    ap.add_argument("--root", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from gnnkit.data import get_dataset

    ds = get_dataset(args.dataset, root=args.root)
    res = {"dataset": args.dataset, "nodes": ds.num_nodes, "threads": args.threads,
           "hidden": args.hidden, "layers": args.layers, "loadavg_start": os.getloadavg(),
           "triad_gbps": round(triad_gbps(20_000_000), 1), "runs": []}
    print(f"{args.dataset}: {ds.num_nodes} nodes, threads {args.threads}, triad {res['triad_gbps']} GB/s, "
          f"load {res['loadavg_start'][0]:.1f}", flush=True)
    for dt in args.dtype:
        r = measure(ds, 0, dt, args.hidden, args.layers, args.steps)
        res["runs"].append(r)
        print(f"{dt}: train step {1e3 * r['train_step_s']:.0f} ms, eval {1e3 * r['eval_s']:.0f} ms; matmul "
              f"{r['matmul_gflop_train']} + {r['matmul_gflop_eval']} GFLOP at {r['matmul_gflops_measured']} GFLOP/s "
              f"= {100 * r['matmul_share_of_step']:.0f}% of the step; protocol {r['projected_protocol_min']} min "
              f"(matmul floor {r['matmul_bound_min']} min, budget {r['budget_min']:.0f} min)", flush=True)
    res["loadavg_end"] = os.getloadavg()
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
