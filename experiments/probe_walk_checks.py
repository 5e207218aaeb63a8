"""Per-call cost of the walk ops on a large graph, with and without the O(N + E) CSR check.

The walk ops (``random_walk`` uniform / node2vec, ``restart_walk``, ``saint_random_walk``) do
O(starts * length) work; their full CSR check (offsets monotone, every id in range) is O(N + E).
Since session 6 that check runs once per unchanged large CSR (validation memo, ``csrc/memo.h``).
Per op and thread count this prints the median of ``--repeat`` calls (ms):

* ``warm``: the same graph tensors every call (after one warm-up call): the memo hit;
* ``cold``: a fresh view of the same CSR every call (new TensorImpl: the memo misses), i.e. the
  full check plus the walks -- what every call cost before the memo.

Run it under an older build (``PYTHONPATH=<old checkout>``) for the old per-call cost.

    python experiments/probe_walk_checks.py --graph /work/big/products/graph --threads 1,2

Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import gnnkit  # noqa: F401  (before torch's threads start)
import torch

from gnnkit.data.disk import DiskGraph
from gnnkit.ops._library import ops
from gnnkit.ops.random_walk import out_csr


def median_ms(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graph", default="/work/big/products/graph", help="DiskGraph directory")
    ap.add_argument("--starts", type=int, default=1024)
    ap.add_argument("--length", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()

    g = DiskGraph(args.graph).graph()
    rp_out, col_out = out_csr(g)  # random_walk reads the CSR grouped by source
    rp_in, col_in = g.indptr, g.indices  # saint_random_walk reads the gnnkit CSR itself
    starts = torch.randint(0, g.num_nodes, (args.starts,), generator=torch.Generator().manual_seed(0))
    L, C = args.length, ops()
    calls = {
        "random_walk": lambda rp, col: C.random_walk(rp, col, starts, L, 1.0, 1.0, 0.0, 1),
        "node2vec_p0.5_q2": lambda rp, col: C.random_walk(rp, col, starts, L, 0.5, 2.0, 0.0, 1),
        "restart_walk_0.15": lambda rp, col: C.random_walk(rp, col, starts, L, 1.0, 1.0, 0.15, 1),
        "saint_random_walk": lambda rp, col: C.saint_random_walk(rp, col, starts, L, 1),
    }
    res = {"graph": args.graph, "nodes": g.num_nodes, "arcs": int(col_in.numel()), "starts": args.starts,
           "length": L, "repeat": args.repeat, "runs": []}
    for t in [int(x) for x in args.threads.split(",")]:
        torch.set_num_threads(t)
        load0 = os.getloadavg()[0]
        row = {"threads": t, "ops": {}}
        for name, fn in calls.items():
            rp, col = (rp_in, col_in) if name.startswith("saint") else (rp_out, col_out)
            fn(rp, col)  # warm-up (fills the memo where the build has one)
            warm = median_ms(lambda: fn(rp, col), args.repeat)
            cold = median_ms(lambda: fn(rp.view(-1), col.view(-1)), args.repeat)
            row["ops"][name] = {"warm_ms": round(warm, 3), "cold_ms": round(cold, 3)}
            print(f"threads {t} {name:20s} warm {warm:8.3f} ms  cold (full check) {cold:8.3f} ms", flush=True)
        row["load"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        print(f"threads {t}: load average {row['load'][0]} -> {row['load'][1]}", flush=True)
        res["runs"].append(row)
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
