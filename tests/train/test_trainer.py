"""Full-batch trainer: learning, early stopping, selection, determinism, records, bad input."""
import dataclasses
import warnings

import pytest
import torch

from gnnkit import Graph
from gnnkit.data import NodeDataset, csbm
from gnnkit.nn import get_model
from gnnkit.train import (ExperimentResult, RunResult, TrainConfig, normalize_features,
                          run_experiment, train_node_classifier)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ds():
    return csbm(300, num_classes=3, avg_degree=6, homophily=0.9, feature_dim=8, snr=0.7, seed=1,
                num_splits=2)


def test_gcn_learns_homophilous_csbm(ds):
    torch.manual_seed(0)
    model = get_model("gcn", ds.num_features, ds.num_classes)
    r = train_node_classifier(model, ds, seed=0, epochs=60, lr=0.05)
    assert isinstance(r, RunResult)
    assert r.test > 0.8 and r.train > 0.8  # chance is 1/3; the graph is 90 % homophilous
    assert r.epochs == 60 and 1 <= r.best_epoch <= 60 and r.metric == "accuracy"
    assert r.num_parameters == 8 * 16 + 16 + 16 * 3 + 3
    assert r.time_per_epoch > 0 and r.peak_memory_mb >= 0
    # the model is left at the selected epoch: re-evaluating reproduces the recorded val metric
    model.eval()
    pred = model(ds.x, ds.graph).argmax(-1)
    val = ds.split(0)["val"]
    assert (pred[val] == ds.y[val]).float().mean().item() == pytest.approx(r.val)


def test_early_stopping_and_determinism(ds):
    cfg = TrainConfig(lr=0.05, epochs=400, patience=5, monitor="val_loss")
    a = train_node_classifier(get_model("mlp", 8, 3), ds, seed=3, config=cfg)
    b = train_node_classifier(get_model("mlp", 8, 3), ds, seed=3, config=cfg)
    assert a.epochs < 400 and a.epochs - a.best_epoch == 5  # stopped 5 epochs after the best
    assert dataclasses.replace(a, time_per_epoch=0, peak_memory_mb=0) == \
        dataclasses.replace(b, time_per_epoch=0, peak_memory_mb=0)


def test_run_experiment_seeds_splits_and_progress(ds):
    events = []
    res = run_experiment("gat", ds, seeds=[0, 1], config={"epochs": 5, "patience": None},
                         progress=events.append)
    assert isinstance(res, ExperimentResult) and len(res.runs) == 4  # 2 splits x 2 seeds
    assert [(r.split, r.seed) for r in res.runs] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert len(events) == 20 and events[-1]["run"] == 3 and events[-1]["num_runs"] == 4
    assert {"epoch", "loss", "train", "val", "test", "val_loss", "best_epoch"} <= set(events[0])
    mean, std = res.mean_std("test")
    tests = [r.test for r in res.runs]
    assert mean == pytest.approx(sum(tests) / 4) and std >= 0
    s = res.summary()
    assert s["num_runs"] == 4 and s["test"]["mean"] == pytest.approx(mean)
    assert str(res).startswith("gat on csbm: test ")
    # a factory instead of a registry name
    res2 = run_experiment(lambda i, o: get_model("mlp", i, o), ds, seeds=[0], splits=[1],
                          config=TrainConfig(epochs=3))
    assert len(res2.runs) == 1 and res2.runs[0].split == 1


def test_progress_loss_is_detached(ds):
    """The reported loss is read off a detached tensor: no "Converting a tensor with
    requires_grad=True to a scalar" UserWarning (the CLI logs would show it every epoch)."""
    events = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        train_node_classifier(get_model("gcn", 8, 3), ds, seed=0, epochs=2, progress=events.append)
    assert len(events) == 2 and all(type(e["loss"]) is float and e["loss"] > 0 for e in events)


def test_ogb_metric_goes_through_evaluator(ds):
    """Datasets whose metadata names an OGB dataset are scored by ogb's Evaluator
    (metric 'ogb:<name>'); for ogbn-arxiv that is accuracy of the selected model."""
    pytest.importorskip("ogb")
    ogb_ds = NodeDataset(ds.graph, ds.x, ds.y, ds.splits, name="fake-ogb",
                         metadata={"ogb_name": "ogbn-arxiv", "eval_metric": "acc"})
    model = get_model("mlp", 8, 3)
    r = train_node_classifier(model, ogb_ds, seed=0, epochs=2)
    assert r.metric == "ogb:ogbn-arxiv"
    model.eval()
    pred = model(ds.x).argmax(-1)
    test = ds.split(0)["test"]
    assert r.test == pytest.approx((pred[test] == ds.y[test]).double().mean().item())


def test_sparse_features_same_result(ds):
    x = torch.zeros(ds.num_nodes, 40)
    x[torch.arange(ds.num_nodes), ds.y * 3] = 1.0  # very sparse, informative
    sp = NodeDataset(ds.graph, x, ds.y, ds.splits, name="sparse")
    a = train_node_classifier(get_model("gcn", 40, 3), sp, seed=0, epochs=3, sparse_features=True)
    b = train_node_classifier(get_model("gcn", 40, 3), sp, seed=0, epochs=3, sparse_features=False)
    assert a.epochs == b.epochs == 3


def test_normalize_features():
    assert torch.equal(normalize_features(torch.tensor([[1.0, 1.0], [0.0, 0.0]])),
                       torch.tensor([[0.5, 0.5], [0.0, 0.0]]))


def test_bad_input(ds):
    with pytest.raises(ValueError, match="TrainConfig: monitor must be one of"):
        TrainConfig(monitor="test_acc")
    with pytest.raises(ValueError, match="TrainConfig: lr must be a positive number, got 0"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="TrainConfig: patience must be None or an int >= 1"):
        TrainConfig(patience=0)
    with pytest.raises(ValueError, match=r"TrainConfig: unknown option\(s\) \['lrr'\]"):
        run_experiment("gcn", ds, config={"lrr": 0.1})
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train_node_classifier("gcn", ds)
    with pytest.raises(TypeError, match="dataset must be a gnnkit.data.NodeDataset"):
        train_node_classifier(get_model("mlp", 8, 3), ds.graph)
    with pytest.raises(ValueError, match="pass either config or keyword options"):
        train_node_classifier(get_model("mlp", 8, 3), ds, config=TrainConfig(), epochs=3)
    empty = NodeDataset(Graph.empty(3), torch.zeros(3, 2), torch.tensor([0, 1, 0]),
                        [{"train": torch.tensor([0]), "val": torch.tensor([], dtype=torch.long),
                          "test": torch.tensor([2])}], name="e")

    with pytest.raises(ValueError, match="split 0 of 'e' has an empty train or val set"):
        train_node_classifier(get_model("mlp", 2, 2), empty, epochs=2)
