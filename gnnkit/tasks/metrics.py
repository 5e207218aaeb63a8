r"""Evaluation metrics of every task kind, by name.

A :class:`Metric` is ``fn(pred, target) -> float`` plus the direction of "better".  Names:

======================  ==========================================================================
``accuracy``            class scores ``[N, C]`` (arg-maxed), one logit ``[N]``/``[N, 1]``
                        (thresholded at 0) or labels, against int labels ``[N]``/``[N, 1]``
``roc_auc``             exact area under the ROC curve (ties by midranks); ``[N]``/``[N, 1]``
                        binary, or ``[N, T]`` multi-task with NaN targets = missing, mean over
                        the tasks that have both classes (as OGB)
``average_precision``   step-wise AP (ties grouped, as scikit-learn / OGB), same shapes
``hits@K``              any ``K``; link scores with 0/1 labels (OGB: share of positives scored
                        above the K-th best negative) or rows ``[P, 1 + K']``, column 0 positive
``mrr``                 mean reciprocal rank of column 0 of ``[P, 1 + K]`` score rows (OGB's
                        optimistic/pessimistic average for ties)
``mae``, ``rmse``       regression errors (lower is better)
``ogb:<dataset>``       ogb's own ``Evaluator`` for that dataset (imported when asked for);
                        ``ogbl-*``: pairs as for ``hits@K`` / ``mrr``
======================  ==========================================================================

ROC-AUC via the Mann-Whitney statistic: with midranks :math:`r_i` of the scores (tied scores
share the mean of their ranks), :math:`P` positives and :math:`Q` negatives,

.. math::
    \mathrm{AUC} = \frac{\sum_{i:\,y_i = 1} r_i - P(P+1)/2}{P\,Q}
    = \Pr[s^+ > s^-] + \tfrac12 \Pr[s^+ = s^-].

:func:`gnnkit.testing.roc_auc_pairwise` counts the pairs directly (the oracle of the tests).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

__all__ = ["Metric", "get_metric", "register_metric", "available_metrics", "ogb_evaluator", "accuracy", "roc_auc",
           "average_precision", "hits_at_k", "mrr", "mae", "rmse"]


@dataclass(frozen=True)
class Metric:
    """A named score ``fn(pred, target) -> float``; ``higher_is_better`` orders model selection."""

    name: str
    fn: Callable[[Tensor, Tensor], float]
    higher_is_better: bool = True

    def __call__(self, pred, target) -> float:
        return float(self.fn(pred, target))

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b


def _cpu(t, name: str) -> Tensor:
    if not isinstance(t, Tensor):
        t = torch.as_tensor(t)
    return t.detach().cpu()


def _non_empty(n: int, metric: str) -> None:
    if n == 0:
        raise ValueError(f"{metric}: no items to score (empty pred)")


# ---------------------------------------------------------------------- classification
def accuracy(pred: Tensor, target: Tensor) -> float:
    """Share of items whose predicted class equals ``target``.

    >>> accuracy(torch.tensor([[2., 1.], [0., 3.]]), torch.tensor([0, 0]))
    0.5
    """
    pred, target = _cpu(pred, "pred"), _cpu(target, "target")
    if target.dim() == 2 and target.shape[1] == 1:
        target = target.view(-1)
    if target.dim() != 1:
        raise ValueError(f"accuracy: target must be [N] or [N, 1] class labels, got {tuple(target.shape)}")
    if pred.is_floating_point():
        if pred.dim() == 2 and pred.shape[1] > 1:
            pred = pred.argmax(dim=1)
        else:  # one logit per item: class 1 when the logit is positive
            pred = (pred.reshape(-1) > 0).long()
    pred = pred.reshape(-1)
    if pred.shape[0] != target.shape[0]:
        raise ValueError(f"accuracy: pred has {pred.shape[0]} items, target {target.shape[0]}")
    _non_empty(target.numel(), "accuracy")
    return float((pred == target.to(pred.dtype)).double().mean())


def _tasks(pred: Tensor, target: Tensor, metric: str) -> tuple[Tensor, Tensor]:
    """Both as float64 ``[N, T]``; ``[N]`` becomes ``[N, 1]``."""
    pred, target = _cpu(pred, "pred").double(), _cpu(target, "target").double()
    if pred.dim() == 1:
        pred = pred.view(-1, 1)
    if target.dim() == 1:
        target = target.view(-1, 1)
    if pred.dim() != 2 or pred.shape != target.shape:
        raise ValueError(f"{metric}: pred {tuple(pred.shape)} and target {tuple(target.shape)} must "
                         "both be [N] or [N, T] of the same shape")
    return pred, target


def _binary_auc(s: Tensor, y: Tensor) -> float:
    """Exact ROC-AUC of scores ``s`` for 0/1 labels ``y`` (float64, both classes present)."""
    order = torch.argsort(s)
    ss = s[order]
    _, counts = torch.unique_consecutive(ss, return_counts=True)
    ends = torch.cumsum(counts, 0).double()  # 1-based rank of the last item of each tie group
    mid = ends - (counts.double() - 1) / 2  # mean rank of the group
    ranks = torch.empty_like(s)
    ranks[order] = torch.repeat_interleave(mid, counts)
    pos = y == 1
    p, q = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - p * (p + 1) / 2) / (p * q))


def _binary_ap(s: Tensor, y: Tensor) -> float:
    """Average precision: sum over distinct thresholds of (recall step) x precision."""
    order = torch.argsort(s, descending=True)
    ss, yy = s[order], y[order]
    tp = torch.cumsum(yy, 0)
    fp = torch.cumsum(1 - yy, 0)
    last = torch.ones_like(ss, dtype=torch.bool)  # last item of every tie group
    last[:-1] = ss[1:] != ss[:-1]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    step = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((step * precision).sum())


def _per_task(pred, target, metric: str, binary_fn) -> float:
    pred, target = _tasks(pred, target, metric)
    _non_empty(pred.shape[0], metric)
    vals = []
    for t in range(pred.shape[1]):
        known = ~torch.isnan(target[:, t])
        y, s = target[known, t], pred[known, t]
        if bool(((y != 0) & (y != 1)).any()):
            bad = y[(y != 0) & (y != 1)][0].item()
            raise ValueError(f"{metric}: targets must be 0, 1 or NaN (missing), got {bad} in task {t}")
        if torch.isnan(s).any():
            raise ValueError(f"{metric}: pred holds NaN in task {t}")
        npos = int(y.sum())
        if 0 < npos < y.numel():
            vals.append(binary_fn(s, y))
    if not vals:
        raise ValueError(f"{metric}: no task has both a positive and a negative target; the "
                         "metric is undefined")
    return sum(vals) / len(vals)


def roc_auc(pred: Tensor, target: Tensor) -> float:
    r"""Exact ROC-AUC (ties by midranks), mean over tasks with both classes (NaN = missing).

    >>> roc_auc(torch.tensor([0.1, 0.4, 0.4, 0.8]), torch.tensor([0, 0, 1, 1]))
    0.875
    """
    return _per_task(pred, target, "roc_auc", _binary_auc)


def average_precision(pred: Tensor, target: Tensor) -> float:
    """Average precision (area under the step precision-recall curve), mean over tasks.

    >>> average_precision(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
    0.8333333333333333
    """
    return _per_task(pred, target, "average_precision", _binary_ap)


# ---------------------------------------------------------------------- ranking (links)
def _rank_rows(pred: Tensor, metric: str) -> Tensor:
    """Rank of column 0 among its row (1 = best; ties: mean of optimistic and pessimistic)."""
    pred = _cpu(pred, "pred").double()
    if pred.dim() != 2 or pred.shape[1] < 2:
        raise ValueError(f"{metric}: expected score rows [P, 1 + K] (column 0 the positive), got "
                         f"{tuple(pred.shape)}")
    _non_empty(pred.shape[0], metric)
    pos, neg = pred[:, :1], pred[:, 1:]
    optimistic = (neg > pos).sum(dim=1).double()
    pessimistic = (neg >= pos).sum(dim=1).double()
    return 0.5 * (optimistic + pessimistic) + 1


def mrr(pred: Tensor, target: Tensor | None = None) -> float:
    """Mean reciprocal rank of the positive (column 0) in each row of ``[P, 1 + K]`` scores.

    ``target`` is ignored (the layout says which is positive).

    >>> mrr(torch.tensor([[0.9, 0.1, 0.2], [0.2, 0.5, 0.1]]), None)
    0.75
    """
    return float((1.0 / _rank_rows(pred, "mrr")).mean())


def hits_at_k(pred: Tensor, target: Tensor | None, k: int) -> float:
    """Hits@K.

    * ``pred`` ``[P, 1 + K']`` rows (column 0 positive): share of rows whose positive ranks
      within the top ``k`` (ties as :func:`mrr`).
    * ``pred`` ``[M]`` scores with 0/1 ``target``: OGB's definition, the share of positives
      scored strictly above the ``k``-th highest negative (1.0 when there are fewer than ``k``
      negatives).

    >>> hits_at_k(torch.tensor([0.9, 0.3, 0.8, 0.5, 0.1]), torch.tensor([1, 1, 0, 0, 0]), 1)
    0.5
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"hits@K: K must be a positive int, got {k!r}")
    pred = _cpu(pred, "pred")
    if pred.dim() == 2 and pred.shape[1] > 1:
        return float((_rank_rows(pred, f"hits@{k}") <= k).double().mean())
    if target is None:
        raise ValueError(f"hits@{k}: 1-D scores need 0/1 labels as target")
    pred, target = pred.double().reshape(-1), _cpu(target, "target").reshape(-1)
    if pred.shape != target.shape:
        raise ValueError(f"hits@{k}: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    pos, neg = pred[target == 1], pred[target == 0]
    if pos.numel() == 0:
        raise ValueError(f"hits@{k}: no positive pair to score")
    if neg.numel() < k:
        return 1.0
    kth = torch.topk(neg, k).values[-1]
    return float((pos > kth).double().mean())


# ---------------------------------------------------------------------- regression
def _regression(pred, target, metric: str) -> tuple[Tensor, Tensor]:
    pred, target = _cpu(pred, "pred").double(), _cpu(target, "target").double()
    if pred.numel() != target.numel():
        raise ValueError(f"{metric}: pred {tuple(pred.shape)} and target {tuple(target.shape)} "
                         "hold different numbers of values")
    pred, target = pred.reshape(-1), target.reshape(-1)
    known = ~torch.isnan(target)
    _non_empty(int(known.sum()), metric)
    return pred[known], target[known]


def mae(pred: Tensor, target: Tensor) -> float:
    """Mean absolute error (NaN targets skipped).

    >>> mae(torch.tensor([1., 2.]), torch.tensor([0., 4.]))
    1.5
    """
    p, t = _regression(pred, target, "mae")
    return float((p - t).abs().mean())


def rmse(pred: Tensor, target: Tensor) -> float:
    """Root mean squared error (NaN targets skipped).

    >>> rmse(torch.tensor([0., 0.]), torch.tensor([3., 4.]))
    3.5355339059327378
    """
    p, t = _regression(pred, target, "rmse")
    return float(((p - t) ** 2).mean().sqrt())


# ---------------------------------------------------------------------- OGB
_OGB_FAMILIES = {"ogbn": "nodeproppred", "ogbl": "linkproppred", "ogbg": "graphproppred"}


def ogb_evaluator(dataset: str):
    """ogb's ``Evaluator`` for ``dataset`` (``ogbn-*``, ``ogbl-*`` or ``ogbg-*``), imported now."""
    family = _OGB_FAMILIES.get(dataset[:4])
    if family is None:
        raise ValueError(f"ogb:{dataset}: not an OGB dataset name (ogbn-*, ogbl-* or ogbg-*)")
    try:
        mod = __import__(f"ogb.{family}", fromlist=["Evaluator"])
    except ImportError as e:
        raise ImportError(f"metric 'ogb:{dataset}' needs the ogb package: pip install "
                          f"\"gnnkit[ogb]\" ({e})") from None
    try:
        return mod.Evaluator(dataset)
    except (ValueError, KeyError) as e:
        raise ValueError(f"ogb:{dataset}: ogb does not know this dataset ({e})") from None


def _ogb_metric(dataset: str) -> Metric:
    """The metric ``ogb:<dataset>``: ogb's own Evaluator, its ``eval_metric`` entry."""
    evaluator = ogb_evaluator(dataset)
    family = _OGB_FAMILIES[dataset[:4]]
    key = evaluator.eval_metric

    def fn(pred, target):
        pred = _cpu(pred, "pred")
        target = None if target is None else _cpu(target, "target")
        if family == "linkproppred":
            # score rows [P, 1 + K] (column 0 positive; MRR datasets) or 1-D scores + 0/1 labels
            if pred.dim() == 2 and pred.shape[1] > 1:
                pos, neg = pred[:, 0], pred[:, 1:]
            else:
                p, t = pred.reshape(-1), target.reshape(-1)
                pos, neg = p[t == 1], p[t == 0]
            _non_empty(pos.numel(), f"ogb:{dataset}")
            out = evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})
            return float(out[key] if key in out else torch.as_tensor(out["mrr_list"]).mean())
        if key == "acc":
            if pred.is_floating_point() and pred.dim() == 2 and pred.shape[1] > 1:
                pred = pred.argmax(dim=1)
            pred = pred.reshape(-1, 1)
            target = target.reshape(-1, 1)
        elif target.dim() == 1:
            target, pred = target.view(-1, 1), pred.reshape(target.shape[0], -1)
        _non_empty(target.shape[0], f"ogb:{dataset}")
        out = evaluator.eval({"y_true": target, "y_pred": pred})
        return float(out[key])

    return Metric(f"ogb:{dataset}", fn, higher_is_better=key not in ("rmse", "mae"))


