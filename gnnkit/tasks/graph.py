r"""Graph property prediction: :class:`GraphTask` (one prediction per graph).

==========================  ===============================  ===========  ===================
dataset ``task_type``       metric (default)                 loss         model outputs
==========================  ===============================  ===========  ===================
``multiclass`` ``y [G]``    ``accuracy`` (ppa: ``ogb:``)      CE           C logits
``binary`` ``y [G, 1]``     ``roc_auc`` (molhiv: ``ogb:``)   BCE          1 logit
``multilabel`` ``y [G, T]``  ``roc_auc`` / ``ogb:`` (pcba AP)  BCE, NaN =   T logits
                                                             missing
``regression`` ``y [G, T]``  ``mae``                          MSE          T outputs
==========================  ===============================  ===========  ===================

Splits: the dataset's own (OGB's scaffold / species files), or, when it has none (CSL, EXP),
fold ``split`` of :meth:`~gnnkit.graphlevel.dataset.GraphDataset.kfold` (``folds``, default 10:
test on fold ``i``, validate on fold ``i + 1``, train on the rest).

Loaders (:meth:`GraphTask.loaders`): :class:`~gnnkit.graphlevel.loader.GraphLoader` mini-batches
(``batch_size`` graphs, shuffled by the run's seed) for training, and one pass over the
validation and test graphs (``eval_batch_size``) for evaluation; training-split scores are
computed only with ``eval_train=True``.  Precomputation a model needs (PathNN paths, DGN fields)
is declared by the model (``model.precompute_spec()``), built once per dataset by
:meth:`GraphTask.prepare` and cached on disk (:mod:`gnnkit.graphlevel.cache`).

``forward(model, batch)``: ``model.forward_batch(batch)`` when the model has it (the graph-level
models of :mod:`gnnkit.graphlevel.models`), else ``model(batch.x, batch.graph, batch.batch,
batch.num_graphs)``.
"""
from __future__ import annotations

import torch
from torch import Tensor

import gnnkit.graphlevel.models  # noqa: F401  (registers the graph-level models and recipes)
from gnnkit.tasks.base import Task, positive_int, register_task_kind
from gnnkit.tasks.batch import Batch

__all__ = ["GraphTask"]

_LOSS = {"multiclass": "cross_entropy", "binary": "bce", "multilabel": "bce", "regression": "mse"}
_METRIC = {"multiclass": "accuracy", "binary": "roc_auc", "multilabel": "roc_auc", "regression": "mae"}


