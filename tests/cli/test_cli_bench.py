"""``gnnkit bench`` run as a user runs it (``python -m gnnkit bench ...`` in a subprocess) on tiny
generated data: the files it writes, resuming, OGB suites on generated OGB directories, and the
error messages.  A few pure error paths call ``gnnkit.cli.main`` in-process (same entry point,
no 3 s torch import per case)."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _cli import run_main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = ["--dataset", "csbm", "--nodes", "200", "--classes", "3", "--feature-dim", "8"]


def gnnkit(*args, cwd=None, env=None):
    """Run ``python -m gnnkit ARGS``; return the CompletedProcess (text)."""
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    e.pop("GNNKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "gnnkit", *map(str, args)], cwd=cwd or REPO,
                          env=e, capture_output=True, text=True, timeout=300)


def runs_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------- OGB directories
def _load_data_helper():
    """The data engineer's ``make_ogb_dir`` (tests/data/test_ogb.py) when importable."""
    path = REPO / "tests" / "data" / "test_ogb.py"
    try:
        spec = importlib.util.spec_from_file_location("_gnnkit_test_ogb_helper", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.make_ogb_dir
    except Exception:  # noqa: BLE001 - fall back to the generator below
        return None


def _csv(path: Path, a) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.asarray(a)).to_csv(path, header=False, index=False, compression="gzip")


def make_arxiv_dir(root: Path, n: int = 40, e: int = 120, seed: int = 0) -> Path:
    """A random ogbn-arxiv in OGB's raw CSV layout (fallback generator)."""
    rng = np.random.default_rng(seed)
    d = root / "ogbn_arxiv"
    (d / "raw").mkdir(parents=True)
    (d / "RELEASE_v1.txt").write_text("test\n")
    _csv(d / "raw" / "edge.csv.gz", rng.integers(0, n, size=(e, 2)))
    _csv(d / "raw" / "num-node-list.csv.gz", [[n]])
    _csv(d / "raw" / "num-edge-list.csv.gz", [[e]])
    _csv(d / "raw" / "node-label.csv.gz", rng.integers(0, 40, size=(n, 1)))
    _csv(d / "raw" / "node-feat.csv.gz", rng.standard_normal((n, 6)).round(4))
    _csv(d / "raw" / "node_year.csv.gz", rng.integers(2000, 2020, size=(n, 1)))
    perm = rng.permutation(n)
    for part, idx in (("train", perm[:20]), ("valid", perm[20:30]), ("test", perm[30:])):
        _csv(d / "split" / "time" / f"{part}.csv.gz", idx[:, None])
    return d


def ogb_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    helper = _load_data_helper()
    if helper is not None:
        helper(root, "ogbn-arxiv")
    else:
        make_arxiv_dir(root)
    return root


# ---------------------------------------------------------------------- main flows
def test_bench_writes_results_then_resumes(tmp_path, capsys):
    out = tmp_path / "res"
    args = ["bench", *TINY, "--model", "gcn", "mlp", "--epochs", "5", "--out", out]
    r = gnnkit(*args, "--runs", "2")
    assert r.returncode == 0, r.stderr
    # line-based progress on a non-TTY stderr, the table on stdout
    assert "[1/4] gcn on csbm seed 0 split 0: test" in r.stderr
    assert "| csbm | gcn | accuracy (%) |" in r.stdout

    runs = runs_of(out)
    assert [(x["model"], x["seed"], x["split"]) for x in runs] == \
        [("gcn", 0, 0), ("gcn", 1, 0), ("mlp", 0, 0), ("mlp", 1, 0)]
    assert all(x["epochs"] == 5 and x["metric"] == "accuracy" and x["task"] == "node" and x["device"] == "cpu" for x in runs)
    doc = json.loads((out / "results.json").read_text())
    assert [(s["dataset"], s["model"], s["num_runs"]) for s in doc["summary"]] == \
        [("csbm", "gcn", 2), ("csbm", "mlp", 2)]
    for s in doc["summary"]:
        tests = [x["test"] for x in runs if x["model"] == s["model"]]
        assert s["test_mean"] == pytest.approx(statistics.fmean(tests))
        assert s["test_std"] == pytest.approx(statistics.stdev(tests))
        assert s["num_parameters"] == runs[0 if s["model"] == "gcn" else 2]["num_parameters"] > 0
        assert s["time_per_epoch_mean"] > 0 and s["peak_memory_mb"] > 0
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r_["model"] for r_ in rows] == ["gcn", "mlp"]
    assert float(rows[0]["test_mean"]) == pytest.approx(doc["summary"][0]["test_mean"])
    md = (out / "results.md").read_text()
    gcn_mean = 100 * doc["summary"][0]["test_mean"]
    assert f"| csbm | gcn | accuracy (%) | {gcn_mean:.2f} ± " in md

    # Resume: a killed writer left half a record; --runs 3 trains only seed 2 of each model.
    before = (out / "runs.jsonl").read_text()
    with open(out / "runs.jsonl", "a") as f:
        f.write('{"dataset": "csbm", "model": "gcn", "se')
    r = gnnkit(*args, "--runs", "3")
    assert r.returncode == 0, r.stderr
    assert "2 run(s) already in the results, skipped" in r.stderr
    assert "truncated last record" in r.stderr
    text = (out / "runs.jsonl").read_text()
    assert text.startswith(before)  # finished records untouched, the partial one dropped
    runs = runs_of(out)
    assert [(x["model"], x["seed"]) for x in runs[4:]] == [("gcn", 2), ("mlp", 2)]
    doc = json.loads((out / "results.json").read_text())
    assert [s["num_runs"] for s in doc["summary"]] == [3, 3]

    # Same --out with other settings: refused instead of mixing them into one mean.
    code, _, err = run_main(capsys, *args, "--runs", "3", "--epochs", "6")
    assert code == 1
    assert "with other settings" in err and str(out) in err


