"""Metrics against brute-force oracles (gnnkit.testing) and OGB's definitions."""
import math

import pytest
import torch

from gnnkit.tasks import Metric, get_metric, register_metric
from gnnkit.tasks.metrics import accuracy, average_precision, hits_at_k, mae, mrr, rmse, roc_auc
from gnnkit.testing import average_precision_reference, roc_auc_pairwise


@pytest.mark.parametrize("seed", range(6))
def test_roc_auc_and_ap_match_pairwise_count_with_ties(seed):
    g = torch.Generator().manual_seed(seed)
    n = 40 + 13 * seed
    scores = torch.randint(0, 6, (n,), generator=g).float() / 5  # many ties
    labels = torch.randint(0, 2, (n,), generator=g)
    labels[0], labels[1] = 0, 1
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_pairwise(scores, labels), abs=1e-12)
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_reference(scores, labels), abs=1e-12)
    cont = torch.randn(n, generator=g)
    assert roc_auc(cont, labels) == pytest.approx(roc_auc_pairwise(cont, labels), abs=1e-12)


def test_roc_auc_multitask_nan_and_matches_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(50, 3, generator=g)
    y = torch.randint(0, 2, (50, 3), generator=g).float()
    y[:10, 1] = float("nan")
    y[:, 2] = 1.0  # one class only: skipped, as OGB does
    expect = [sk.roc_auc_score(y[10:, 1], pred[10:, 1]), sk.roc_auc_score(y[:, 0], pred[:, 0])]
    assert roc_auc(pred, y) == pytest.approx(sum(expect) / 2)
    assert average_precision(pred[:, 0], y[:, 0]) == pytest.approx(
        sk.average_precision_score(y[:, 0], pred[:, 0]))
    with pytest.raises(ValueError, match="no task has both"):
        roc_auc(pred[:, 2], y[:, 2])
    with pytest.raises(ValueError, match="targets must be 0, 1 or NaN"):
        roc_auc(torch.randn(3), torch.tensor([0, 1, 2]))


def test_ranking_and_regression_metrics():
    rows = torch.tensor([[0.9, 0.1, 0.2], [0.2, 0.5, 0.1], [0.3, 0.3, 0.0]])
    # ranks: 1, 2, 1.5 (tie: mean of optimistic 1 and pessimistic 2)
    assert mrr(rows) == pytest.approx((1 + 1 / 2 + 1 / 1.5) / 3)
    assert get_metric("hits@1")(rows, None) == pytest.approx(1 / 3)
    assert get_metric("hits@2")(rows, None) == pytest.approx(1.0)
    s, t = torch.tensor([0.9, 0.3, 0.8, 0.5, 0.1]), torch.tensor([1, 1, 0, 0, 0])
    assert hits_at_k(s, t, 1) == 0.5 and hits_at_k(s, t, 2) == 0.5 and hits_at_k(s, t, 3) == 1.0
    assert hits_at_k(s, t, 10) == 1.0  # fewer negatives than K
    assert mae(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([0.0, 4.0, float("nan")])) == 1.5
    assert rmse(torch.tensor([0.0, 0.0]), torch.tensor([3.0, 4.0])) == pytest.approx(math.sqrt(12.5))
    assert not get_metric("mae").higher_is_better and get_metric("mae").better(0.1, 0.2)


def test_accuracy_shapes_and_registry():
    assert accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0])) == 0.5
    assert accuracy(torch.tensor([[-1.0], [2.0]]), torch.tensor([[0], [1]])) == 1.0  # one logit
    assert accuracy(torch.tensor([1, 2]), torch.tensor([1, 1])) == 0.5
    assert get_metric("acc") is get_metric("accuracy")
    m = register_metric("test_share_positive", lambda p, t: float((p > 0).double().mean()))
    assert isinstance(m, Metric) and get_metric("test_share_positive")(torch.tensor([1.0, -1.0]), None) == 0.5
    with pytest.raises(ValueError, match="already exists"):
        register_metric("accuracy", accuracy)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        get_metric("nope")
    with pytest.raises(ValueError, match="no items"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


def test_ogb_metric_is_ogbs_evaluator():
    pytest.importorskip("ogb")
    from ogb.nodeproppred import Evaluator

    g = torch.Generator().manual_seed(1)
    pred, y = torch.randn(30, 112, generator=g), torch.randint(0, 2, (30, 112), generator=g)
    m = get_metric("ogb:ogbn-proteins")
    ref = Evaluator("ogbn-proteins").eval({"y_true": y, "y_pred": pred})["rocauc"]
    assert m.name == "ogb:ogbn-proteins" and m(pred, y) == pytest.approx(ref)
    assert m(pred, y) == pytest.approx(roc_auc(pred, y))
    logits, labels = torch.randn(20, 5, generator=g), torch.randint(0, 5, (20,), generator=g)
    assert get_metric("ogb:ogbn-arxiv")(logits, labels) == pytest.approx(accuracy(logits, labels))
    with pytest.raises(ValueError, match="not an OGB dataset"):
        get_metric("ogb:cora")


def test_ogb_link_metric_scores_pairs_like_ours():
    pytest.importorskip("ogb")
    rows = torch.tensor([[0.9, 0.1, 0.2], [0.2, 0.5, 0.1], [0.3, 0.3, 0.0]])
    assert get_metric("ogb:ogbl-citation2")(rows, None) == pytest.approx(mrr(rows))
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(200, generator=g), torch.randint(0, 2, (200,), generator=g)
    assert get_metric("ogb:ogbl-collab")(s, t) == pytest.approx(hits_at_k(s, t, 50))
