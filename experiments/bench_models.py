"""Full-batch training-epoch benchmark: gnnkit GCN / GAT against PyG's GCNConv / GATConv.

Usage::

    python experiments/bench_models.py [--nodes 1000000] [--edges 10000000] [--threads 2]
        [--repeat 5] [--warmup 1] [--models gcn,gat] [--attn-dropout 0.0]

One epoch = forward, cross-entropy over all nodes, backward, Adam step.  Identical
architectures: GCN 128 -> 128 -> 40 (ReLU), GAT 128 -> 8 heads x 8 (ELU) -> 1 head x 40; no input
dropout (to time the message passing, not the RNG); GAT attention dropout ``--attn-dropout``.
The graph is a seeded R-MAT power-law multigraph (``gnnkit.data.powerlaw.powerlaw_graph``, with
R-MAT's self loops and repeated arcs); PyG gets the same arcs as ``edge_index``.  GCN runs with
``cached=True`` in both libraries (normalisation once; PyG's default would redo ``gcn_norm``
every forward).  GAT: PyG removes and re-adds self loops every forward (its only mode); gnnkit
memoises the looped graph for the same immutable Graph.

Each (library, model) runs in a fresh subprocess so that ``ru_maxrss`` is its own; memory is
reported as the peak RSS of that process and as the growth of the peak during training above
the RSS right before the first epoch (data and graph already built).  The last line is
``RESULT {json}`` with the speedups (PyG epoch time / gnnkit epoch time) and memory ratios
(gnnkit / PyG, training growth).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

IN_CHANNELS, HIDDEN, CLASSES, HEADS, HEAD_DIM = 128, 128, 40, 8, 8


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build_model(impl: str, model: str, attn_dropout: float):
    import torch
    import torch.nn.functional as F

    if impl == "gnnkit":
        from gnnkit.nn import GATConv, GCNConv
    else:
        from torch_geometric.nn import GATConv, GCNConv

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if model == "gcn":
                self.c1 = GCNConv(IN_CHANNELS, HIDDEN, cached=True)
                self.c2 = GCNConv(HIDDEN, CLASSES, cached=True)
                self.act = F.relu
            else:
                self.c1 = GATConv(IN_CHANNELS, HEAD_DIM, heads=HEADS, dropout=attn_dropout)
                self.c2 = GATConv(HEADS * HEAD_DIM, CLASSES, heads=1, concat=False,
                                  dropout=attn_dropout)
                self.act = F.elu

        def forward(self, x, g):
            return self.c2(self.act(self.c1(x, g)), g)

    return Net()


def child(args) -> None:
    import torch
    import torch.nn.functional as F

    from gnnkit.data.powerlaw import powerlaw_graph

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g = powerlaw_graph(args.nodes, args.edges, seed=0)
    x = torch.randn(args.nodes, IN_CHANNELS)
    y = torch.randint(0, CLASSES, (args.nodes,))
    graph = g if args.impl == "gnnkit" else g.edge_index
    if args.impl == "gnnkit":
        g.transpose()  # build the cached transpose (backward) outside the timed epochs
    del g
    net = _build_model(args.impl, args.model, args.attn_dropout)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    rss0 = _rss_mb()
    times = []
    for i in range(args.warmup + args.repeat):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(net(x, graph), y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt)
    print("CHILD " + json.dumps({
        "impl": args.impl, "model": args.model, "epoch_s_median": statistics.median(times),
        "epoch_s_all": times, "peak_rss_mb": _maxrss_mb(), "rss_before_mb": rss0,
        "train_peak_growth_mb": max(0.0, _maxrss_mb() - rss0), "loss": loss.item()}), flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--edges", type=int, default=1_000_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", default="gcn,gat")
    p.add_argument("--attn-dropout", type=float, default=0.0)
    p.add_argument("--impls", default="gnnkit,pyg", help="libraries to run (default both)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", default=None, help=argparse.SUPPRESS)
    p.add_argument("--model", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    print(f"bench: nodes={args.nodes} edges={args.edges} threads={args.threads} "
          f"repeat={args.repeat} warmup={args.warmup}", flush=True)
    res = {}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    for model in args.models.split(","):
        for impl in args.impls.split(","):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--impl", impl,
                   "--model", model, "--nodes", str(args.nodes), "--edges", str(args.edges),
                   "--threads", str(args.threads), "--repeat", str(args.repeat),
                   "--warmup", str(args.warmup), "--attn-dropout", str(args.attn_dropout)]
            t0 = time.time()
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("CHILD ")]
            if out.returncode != 0 or not line:
                print(f"{impl} {model} FAILED (rc={out.returncode}):\n{out.stderr[-3000:]}", flush=True)
                res[(impl, model)] = None
                continue
            r = json.loads(line[-1][6:])
            res[(impl, model)] = r
            print(f"{impl:6s} {model}: epoch {1000 * r['epoch_s_median']:9.1f} ms (median of "
                  f"{args.repeat}), peak RSS {r['peak_rss_mb']:8.0f} MiB, training growth "
                  f"{r['train_peak_growth_mb']:8.0f} MiB  [{time.time() - t0:.0f}s]", flush=True)
    summary = {"nodes": args.nodes, "edges": args.edges, "threads": args.threads,
               "repeat": args.repeat}
    for model in args.models.split(","):
        a, b = res.get(("gnnkit", model)), res.get(("pyg", model))
        if a and b:
            summary[f"gnnkit_{model}_epoch_s"] = a["epoch_s_median"]
            summary[f"pyg_{model}_epoch_s"] = b["epoch_s_median"]
            summary[f"speedup_vs_pyg_{model}"] = b["epoch_s_median"] / a["epoch_s_median"]
            summary[f"memory_ratio_{model}_peak_rss"] = a["peak_rss_mb"] / b["peak_rss_mb"]
            if b["train_peak_growth_mb"] > 0:
                summary[f"memory_ratio_{model}_train_growth"] = (
                    a["train_peak_growth_mb"] / b["train_peak_growth_mb"])
    print("RESULT " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
