r"""Training recipes: the optimisation settings (and dataset-specific overrides) each registered
model is trained with, kept out of :mod:`gnnkit.nn` (which only knows architectures).

================  ===========================================================================
``gcn``           Kipf & Welling 2017: Adam lr 0.01, wd 5e-4, 200 epochs, best validation accuracy
``gat``           Veličković et al. 2018: lr 0.005, wd 5e-4, up to 1000 epochs, patience 100
                  (PubMed: 8 output heads, lr 0.01, wd 1e-3)
``dagnn``         Liu, Gao & Ji 2020 (authors' ``run.sh``): lr 0.01, wd 0.005, patience 100 on
                  the validation loss (CiteSeer: dropout 0.5, wd 0.02; PubMed: K = 20)
``mlp``           lr 0.01, wd 5e-4, up to 500 epochs, patience 100 (baseline, no paper)
``sgc``           Wu et al. 2019: lr 0.2, wd 5e-5, 100 epochs
``gbp``           Chen et al. 2020 (official transductive settings): lr 0.01, wd 5e-4, 300 / 50
``dir-gnn``       Rossi et al. 2023: lr 0.01, no wd, 500 epochs, patience 100
                  (chameleon_directed: 5 layers, lr 0.005)
================  ===========================================================================

Features are row-normalised on the Planetoid datasets (all three papers do so): the task option
``normalize_features``.  A recipe's ``train`` dict mixes :class:`TrainConfig` fields and task
options (:data:`gnnkit.train.config.TASK_OPTIONS`); :func:`gnnkit.train.config.split_options`
separates them.
"""
from __future__ import annotations

import copy

from gnnkit.nn.models import model_kwargs

__all__ = ["model_defaults", "register_recipe", "recipe", "dataset_model_overrides", "TRAIN_BASE"]

TRAIN_BASE = {"lr": 0.01, "weight_decay": 5e-4, "epochs": 200, "patience": None,
              "monitor": "val_metric"}
_PLANETOID = ("cora", "citeseer", "pubmed")

# model -> {"train": {...}, "datasets": {dataset: ({model overrides}, {train overrides})}}
_RECIPES: dict = {}


def register_recipe(model: str, train: dict | None = None, datasets: dict | None = None,
                    replace: bool = False) -> None:
    """Training defaults of ``model`` (``train``: TrainConfig fields and task options) and per
    dataset ``{name: (model overrides, train overrides)}``."""
    key = str(model).lower()
    if key in _RECIPES and not replace:
        raise ValueError(f"register_recipe: {model!r} already has a recipe (replace=True overrides)")
    for ds, pair in (datasets or {}).items():
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(p, dict) for p in pair)):
            raise ValueError(f"register_recipe: datasets[{ds!r}] must be (model overrides, train "
                             f"overrides), got {pair!r}")
    _RECIPES[key] = {"train": dict(train or {}),
                     "datasets": {k.lower(): v for k, v in (datasets or {}).items()}}


register_recipe("gcn", {"lr": 0.01, "weight_decay": 5e-4, "epochs": 200, "patience": None})
register_recipe("gat", {"lr": 0.005, "weight_decay": 5e-4, "epochs": 1000, "patience": 100},
                {"pubmed": ({"out_heads": 8}, {"lr": 0.01, "weight_decay": 1e-3})})
register_recipe("dagnn", {"lr": 0.01, "weight_decay": 0.005, "epochs": 1000, "patience": 100,
                          "monitor": "val_loss"},
                {"citeseer": ({"dropout": 0.5}, {"weight_decay": 0.02}), "pubmed": ({"K": 20}, {})})
register_recipe("mlp", {"lr": 0.01, "weight_decay": 5e-4, "epochs": 500, "patience": 100})
register_recipe("sgc", {"lr": 0.2, "weight_decay": 5e-5, "epochs": 100, "patience": None})
register_recipe("gbp", {"lr": 0.01, "weight_decay": 5e-4, "epochs": 300, "patience": 50})
# Link prediction.  GAE / VGAE: Kipf & Welling 2016 (tkipf/gae): Adam lr 0.01, 200 epochs, the model
# after the last epoch, the full-adjacency reconstruction loss.  OGB baselines: ogbl.yaml.
# GAE / VGAE use the raw binary bag-of-words features (the authors' code does not normalise them).
register_recipe("gae", {"lr": 0.01, "weight_decay": 0.0, "epochs": 200, "patience": None, "monitor": "last",
                        "objective": "full", "normalize_features": False})