def test_ogb_suite_on_generated_directories(tmp_path):
    root = ogb_root(tmp_path)
    out = tmp_path / "res"
    r = gnnkit("bench", "--suite", "ogbn", "--root", root, "--runs", "1", "--epochs", "3",
               "--out", out)
    assert r.returncode == 0, r.stderr
    # every model of the suite is registered in this build: none is skipped
    assert "is not registered" not in r.stderr
    # missing datasets are skipped with a message saying where we looked and how to get them
    assert "skipping ogbn-products: files not found; looked in" in r.stderr
    assert f"--download --root {root}" in r.stderr
    runs = runs_of(out)
    assert [(x["dataset"], x["model"]) for x in runs] == \
        [("ogbn-arxiv", m) for m in ("gcn", "sage", "gat", "dagnn", "mlp", "sgc", "gbp", "dir-gnn")]
    # suite settings reached the model (3 layers x 256 for GCN) and OGB's metric name is kept
    assert runs[0]["model_kwargs"]["hidden_channels"] == 256 and runs[0]["model_kwargs"]["num_layers"] == 3
    assert runs[0]["model_kwargs"]["norm"] == "batch" and runs[0]["dataset_args"] == {"symmetrize": True}
    assert runs[0]["train_config"]["epochs"] == 3 and runs[0]["metric"] == "ogb:ogbn-arxiv"
    assert all(0.0 <= x["test"] <= 1.0 for x in runs)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["source"].endswith("ogbn.yaml")


def test_missing_dataset_from_flags_is_an_error(tmp_path):
    r = gnnkit("bench", "--dataset", "cora", "--root", tmp_path, "--model", "gcn",
               "--out", tmp_path / "res")
    assert r.returncode == 1
    assert "cora: files not found; looked in" in r.stderr and str(tmp_path) in r.stderr
    assert "kimiyoung/planetoid" in r.stderr  # how to get it


# ---------------------------------------------------------------------- errors (in-process)
def test_unknown_model_lists_the_registry(capsys, tmp_path):
    code, _, err = run_main(capsys, "bench", *TINY, "--model", "gcnn", "--out", tmp_path)
    assert code == 1
    from gnnkit.nn.models import available_models

    assert f"unknown model 'gcnn'; available models for 'node': {', '.join(available_models('node'))}" in err
    assert "gcn" in available_models()


def test_unknown_dataset_lists_the_names(capsys, tmp_path):
    code, _, err = run_main(capsys, "bench", "--dataset", "coraa", "--out", tmp_path)
    assert code == 1
    assert "unknown dataset 'coraa'" in err and "cora, citeseer" in err and "ogbn-arxiv" in err


@pytest.mark.parametrize("doc, key", [
    ("datasets: [{name: csbm, modles: [gcn]}]", "datasets[0].modles: unknown key"),
    ("models: [gcn]\ndatasets: [csbm]\ntrain: {lrr: 0.1}", "train: TrainConfig: unknown option(s) ['lrr']"),
    ("models: [gcn]\ndatasets: [csbm]\nruns: 0", "runs: expected an integer >= 1"),
    ("models: [{name: gcn, model: {hidden: 4}}]\ndatasets: [csbm]", "datasets[0].models[0].model:"),
    ("models: [{name: sgcx}]\ndatasets: [csbm]", "datasets[0].models[0]: unknown model 'sgcx'"),
    ("models: [gcn]\ndatasets: [{name: csbm, train: {epochs: -1}}]", "datasets[0].train: TrainConfig"),
    ("models: [gcn]\ndatasets: [csbm, csbm]", "datasets[1].label: 'csbm' is used twice"),
    ("name: x\ndatasets: [csbm]", "datasets[0].models: no models"),
])
def test_bad_config_names_the_key(capsys, tmp_path, doc, key):
    p = tmp_path / "c.yaml"
    p.write_text(doc)
    code, _, err = run_main(capsys, "bench", "--config", p, "--out", tmp_path / "res")
    assert code == 1
    assert f"{p}: {key}" in err
    assert not (tmp_path / "res").exists()  # validated before anything is written


