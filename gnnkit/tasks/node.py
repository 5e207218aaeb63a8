r"""Node property prediction: :class:`NodeTask`.

What is learned follows the labels and the dataset's declared metric (``dataset.metric``):

==========================  ================================  ==========  ===================
labels                      metric                            loss        model outputs
==========================  ================================  ==========  ===================
``y [N]``, C classes        ``accuracy`` (or ``ogb:ogbn-*``)  CE          C logits
``y [N]``, 2 classes        ``roc_auc`` / ``average_precision``  BCE      one logit
``y [N, T]`` (multi-label)  ``roc_auc`` (or ``ogb:ogbn-*``)   BCE per     T logits
                                                              task, -1 =
                                                              missing
==========================  ================================  ==========  ===================

Loaders (:meth:`NodeTask.loaders`):

* full graph (default): one :class:`Batch` with the whole graph; ``split_index`` holds the
  train / val / test nodes, so one forward serves every split (the classic Planetoid protocol);
* ``batch_size`` + ``fanouts``: :class:`gnnkit.sampling.NeighborLoader` mini-batches of sampled
  blocks (training seeds: the train nodes; evaluation: val and test nodes, sampled the same way,
  ``eval_batch_size`` seeds per batch);
* ``features=FeatureStore`` (precomputed propagation, e.g. SGC / SIGN / GBP): batches of feature
  rows with ``graph=None``; the model is called as ``model(x)``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gnnkit.tasks.base import Task, positive_int, register_task_kind
from gnnkit.tasks.batch import Batch

__all__ = ["NodeTask", "normalize_features"]

_SPLITS = ("train", "val", "test")
_RANKING = ("roc_auc", "average_precision")


def normalize_features(x: Tensor) -> Tensor:
    """Row-normalise ``x`` to sum 1 (rows summing to 0 are unchanged; PyG's ``NormalizeFeatures``).

    >>> normalize_features(torch.tensor([[1., 3.], [0., 0.]]))
    tensor([[0.2500, 0.7500],
            [0.0000, 0.0000]])
    """
    s = x.sum(dim=-1, keepdim=True)
    return x / torch.where(s == 0, torch.ones_like(s), s)


class NodeTask(Task):
    r"""Predict a property of every node of one graph.

    Args:
        dataset (NodeDataset): graph, features, labels, splits and declared metric.
        split (int): which of the dataset's splits. (default: ``0``)
        metric (str, optional): override the dataset's metric. (default: ``dataset.metric``)
        binary (bool, optional): train one logit with BCE for a 2-class ``y [N]``; default:
            when the metric is a ranking metric (ROC-AUC / AP).
        normalize_features (bool): row-normalise ``x`` (:func:`normalize_features`).
            (default: ``False``)
        sparse_features (bool, optional): hand the model ``x`` as sparse COO (first-layer
            products touch only the non-zeros); ``None``: when at most 25 % of ``x`` is
            non-zero. Full-graph loader only. (default: ``None``)
        batch_size (int, optional): mini-batches of this many seed nodes (needs ``fanouts``,
            or ``features``). (default: full graph)
        fanouts (list of int, optional): neighbours sampled per layer (``-1``: all).
        eval_batch_size (int, optional): seeds per evaluation batch. (default: ``4 *
            batch_size``)
        features (FeatureStore, optional): precomputed feature rows by node id; batches then
            carry them with ``graph=None``.
        eval_splits (tuple of str): splits scored by the eval loader (mini-batch and
            precomputed modes; the full graph scores all three). (default: all three)
        prefetch (int): batches sampled ahead by the NeighborLoader thread. (default: ``2``)

    >>> from gnnkit.data import csbm
    >>> t = NodeTask(csbm(60, num_classes=2, seed=0))
    >>> t.metric.name, t.loss, t.num_outputs
    ('accuracy', 'cross_entropy', 2)
    """

    kind = "node"

    def __init__(self, dataset, split: int = 0, *, metric=None, binary: bool | None = None,
                 normalize_features: bool = False, sparse_features: bool | None = None,
                 batch_size: int | None = None, fanouts=None, eval_batch_size: int | None = None,
                 features=None, eval_splits=_SPLITS, prefetch: int = 2):
        for attr in ("graph", "x", "y", "splits"):
            if not hasattr(dataset, attr):
                raise TypeError(f"NodeTask: dataset must be a gnnkit.data.NodeDataset, got "
                                f"{type(dataset).__name__} (no {attr!r})")
        idx = dataset.split(split)
        if idx["train"].numel() == 0 or idx["val"].numel() == 0:
            raise ValueError(f"NodeTask: split {split} of {dataset.name!r} has an empty train or val set")
        self._setup(name=dataset.name, graph=dataset.graph, x=dataset.x, y=dataset.y,
                    num_classes=dataset.num_classes, splits=idx, split=split,
                    metric=metric if metric is not None else _dataset_metric(dataset), binary=binary,
                    normalize=normalize_features, sparse=sparse_features, batch_size=batch_size,
                    fanouts=fanouts, eval_batch_size=eval_batch_size, features=features,
                    eval_splits=eval_splits, prefetch=prefetch)

    @classmethod
    def from_labels(cls, labels, splits: dict, *, features, num_classes: int | None = None,
                    name: str = "", metric="accuracy", batch_size: int = 64,
                    eval_batch_size: int = 4096, eval_splits=_SPLITS) -> "NodeTask":
        """A task on precomputed features only: ``labels [N]`` by node id, ``splits`` mapping
        ``'train'``/``'val'``/``'test'`` to node ids, ``features`` a :class:`FeatureStore`."""
        task = cls.__new__(cls)
        labels = torch.as_tensor(labels).long()
        as_idx = lambda t: torch.as_tensor(t if t is not None else [], dtype=torch.long).reshape(-1)  # noqa: E731
        idx = {k: as_idx(splits.get(k)) for k in _SPLITS}
        if idx["train"].numel() == 0:
            raise ValueError("NodeTask.from_labels: the train split is empty")
        if num_classes is None:
            num_classes = int(labels.max()) + 1 if labels.numel() else 0
        task._setup(name=name, graph=None, x=None, y=labels, num_classes=num_classes, splits=idx,
                    split=0, metric=metric, binary=False, normalize=False, sparse=False,
                    batch_size=batch_size, fanouts=None, eval_batch_size=eval_batch_size,
                    features=features, eval_splits=eval_splits, prefetch=0)
        return task

    def _setup(self, *, name, graph, x, y, num_classes, splits, split, metric, binary, normalize,
               sparse, batch_size, fanouts, eval_batch_size, features, eval_splits, prefetch):
        from gnnkit.tasks.metrics import get_metric

        m = get_metric(metric)
        multilabel = y.dim() == 2
        if binary is None:
            binary = (not multilabel and num_classes == 2 and m.name in _RANKING)
        if binary and (multilabel or num_classes != 2):
            raise ValueError(f"NodeTask: binary=True needs 2-class labels y [N], got y "
                             f"{tuple(y.shape)} with {num_classes} classes")
        if multilabel:
            loss, outputs = "bce", int(y.shape[1])
            target = y.to(torch.float32).masked_fill(y < 0, float("nan"))
        elif binary:
            loss, outputs = "bce", 1
            target = y.to(torch.float32).masked_fill(y < 0, float("nan")).view(-1, 1)
        else:
            loss, outputs = "cross_entropy", int(num_classes)
            target = y
        if features is not None:
            num_features = int(features.num_features)
        else:
            num_features = int(x.shape[1])
        super().__init__(name, m, loss, outputs, num_features)
        self.graph, self.y, self.target, self.split_nodes, self.split = graph, y, target, splits, split
        self.binary, self.features, self.prefetch = bool(binary), features, prefetch
        self.batch_size = positive_int("NodeTask", "batch_size", batch_size)
        self.eval_batch_size = positive_int("NodeTask", "eval_batch_size", eval_batch_size)
        self.fanouts = None if fanouts is None else list(fanouts)
        self.eval_splits = tuple(eval_splits)
        bad = [s for s in self.eval_splits if s not in _SPLITS]
        if bad or not self.eval_splits:
            raise ValueError(f"NodeTask: eval_splits must be a non-empty subset of {_SPLITS}, got "
                             f"{eval_splits!r}")
        if features is None:
            if self.batch_size is not None and self.fanouts is None:
                raise ValueError("NodeTask: batch_size needs fanouts (neighbour sampling) or features "
                                 "(precomputed rows)")
            if self.fanouts is not None and self.batch_size is None:
                raise ValueError("NodeTask: fanouts need a batch_size")
            if normalize:
                x = normalize_features(x)
            if sparse is None:
                sparse = self.batch_size is None and x.numel() > 0 and \
                    int(torch.count_nonzero(x)) * 4 <= x.numel()
            if sparse:
                if self.batch_size is not None:
                    raise ValueError("NodeTask: sparse_features applies to the full-graph loader only")
                x = x.to_sparse_coo().coalesce()
        elif self.batch_size is None:
            self.batch_size = 64
        self.x = x

    # ------------------------------------------------------------------ model I/O
    def forward(self, model, batch: Batch) -> Tensor:
        """``model(batch.x, batch.graph)``, or ``model(batch.x)`` when ``batch.graph`` is None."""
        return model(batch.x) if batch.graph is None else model(batch.x, batch.graph)

    # ------------------------------------------------------------------ loaders
    def loaders(self, seed: int | None = None, **opts) -> dict:
        """``{'train': ..., 'eval': ...}`` for this task's mode (see the module docstring);
        ``seed`` seeds shuffling and sampling."""
        if opts:
            raise TypeError(f"NodeTask.loaders: unknown option(s) {sorted(opts)}")
        if self.features is not None:
            return self._store_loaders(seed)
        if self.batch_size is None:
            batch = Batch(x=self.x, graph=self.graph, target=self.target,
                          split_index={k: v for k, v in self.split_nodes.items()})
            return {"train": [batch], "eval": [batch]}
        return self._sampled_loaders(seed)

    def _eval_items(self):
        nodes, where = [], []
        for s in self.eval_splits:
            n = self.split_nodes[s]
            nodes.append(n)
            where.append(torch.full((n.numel(),), _SPLITS.index(s), dtype=torch.int8))
        return torch.cat(nodes), torch.cat(where)

    def _split_positions(self, where: Tensor) -> dict:
        return {s: (where == i).nonzero().view(-1) for i, s in enumerate(_SPLITS) if s in self.eval_splits}

    def _store_loaders(self, seed):
        from gnnkit.tasks._node_loaders import StoreLoader

        eval_bs = self.eval_batch_size or 4096
        return {"train": StoreLoader(self, self.split_nodes["train"], None, self.batch_size, shuffle=True,
                                     seed=0 if seed is None else int(seed)),
                "eval": StoreLoader(self, *self._eval_items(), batch_size=eval_bs)}

    def _sampled_loaders(self, seed):
        from gnnkit.tasks._node_loaders import SampledLoader

        eval_bs = self.eval_batch_size or 4 * self.batch_size
        return {"train": SampledLoader(self, self.split_nodes["train"], None, self.batch_size,
                                       shuffle=True, seed=seed),
                "eval": SampledLoader(self, *self._eval_items(), eval_bs, shuffle=False,
                                      seed=None if seed is None else int(seed) + 1)}


def _dataset_metric(dataset) -> str:
    m = getattr(dataset, "metric", None)  # NodeDataset.metric: declared by the dataset
    if isinstance(m, str) and m:
        return m
    return "roc_auc" if dataset.y.dim() == 2 else "accuracy"


register_task_kind("node", NodeTask)
