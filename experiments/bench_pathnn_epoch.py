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
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    K, bs, dist = (5, 8, True) if args.model == "ap" else (11, 32, False)
    ds = load_synthetic("csl")
    t0 = time.perf_counter()
    cache = PathCache(ds, K, args.model, distances=dist, cache_dir=args.cache, parents=not args.dedupe)
    t_cache = time.perf_counter() - t0
    model = PathNN(1, 64, 10, K, mode=args.model, batch_norm=False, encode_distances=dist,
                   l2_norm=dist, dedupe=args.dedupe)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loader = GraphLoader(ds, batch_size=bs, shuffle=True, extras=[cache], num_workers=args.workers,
                         prefetch=args.prefetch)
    rows = []
    for epoch in (1, 2):
        inner = 0.0
        t0 = time.perf_counter()
        for b in loader:
            t1 = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(model(b.x, b.extra["paths"], b.batch, b.num_graphs), b.target).backward()
            opt.step()
            inner += time.perf_counter() - t1
        total = time.perf_counter() - t0
        rows.append({"epoch": epoch, "epoch_s": total, "fwd_bwd_s": inner,
                     "outside_share": 1 - inner / total})
        print(f"epoch {epoch}: {total:.2f} s, forward+backward {inner:.2f} s, outside "
              f"{100 * (1 - inner / total):.1f} %  load {os.getloadavg()[0]:.1f}", flush=True)
    res = {"model": f"pathnn-{args.model}", "K": K, "batch_size": bs, "workers": args.workers, "prefetch": args.prefetch, "cache_loaded": cache.loaded,
           "cache_s": t_cache, "epochs": rows, "second_epoch_outside_share": rows[1]["outside_share"],
           "load": os.getloadavg()[0]}
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
