"""Shared helpers of the reproduction scripts (command line, model x dataset loop, table
formatting, data root)."""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def data_root(arg: str | None) -> Path:
    """``--root`` or ``$GNNKIT_DATA`` or ``../shared/datasets`` beside the repository."""
    if arg:
        return Path(arg)
    env = os.environ.get("GNNKIT_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def markdown_table(results: dict, models: list, datasets: list, title: str) -> str:
    """``results[(model, dataset)] = ExperimentResult`` -> markdown (test accuracy, %)."""
    lines = [f"### {title}", "", "| model | " + " | ".join(datasets) + " |",
             "|---|" + "---|" * len(datasets)]
    for m in models:
        cells = []
        for d in datasets:
            r = results.get((m, d))
            if r is None:
                cells.append("n/a")
            else:
                mean, std = r.mean_std("test")
                cells.append(f"{100 * mean:.2f} ± {100 * std:.2f}")
        lines.append(f"| {m.upper()} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def grid_parser(doc: str, datasets: list, models: list, seeds: int,
                seeds_help: str | None = None) -> argparse.ArgumentParser:
    """The options every model x dataset reproduction script takes (a script adds its own)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--root", default=None)
    p.add_argument("--datasets", default=",".join(datasets))
    p.add_argument("--models", default=",".join(models))
    p.add_argument("--seeds", type=int, default=seeds, help=seeds_help)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="write the markdown table here")
    p.add_argument("--json", default=None, help="write per-run records here")
    return p


def run_grid(args, run, report, title: str) -> int:
    """Train every model of ``args.models`` on every dataset of ``args.datasets``.

    ``run(model, dataset_name, dataset)`` returns an ``ExperimentResult``; ``report(model,
    dataset_name, result, seconds)`` gives the line printed after it.  Prints and writes
    (``args.out``) the markdown table titled ``title`` and the per-run records (``args.json``).
    """
    import torch

    from gnnkit.data import get_dataset

    torch.set_num_threads(args.threads)
    root = data_root(args.root)
    datasets, models = args.datasets.split(","), args.models.split(",")
    results, records = {}, []
    for d in datasets:
        ds = get_dataset(d, root=root)
        for m in models:
            t0 = time.time()
            r = run(m, d, ds)
            results[(m, d)] = r
            print(report(m, d, r, time.time() - t0), flush=True)
            records.append(r.summary() | {"runs": [x.to_dict() for x in r.runs]})
    table = markdown_table(results, models, datasets, title)
    print(table)
    if args.out:
        Path(args.out).write_text(table)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


def triad_gbps(n: int = 50_000_000, repeat: int = 3) -> float:
    """The machine's streaming bandwidth, GB/s: single-thread numpy triad ``a = b + s*c``
    (two passes: 5 float32 array streams), best of ``repeat``.  Printed beside kernel figures,
    because machines of the same kind differ by 3x in bandwidth."""
    import time

    import numpy as np

    b = np.random.rand(n).astype(np.float32)
    c = np.random.rand(n).astype(np.float32)
    a = np.empty_like(b)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        np.multiply(c, np.float32(3.0), out=a)
        np.add(a, b, out=a)
        best = min(best, time.perf_counter() - t)
    return 5 * 4 * n / best / 1e9
