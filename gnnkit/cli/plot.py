"""``gnnkit plot RESULTS_DIR``: PNG charts of a ``gnnkit bench`` results directory.

Writes (into ``RESULTS_DIR``, or ``--out``):

- ``metric.png``: the test metric, mean ± std (error bars) over the runs, one group of bars per
  dataset and one bar per model (accuracy-like metrics in %);
- ``time_per_epoch.png``: mean training time per epoch (ms, log scale when values span more than
  a factor 30), same layout.

Rendered with matplotlib's non-interactive ``Agg`` backend (no display needed).

Example::

    gnnkit bench --out results/demo && gnnkit plot results/demo
"""
from __future__ import annotations

import math
from pathlib import Path

from gnnkit.cli._parser import add_command

__all__ = ["register", "plot_results"]


def register(subparsers) -> None:
    p = add_command(subparsers, "plot", "PNG charts of a bench results directory", __doc__)
    p.add_argument("results_dir", help="the --out folder of `gnnkit bench`")
    p.add_argument("--out", default=None, help="folder for the PNGs (default: RESULTS_DIR)")
    p.add_argument("--dpi", type=int, default=120)
    p.set_defaults(func=_run)


def _grouped_bars(ax, rows, key_mean, key_std, scale):
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / max(len(models), 1)
    by = {(r["dataset"], r["model"]): r for r in rows}
    for j, m in enumerate(models):
        xs, ys, es = [], [], []
        for i, d in enumerate(datasets):
            r = by.get((d, m))
            if r is None or r.get(key_mean) is None or math.isnan(r[key_mean]):
                continue
            xs.append(i + (j - (len(models) - 1) / 2) * width)
            ys.append(scale * r[key_mean])
            std = r.get(key_std) if key_std else None
            es.append(0.0 if std is None or math.isnan(std) else scale * std)
        ax.bar(xs, ys, width=width, yerr=es if key_std else None, capsize=3, label=m)
    ax.set_xticks(range(len(datasets)))
    ax.set_xticklabels(datasets, rotation=20 if len(datasets) > 3 else 0, ha="right" if len(datasets) > 3 else "center")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), title="model")
    ax.grid(axis="y", alpha=0.3)


def plot_results(results_dir, out=None, dpi: int = 120) -> list[Path]:
    """Write the charts of one results directory; return the PNG paths.

    Raises:
        ImportError: matplotlib is not installed (the message names the ``analysis`` extra).
    """
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError('gnnkit plot needs matplotlib, which is not installed; install the '
                          'plotting extra: pip install "gnnkit[analysis]" (or pip install '
                          '"matplotlib>=3.7")') from e

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gnnkit.cli._results import ResultsError, load_results

    doc = load_results(results_dir)
    rows = doc.get("summary") or []
    if not rows:
        raise ResultsError(f"{results_dir}: no finished runs to plot")
    out = Path(out) if out else Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = sorted({r.get("metric", "acc") for r in rows})
    pct = all(m in ("acc", "rocauc") for m in metrics)
    width = max(6.0, 1.2 * len({r["dataset"] for r in rows}) * max(1, len({r["model"] for r in rows})) / 2)
    paths = []

    fig, ax = plt.subplots(figsize=(width, 4.2))
    _grouped_bars(ax, rows, "test_mean", "test_std", 100.0 if pct else 1.0)
    ax.set_ylabel(f"test {'/'.join(metrics)}" + (" (%)" if pct else ""))
    ax.set_title(f"{doc.get('name', Path(results_dir).name)}: test metric (mean ± std over runs)")
    fig.tight_layout()
    paths.append(out / "metric.png")
    fig.savefig(paths[-1], dpi=dpi)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(width, 4.2))
    _grouped_bars(ax, rows, "time_per_epoch_mean", "time_per_epoch_std", 1000.0)
    vals = [r["time_per_epoch_mean"] for r in rows if r.get("time_per_epoch_mean")]
    if vals and max(vals) / max(min(vals), 1e-12) > 30:
        ax.set_yscale("log")
    ax.set_ylabel("time per epoch (ms)")
    ax.set_title("training time per epoch (mean ± std over runs)")
    fig.tight_layout()
    paths.append(out / "time_per_epoch.png")
    fig.savefig(paths[-1], dpi=dpi)
    plt.close(fig)
    return paths


def _run(args) -> int:
    for p in plot_results(args.results_dir, args.out, args.dpi):
        print(f"wrote {p}")
    return 0
