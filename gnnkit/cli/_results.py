"""The results directory of one ``gnnkit bench`` invocation, and its resumability.

Layout of ``DIR`` (``--out``, default ``results/<UTC timestamp>-<name>``)::

    DIR/runs.jsonl    one JSON record per finished run, appended (and fsync'ed) as each run ends
    DIR/plan.json     the command line and the plan of the last invocation
    DIR/results.json  summary (mean ± std per dataset x model) + every run, regenerated from
                      runs.jsonl after every (dataset, model) group and at the end
    DIR/results.csv   the summary, one row per dataset x model
    DIR/results.md    the summary as a Markdown table

A run is identified by ``(dataset, model, split, seed)`` plus a fingerprint of its resolved
settings (model and training hyper-parameters, dataset arguments).  Re-running with the same
``--out`` skips the runs already in ``runs.jsonl`` with the same fingerprint; a run recorded with
*different* settings is an error (mixing them would make the mean ± std meaningless).  A
truncated last line (the process was killed while writing) is ignored with a warning.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
import warnings
from pathlib import Path

__all__ = ["ResultsDir", "ResultsError", "summarize", "markdown_table", "load_results",
           "SUMMARY_FIELDS"]

RUNS, PLAN, JSON, CSV, MD = "runs.jsonl", "plan.json", "results.json", "results.csv", "results.md"

SUMMARY_FIELDS = ["dataset", "model", "task", "metric", "num_runs", "test_mean", "test_std", "val_mean",
                  "val_std", "train_mean", "train_std", "epochs_mean", "time_per_epoch_mean",
                  "time_per_epoch_std", "peak_memory_mb", "memory_kind", "num_parameters", "device"]


class ResultsError(ValueError):
    """A results directory is unreadable or inconsistent with the current plan."""


def _clean(v):
    """NaN / inf -> None, so that every file is strict JSON (readable by any JSON parser)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _key(r: dict) -> tuple:
    return (r["dataset"], r["model"], int(r["split"]), int(r["seed"]))


class ResultsDir:
    """Reads and appends the per-run records of one results directory."""

    def __init__(self, path):
        self.path = Path(path)

    @property
    def runs_file(self) -> Path:
        return self.path / RUNS

    def create(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise ResultsError(f"--out {self.path} exists and is not a directory")
        self.path.mkdir(parents=True, exist_ok=True)

    def load_runs(self) -> list[dict]:
        """Every record of ``runs.jsonl`` (``[]`` when there is none)."""
        f = self.runs_file
        if not f.is_file():
            return []
        lines = f.read_text().splitlines()
        out = []
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                _key(rec)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                if i == len(lines):  # killed mid-write: the run did not finish, redo it
                    warnings.warn(f"{f}:{i}: ignoring a truncated last record ({e})", stacklevel=2)
                    continue
                raise ResultsError(f"{f}:{i}: not a run record ({type(e).__name__}: {e}); "
                                   "fix or delete that line") from None
            out.append(rec)
        return out

    def finished(self) -> dict:
        """``{(dataset, model, split, seed): fingerprint}`` of the recorded runs."""
        return {_key(r): r.get("fingerprint") for r in self.load_runs()}

    def append(self, record: dict) -> None:
        """Append one run record durably (a crash right after loses nothing)."""
        self.create()
        line = json.dumps(_clean(record), sort_keys=True, allow_nan=False) + "\n"
        f = self.runs_file
        if f.is_file() and f.stat().st_size:
            with open(f, "rb+") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    # A crash left a partial last line (load_runs ignores it): drop it, so that
                    # the file stays one complete record per line; a complete one gets its "\n".
                    r.seek(0)
                    data = r.read()
                    cut = data.rfind(b"\n") + 1
                    try:
                        _key(json.loads(data[cut:]))
                        r.write(b"\n")
                    except (ValueError, KeyError, TypeError):
                        r.truncate(cut)
        with open(f, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def write_plan(self, plan: dict) -> None:
        self.create()
        (self.path / PLAN).write_text(json.dumps(plan, indent=1, sort_keys=True, default=str) + "\n")

    def write_summary(self, meta: dict | None = None) -> str:
        """Regenerate results.json / .csv / .md from runs.jsonl; return the Markdown table."""
        runs = self.load_runs()
        rows = summarize(runs)
        md = markdown_table(rows)
        doc = {**(meta or {}), "summary": rows, "runs": runs}
        _atomic_write(self.path / JSON, json.dumps(_clean(doc), indent=1, sort_keys=True,
                                                   allow_nan=False) + "\n")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in SUMMARY_FIELDS})
        _atomic_write(self.path / CSV, buf.getvalue())
        title = (meta or {}).get("name", self.path.name)
        _atomic_write(self.path / MD, f"# gnnkit bench: {title}\n\n{md}\n")
        return md


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _mean_std(vals):
    vals = [float(v) for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def summarize(runs: list[dict]) -> list[dict]:
    """Mean ± sample std per (dataset, model), in order of first appearance.

    Memory: each run's own peak (``peak_memory_mb`` with its ``peak_memory_kind``: ``'rss'``, the
    process' resident-set peak during the run, reset at its start; ``'gpu'``, CUDA memory
    allocated; ``'rss_growth'``, a lower bound where the peak cannot be reset); records of older
    versions carry the process-wide ``peak_rss_mb`` (kind ``'rss_process'``).  The max over the
    runs.  Records carry ``task`` (default ``'node'``) and ``metric``.

    >>> r = dict(dataset='d', model='m', metric='acc', split=0, train=1., val=.5, epochs=3,
    ...          time_per_epoch=.1, peak_rss_mb=10., num_parameters=7, device='cpu')
    >>> s = summarize([{**r, 'seed': 0, 'test': .5}, {**r, 'seed': 1, 'test': .7}])[0]
    >>> round(s['test_mean'], 3), round(s['test_std'], 4), s['num_runs']
    (0.6, 0.1414, 2)
    """
    groups: dict = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)
    rows = []
    for (ds, model), rs in groups.items():
        row = {"dataset": ds, "model": model, "task": rs[0].get("task", "node"),
               "metric": rs[0].get("metric", "acc"), "num_runs": len(rs)}
        for k in ("test", "val", "train", "time_per_epoch"):
            row[f"{k}_mean"], row[f"{k}_std"] = _mean_std(r.get(k) for r in rs)
        row["epochs_mean"] = _mean_std(r.get("epochs") for r in rs)[0]
        own = [(r["peak_memory_mb"], r.get("peak_memory_kind", "rss")) for r in rs
               if r.get("peak_memory_mb") is not None]
        gpu = [r.get("gpu_peak_memory_mb") for r in rs if r.get("gpu_peak_memory_mb") is not None]
        if own:
            row["peak_memory_mb"] = max(v for v, _ in own)
            row["memory_kind"] = "/".join(sorted({k for _, k in own}))
        elif gpu:  # records of older versions
            row["peak_memory_mb"], row["memory_kind"] = max(gpu), "gpu"
        else:
            rss = [r.get("peak_rss_mb") for r in rs if r.get("peak_rss_mb") is not None]
            row["peak_memory_mb"], row["memory_kind"] = (max(rss) if rss else float("nan")), "rss_process"
        row["num_parameters"] = rs[0].get("num_parameters")
        row["device"] = rs[0].get("device", "cpu")
        rows.append(row)
    return rows