class GraphTask(Task):
    r"""Predict a property of every graph of a :class:`~gnnkit.graphlevel.GraphDataset`.

    Args:
        dataset (GraphDataset): the graphs (``gnnkit.data.get_dataset('ogbg-molhiv')``, ...).
        split (int): cross-validation fold when the dataset has no split files. (default: ``0``)
        folds (int): number of folds for datasets without split files. (default: ``10``)
        metric (str, optional): overrides the dataset's metric.
        batch_size (int): training graphs per batch. (default: ``32``)
        eval_batch_size (int, optional): evaluation graphs per batch (default: ``4 * batch_size``).
        num_workers (int): collating processes. (default: ``0``)
        eval_train (bool): also score the training split at every evaluation. (default: ``False``)
        cache_dir: where precomputation is cached (:mod:`gnnkit.graphlevel.cache`).

    >>> import torch
    >>> from gnnkit.graphlevel.synthetic import load_synthetic
    >>> task = GraphTask(load_synthetic('csl'), batch_size=16)
    >>> task.loss, task.num_outputs, task.metric.name, len(task.split_ids['test'])
    ('cross_entropy', 10, 'accuracy', 15)
    """

    kind = "graph"

    def __init__(self, dataset, split: int = 0, *, folds: int = 10, metric=None,
                 batch_size: int = 32, eval_batch_size: int | None = None, num_workers: int = 0,
                 eval_train: bool = False, cache_dir=None, normalize_features: bool = False):
        from gnnkit.graphlevel.dataset import GraphDataset

        if not isinstance(dataset, GraphDataset):
            raise TypeError(f"GraphTask: dataset must be a gnnkit.graphlevel.GraphDataset, got "
                            f"{type(dataset).__name__}")
        if normalize_features:
            raise ValueError("GraphTask: normalize_features is a node-task option")
        self.dataset = dataset
        self.batch_size = positive_int("GraphTask", "batch_size", batch_size, False)
        self.eval_batch_size = positive_int("GraphTask", "eval_batch_size", eval_batch_size) or 4 * self.batch_size
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"GraphTask: num_workers must be an int >= 0, got {num_workers!r}")
        self.num_workers, self.eval_train, self.cache_dir = num_workers, bool(eval_train), cache_dir
        tt = dataset.task_type
        if dataset.splits:
            s = dataset.splits
            missing = [k for k in ("train", "valid", "test") if k not in s]
            if missing:
                raise ValueError(f"GraphTask: dataset {dataset.name!r} splits lack {missing}")
            self.split = 0
            ids = {"train": s["train"], "val": s["valid"], "test": s["test"]}
        else:
            if isinstance(split, bool) or not isinstance(split, int) or not 0 <= split < folds:
                raise ValueError(f"GraphTask: split must be a fold index in [0, {folds}), got {split!r}")
            self.split = split
            f = dataset.kfold(folds, seed=0)[split]
            ids = {"train": f["train"], "val": f["valid"], "test": f["test"]}
        self.split_ids = ids
        num_out = dataset.num_classes if tt == "multiclass" else dataset.num_tasks
        super().__init__(dataset.name, metric or dataset.metric or _METRIC[tt], _LOSS[tt], num_out,
                         dataset.num_features)
        self.extras: list = []

    # ------------------------------------------------------------------ model I/O
    def prepare(self, model) -> "GraphTask":
        """Build (or load from the disk cache) what ``model.precompute_spec()`` asks for:
        ``{'paths': (max_len, mode, distances)}`` and / or ``{'field': k}``."""
        from gnnkit.graphlevel.cache import FieldCache, PathCache

        spec = model.precompute_spec() if hasattr(model, "precompute_spec") else {}
        extras = []
        for key, val in spec.items():
            if key == "paths":
                K, mode, dist = val
                extras.append(PathCache(self.dataset, K, mode, distances=dist, cache_dir=self.cache_dir))
            elif key == "field":
                extras.append(FieldCache(self.dataset, k=val, cache_dir=self.cache_dir))
            else:
                raise ValueError(f"GraphTask.prepare: unknown precompute {key!r} (paths, field)")
        self.extras = extras
        return self

    def forward(self, model, batch: Batch) -> Tensor:
        if hasattr(model, "forward_batch"):
            return model.forward_batch(batch)
        return model(batch.x, batch.graph, batch.batch, batch.num_graphs)

    def loss_fn(self, out: Tensor, target: Tensor) -> Tensor:
        if self.loss == "bce" and target.dim() == 1:
            target = target.view(-1, 1)
        return super().loss_fn(out, target)

    # ------------------------------------------------------------------ loaders
    def loaders(self, seed: int | None = None, **opts) -> dict:
        """``{'train': GraphLoader, 'eval': GraphLoader}`` (see the module docstring)."""
        from gnnkit.graphlevel.loader import GraphLoader

        if opts:
            raise TypeError(f"GraphTask.loaders: unknown option(s) {sorted(opts)}")
        ids = self.split_ids
        train = GraphLoader(self.dataset, ids["train"], self.batch_size, shuffle=True,
                            seed=0 if seed is None else int(seed), num_workers=self.num_workers,
                            extras=self.extras, split="train")
        names = ("train", "val", "test") if self.eval_train else ("val", "test")
        ev_ids = torch.cat([ids[n] for n in names])
        tags = [n for n in names for _ in range(ids[n].numel())]
        ev = GraphLoader(self.dataset, ev_ids, self.eval_batch_size, shuffle=False,
                         num_workers=self.num_workers, extras=self.extras, split=tags)
        return {"train": train, "eval": ev}


register_task_kind("graph", GraphTask)
