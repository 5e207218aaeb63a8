"""Optimisation settings of one :func:`gnnkit.train.fit` run, and the split of a flat settings
dict (as in recipes and YAML configs) into optimisation and task options."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

__all__ = ["TrainConfig", "TASK_OPTIONS", "MONITORS", "split_options"]

MONITORS = ("val_metric", "val_loss", "last")
_MONITOR_ALIASES = {"val_acc": "val_metric"}  # the pre-task-layer name (accuracy was the only metric)
_OPTIMIZERS = ("adam", "adamw")

# Options of a flat settings dict that configure the task (data preparation), not the optimiser.
TASK_OPTIONS = ("normalize_features", "sparse_features", "batch_size", "fanouts", "eval_batch_size",
                "objective", "neg_ratio")  # the last two: LinkTask


@dataclass
class TrainConfig:
    """How :func:`gnnkit.train.fit` optimises and selects (defaults per model/dataset:
    :mod:`gnnkit.train.recipes`).

    Args:
        optimizer (str): ``'adam'`` (weight decay = L2 added to the gradient, as the GCN / GAT /
            DAGNN reference code) or ``'adamw'`` (decoupled decay). (default: ``'adam'``)
        lr (float): learning rate. (default: ``0.01``)
        weight_decay (float): (default: ``5e-4``)
        epochs (int): maximum number of epochs (passes over the train loader). (default: ``200``)
        patience (int, optional): stop when the monitored quantity has not improved for this
            many epochs; ``None`` trains all ``epochs``. (default: ``None``)
        monitor (str): model selection and early stopping on ``'val_metric'`` (the task's
            metric on validation; ``'val_acc'`` is accepted as its old name), ``'val_loss'``,
            or ``'last'`` (no selection: the final epoch). (default: ``'val_metric'``)
        tie_break (str, optional): ``'val_loss'``: equal validation metrics are broken by the
            lower validation loss; ``None``: the earliest epoch wins. (default: ``'val_loss'``)
        eval_every (int): evaluate every this many epochs (and after the last). (default: ``1``)
        grad_clip (float, optional): clip the gradient's global 2-norm to this. (default: ``None``)
    """

    optimizer: str = "adam"
    lr: float = 0.01
    weight_decay: float = 5e-4
    epochs: int = 200
    patience: int | None = None
    monitor: str = "val_metric"
    tie_break: str | None = "val_loss"
    eval_every: int = 1
    grad_clip: float | None = None

    def __post_init__(self):
        self.monitor = _MONITOR_ALIASES.get(self.monitor, self.monitor)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"TrainConfig: optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or \
                not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"TrainConfig: lr must be a positive number, got {self.lr!r}")
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) or \
                not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"TrainConfig: weight_decay must be >= 0, got {self.weight_decay!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"TrainConfig: epochs must be an int >= 1, got {self.epochs!r}")
        if self.patience is not None and (isinstance(self.patience, bool) or
                                          not isinstance(self.patience, int) or self.patience < 1):
            raise ValueError(f"TrainConfig: patience must be None or an int >= 1, got {self.patience!r}")
        if self.monitor not in MONITORS:
            raise ValueError(f"TrainConfig: monitor must be one of {MONITORS} (or 'val_acc'), got "
                             f"{self.monitor!r}")
        if self.tie_break not in (None, "val_loss"):
            raise ValueError(f"TrainConfig: tie_break must be 'val_loss' or None, got {self.tie_break!r}")
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < 1:
            raise ValueError(f"TrainConfig: eval_every must be an int >= 1, got {self.eval_every!r}")
        if self.grad_clip is not None and not (self.grad_clip > 0 and math.isfinite(self.grad_clip)):
            raise ValueError(f"TrainConfig: grad_clip must be None or a positive number, got {self.grad_clip!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a dict; unknown keys raise ``ValueError`` naming them and the valid ones."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown option(s) {unknown}; valid: {sorted(names)} "
                             f"(task options: {list(TASK_OPTIONS)})")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def split_options(d: dict | None) -> tuple[dict, dict]:
    """``(train options, task options)`` of a flat settings dict (task options: :data:`TASK_OPTIONS`).

    >>> split_options({'lr': 0.1, 'normalize_features': True})
    ({'lr': 0.1}, {'normalize_features': True})
    """
    d = dict(d or {})
    task = {k: d.pop(k) for k in TASK_OPTIONS if k in d}
    return d, task