def _pct(metric: str) -> bool:
    m = str(metric)
    return m in ("acc", "accuracy", "rocauc", "roc_auc", "f1", "ap", "average_precision", "mrr") \
        or m.startswith("hits@") or (m.startswith("ogb:") and not m.endswith(("rmse", "mae")))


def _fmt(mean, std, metric) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    scale = 100.0 if _pct(metric) else 1.0
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{scale * mean:.2f}"
    return f"{scale * mean:.2f} ± {scale * std:.2f}"


def markdown_table(rows: list[dict]) -> str:
    """The summary as a Markdown table (metrics in % for accuracy-like metrics).

    >>> print(markdown_table([dict(dataset='d', model='gcn', metric='acc', num_runs=2,
    ...     test_mean=.9, test_std=.01, val_mean=.8, val_std=0., time_per_epoch_mean=.002,
    ...     peak_memory_mb=300., memory_kind='rss', num_parameters=1234, epochs_mean=10)]))
    | dataset | model | metric | test | val | time/epoch (ms) | peak mem (MiB) | params | runs |
    |---|---|---|---|---|---|---|---|---|
    | d | gcn | acc (%) | 90.00 ± 1.00 | 80.00 ± 0.00 | 2.0 | 300 (rss) | 1,234 | 2 |
    """
    head = ("| dataset | model | metric | test | val | time/epoch (ms) | peak mem (MiB) | params "
            "| runs |\n|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        metric = r.get("metric", "acc")
        mem = r.get("peak_memory_mb")
        mem_s = "n/a" if mem is None or math.isnan(mem) else f"{mem:.0f} ({r.get('memory_kind', 'rss')})"
        tpe = r.get("time_per_epoch_mean")
        tpe_s = "n/a" if tpe is None or math.isnan(tpe) else f"{1000 * tpe:.1f}"
        params = r.get("num_parameters")
        lines.append(f"| {r['dataset']} | {r['model']} | {metric}{' (%)' if _pct(metric) else ''} "
                     f"| {_fmt(r['test_mean'], r['test_std'], metric)} "
                     f"| {_fmt(r['val_mean'], r['val_std'], metric)} | {tpe_s} | {mem_s} "
                     f"| {'n/a' if params is None else f'{params:,}'} | {r['num_runs']} |")
    return "\n".join(lines)


def load_results(path) -> dict:
    """The results of a directory: ``results.json`` when present, else regenerated from
    ``runs.jsonl``; :class:`ResultsError` says what is missing."""
    p = Path(path)
    if not p.is_dir():
        raise ResultsError(f"results directory {p} not found (give the --out folder of a "
                           "`gnnkit bench` run)")
    if (p / JSON).is_file():
        try:
            return json.loads((p / JSON).read_text())
        except json.JSONDecodeError as e:
            raise ResultsError(f"{p / JSON}: not valid JSON ({e})") from None
    runs = ResultsDir(p).load_runs()
    if not runs:
        raise ResultsError(f"{p}: neither {JSON} nor any run in {RUNS}; is it a `gnnkit bench` "
                           "results directory?")
    return {"summary": summarize(runs), "runs": runs}
