r"""The :class:`Task` interface and the task-kind registry.

A task says *what is learned*: which items are trained / validated / tested, what ``out`` of a
model is compared with (``target``), with which loss and which metric.  :func:`gnnkit.train.fit`
only talks to a task through this interface, so a new task kind plugs in by subclassing
:class:`Task` and calling :func:`register_task_kind` (see ``docs/architecture.md``).

Losses (``loss``):

==================  =====================================================================
``cross_entropy``   ``out [B, C]`` logits, ``target [B]`` int64 classes
``bce``             ``out`` and ``target`` of the same shape (``[B, T]``; ``[B]`` and
                    ``[B, 1]`` are interchangeable), targets 0/1; NaN targets are missing and
                    left out of the mean (ogbn-proteins style multi-label)
``mse``, ``l1``     regression, NaN targets left out
==================  =====================================================================
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnkit.tasks.metrics import Metric, get_metric

__all__ = ["Task", "LOSSES", "register_task_kind", "get_task", "task_kinds", "task_class"]

LOSSES = ("cross_entropy", "bce", "mse", "l1")


def _masked(out: Tensor, target: Tensor, what: str) -> tuple[Tensor, Tensor]:
    target = target.to(out.dtype) if target.is_floating_point() or what == "bce" else target
    if out.shape != target.shape:
        if out.numel() == target.numel() and out.shape[0] == target.shape[0]:
            target = target.reshape(out.shape)
        else:
            raise ValueError(f"{what} loss: out {tuple(out.shape)} and target {tuple(target.shape)} "
                             "must have the same shape")
    known = ~torch.isnan(target)
    return out[known], target[known]


class Task:
    """Base class of every task kind.

    Subclasses set ``kind`` (class attribute) and implement :meth:`forward` and :meth:`loaders`;
    the loss and metric plumbing and :meth:`evaluate` are shared.

    Args:
        name (str): the task's name (usually the dataset's).
        metric (str or Metric): the model-selection metric (:func:`gnnkit.tasks.get_metric`).
        loss (str): one of :data:`LOSSES`.
        num_outputs (int): output width the model must produce.
        num_features (int): input feature width.
    """

    kind: str = ""

    def __init__(self, name: str, metric, loss: str, num_outputs: int, num_features: int):
        if loss not in LOSSES:
            raise ValueError(f"{type(self).__name__}: loss must be one of {LOSSES}, got {loss!r}")
        self.name = str(name)
        self.metric: Metric = get_metric(metric)
        self.loss = loss
        self.num_outputs = int(num_outputs)
        self.num_features = int(num_features)

    # ------------------------------------------------------------------ to implement
    def forward(self, model, batch) -> Tensor:
        """``out`` of ``model`` on ``batch``, row-aligned with ``batch.target``."""
        raise NotImplementedError

    def loaders(self, **opts) -> dict:
        """``{'train': iterable of Batch, 'eval': iterable of Batch}``; ``opts`` may hold
        ``seed`` (the run's seed, for shuffling and sampling)."""
        raise NotImplementedError

    def prepare(self, model) -> "Task":
        """Build what ``model`` needs from the data before the loaders are made (per-dataset
        precomputation, e.g. :class:`~gnnkit.tasks.graph.GraphTask`'s PathNN paths); a no-op by
        default.  :func:`gnnkit.train.fit` calls it when it builds the loaders."""
        return self

    # ------------------------------------------------------------------ shared
    def loss_fn(self, out: Tensor, target: Tensor) -> Tensor:
        """The training loss (mean over the known targets)."""
        if self.loss == "cross_entropy":
            return F.cross_entropy(out, target)
        o, t = _masked(out, target, self.loss)
        if self.loss == "bce":
            return F.binary_cross_entropy_with_logits(o, t)
        if self.loss == "mse":
            return F.mse_loss(o, t)
        return F.l1_loss(o, t)

    def score(self, out: Tensor, target: Tensor) -> float:
        """The task's metric of ``out`` against ``target``."""
        return self.metric(out, target)

    @staticmethod
    def take(t, idx):
        """``t[idx]`` (``idx`` None: all of ``t``)."""
        return t if idx is None else t[idx]

    def train_loss(self, model, batch) -> tuple[Tensor, int]:
        """``(loss, items)`` of one training batch: the loss over its ``'train'`` items."""
        out = self.forward(model, batch)
        idx = batch.split_index.get("train")
        return self.loss_fn(self.take(out, idx), self.take(batch.target, idx)), batch.num_items("train")

    @torch.no_grad()
    def evaluate(self, model, batches, splits=("train", "val", "test")) -> dict:
        """Scores of every split found in ``batches`` and the validation loss.

        ``out`` rows of each split are gathered over all batches, then scored at once (so
        rank metrics see the whole split).  Returns ``{split: score, ..., 'val_loss': float}``;
        a split absent from every batch scores NaN.
        """
        outs: dict = {s: [] for s in splits}
        tgts: dict = {s: [] for s in splits}
        for batch in batches:
            out = self.forward(model, batch)
            for s in splits:
                if s in batch.split_index:
                    idx = batch.split_index[s]
                    outs[s].append(self.take(out, idx).detach())
                    tgts[s].append(self.take(batch.target, idx))
        res = {}
        for s in splits:
            if outs[s] and sum(o.shape[0] for o in outs[s]) > 0:
                o, t = torch.cat(outs[s]), torch.cat(tgts[s])
                res[s] = self.score(o, t)
                if s == "val":
                    res["val_loss"] = float(self.loss_fn(o, t))
            else:
                res[s] = float("nan")
        res.setdefault("val_loss", float("nan"))
        return res

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, kind={self.kind!r}, metric="
                f"{self.metric.name!r}, loss={self.loss!r}, num_outputs={self.num_outputs})")


def positive_int(where: str, name: str, v, allow_none: bool = True):
    """``v`` when it is an int >= 1 (or ``None`` when ``allow_none``), else a ``ValueError`` naming
    ``where``, the argument and its value (bools are rejected)."""
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {v!r}")
    return v


# ---------------------------------------------------------------------- registry
_KINDS: dict[str, type] = {}


def register_task_kind(kind: str, task_cls: type, *, replace: bool = False) -> None:
    """Make ``get_task(kind, dataset, **opts)`` build ``task_cls(dataset, **opts)``.

    ``task_cls`` must subclass :class:`Task`; ``replace=True`` overrides an existing kind.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"register_task_kind: kind must be a non-empty string, got {kind!r}")
    if not (isinstance(task_cls, type) and issubclass(task_cls, Task)):
        raise TypeError(f"register_task_kind: task_cls must be a Task subclass, got {task_cls!r}")
    if kind in _KINDS and not replace and _KINDS[kind] is not task_cls:
        raise ValueError(f"register_task_kind: kind {kind!r} is already registered "
                         f"({_KINDS[kind].__name__}); pass replace=True to override")
    _KINDS[kind] = task_cls


def task_kinds() -> list[str]:
    """The registered task kinds."""
    return sorted(_KINDS)


def task_class(kind: str) -> type:
    """The Task subclass registered for ``kind``."""
    if kind not in _KINDS:
        raise ValueError(f"unknown task kind {kind!r}; registered: {', '.join(task_kinds())}")
    return _KINDS[kind]


def get_task(kind: str, dataset, **opts) -> Task:
    """Build the task of kind ``kind`` on ``dataset`` (``opts`` go to its constructor)."""
    return task_class(kind)(dataset, **opts)
