r"""Many runs over :func:`gnnkit.train.fit`: :func:`run_experiment` (seeds x splits, mean ± std)
and :func:`train_node_classifier` (one node-classification run on a dataset, the classic entry
point).  Both build a task (:func:`gnnkit.tasks.get_task`) and call :func:`fit`; there is no
other training loop.

Protocol of the registry models (recipes in :mod:`gnnkit.train.recipes`): Adam with weight
decay (L2 on every parameter, as the GCN/GAT/DAGNN reference code), the task's loss on the
training nodes, full-batch evaluation after every epoch, early stopping when the monitored
validation quantity has not improved for ``patience`` epochs, and best-validation model
selection (ties in the validation metric broken by the lower validation loss).  Runs are
deterministic for a given seed: :func:`torch.manual_seed` is called before the model is built
and again before it is re-initialised and trained.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from gnnkit.tasks import Task, get_task
from gnnkit.train.callbacks import peak_rss_mb
from gnnkit.train.config import TrainConfig, split_options
from gnnkit.train.fit import FitResult, fit

__all__ = ["ExperimentResult", "run_experiment", "train_node_classifier", "RunResult", "peak_rss_mb"]

RunResult = FitResult  # the pre-task-layer name of a run's record


def _mean_std(values):
    vals = list(values)
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


@dataclass
class ExperimentResult:
    """All runs of :func:`run_experiment` with mean ± (sample) std per split."""

    model: str
    dataset: str
    runs: list = field(default_factory=list)

    def mean_std(self, split: str = "test") -> tuple[float, float]:
        """``(mean, std)`` of ``split``'s metric over the runs (std: sample std, 0 for one run)."""
        return _mean_std(getattr(r, split) for r in self.runs)

    def summary(self) -> dict:
        out = {"model": self.model, "dataset": self.dataset, "num_runs": len(self.runs),
               "metric": self.runs[0].metric if self.runs else None}
        for key in ("train", "val", "test", "epochs", "time_per_epoch", "peak_memory_mb"):
            m, s = _mean_std(getattr(r, key) for r in self.runs)
            out[key] = {"mean": m, "std": s}
        out["num_parameters"] = self.runs[0].num_parameters if self.runs else 0
        return out

    def __str__(self) -> str:
        m, s = self.mean_std("test")
        metric = self.runs[0].metric if self.runs else ""
        return (f"{self.model} on {self.dataset}: test {metric} {100 * m:.2f} ± {100 * s:.2f} "
                f"({len(self.runs)} runs)")


def _config(config, base: dict | None = None) -> tuple[TrainConfig, dict]:
    """``(TrainConfig, task options)`` from a TrainConfig, or a dict updating ``base``."""
    if isinstance(config, TrainConfig):
        return config, split_options(base)[1]
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a TrainConfig or a dict, got {type(config).__name__}")
    train_kw, task_kw = split_options({**(base or {}), **(config or {})})
    return TrainConfig.from_dict(train_kw), task_kw


