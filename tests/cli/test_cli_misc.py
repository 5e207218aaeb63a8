"""``gnnkit datasets``, ``gnnkit analyze`` and ``gnnkit plot`` run as subprocesses on generated
data (plus ``gnnkit --help``)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _cli import run_main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def gnnkit(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GNNKIT_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "gnnkit", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_help_lists_the_commands():
    r = gnnkit("--help")
    assert r.returncode == 0
    for cmd in ("bench", "data", "datasets", "analyze", "plot"):
        assert cmd in r.stdout


def test_datasets_presence_and_statistics(tmp_path, capsys):
    (tmp_path / "heterophily").mkdir()
    (tmp_path / "heterophily" / "texas.npz").write_bytes(b"")  # presence only; not read
    r = gnnkit("datasets", "--root", tmp_path, "--json")
    assert r.returncode == 0, r.stderr
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert {"cora", "chameleon", "ogbn-arxiv", "ogbn-papers100M", "csbm"} <= set(rows)
    assert rows["texas"]["present"] and rows["texas"]["path"] == str(tmp_path / "heterophily")
    assert not rows["cora"]["present"]
    assert str(tmp_path / "planetoid") in rows["cora"]["searched"]
    assert "kimiyoung/planetoid" in rows["cora"]["how_to_get"]
    assert "--download" in rows["ogbn-arxiv"]["how_to_get"]
    assert rows["csbm"]["present"]
    if (REPO / "datasets" / "registry.json").is_file():  # statistics from the registry file
        assert rows["ogbn-arxiv"]["num_nodes"] == 169343 and rows["ogbn-arxiv"]["stats_source"] == "registry"
        assert rows["cora"]["num_arcs"] == 10556
    code, out, err = run_main(capsys, "datasets", "--root", tmp_path, "--family", "heterophily")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("texas "))
    assert str(tmp_path / "heterophily") in line
    assert "cora" not in out and "chameleon: download https://github.com/yandex-research" in out


def test_analyze_csbm_matches_the_library(tmp_path):
    from gnnkit.analysis import homophily, spectral_gap
    from gnnkit.cli.bench import DEFAULT_CSBM
    from gnnkit.data import csbm

    r = gnnkit("analyze", "csbm", "--nodes", "200", "--homophily", "0.3", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    ds = csbm(**{**DEFAULT_CSBM, "num_nodes": 200, "homophily": 0.3})
    assert res["num_nodes"] == 200 and res["num_arcs"] == ds.num_edges
    for m in ("edge", "node", "adjusted", "label_informativeness"):
        assert res["homophily"][m]["status"] == "ok"
        assert res["homophily"][m]["value"] == pytest.approx(homophily(ds.graph, ds.y, method=m))
    assert res["homophily"]["edge"]["value"] == pytest.approx(ds.metadata["edge_homophily"])
    C = res["homophily"]["compatibility"]["value"]
    assert len(C) == 5 and all(len(row) == 5 for row in C)
    osq = res["oversquashing"]
    assert osq["spectral_gap"]["value"] == pytest.approx(spectral_gap(ds.graph))
    assert osq["effective_resistance"]["status"] == "ok"
    ter = osq["effective_resistance"]["value"]
    assert ter["mean_per_pair"] == pytest.approx(ter["total"] / (200 * 199 / 2)) or math.isinf(ter["total"])
    curv = osq["balanced_forman_curvature"]
    assert curv["status"] in ("ok", "unavailable", "failed")
    if curv["status"] == "ok":
        assert curv["value"]["edges"] == ds.num_edges // 2
        assert -2.0 <= curv["value"]["min"] <= curv["value"]["median"] <= curv["value"]["max"]


def test_analyze_text_output_and_errors(tmp_path, capsys):
    r = gnnkit("analyze", "csbm", "--nodes", "100", "--skip", "curvature", "effective_resistance")
    assert r.returncode == 0, r.stderr
    assert "homophily" in r.stdout and "label_informativeness" in r.stdout
    assert "spectral_gap" in r.stdout and "curvature" not in r.stdout
    code, _, err = run_main(capsys, "analyze", "coraa")
    assert code == 1 and "unknown dataset 'coraa'; available datasets: cora" in err
    code, _, err = run_main(capsys, "analyze", "cora", "--root", tmp_path)
    assert code == 1
    assert "files not found; looked in" in err and str(tmp_path / "planetoid") in err
    code, _, err = run_main(capsys, "analyze", "cora", "--nodes", "10")
    assert code == 2 and "only apply to the csbm dataset" in err


def _write_runs(d: Path):
    d.mkdir()
    recs = []
    for ds in ("csbm", "cornell"):
        for model, acc, tpe in (("gcn", 0.9, 0.01), ("mlp", 0.6, 0.002)):
            for seed in (0, 1):
                recs.append({"dataset": ds, "model": model, "seed": seed, "split": 0,
                             "metric": "acc", "train": 1.0, "val": acc, "test": acc + 0.01 * seed,
                             "epochs": 10, "time_per_epoch": tpe, "peak_rss_mb": 300.0,
                             "num_parameters": 100, "device": "cpu"})
    (d / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_plot_writes_pngs(tmp_path, capsys):
    res = tmp_path / "res"
    _write_runs(res)  # runs.jsonl only: plot regenerates the summary from it
    r = gnnkit("plot", res, "--out", tmp_path / "png")
    assert r.returncode == 0, r.stderr
    for name in ("metric.png", "time_per_epoch.png"):
        p = tmp_path / "png" / name
        assert p.is_file() and p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000
    (tmp_path / "empty").mkdir()
    code, _, err = run_main(capsys, "plot", tmp_path / "empty")
    assert code == 1 and "neither results.json nor any run" in err
    code, _, err = run_main(capsys, "plot", tmp_path / "nope")
    assert code == 1 and "results directory" in err and "not found" in err
