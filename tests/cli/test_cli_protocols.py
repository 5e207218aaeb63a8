"""CLI fixes of the protocols work: `gnnkit datasets` without ogb, `gnnkit plot` without
matplotlib, the OGB how-to text, `gnnkit bench -d PATH.npz`."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _cli import run_main  # noqa: E402


def _npz(path, n=9, classes=3):
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 10, n), dtype=bool)
    for s in range(10):
        perm = rng.permutation(n)
        masks[0, s, perm[:5]], masks[1, s, perm[5:7]], masks[2, s, perm[7:]] = True, True, True
    np.savez(path, node_features=rng.standard_normal((n, 3)).astype(np.float32),
             node_labels=np.arange(n) % classes, edges=np.array([[i, (i + 1) % n] for i in range(n)]),
             train_masks=masks[0], val_masks=masks[1], test_masks=masks[2])


def test_datasets_without_ogb(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "ogb" else real(name, *a, **k))
    code, out, err = run_main(capsys, "datasets", "--family", "ogb", "--root", tmp_path)
    assert code == 0, err
    assert 'pip install "gnnkit[ogb]"' in out and "ogbn-arxiv" in out


def test_ogb_how_to_reads(capsys, tmp_path):
    code, out, err = run_main(capsys, "datasets", "--family", "ogb", "--root", tmp_path)
    assert code == 0, err
    line = next(s for s in out.splitlines() if s.strip().startswith("ogbn-arxiv:"))
    assert "(downloads, then benchmarks); or `python -c" in line and "` to fetch http" in line


def test_plot_without_matplotlib_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run_main(capsys, "plot", tmp_path)
    assert code == 1 and 'pip install "gnnkit[analysis]"' in err


def test_bench_and_analyze_accept_an_npz_path(capsys, tmp_path):
    _npz(tmp_path / "tiny.npz")
    code, out, err = run_main(capsys, "bench", "-d", tmp_path / "tiny.npz", "-m", "mlp", "--runs", "1",
                              "--epochs", "2", "--out", tmp_path / "res", "--progress", "quiet")
    assert code == 0, err
    assert "tiny.npz | mlp" in out
    code, out, err = run_main(capsys, "analyze", tmp_path / "tiny.npz", "--skip", "curvature",
                              "effective_resistance", "spectral_gap")
    assert code == 0, err
    assert "tiny: 9 nodes" in out
    code, out, err = run_main(capsys, "bench", "-d", tmp_path / "nope.npz", "-m", "mlp")
    assert code != 0 and "does not exist" in err


def test_ogbn_suite_trains_proteins_with_the_evaluator(capsys, tmp_path):
    """A generated ogbn-proteins-layout directory (112 binary tasks, edge features only) trains end
    to end through `bench --suite ogbn`: node features from the edges, BCE, Evaluator ROC-AUC."""
    import importlib.util
    import json
    from pathlib import Path

    import pytest

    pytest.importorskip("ogb")
    path = Path(__file__).resolve().parents[1] / "data" / "test_ogb.py"
    spec = importlib.util.spec_from_file_location("_protocols_ogb_helper", path)
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    root = tmp_path / "data"
    root.mkdir()
    helper.make_ogb_dir(root, "ogbn-proteins")
    out = tmp_path / "res"
    code, stdout, err = run_main(capsys, "bench", "--suite", "ogbn", "-d", "ogbn-proteins", "--root", root,
                                 "--runs", "1", "--epochs", "3", "--out", out, "--progress", "quiet")
    assert code == 0, err
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert [r["model"] for r in runs] == ["gcn", "sage"]
    for r in runs:
        assert r["metric"] == "ogb:ogbn-proteins" and r["dataset_args"] == {"node_features_from_edges": "mean"}
        assert 0.0 <= r["test"] <= 1.0 and r["num_parameters"] > 0
    from gnnkit.data import get_dataset

    ds = get_dataset("ogbn-proteins", root=root, node_features_from_edges="mean")
    assert ds.y.shape[1] == 112 and ds.num_features == ds.edge_attr.shape[1] > 0


def test_bench_symmetrize_flag_makes_the_graph_undirected(capsys, tmp_path):
    """`--symmetrize` (OGB's arxiv protocol) applies to any directed dataset: the directed ring's
    9 arcs become 18, and the plan records it so a resumed run loads the same graph."""
    import json

    _npz(tmp_path / "ring_directed.npz")  # "directed" in the name: the loader keeps the arcs
    for flag, arcs in (("", 9), ("--symmetrize", 18)):
        out_dir = tmp_path / f"res{flag}"
        code, out, err = run_main(capsys, "bench", "-d", tmp_path / "ring_directed.npz", "-m", "mlp",
                                  "--runs", "1", "--epochs", "1", "--out", out_dir, "--progress", "lines",
                                  *([flag] if flag else []))
        assert code == 0, err
        assert f"9 nodes, {arcs} arcs" in out + err
        plan = json.loads((out_dir / "plan.json").read_text())
        assert plan["jobs"][0]["dataset_args"].get("symmetrize", False) is bool(flag)
