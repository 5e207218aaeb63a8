r"""The one training loop of gnnkit: :func:`fit` (any task kind, full graph or mini-batches).

One run:

1. ``torch.manual_seed(seed)`` and ``model.reset_parameters()`` (when ``seed`` is given), so a
   run is a function of its seed;
2. every epoch: one optimiser step per batch of ``loaders['train']`` (loss of the batch's
   ``'train'`` items, :meth:`Task.train_loss`); every ``eval_every`` epochs (and after the
   last): :meth:`Task.evaluate` over ``loaders['eval']`` (each split's metric + validation loss);
3. callbacks: best-epoch selection (:class:`BestCheckpoint`), early stopping
   (:class:`EarlyStopping`), the run's own peak memory (:class:`PeakMemory`), the caller's;
4. the model is left at the selected epoch; :class:`FitResult` records that epoch's scores.

``time_per_epoch`` is the mean wall time of the training passes (forward, backward, optimiser
step, including the train loader's batch production), evaluation excluded.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from gnnkit.tasks.base import Task
from gnnkit.train.callbacks import (BestCheckpoint, Callback, EarlyStopping, FitState, PeakMemory,
                                    ProgressCallback)
from gnnkit.train.config import TrainConfig

__all__ = ["fit", "FitResult", "make_optimizer"]


@dataclass
class FitResult:
    """The record of one :func:`fit` run.

    Attributes:
        train, val, test (float): the task's metric on each split at the selected epoch (NaN for
            a split the eval loader does not cover).
        metric (str): the metric's name (``'accuracy'``, ``'roc_auc'``, ``'ogb:ogbn-arxiv'``, ...).
        best_epoch (int): the selected epoch (1-based).
        epochs (int): epochs trained (early stopping may end the run early).
        time_per_epoch (float): mean seconds of one training pass (evaluation excluded).
        peak_memory_mb (float): the run's own peak memory, MiB (see ``peak_memory_kind``).
        peak_memory_kind (str): ``'rss'`` (peak resident set during the run), ``'gpu'`` (peak CUDA
            memory allocated), or ``'rss_growth'`` (growth of the process peak: a lower bound).
        num_parameters (int): trainable parameters.
        seed (int), split (int): ``-1`` when not given / not applicable.
        val_loss (float): validation loss at the selected epoch.
        task (str): the task kind.
        history (list of dict): per epoch ``{'epoch', 'loss'}`` plus the scores when evaluated.
    """

    train: float
    val: float
    test: float
    metric: str
    best_epoch: int
    epochs: int
    time_per_epoch: float
    peak_memory_mb: float
    num_parameters: int
    seed: int = -1
    split: int = -1
    val_loss: float = float("nan")
    task: str = "node"
    peak_memory_kind: str = "rss"
    history: list = field(default_factory=list, repr=False)

    def to_dict(self, history: bool = False) -> dict:
        d = asdict(self)
        if not history:
            d.pop("history")
        return d


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam (L2 weight decay) or AdamW (decoupled) over the model's parameters."""
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _on(device: torch.device, batches):
    """The batches of a loader, moved to the model's device (a no-op generator on the CPU)."""
    return (b.to(device) if device.type != "cpu" else b for b in batches)


