"""fit + NodeTask modes (binary ROC-AUC, multi-label, sampled blocks, precomputed rows), the
run's own peak memory, and a new task kind added through the public extension points only."""
import json

import pytest
import torch

from gnnkit.data import NodeDataset, csbm
from gnnkit.nn import build_model, get_model, register_model
from gnnkit.nn.mlp import MLP
from gnnkit.tasks import Batch, NodeTask, Task, get_task, register_task_kind
from gnnkit.train import FitResult, TrainConfig, fit, register_recipe

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ds():
    return csbm(200, num_classes=2, avg_degree=6, homophily=0.9, feature_dim=8, snr=0.7, seed=2)


def test_binary_roc_auc_task_trains_one_logit_with_bce(ds):
    task = NodeTask(ds, metric="roc_auc")
    assert task.binary and task.loss == "bce" and task.num_outputs == 1
    model = build_model("gcn", task)
    r = fit(model, task, config=TrainConfig(lr=0.05, epochs=30), seed=0)
    assert isinstance(r, FitResult) and r.metric == "roc_auc" and r.task == "node"
    assert r.test > 0.85  # chance 0.5; 90 % homophilous graph
    model.eval()
    from gnnkit.testing import roc_auc_pairwise

    out = model(ds.x, ds.graph).view(-1)
    te = ds.split(0)["test"]
    assert r.test == pytest.approx(roc_auc_pairwise(out[te].detach(), ds.y[te]))
    # monitoring the val metric with ties broken by the val loss; monitor='last' keeps the end
    last = fit(build_model("gcn", task), task, config=TrainConfig(epochs=4, monitor="last"), seed=0)
    assert last.best_epoch == last.epochs == 4


def test_multilabel_bce_masks_missing_targets(ds):
    y = torch.stack([ds.y, 1 - ds.y, (ds.x[:, 0] > 0).long()], 1)
    y[::7, 2] = -1  # missing labels of task 2 (outside the splits' nodes check: any -1 in a row
    y[::7, 2] = 0   # marks the node unlabelled, so keep rows complete and NaN only via the task)
    multi = NodeDataset(ds.graph, ds.x, y, ds.splits, name="multi")
    task = NodeTask(multi)
    assert task.loss == "bce" and task.num_outputs == 3 and task.metric.name == "roc_auc"
    out = torch.zeros(4, 3, requires_grad=True)
    tgt = torch.tensor([[1.0, 0.0, float("nan")]] * 4)
    loss = task.loss_fn(out, tgt)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(2.0)).item())  # NaN left out
    loss.backward()
    assert torch.all(out.grad[:, 2] == 0)
    r = fit(build_model("mlp", task), task, config=TrainConfig(epochs=3), seed=0)
    assert 0 <= r.test <= 1 and r.epochs == 3


def test_sampled_blocks_loader(ds):
    task = NodeTask(ds, batch_size=32, fanouts=[5, 5], prefetch=0)
    loaders = task.loaders(seed=1)
    b = next(iter(loaders["train"]))
    assert isinstance(b, Batch) and isinstance(b.graph, list) and len(b.graph) == 2
    assert b.target.shape[0] == b.extra["batch_size"] == 32 and b.split_index == {"train": None}
    assert torch.equal(b.x, ds.x[b.n_id])
    ev = list(loaders["eval"])
    seen = {s: sum(x.num_items(s) for x in ev) for s in ("train", "val", "test")}
    assert seen == {s: ds.split(0)[s].numel() for s in ("train", "val", "test")}
    r = fit(build_model("gcn", task), task, config=TrainConfig(lr=0.05, epochs=5), seed=0)
    r2 = fit(build_model("gcn", task), task, config=TrainConfig(lr=0.05, epochs=5), seed=0)
    assert r.test > 0.7 and (r.test, r.best_epoch) == (r2.test, r2.best_epoch)  # seeded


def test_peak_memory_is_the_runs_own(ds):
    task = NodeTask(ds)
    big = torch.ones(40 * 2**20 // 4)  # 40 MiB resident before the run
    r1 = fit(get_model("mlp", 8, 2), task, config=TrainConfig(epochs=1), seed=0)
    del big
    r2 = fit(get_model("mlp", 8, 2), task, config=TrainConfig(epochs=1), seed=0)
    assert r1.peak_memory_kind == r2.peak_memory_kind
    if r1.peak_memory_kind == "rss":  # Linux: the mark is reset per run, so it can go down
        assert r2.peak_memory_mb < r1.peak_memory_mb - 20


# ---------------------------------------------------------------------- a toy task kind
class FeatureSumTask(Task):
    """Toy kind: regress the sum of every node's features (MAE)."""

    kind = "toy-sum"

    def __init__(self, dataset, split=0):
        super().__init__(dataset.name, "mae", "mse", num_outputs=1, num_features=dataset.num_features)
        self.split = split
        self.batch = Batch(x=dataset.x, graph=None, target=dataset.x.sum(1, keepdim=True),
                           split_index=dict(dataset.split(split)))

    def forward(self, model, batch):
        return model(batch.x)

    def loaders(self, seed=None):
        return {"train": [self.batch], "eval": [self.batch]}


class _ToyMLP(MLP):
    def __init__(self, in_channels, out_channels, hidden_channels=16):
        super().__init__(in_channels, hidden_channels, out_channels, num_layers=2, dropout=0.0)


@pytest.fixture
def fresh_registries(monkeypatch):
    """Registrations of the test go to copies of the registries, dropped afterwards."""
    import gnnkit.nn.models
    import gnnkit.tasks.base
    import gnnkit.train.recipes

    for mod, attr in ((gnnkit.nn.models, "_REGISTRY"), (gnnkit.tasks.base, "_KINDS"),
                      (gnnkit.train.recipes, "_RECIPES")):
        monkeypatch.setattr(mod, attr, dict(getattr(mod, attr)))


def test_toy_task_kind_through_fit_and_bench(ds, tmp_path, capsys, fresh_registries):
    # only the public extension points: a Task subclass, its kind, a model, its recipe
    register_task_kind("toy-sum", FeatureSumTask)
    register_model("toy-mlp", _ToyMLP, {"hidden_channels": 16}, kinds=("toy-sum",))
    register_recipe("toy-mlp", {"lr": 0.02, "weight_decay": 0.0, "epochs": 60})
    task = get_task("toy-sum", ds)
    r = fit(build_model("toy-mlp", task), task, config=TrainConfig(lr=0.02, epochs=60), seed=0)
    assert r.metric == "mae" and r.task == "toy-sum" and r.test < 1.0  # the mean |target| is ~2
    with pytest.raises(ValueError, match="supports task kind"):
        build_model("gcn", task)

    from gnnkit.cli import main

    out = tmp_path / "res"
    rc = main(["bench", "--task", "toy-sum", "--dataset", "csbm", "--nodes", "150", "--model",
               "toy-mlp", "--runs", "1", "--epochs", "20", "--out", str(out), "-q"])
    assert rc == 0, capsys.readouterr().err
    rec = json.loads((out / "runs.jsonl").read_text().splitlines()[0])
    assert rec["task"] == "toy-sum" and rec["metric"] == "mae" and rec["model"] == "toy-mlp"
    with pytest.raises(SystemExit):
        main(["bench", "--task", "no-such-kind", "--out", str(tmp_path / "x")])
    # a bench that fails before its first run leaves no results folder behind
    (tmp_path / "empty").mkdir()
    assert main(["bench", "--dataset", "cora", "--model", "gcn", "--root", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "x"), "-q"]) != 0
    assert "files not found" in capsys.readouterr().err and not (tmp_path / "x").exists()
