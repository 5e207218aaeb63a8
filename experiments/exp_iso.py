"""EXP pair separation with untrained models (the PathNN paper's EXP protocol, "iso" task).

For every (SAT, UNSAT) pair of EXP (600 pairs, 1-WL indistinguishable), a randomly initialised
model in float64 embeds both graphs (sum readout, no prediction head, eval mode); the pair is
*separated* when the embeddings differ by more than ``--eps`` relative to their scale.  The
official code (synthetic/main.py ``main_iso``) runs 5 random initialisations and counts
indistinguishable pairs; here: PathNN-AP (K = 5, hidden 16, distance encoding, l2 norm, the
official EXP config), PathNN-SP / SP+ (K = 11, hidden 16) and GIN (4 layers, hidden 16, the 1-WL
bound).  Last line: ``RESULT {json}``.

    python experiments/exp_iso.py --seeds 5
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gnnkit.graphlevel import GraphLoader, PathCache  # noqa: E402
from gnnkit.graphlevel.synthetic import load_synthetic  # noqa: E402
from gnnkit.nn.gin import GIN  # noqa: E402
from gnnkit.nn.pathnn import PathNN  # noqa: E402
from gnnkit.nn.pool import global_pool  # noqa: E402


def embed(name, ds, seed, cache_dir, pairs):
    torch.manual_seed(seed)
    ids = torch.arange(2 * pairs)
    if name == "gin":
        m = GIN(1, 16, 1, num_layers=4, dropout=0.0, readout="add").double().eval()
        extras = []

        def f(b):
            h = m.node_encoder(b.x.double())
            for i in range(m.num_layers):
                h = m.bns[i](m.convs[i](h, b.graph))
                h = torch.relu(h)
            return global_pool(h, b.batch, "add", b.num_graphs)
    else:
        mode = name.split("-")[1]
        K, dist = (5, True) if mode == "ap" else (11, False)
        m = PathNN(1, 16, 1, K, mode=mode, batch_norm=False, encode_distances=dist, l2_norm=True,
                   dedupe=True).double().eval()
        extras = [PathCache(ds, K, mode, distances=dist, cache_dir=cache_dir, parents=False)]

        def f(b):
            return global_pool(m.node_embeddings(b.x.double(), b.extra["paths"]), b.batch, "add",
                               b.num_graphs)
    outs = []
    with torch.no_grad():
        for b in GraphLoader(ds, ids, batch_size=64, extras=extras):
            outs.append(f(b))
    return torch.cat(outs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="pathnn-ap,gin")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--cache", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ds = load_synthetic("exp")
    res = {"pairs": args.pairs, "seeds": args.seeds, "eps": args.eps}
    for name in args.models.split(","):
        rates, gaps = [], []
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            e = embed(name, ds, seed, args.cache, args.pairs)
            a, b = e[0::2], e[1::2]
            scale = torch.maximum(a.abs().amax(1), b.abs().amax(1)).clamp(min=1e-300)
            rel = (a - b).abs().amax(1) / scale
            sep = (rel > args.eps).double().mean().item()
            rates.append(100.0 * sep)
            gaps.append(rel)
        # how far apart the pairs are, not only whether: quantiles of the relative gap
        q = torch.quantile(torch.cat(gaps), torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)).tolist()
        res[name] = {"separated_pct": rates, "mean": sum(rates) / len(rates),
                     "relative_gap_min_median_max": q, "seconds": time.perf_counter() - t0}
        print(f"{name}: pairs separated {res[name]['mean']:.1f} % (per seed {rates}); relative gap "
              f"min / median / max {q[0]:.2e} / {q[1]:.2e} / {q[2]:.2e}  load {os.getloadavg()[0]:.1f}", flush=True)
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
