"""Training (gnnkit.train): one loop for every task kind.

============================  ====================================================================
:func:`fit`                   one run of a model on a :class:`gnnkit.tasks.Task`: loaders, early
                              stopping, best-validation selection, callbacks -> :class:`FitResult`
:class:`TrainConfig`          optimiser (adam / adamw), lr, weight decay, epochs, patience,
                              monitor, eval_every, grad_clip
:mod:`~gnnkit.train.callbacks`  BestCheckpoint, EarlyStopping, ProgressCallback, PeakMemory
:func:`run_experiment`        seeds x splits over :func:`fit` -> :class:`ExperimentResult`
:func:`train_node_classifier` one node-classification run on a dataset (NodeTask + fit)
:mod:`~gnnkit.train.recipes`  per-model / per-dataset training defaults
============================  ====================================================================
"""
from gnnkit.tasks.node import normalize_features
from gnnkit.train.callbacks import (BestCheckpoint, Callback, EarlyStopping, FitState, PeakMemory,
                                    ProgressCallback, peak_rss_mb)
from gnnkit.train.config import TASK_OPTIONS, TrainConfig, split_options
from gnnkit.train.fit import FitResult, fit
from gnnkit.train.recipes import model_defaults, register_recipe
from gnnkit.train.trainer import ExperimentResult, RunResult, run_experiment, train_node_classifier

__all__ = [
    "fit",
    "FitResult",
    "TrainConfig",
    "TASK_OPTIONS",
    "split_options",
    "Callback",
    "FitState",
    "BestCheckpoint",
    "EarlyStopping",
    "ProgressCallback",
    "PeakMemory",
    "run_experiment",
    "ExperimentResult",
    "train_node_classifier",
    "RunResult",
    "model_defaults",
    "register_recipe",
    "normalize_features",
    "peak_rss_mb",
]
