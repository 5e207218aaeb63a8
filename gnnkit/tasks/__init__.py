"""Tasks: what a model learns on a dataset (gnnkit.tasks).

==========================  ======================================================================
:class:`Task`               kind, loss, metric, ``forward(model, batch)``, ``loaders()``,
                            ``evaluate(model, batches)``
:class:`GraphTask`          graph property prediction (batched small graphs, graph-level models)
:class:`NodeTask`           node property prediction (full graph, sampled blocks, or
                            precomputed feature rows)
:class:`LinkTask`           link prediction (random edge split or OGB split, strict negatives,
                            full graph or sampled blocks)
:class:`Batch`              the one batch type every loader yields
:class:`Metric`             ``get_metric`` / ``register_metric``: accuracy, roc_auc,
                            average_precision, hits@K, mrr, mae, rmse, ``ogb:<dataset>``
:func:`register_task_kind`  plug in a new kind; :func:`get_task` builds one by kind
==========================  ======================================================================

The line dataset -> task -> loader -> model -> :func:`gnnkit.train.fit` -> ``gnnkit bench`` is
drawn in ``docs/architecture.md``.
"""
from gnnkit.tasks.base import LOSSES, Task, get_task, register_task_kind, task_class, task_kinds
from gnnkit.tasks.batch import Batch
from gnnkit.tasks.metrics import (
    Metric,
    available_metrics,
    get_metric,
    register_metric,
)
from gnnkit.tasks.link import LinkTask
from gnnkit.tasks.node import NodeTask, normalize_features
from gnnkit.tasks.graph import GraphTask  # noqa: E402  (registers kind 'graph')

__all__ = [
    "Task",
    "NodeTask",
    "LinkTask",
    "GraphTask",
    "Batch",
    "Metric",
    "LOSSES",
    "get_metric",
    "register_metric",
    "available_metrics",
    "register_task_kind",
    "get_task",
    "task_kinds",
    "task_class",
    "normalize_features",
]
