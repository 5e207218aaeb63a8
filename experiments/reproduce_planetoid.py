"""Reproduce GCN, GAT and DAGNN on Cora / CiteSeer (public Planetoid split), several seeds.

Usage::

    python experiments/reproduce_planetoid.py [--root DATA] [--seeds 10] [--out table.md]
        [--datasets cora,citeseer] [--models gcn,gat,dagnn] [--threads 1]

Models and training use the papers' defaults from the recipes (``gnnkit.train.recipes.model_defaults``);
seeds are ``0..seeds-1``.  Prints mean ± sample std of the test accuracy with the papers'
numbers and writes a markdown table.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import grid_parser, run_grid  # noqa: E402
from gnnkit.train import run_experiment  # noqa: E402

PAPER = {("gcn", "cora"): 81.5, ("gcn", "citeseer"): 70.3, ("gat", "cora"): 83.0,
         ("gat", "citeseer"): 72.5, ("dagnn", "cora"): 84.4, ("dagnn", "citeseer"): 73.3}


def _report(m, d, r, seconds) -> str:
    mean, std = r.mean_std("test")
    s = r.summary()
    return (f"{m:6s} {d:9s} test {100 * mean:6.2f} ± {100 * std:4.2f} (paper "
            f"{PAPER.get((m, d), float('nan')):.1f})  epochs {s['epochs']['mean']:.0f}  "
            f"{1000 * s['time_per_epoch']['mean']:.1f} ms/epoch  "
            f"{s['num_parameters']} params  [{seconds:.0f}s]")


def main(argv=None) -> int:
    args = grid_parser(__doc__, ["cora", "citeseer"], ["gcn", "gat", "dagnn"], seeds=10).parse_args(argv)
    return run_grid(args, lambda m, d, ds: run_experiment(m, ds, seeds=range(args.seeds)), _report,
                    f"Planetoid public split: test accuracy (%), {args.seeds} seeds")


if __name__ == "__main__":
    sys.exit(main())
