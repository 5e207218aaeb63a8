"""Share of a PathNN training epoch spent outside forward/backward (paths precomputed once).

CSL, the PathNN paper's settings (SP+: K = 11, hidden 64, batch 32; AP: K = 5, batch 8, distance
encoding), paths from :class:`gnnkit.graphlevel.PathCache` (enumerated once, cached on disk),
batches from :class:`gnnkit.graphlevel.GraphLoader`.  Epoch 1 includes loading the cache; the
figure is epoch 2: ``1 - (forward + backward + step) / epoch``.  Last line: ``RESULT {json}``.

    python experiments/bench_pathnn_epoch.py --model sp+
"""
from __future__ import annotations

import argparse
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
from gnnkit.graphlevel import GraphLoader, PathCache  # noqa: E402
from gnnkit.graphlevel.synthetic import load_synthetic  # noqa: E402
from gnnkit.nn.pathnn import PathNN  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sp+", choices=["sp", "sp+", "ap"])
    ap.add_argument("--cache", default=None)
    ap.add_argument("--no-dedupe", dest="dedupe", action="store_false")
    ap.add_argument("--workers", type=int, default=0, help="collating processes")
    ap.add_argument("--prefetch", type=int, default=0, help="batches collated ahead in a thread")
    ap.add_argument("--gather", default="auto", choices=["auto", "blocks", "rows"],
                    help="PathCache.gather method (auto: the cache's choice)")
    ap.add_argument("--epochs", type=int, default=2,
                    help="epochs to run (>= 2); also reports the mean share over epochs 2..N")
    args = ap.parse_args(argv)
    if args.epochs < 2:
        raise ValueError(f"bench_pathnn_epoch: --epochs must be >= 2, got {args.epochs}")
    torch.set_num_threads(1)
    K, bs, dist = (5, 8, True) if args.model == "ap" else (11, 32, False)
    ds = load_synthetic("csl")
    t0 = time.perf_counter()
    cache = PathCache(ds, K, args.model, distances=dist, cache_dir=args.cache, parents=not args.dedupe)
    t_cache = time.perf_counter() - t0
    model = PathNN(1, 64, 10, K, mode=args.model, batch_norm=False, encode_distances=dist,
                   l2_norm=dist, dedupe=args.dedupe)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    method = None if args.gather == "auto" else args.gather

    def paths(parts):
        return "paths", cache.gather(parts.ids, parts.node_ptr, method=method)

    loader = GraphLoader(ds, batch_size=bs, shuffle=True, extras=[paths], num_workers=args.workers,
                         prefetch=args.prefetch)
    rows = []
    for epoch in range(1, args.epochs + 1):
        inner = inner_cpu = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        for b in loader:
            t1, c1 = time.perf_counter(), time.process_time()
            opt.zero_grad()
            F.cross_entropy(model(b.x, b.extra["paths"], b.batch, b.num_graphs), b.target).backward()
            opt.step()
            inner += time.perf_counter() - t1
            inner_cpu += time.process_time() - c1
        total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"epoch": epoch, "epoch_s": total, "fwd_bwd_s": inner,
                     "outside_share": 1 - inner / total, "epoch_cpu_s": total_cpu,
                     "fwd_bwd_cpu_s": inner_cpu, "outside_share_cpu": 1 - inner_cpu / total_cpu})
        print(f"epoch {epoch}: {total:.2f} s, forward+backward {inner:.2f} s, outside "
              f"{100 * (1 - inner / total):.1f} % (CPU time: {total_cpu:.2f} s, "
              f"{inner_cpu:.2f} s, {100 * (1 - inner_cpu / total_cpu):.1f} %)  "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    res = {"model": f"pathnn-{args.model}", "K": K, "batch_size": bs, "gather": args.gather, "workers": args.workers, "prefetch": args.prefetch, "cache_loaded": cache.loaded,
           "cache_s": t_cache, "epochs": rows, "second_epoch_outside_share": rows[1]["outside_share"],
           "second_epoch_outside_share_cpu": rows[1]["outside_share_cpu"],
           "later_epochs_outside_share": 1 - sum(r["fwd_bwd_s"] for r in rows[1:])
           / sum(r["epoch_s"] for r in rows[1:]),
           "later_epochs_outside_share_cpu": 1 - sum(r["fwd_bwd_cpu_s"] for r in rows[1:])
           / sum(r["epoch_cpu_s"] for r in rows[1:]),
           "load": os.getloadavg()[0], "triad_gbps": triad_gbps(20_000_000)}
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
