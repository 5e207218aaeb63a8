"""The transparent-huge-page hint on spmm outputs: first calls and steady state, on and off.

    python experiments/bench_huge_pages.py [--nodes 1000000] [--edges 10000000] [--feat 128]
        [--calls 6] [--threads 2]

``gnnkit.ops.spmm`` (sum) forward on a seeded power-law graph, ``--calls`` calls in a fresh
process per setting (``GNNKIT_HUGE_PAGES=1`` and ``=0``; the variable is read once per process),
each call timed on its own, with the process's ``AnonHugePages`` (``/proc/self/smaps_rollup``)
after it.  Where THP defragments on demand (``defrag=madvise``) the first calls with the hint
include memory compaction; the steady state is the median of the calls after the first two.
The last line is ``RESULT {json}`` with ``speedup_vs_no_hint`` (steady state) and the first-call
ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _anon_huge_mb() -> float:
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def child(args) -> None:
    import torch

    from gnnkit.data.powerlaw import powerlaw_graph
    from gnnkit.ops import spmm

    torch.set_num_threads(args.threads)
    g = powerlaw_graph(args.nodes, args.edges, seed=0)
    x = torch.randn(args.nodes, args.feat, generator=torch.Generator().manual_seed(0))
    base = _anon_huge_mb()
    times, huge = [], []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        out = spmm(g, x)
        times.append(1000 * (time.perf_counter() - t0))
        huge.append(_anon_huge_mb() - base)
        del out
    print("CHILD " + json.dumps({"ms": times, "anon_huge_mb": huge}), flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=10_000_000)
    p.add_argument("--feat", type=int, default=128)
    p.add_argument("--calls", type=int, default=6)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.calls < 3:
        p.error("--calls must be >= 3 (the steady state is measured after two calls)")
    res = {}
    for setting in ("1", "0"):
        env = {**os.environ, "GNNKIT_HUGE_PAGES": setting, "OMP_NUM_THREADS": str(args.threads)}
        cmd = [sys.executable, os.path.abspath(__file__), "--child"] + [a for a in (argv or sys.argv[1:])]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("CHILD ")]
        if out.returncode != 0 or not line:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        r = json.loads(line[-1][6:])
        res[setting] = r
        print(f"GNNKIT_HUGE_PAGES={setting}: calls " + ", ".join(f"{t:.0f}" for t in r["ms"]) +
              f" ms; huge pages after each call: " + ", ".join(f"{h:.0f}" for h in r["anon_huge_mb"]) + " MB",
              flush=True)
    on, off = res["1"]["ms"], res["0"]["ms"]
    summary = {"nodes": args.nodes, "edges": args.edges, "feat": args.feat, "threads": args.threads,
               "ms_hint": on, "ms_no_hint": off, "anon_huge_mb_hint": res["1"]["anon_huge_mb"],
               "speedup_vs_no_hint": statistics.median(off[2:]) / statistics.median(on[2:]),
               "first_call_ratio_vs_no_hint": off[0] / on[0]}
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