register_recipe("vgae", {"lr": 0.01, "weight_decay": 0.0, "epochs": 200, "patience": None, "monitor": "last",
                         "objective": "full", "normalize_features": False})
register_recipe("link-sage", {"lr": 0.001, "weight_decay": 0.0, "epochs": 400, "patience": None,
                              "batch_size": 65536})
register_recipe("link-gcn", {"lr": 0.001, "weight_decay": 0.0, "epochs": 400, "patience": None,
                             "batch_size": 65536})
register_recipe("dir-gnn", {"lr": 0.01, "weight_decay": 0.0, "epochs": 500, "patience": 100},
                {"chameleon_directed": ({"num_layers": 5}, {"lr": 0.005})})

# Dir-GNN paper protocol (Rossi et al. 2023, official run.py + best_hyperparams.yml): Adam without
# weight decay, up to 10,000 epochs, early stopping on validation accuracy (patience 400 for the
# best configurations, 200 for the ablation runs of Dir-SAGE / Dir-GAT), features row-normalised
# (PyG NormalizeFeatures).  experiments/configs/dirgnn.yaml holds the per-dataset settings.
_DIR = {"weight_decay": 0.0, "epochs": 10000, "patience": 400, "normalize_features": True}
register_recipe("dir-gcn", {**_DIR, "lr": 0.005},
                {"squirrel_directed": ({"num_layers": 4}, {"lr": 0.01}),
                 "squirrel_filtered_directed": ({"num_layers": 4}, {"lr": 0.01})})
register_recipe("dir-sage", {**_DIR, "lr": 0.001, "patience": 200})
register_recipe("dir-gat", {**_DIR, "lr": 0.001, "patience": 200})

# Platonov et al. 2023 (official train.py): AdamW lr 3e-5 without weight decay, 1000 full-batch
# steps, evaluation after every step, the test metric at the best validation step (no early
# stopping, the first best step wins).
_PLATONOV = {"optimizer": "adamw", "lr": 3e-5, "weight_decay": 0.0, "epochs": 1000,
             "patience": None, "tie_break": None, "eval_every": 1}
for _m in ("res-gcn", "res-sage", "res-gat", "res-gat-sep", "res-gt", "res-gt-sep", "resnet",
           "resnet-sgc", "resnet-adj"):
    register_recipe(_m, dict(_PLATONOV))
# GraphSAGE: OGB's reference example on ogbn-arxiv (Adam lr 0.01, no weight decay, 500 epochs).
register_recipe("sage", {"lr": 0.01, "weight_decay": 0.0, "epochs": 500, "patience": None})


def recipe(model: str) -> dict:
    """The registered recipe of ``model`` (a copy); an empty one for a model without recipe."""
    return copy.deepcopy(_RECIPES.get(str(model).lower(), {"train": {}, "datasets": {}}))


def model_defaults(name: str, dataset_name: str | None = None) -> tuple[dict, dict]:
    """``(model_kwargs, train_kwargs)`` of ``name`` for ``dataset_name``.

    ``model_kwargs`` are the registry's architecture defaults plus the recipe's dataset
    overrides; ``train_kwargs`` are :data:`TRAIN_BASE` updated by the recipe (TrainConfig fields
    and task options, e.g. ``normalize_features=True`` on Planetoid).

    >>> m, t = model_defaults('dagnn', 'citeseer')
    >>> m['dropout'], t['weight_decay'], t['monitor']
    (0.5, 0.02, 'val_loss')
    """
    r = recipe(name)
    model_kw = model_kwargs(name)  # raises for an unknown model
    train_kw = {**TRAIN_BASE, **r["train"]}
    ds = (dataset_name or "").lower()
    if ds in r["datasets"]:
        model_kw.update(r["datasets"][ds][0])
        train_kw.update(r["datasets"][ds][1])
    explicit = "normalize_features" in r["train"] or "normalize_features" in r["datasets"].get(ds, ({}, {}))[1]
    if ds in _PLANETOID and not explicit:  # a recipe that sets it (GAE: raw features) wins
        train_kw["normalize_features"] = True
    return model_kw, train_kw


def dataset_model_overrides(name: str, dataset_name: str | None) -> dict:
    """The recipe's model overrides of ``name`` on ``dataset_name`` (``{}`` if none)."""
    r = recipe(name)
    return dict(r["datasets"].get((dataset_name or "").lower(), ({}, {}))[0])