# ---------------------------------------------------------------------- registry
_METRICS: dict[str, Metric] = {}


def register_metric(name: str, fn: Callable[[Tensor, Tensor], float], higher_is_better: bool = True) -> Metric:
    """Add a metric under ``name`` (a new name; ``hits@K`` and ``ogb:*`` are reserved patterns)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_metric: name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"register_metric: fn must be callable, got {type(fn).__name__}")
    key = name.lower()
    if key in _METRICS or re.fullmatch(r"hits@\d+", key) or key.startswith("ogb:"):
        raise ValueError(f"register_metric: a metric named {name!r} already exists")
    m = Metric(key, fn, bool(higher_is_better))
    _METRICS[key] = m
    return m


for _name, _fn, _hib in (("accuracy", accuracy, True), ("roc_auc", roc_auc, True),
                         ("average_precision", average_precision, True), ("mrr", mrr, True),
                         ("mae", mae, False), ("rmse", rmse, False)):
    register_metric(_name, _fn, _hib)

_ALIASES = {"acc": "accuracy", "rocauc": "roc_auc", "auc": "roc_auc", "ap": "average_precision"}


def available_metrics() -> list[str]:
    """Registered names (plus the patterns ``hits@K`` and ``ogb:<dataset>``)."""
    return sorted(_METRICS) + ["hits@K", "ogb:<dataset>"]


def get_metric(name) -> Metric:
    """The metric called ``name`` (a :class:`Metric` is returned as is).

    >>> get_metric('hits@20').name, get_metric('rmse').higher_is_better
    ('hits@20', False)
    """
    if isinstance(name, Metric):
        return name
    if not isinstance(name, str):
        raise TypeError(f"get_metric: expected a metric name or Metric, got {type(name).__name__}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _METRICS:
        return _METRICS[key]
    m = re.fullmatch(r"hits@(\d+)", key)
    if m:
        k = int(m.group(1))
        if k < 1:
            raise ValueError(f"get_metric: {name!r}: K must be >= 1")
        return Metric(key, lambda p, t, _k=k: hits_at_k(p, t, _k), True)
    if key.startswith("ogb:"):
        return _ogb_metric(name.strip()[4:])
    raise ValueError(f"unknown metric {name!r}; available: {', '.join(available_metrics())}")