def _device_of(model) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def fit(model: nn.Module, task: Task, loaders: dict | None = None, config: TrainConfig | None = None,
        callbacks=(), seed: int | None = None) -> FitResult:
    """Train ``model`` on ``task`` and return the record of its selected epoch.

    Args:
        model (nn.Module): called through ``task.forward(model, batch)``; re-initialised with
            ``reset_parameters()`` after seeding when it has that method.
        task (Task): loss, metric and (by default) the loaders.
        loaders (dict, optional): ``{'train': iterable of Batch, 'eval': iterable of Batch}``.
            (default: ``task.prepare(model)`` then ``task.loaders(seed=seed)``)
        config (TrainConfig, optional): (default: ``TrainConfig()``)
        callbacks (iterable): extra :class:`Callback` objects, or plain callables that get the
            per-epoch progress dict (:class:`ProgressCallback`).
        seed (int, optional): ``torch.manual_seed(seed)`` first; also seeds the loaders.

    Returns:
        FitResult.

    >>> from gnnkit.data import csbm
    >>> from gnnkit.nn import get_model
    >>> from gnnkit.tasks import NodeTask
    >>> task = NodeTask(csbm(200, num_classes=2, seed=0))
    >>> r = fit(get_model('mlp', task.num_features, task.num_outputs), task,
    ...         config=TrainConfig(epochs=5), seed=0)
    >>> r.epochs, r.metric
    (5, 'accuracy')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"fit: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"fit: task must be a gnnkit.tasks.Task, got {type(task).__name__}")
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"fit: config must be a TrainConfig, got {type(config).__name__}")
    extra = []
    for cb in callbacks:
        if isinstance(cb, Callback):
            extra.append(cb)
        elif callable(cb):
            extra.append(ProgressCallback(cb))
        else:
            raise TypeError(f"fit: callbacks must be Callback objects or callables, got {cb!r}")
    if seed is not None:
        torch.manual_seed(int(seed))
        if hasattr(model, "reset_parameters"):
            model.reset_parameters()
    if loaders is None:
        task.prepare(model)
        loaders = task.loaders(seed=seed)
    for k in ("train", "eval"):
        if k not in loaders:
            raise ValueError(f"fit: loaders must have 'train' and 'eval', got {sorted(loaders)}")
    device = _device_of(model)
    cbs = [BestCheckpoint(config.monitor, config.tie_break, task.metric.higher_is_better)]
    if config.patience is not None and config.monitor != "last":
        cbs.append(EarlyStopping(config.patience))
    cbs.append(PeakMemory())
    cbs += extra

    optimizer = make_optimizer(model, config)
    state = FitState(model=model, task=task, config=config, optimizer=optimizer)
    for cb in cbs:
        cb.on_fit_start(state)
    train_time = 0.0
    if not 0 <= state.start_epoch <= config.epochs:
        raise ValueError(f"fit: start_epoch {state.start_epoch} (set by a callback) is outside [0, {config.epochs}]")
    state.epoch = state.start_epoch
    for epoch in range(state.start_epoch + 1, config.epochs + 1):
        state.epoch = epoch
        t0 = time.perf_counter()
        model.train()
        total, items = 0.0, 0
        for batch in _on(device, loaders["train"]):
            optimizer.zero_grad()
            loss, n = task.train_loss(model, batch)
            loss.backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * n
            items += n
        if items == 0:
            raise ValueError(f"fit: the train loader of {task!r} yielded no training item")
        train_time += time.perf_counter() - t0
        state.loss = total / items
        state.scores = None
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            model.eval()
            state.scores = task.evaluate(model, _on(device, loaders["eval"]))
        state.history.append({"epoch": epoch, "loss": state.loss, **(state.scores or {})})
        for cb in cbs:
            cb.on_epoch_end(state)
        if state.stop:
            break
    if state.scores is None:  # stopped by a callback on an epoch without evaluation
        model.eval()
        state.scores = task.evaluate(model, _on(device, loaders["eval"]))
        cbs[0].on_epoch_end(state)
    for cb in cbs:
        cb.on_fit_end(state)
    best = state.best
    sc = best["scores"]
    return FitResult(train=sc.get("train", float("nan")), val=sc.get("val", float("nan")),
                     test=sc.get("test", float("nan")), metric=task.metric.name,
                     best_epoch=best["epoch"], epochs=state.epoch,
                     time_per_epoch=train_time / max(state.epoch - state.start_epoch, 1),
                     peak_memory_mb=state.peak_memory_mb,
                     peak_memory_kind=state.peak_memory_kind,
                     num_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
                     seed=-1 if seed is None else int(seed), split=int(getattr(task, "split", -1)),
                     val_loss=float(best["val_loss"]) if best["val_loss"] is not None else float("nan"),
                     task=task.kind, history=state.history)
