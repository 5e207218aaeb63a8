"""Test accuracy of GCN, GAT, DAGNN and MLP on the heterophily benchmarks (their 10 splits).

Usage::

    python experiments/reproduce_heterophily.py [--root DATA] [--out table.md] [--seeds 1]
        [--datasets chameleon,squirrel,...] [--models gcn,gat,dagnn,mlp] [--threads 1]

Every model uses its registry defaults (``gnnkit.train.recipes.model_defaults``; no dataset-specific
tuning: these datasets have no paper defaults), one run per split and seed; the table shows
mean ± sample std over all runs.  Writes a markdown table (stdout and ``--out``).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import grid_parser, run_grid  # noqa: E402
from gnnkit.train.recipes import model_defaults  # noqa: E402
from gnnkit.train import run_experiment  # noqa: E402

DATASETS = ["cornell", "texas", "wisconsin", "chameleon", "actor", "squirrel"]
MODELS = ["gcn", "gat", "dagnn", "mlp"]


def _run_logger(model, dataset):
    """Progress hook: one line per finished run (the last epoch of a run is not known in
    advance, so print when the run index changes)."""
    state = {"run": None, "t": time.time()}

    def hook(info):
        if info["run"] != state["run"]:
            state["run"], state["t"] = info["run"], time.time()
            print(f"  {model} {dataset} run {info['run'] + 1}/{info['num_runs']} started", flush=True)

    return hook


def _report(m, d, r, seconds) -> str:
    mean, std = r.mean_std("test")
    return f"{m:6s} {d:10s} {100 * mean:6.2f} ± {100 * std:5.2f}  ({len(r.runs)} runs, {seconds:.0f}s)"


def main(argv=None) -> int:
    p = grid_parser(__doc__, DATASETS, MODELS, seeds=1, seeds_help="seeds per split (default 1)")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="cap every model's epoch budget (default: the registry's)")
    p.add_argument("--patience", type=int, default=None,
                   help="override every model's early-stopping patience")
    args = p.parse_args(argv)

    def run(m, d, ds):
        cfg = dict(model_defaults(m, d)[1])
        if args.max_epochs is not None:
            cfg["epochs"] = min(cfg["epochs"], args.max_epochs)
        if args.patience is not None:
            cfg["patience"] = args.patience
        return run_experiment(m, ds, seeds=range(args.seeds), config=cfg, progress=_run_logger(m, d))

    return run_grid(args, run, _report,
                    f"Heterophily benchmarks: test accuracy (%), {args.seeds} seed(s) x 10 splits")


if __name__ == "__main__":
    sys.exit(main())
