"""Rewiring cost: SDRF, BORF and FoSR wall time on real graphs at the study notebook's budget.

    python experiments/bench_rewiring.py [--root DATA] [--datasets chameleon,squirrel_filtered]

Budget as in ``experiments/notebooks/oversquashing_study.ipynb``: 10 % of the undirected edges,
at most 50 edits; SDRF with tau = 100, C+ = 1; BORF over 3 batches (add budget / 3, remove half
of that per batch); FoSR ``budget`` iterations; seed 0; one numba / torch thread.  Each method
runs once after a warm-up call on a 3-node path (numba compilation excluded).  There is no peer
library to compare against (SDRF / BORF / FoSR exist only as research code), so no speedup is
reported.  The last line is ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numba  # noqa: E402
import torch  # noqa: E402

from _common import data_root  # noqa: E402
from gnnkit import Graph  # noqa: E402
from gnnkit.analysis import borf, fosr, sdrf  # noqa: E402
from gnnkit.data import get_dataset  # noqa: E402


def methods(budget: int):
    per_batch = max(1, math.ceil(budget / 3))
    return {
        "sdrf": lambda g: sdrf(g, max_iterations=budget, tau=100.0, c_plus=1.0, seed=0),
        "borf": lambda g: borf(g, num_iterations=3, batch_add=per_batch, batch_remove=per_batch // 2),
        "fosr": lambda g: fosr(g, num_iterations=budget, seed=0),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=None)
    p.add_argument("--datasets", default="chameleon,squirrel_filtered")
    p.add_argument("--methods", default="sdrf,borf,fosr")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    root = data_root(args.root)
    path = Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), num_nodes=3, directed=False)
    for fn in methods(1).values():
        fn(path)  # compile the numba kernels outside the timed runs
    result = {"threads": 1}
    for name in args.datasets.split(","):
        g = get_dataset(name, root=root).graph
        num_edges = g.num_edges // 2
        budget = max(1, min(50, round(0.1 * num_edges)))
        for method, fn in methods(budget).items():
            if method not in args.methods.split(","):
                continue
            t0 = time.perf_counter()
            r = fn(g)
            dt = time.perf_counter() - t0
            result[f"{name}_{method}_s"] = round(dt, 3)
            print(f"{name:18s} {method}: {dt:8.2f} s  budget {budget}, added {r.added.shape[1]}, "
                  f"removed {r.removed.shape[1]}", flush=True)
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
