r"""Callbacks of :func:`gnnkit.train.fit`: model selection, early stopping, progress, memory.

A callback sees the :class:`FitState` at ``on_fit_start`` (where a resume callback may load the
model and ``state.optimizer`` and set ``state.start_epoch``), after every epoch (``on_epoch_end``;
``state.scores`` is the evaluation of this epoch, or ``None`` on an epoch without evaluation)
and at ``on_fit_end``.  Setting ``state.stop = True`` ends training after the current epoch.
``fit`` always runs :class:`BestCheckpoint` first (it defines the selected epoch), then
:class:`EarlyStopping` (when ``patience`` is set), then :class:`PeakMemory`, then the caller's.
"""
from __future__ import annotations

import copy
import math
import resource
import sys
from dataclasses import dataclass, field
from typing import Callable

import torch

__all__ = ["FitState", "Callback", "BestCheckpoint", "EarlyStopping", "ProgressCallback",
           "PeakMemory", "peak_rss_mb", "reset_peak_rss"]


@dataclass
class FitState:
    """What a callback can read (and ``stop`` / ``best`` it may write)."""

    model: object
    task: object
    config: object
    epoch: int = 0
    loss: float = float("nan")
    scores: dict | None = None
    best: dict | None = None  # {'epoch', 'scores', 'val_loss', 'state'}
    stop: bool = False
    history: list = field(default_factory=list)
    peak_memory_mb: float = float("nan")
    peak_memory_kind: str = "n/a"
    optimizer: object = None  # set by fit before on_fit_start (a resume callback loads its state)
    start_epoch: int = 0  # epochs already done: a resume callback sets it in on_fit_start

    @property
    def best_epoch(self) -> int:
        return self.best["epoch"] if self.best else 0


class Callback:
    """Base class: override any of the three hooks."""

    def on_fit_start(self, state: FitState) -> None:
        pass

    def on_epoch_end(self, state: FitState) -> None:
        pass

    def on_fit_end(self, state: FitState) -> None:
        pass


def _key(scores: dict, monitor: str, tie_break, higher_is_better: bool):
    """Selection key: larger is better (lexicographic)."""
    if monitor == "val_loss":
        return (-scores["val_loss"],)
    val = scores["val"] if higher_is_better else -scores["val"]
    return (val, -scores["val_loss"]) if tie_break == "val_loss" else (val,)


class BestCheckpoint(Callback):
    """Keep the parameters of the best evaluated epoch and restore them at the end.

    Best: largest validation metric (smallest when the metric is lower-is-better), ties broken
    by the lower validation loss (``tie_break='val_loss'``) or by the earlier epoch
    (``tie_break=None``); ``monitor='val_loss'``: smallest validation loss; ``monitor='last'``:
    the last evaluated epoch (no copy kept).  A strictly better key is needed to move the
    selection, so among equal keys the earliest epoch stays selected.
    """

    def __init__(self, monitor: str = "val_metric", tie_break="val_loss", higher_is_better: bool = True):
        self.monitor, self.tie_break, self.higher = monitor, tie_break, higher_is_better
        self._key = None

    def on_fit_start(self, state):
        self._key = None
        state.best = None

    def on_epoch_end(self, state):
        sc = state.scores
        if sc is None:
            return
        if self.monitor == "last":
            state.best = {"epoch": state.epoch, "scores": dict(sc), "val_loss": sc.get("val_loss"),
                          "state": None}
            return
        key = _key(sc, self.monitor, self.tie_break, self.higher)
        if any(isinstance(k, float) and math.isnan(k) for k in key):
            key = tuple(-math.inf if isinstance(k, float) and math.isnan(k) else k for k in key)
        if self._key is None or key > self._key:
            self._key = key
            state.best = {"epoch": state.epoch, "scores": dict(sc), "val_loss": sc.get("val_loss"),
                          "state": copy.deepcopy(state.model.state_dict())}

    def on_fit_end(self, state):
        if state.best is not None and state.best["state"] is not None:
            state.model.load_state_dict(state.best["state"])  # leave the model at its selected epoch


class EarlyStopping(Callback):
    """Stop when ``patience`` epochs have passed since the selected (best) epoch."""

    def __init__(self, patience: int):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an int >= 1, got {patience!r}")
        self.patience = patience

    def on_epoch_end(self, state):
        if state.scores is not None and state.best is not None and \
                state.epoch - state.best["epoch"] >= self.patience:
            state.stop = True


class ProgressCallback(Callback):
    """Call ``fn(info)`` after every epoch with ``{'epoch', 'epochs', 'loss', 'train', 'val',
    'test', 'val_loss', 'best_epoch'}`` (scores NaN on epochs without evaluation)."""

    def __init__(self, fn: Callable[[dict], None]):
        self.fn = fn

    def on_epoch_end(self, state):
        sc = state.scores or {}
        nan = float("nan")
        self.fn({"epoch": state.epoch, "epochs": state.config.epochs, "loss": state.loss,
                 "train": sc.get("train", nan), "val": sc.get("val", nan), "test": sc.get("test", nan),
                 "val_loss": sc.get("val_loss", nan), "best_epoch": state.best_epoch})


# ---------------------------------------------------------------------- memory
def peak_rss_mb() -> float:
    """The process' peak resident set size (``VmHWM`` on Linux, else ``ru_maxrss``), MiB.

    After :func:`reset_peak_rss` succeeded, ``VmHWM`` is the peak since that reset."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux: write ``5`` to
    ``/proc/self/clear_refs``, kernel >= 4.0); False where that is impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory(Callback):
    """The run's own peak memory, stored in ``state.peak_memory_mb`` / ``peak_memory_kind``.

    ``'gpu'``: peak CUDA memory allocated by torch during the run (model on CUDA);
    ``'rss'``: the peak resident set of the process *during this run* (Linux: the ``VmHWM``
    mark reset at the start of the run; it includes what was resident before, e.g. the dataset,
    but not earlier runs' peaks); ``'rss_growth'``: where the mark cannot be reset, the growth of
    the process' all-time peak (``ru_maxrss``) over the run: 0 when the run stayed below an
    earlier peak, so a lower bound, labelled as such.
    """

    def on_fit_start(self, state):
        self.device = next((p.device for p in state.model.parameters()), torch.device("cpu"))
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.kind = "gpu"
        elif reset_peak_rss():
            self.kind = "rss"
        else:
            self.kind = "rss_growth"
            self.start = peak_rss_mb()

    def on_fit_end(self, state):
        if self.kind == "gpu":
            state.peak_memory_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self.kind == "rss":
            state.peak_memory_mb = peak_rss_mb()
        else:
            state.peak_memory_mb = max(0.0, peak_rss_mb() - self.start)
        state.peak_memory_kind = self.kind