def test_optional_unknown_model_is_skipped_with_a_warning(capsys, tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("models: [gcn, {name: sgcx, optional: true}]\nruns: 1\ntrain: {epochs: 2}\n"
                 "datasets: [{name: csbm, args: {num_nodes: 60, num_classes: 2, feature_dim: 4}}]")
    code, out, err = run_main(capsys, "bench", "--config", p, "--out", tmp_path / "res", "-q")
    assert code == 0, err
    assert "optional model 'sgcx' is not registered in this gnnkit build; skipped on csbm" in err
    assert [x["model"] for x in runs_of(tmp_path / "res")] == ["gcn"]


def test_usage_errors(capsys, tmp_path):
    code, _, err = run_main(capsys, "bench", "--runs", "2", "--seeds", "0", "1")
    assert code == 2 and "give --runs or --seeds" in err
    code, _, err = run_main(capsys, "bench", "--dataset", "cora", "--nodes", "10")
    assert code == 2 and "--nodes only applies to --dataset csbm" in err
    code, _, err = run_main(capsys, "bench", "--suite", "nope")
    assert code == 1 and "unknown suite 'nope'; available suites" in err and "ogbn" in err
    code, _, err = run_main(capsys, "bench", "--suite", "ogbn", "--model", "sage2")
    assert code == 2 and "--model sage2 is not in" in err
    code, _, err = run_main(capsys, "bench", "--runs", "0")
    assert code == 2 and "expected a positive integer" in err


def test_device_cuda_without_gpu_is_a_clear_error(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    code, _, err = run_main(capsys, "bench", *TINY, "--model", "gcn", "--device", "cuda",
                            "--out", tmp_path)
    assert code == 1 and "--device cuda: no CUDA GPU is visible" in err and "--device cpu" in err


def test_split_protocol(capsys, tmp_path):
    """--runs cycles over the splits; --seeds x --splits is the product."""
    base = ["bench", *TINY, "--nodes", "60", "--num-splits", "2", "--model", "mlp", "--epochs", "2", "-q"]
    assert run_main(capsys, *base, "--runs", "3", "--out", tmp_path / "a")[0] == 0
    assert [(x["seed"], x["split"]) for x in runs_of(tmp_path / "a")] == [(0, 0), (1, 1), (2, 0)]
    assert run_main(capsys, *base, "--seeds", "5", "6", "--splits", "1", "0", "--out", tmp_path / "b")[0] == 0
    assert [(x["seed"], x["split"]) for x in runs_of(tmp_path / "b")] == [(5, 0), (6, 0), (5, 1), (6, 1)]
    code, _, err = run_main(capsys, *base, "--seeds", "0", "--splits", "2", "--out", tmp_path / "c")
    assert code == 1 and "--splits 2: the dataset has 2 split(s)" in err


def test_default_plan_is_csbm_with_the_default_models():
    from gnnkit.cli._config import parse_config
    from gnnkit.cli.bench import DEFAULT_PLAN

    plan = parse_config(DEFAULT_PLAN, source="default")
    assert [d.name for d in plan.datasets] == ["csbm"]
    assert [m.name for m in plan.datasets[0].models] == ["mlp", "gcn", "gat", "dagnn"]
    assert plan.datasets[0].args["num_nodes"] == 3000 and plan.seeds == [0, 1]


def test_shipped_suites_are_valid():
    from gnnkit.cli._config import available_suites, check_models, load_config, suite_path

    assert {"ogbn", "heterophily", "csbm_homophily"} <= set(available_suites())
    for name in available_suites():
        plan = check_models(load_config(suite_path(name)), warn=lambda s: None)
        assert plan.num_jobs > 0


@pytest.mark.slow
def test_plain_bench_under_a_minute(tmp_path):
    import time

    t0 = time.perf_counter()
    r = gnnkit("bench", "--out", tmp_path / "res")
    wall = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    rows = {s["model"]: s for s in json.loads((tmp_path / "res" / "results.json").read_text())["summary"]}
    assert set(rows) == {"mlp", "gcn", "gat", "dagnn"}
    assert rows["gcn"]["test_mean"] > rows["mlp"]["test_mean"] + 0.2  # the graph matters
    assert wall < 60, f"plain `gnnkit bench` took {wall:.1f} s"
    assert not math.isnan(rows["gat"]["test_std"])