def train_node_classifier(model: nn.Module, dataset, split: int = 0, seed: int | None = None,
                          config: TrainConfig | None = None,
                          progress: Callable[[dict], None] | None = None, **options) -> FitResult:
    """Train ``model`` on one split of a node dataset (a :class:`~gnnkit.tasks.NodeTask` +
    :func:`fit`) and return the record of the selected epoch.

    Args:
        model (nn.Module): ``model(x, graph) -> [N, task.num_outputs]``.
        dataset (NodeDataset): graph, features, labels, splits, declared metric.
        split (int): which split. (default: ``0``)
        seed (int, optional): ``torch.manual_seed(seed)`` and ``model.reset_parameters()`` first.
        config (TrainConfig, optional): optimisation settings; ``**options`` builds one instead
            (e.g. ``lr=0.01, epochs=200``) and may hold task options (``normalize_features``,
            ``sparse_features``, ``batch_size``, ``fanouts``).
        progress (callable, optional): called after every epoch with ``{'epoch', 'epochs',
            'loss', 'train', 'val', 'test', 'val_loss', 'best_epoch'}``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"train_node_classifier: model must be a torch.nn.Module, got "
                        f"{type(model).__name__}")
    train_kw, task_kw = split_options(options)
    if config is not None and train_kw:
        raise ValueError("train_node_classifier: pass either config or keyword options, not both")
    cfg = config if config is not None else TrainConfig.from_dict(train_kw)
    task = get_task("node", dataset, split=split, **task_kw)
    return fit(model, task, config=cfg, callbacks=[progress] if progress is not None else (), seed=seed)


def run_experiment(model, dataset, seeds=(0,), splits=None, config: TrainConfig | dict | None = None,
                   model_kwargs: dict | None = None, progress: Callable[[dict], None] | None = None,
                   task: str = "node", task_options: dict | None = None) -> ExperimentResult:
    """Train ``model`` for every ``(split, seed)`` pair and collect mean ± std.

    Args:
        model (str or callable): a registry name (built by :func:`gnnkit.nn.build_model` with
            its recipe, :mod:`gnnkit.train.recipes`), or a factory ``f(in_features,
            num_outputs) -> nn.Module``.
        dataset: the dataset (a ``NodeDataset`` for ``task='node'``).
        seeds (sequence of int): one run per seed and split. (default: ``(0,)``)
        splits (sequence of int, optional): split indices. (default: every split)
        config (TrainConfig or dict, optional): for a registry name a dict updates the recipe
            (it may hold task options such as ``normalize_features``); a TrainConfig replaces the
            recipe's optimisation settings.
        model_kwargs (dict, optional): model overrides for a registry name.
        progress (callable, optional): per-epoch dict of :func:`fit` plus ``'run'``,
            ``'num_runs'``, ``'seed'``, ``'split'``.
        task (str): the task kind (:func:`gnnkit.tasks.get_task`). (default: ``'node'``)
        task_options (dict, optional): more keyword arguments of the task.
    """
    from gnnkit.nn.models import build_model
    from gnnkit.train.recipes import dataset_model_overrides, model_defaults

    if not hasattr(dataset, "splits"):
        raise TypeError(f"run_experiment: dataset must be a gnnkit dataset with splits, got "
                        f"{type(dataset).__name__}")
    if splits is None:
        splits = list(range(dataset.num_splits))
    seeds, splits = list(seeds), list(splits)
    if not seeds or not splits:
        raise ValueError("run_experiment: need at least one seed and one split")
    dname = getattr(dataset, "name", "")
    if isinstance(model, str):
        name = model
        cfg, task_kw = _config(config, model_defaults(name, dname)[1])
        mk = {**dataset_model_overrides(name, dname), **(model_kwargs or {})}
        factory = lambda t: build_model(name, t, **mk)  # noqa: E731
    else:
        if model_kwargs:
            raise ValueError("run_experiment: model_kwargs only applies to a registry name")
        name = getattr(model, "__name__", type(model).__name__)
        cfg, task_kw = _config(config)
        factory = lambda t: model(t.num_features, t.num_outputs)  # noqa: E731
    task_kw.update(task_options or {})
    result = ExperimentResult(model=name, dataset=dname)
    total = len(seeds) * len(splits)
    for split in splits:
        t = get_task(task, dataset, split=split, **task_kw)
        if not isinstance(t, Task):
            raise TypeError(f"run_experiment: task kind {task!r} built a {type(t).__name__}, not a Task")
        for seed in seeds:
            torch.manual_seed(int(seed))
            net = factory(t)
            cbs = []
            if progress is not None:
                def cb(info, _run=len(result.runs), _seed=seed, _split=split):
                    progress({**info, "run": _run, "num_runs": total, "seed": _seed, "split": _split})
                cbs.append(cb)
            result.runs.append(fit(net, t, config=cfg, callbacks=cbs, seed=seed))
    return result
