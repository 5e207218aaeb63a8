"""Where a GIN training step goes, and what one autograd node per GIN layer saves (issue #18).

The benchmark's GIN (``bench_graph_batching.py``: 3 layers, hidden 64, MLP hidden 128, mean
readout, batches of 128 molecule-sized graphs = ~3,200 nodes) on pre-collated batches, one
thread:

1. the step of :class:`gnnkit.nn.gin.GIN` with ``fuse_layers = False`` and its ``torch.profiler``
   self-CPU split per step: dense matmuls (mm / addmm), ``batch_norm_relu`` forward + backward,
   ``spmm``, Adam, everything else;
2. the same model with ``GIN.fuse_layers = True`` (the default since session 6): each GIN layer
   with its BatchNorm (+ ReLU) as ONE autograd node (:mod:`gnnkit.nn._gin_fused`), against
   ``fuse_layers = False`` (the modules one by one); outputs, gradients and running statistics
   are compared first.

    python experiments/probe_gin_step.py --graphs 20000

Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import triad_gbps  # noqa: E402
from bench_graph_batching import make_graphs  # noqa: E402
from gnnkit.graphlevel import GraphDataset, GraphLoader  # noqa: E402
from gnnkit.nn.gin import GIN  # noqa: E402


def forward_with(fused: bool):
    def fwd(model: GIN, x, graph, batch, num_graphs):
        model.fuse_layers = fused
        return model(x, graph, batch, num_graphs)
    return fwd


def check_fused(batch) -> float:
    """Max abs difference of outputs, parameter gradients and running statistics, fused layers vs
    the modules one by one (same weights)."""
    torch.manual_seed(0)
    a = GIN(9, 64, 1, num_layers=3, dropout=0.0, readout="mean")
    b = copy.deepcopy(a)
    oa = forward_with(False)(a, batch.x, batch.graph, batch.batch, batch.num_graphs)
    ob = forward_with(True)(b, batch.x, batch.graph, batch.batch, batch.num_graphs)
    oa.sum().backward()
    ob.sum().backward()
    diff = (oa - ob).abs().max().item()
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        diff = max(diff, (pa.grad - pb.grad).abs().max().item())
    for (_, ba), (_, bb) in zip(a.named_buffers(), b.named_buffers()):
        diff = max(diff, (ba.double() - bb.double()).abs().max().item())
    return diff


def time_steps(forward, batches, repeat: int):
    torch.manual_seed(0)
    model = GIN(9, 64, 1, num_layers=3, dropout=0.0, readout="mean")
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step(b):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(forward(model, b.x, b.graph, b.batch, b.num_graphs), b.target).backward()
        opt.step()

    for b in batches[:5]:
        step(b)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for b in batches:
            step(b)
        best = min(best, (time.perf_counter() - t) / len(batches))
    return best * 1e3, model, opt, step


def split(step, batches, steps: int) -> dict:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[:steps]:
            step(b)
    groups = {"matmul": ("aten::mm", "aten::addmm", "aten::bmm"),
              "batch_norm_relu": ("gnnkit::batch_norm_relu", "gnnkit::batch_norm_relu_backward"),
              "spmm": ("gnnkit::spmm_sum",), "adam": ("Optimizer.step#Adam.step",)}
    ev = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ev)
    out = {k: sum(e.self_cpu_time_total for e in ev if e.key in names) / 1e3 / steps for k, names in groups.items()}
    # Adam's own self time excludes its ops; count the whole optimizer step instead
    out["adam"] = sum(e.cpu_time_total for e in ev if e.key == "Optimizer.step#Adam.step") / 1e3 / steps
    out["total_self"] = total / 1e3 / steps
    return {k: round(v, 3) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile-steps", type=int, default=20)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"load {os.getloadavg()}  triad {triad_gbps(20_000_000):.1f} GB/s  threads {args.threads}", flush=True)
    n, m, src, dst, x, ea, y = make_graphs(args.graphs)
    ds = GraphDataset.from_coo(src, dst, n, m, torch.from_numpy(y), x=torch.from_numpy(x).float(),
                               edge_attr=torch.from_numpy(ea), add_reverse=True, task_type="binary", name="probe")
    batches = list(GraphLoader(ds, batch_size=128, shuffle=True, seed=0))
    diff = check_fused(batches[0])
    res = {"graphs": args.graphs, "batches": len(batches), "threads": args.threads, "fused_max_abs_diff": diff}
    for name, fwd in (("module", forward_with(False)), ("one_node_per_layer", forward_with(True))):
        ms, _, _, step = time_steps(fwd, batches, args.repeat)
        res[f"step_ms_{name}"] = round(ms, 3)
        res[f"split_ms_{name}"] = split(step, batches, args.profile_steps)
        print(f"{name:20s} step {ms:.2f} ms  per-step self CPU: {res[f'split_ms_{name}']}", flush=True)
    res["probe_gain"] = round(res["step_ms_module"] / res["step_ms_one_node_per_layer"], 3)
    res["load"] = os.getloadavg()[0]
    print(f"one autograd node per layer: {res['probe_gain']:.2f}x the module step (max abs diff {diff:.1e})")
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
