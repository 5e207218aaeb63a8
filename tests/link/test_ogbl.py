"""OGB link layouts (synthetic, written by the test) read offline and run through `bench --suite ogbl`."""
import json

import pytest
import torch

from gnnkit.link import load_ogbl, write_ogbl_layout

pytestmark = pytest.mark.usefixtures("one_thread")


def test_collab_layout_reads_like_ogb(tmp_path):
    pytest.importorskip("ogb")
    d = write_ogbl_layout(tmp_path, "ogbl-collab", num_nodes=120, seed=1)
    ds = load_ogbl("ogbl-collab", root=tmp_path)
    s = ds.split
    assert ds.metric == "ogb:ogbl-collab" and ds.x.shape == (120, 16)
    assert not s.train_graph.directed and s.train_graph.num_edges == 2 * s.train_pos.shape[1]
    assert s.val_neg.shape[0] == 2 and "train_weight" in s.extra and "edge_year" in s.extra
    assert str(d).endswith("ogbl_collab")


def test_citation2_layout_per_source_negatives(tmp_path):
    pytest.importorskip("ogb")
    write_ogbl_layout(tmp_path, "ogbl-citation2", num_nodes=100, num_neg=20, seed=2)
    ds = load_ogbl("ogbl-citation2", root=tmp_path)
    assert ds.split.extra["per_source_negatives"] and ds.split.train_graph.directed
    assert ds.split.test_neg.shape == (ds.split.test_pos.shape[1], 20)
    from gnnkit.tasks import LinkTask
    task = LinkTask(ds)
    b = task.loaders(seed=0)["eval"][0]
    assert b.edge_label_index.shape == (2, 21 * ds.split.val_pos.shape[1]) and b.extra["rows"] == 21


def test_bench_suite_ogbl_end_to_end(tmp_path, monkeypatch):
    pytest.importorskip("ogb")
    from gnnkit.cli import main
    data = tmp_path / "data"
    write_ogbl_layout(data / "ogb", "ogbl-collab", num_nodes=150, seed=0)
    write_ogbl_layout(data / "ogb", "ogbl-citation2", num_nodes=150, num_neg=20, seed=0)
    monkeypatch.setenv("GNNKIT_DATA", str(data))
    out = tmp_path / "res"
    rc = main(["bench", "--suite", "ogbl", "-d", "ogbl-collab", "ogbl-citation2", "-m", "link-sage",
               "--runs", "1", "--epochs", "3", "--out", str(out), "--quiet"])
    assert rc == 0
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    got = {r["dataset"]: r for r in runs}
    assert got["ogbl-collab"]["metric"] == "ogb:ogbl-collab" and got["ogbl-collab"]["task"] == "link"
    assert got["ogbl-citation2"]["metric"] == "ogb:ogbl-citation2"
    for r in runs:
        assert 0.0 <= r["test"] <= 1.0
