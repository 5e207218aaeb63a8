"""GraphTask through the task layer: splits, mixed evaluation batches, every registered
graph-level model through fit(), and `gnnkit bench --suite ogbg` on synthetic OGB-layout dirs."""
import json

import pytest
import torch

from gnnkit.graphlevel import GraphDataset
from gnnkit.graphlevel.ogbg import load_ogbg
from gnnkit.graphlevel.ogbg_synthetic import write_ogbg_layout
from gnnkit.graphlevel.synthetic import load_synthetic
from gnnkit.nn.models import available_models, build_model
from gnnkit.tasks import get_task
from gnnkit.tasks.graph import GraphTask
from gnnkit.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("one_thread")


def test_csl_task_folds_and_eval_batches():
    ds = load_synthetic("csl")
    task = get_task("graph", ds, split=3, batch_size=16)
    assert isinstance(task, GraphTask) and task.loss == "cross_entropy" and task.num_outputs == 10
    s = task.split_ids
    assert (s["train"].numel(), s["val"].numel(), s["test"].numel()) == (120, 15, 15)
    assert not set(s["test"].tolist()) & set(s["val"].tolist())
    loaders = task.loaders(seed=0)
    seen = torch.cat([b.target for b in loaders["train"]])
    assert seen.numel() == 120
    got = {"val": 0, "test": 0}
    for b in loaders["eval"]:
        assert set(b.split_index) == {"val", "test"}
        for k, pos in b.split_index.items():
            got[k] += pos.numel()
    assert got == {"val": 15, "test": 15}
    with pytest.raises(ValueError, match=r"split must be a fold index in \[0, 10\)"):
        GraphTask(ds, split=10)


def test_every_graph_model_trains_through_fit():
    ds = load_synthetic("csl").subset(torch.arange(0, 150, 10))       # 15 graphs
    names = available_models("graph")
    assert {"gin", "gine", "gine-vn", "pathnn-sp", "pathnn-sp+", "pathnn-ap", "dgn"} <= set(names)
    for name in ("gin", "pathnn-sp", "pathnn-sp+", "pathnn-ap", "dgn"):
        task = GraphTask(ds, split=0, batch_size=8, folds=3, cache_dir=False)
        over = {"hidden_channels": 4}
        if name.startswith("pathnn"):
            over["max_len"] = 2
        model = build_model(name, task, **over)
        task.prepare(model)
        r = fit(model, task, config=TrainConfig(epochs=1, lr=0.01), seed=0)
        assert r.epochs == 1 and r.metric == "accuracy" and 0.0 <= r.test <= 1.0, name


@pytest.mark.parametrize("name", ["ogbg-molhiv", "ogbg-ppa"])
def test_ogbg_gine_vn_trains_with_evaluator(tmp_path, name):
    write_ogbg_layout(name, tmp_path, num_graphs=60, seed=0)
    task = GraphTask(load_ogbg(name, root=tmp_path), batch_size=16)
    assert task.metric.name == f"ogb:{name}"
    model = build_model("gine-vn", task, hidden_channels=16, num_layers=2,
                        **({"node_encoder": "atom", "edge_encoder": "bond", "edge_dim": 3}
                           if name == "ogbg-molhiv" else
                           {"node_encoder": "embedding", "edge_encoder": "linear", "edge_dim": 7}))
    r = fit(model, task, config=TrainConfig(epochs=2, lr=1e-3, weight_decay=0.0), seed=0)
    assert r.metric == f"ogb:{name}" and r.val == r.val


def test_bench_suite_ogbg_end_to_end(tmp_path, capsys):
    from gnnkit.cli import main
    root = tmp_path / "data"
    for name in ("ogbg-molhiv", "ogbg-ppa"):
        write_ogbg_layout(name, root, num_graphs=30, seed=2)
    out = tmp_path / "res"
    rc = main(["bench", "--suite", "ogbg", "--root", str(root), "--runs", "1", "--epochs", "1",
               "--model", "gine", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0, err[-2000:]
    recs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert {(r["dataset"], r["metric"], r["task"]) for r in recs} == {
        ("ogbg-molhiv", "ogb:ogbg-molhiv", "graph"), ("ogbg-ppa", "ogb:ogbg-ppa", "graph")}
    assert "skipping ogbg-molpcba" in err      # missing: skipped with a message
