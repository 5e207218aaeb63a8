"""Benchmark plans for ``gnnkit bench``: YAML config files and command-line flags, validated
into one :class:`BenchPlan`.

A config file (``experiments/configs/<name>.yaml``; ``--suite NAME`` picks one) looks like::

    name: ogbn                       # results/<timestamp>-<name>
    description: free text
    runs: 10                         # seeds 0..9 (or `seeds: [0, 1, 2]`)
    splits: null                     # split indices (default: every split of the dataset)
    skip_missing: true               # datasets without files are skipped with a message
    train: {epochs: 500}             # gnnkit.train.TrainConfig fields (and task options such
                                     # as normalize_features, batch_size, fanouts), every run
    models: [gcn, gat]               # default model list of every dataset
    datasets:
      - name: ogbn-arxiv
        label: arxiv                 # name in the results (default: name; must be unique)
        args: {}                     # keyword arguments of gnnkit.data.get_dataset
        train: {lr: 0.01}            # per-dataset TrainConfig overrides
        models:
          - gcn                                            # a registry name ...
          - {name: gat, model: {heads: 3}, train: {lr: 0.002}}
          - {name: sgc, optional: true}                     # ... skipped with a warning when
                                                            #     the model is not registered

Precedence of training settings: the model's recipe (``gnnkit.train.recipes.model_defaults``),
then ``train`` of the file, of the dataset, of the model entry, then command-line flags
(``--epochs`` ...).  Every key is checked; an error names the file and the key path, e.g.
``ogbn.yaml: datasets[0].models[1].train: unknown option(s) ['lrr']``.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigError", "ModelSpec", "DatasetSpec", "BenchPlan", "load_config", "parse_config",
           "config_dir", "available_suites", "suite_path", "resolve_run_settings", "fingerprint"]


class ConfigError(ValueError):
    """A benchmark config (file or flags) is invalid; the message names the key."""


@dataclass
class ModelSpec:
    """One model of a dataset: registry ``name``, model overrides and training overrides."""

    name: str
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    optional: bool = False


@dataclass
class DatasetSpec:
    """One dataset: ``name`` for :func:`gnnkit.data.get_dataset`, its ``args``, its models."""

    name: str
    args: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    models: list = field(default_factory=list)  # list[ModelSpec]
    label: str = ""

    def __post_init__(self):
        self.label = self.label or self.name


@dataclass
class BenchPlan:
    """Everything ``gnnkit bench`` runs: datasets x models x splits x seeds."""

    name: str
    datasets: list  # list[DatasetSpec]
    seeds: list
    splits: list | None = None
    train: dict = field(default_factory=dict)
    skip_missing: bool = False
    description: str = ""
    source: str = "flags"
    task: str = "node"

    @property
    def num_jobs(self) -> int:
        return sum(len(d.models) for d in self.datasets)


_TOP_KEYS = {"name", "description", "task", "runs", "seeds", "splits", "skip_missing", "train",
             "models", "datasets"}
_DATASET_KEYS = {"name", "label", "args", "train", "models"}
_MODEL_KEYS = {"name", "model", "train", "optional"}


def config_dir() -> Path:
    """``<repo>/experiments/configs`` (the suites shipped with a source checkout)."""
    return Path(__file__).resolve().parents[2] / "experiments" / "configs"


def available_suites() -> list[str]:
    """Names of the ``*.yaml`` files in :func:`config_dir`."""
    d = config_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def suite_path(name: str) -> Path:
    """The config file of suite ``name``; :class:`ConfigError` lists the suites if unknown."""
    p = config_dir() / f"{name}.yaml"
    if not p.is_file():
        suites = available_suites()
        raise ConfigError(f"unknown suite {name!r}; available suites (in {config_dir()}): "
                          f"{', '.join(suites) if suites else 'none'}")
    return p


def _err(src: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{src}: {key}: {msg}" if key else f"{src}: {msg}")


def _check_keys(d, allowed, src, key):
    if not isinstance(d, dict):
        raise _err(src, key, f"expected a mapping, got {type(d).__name__} {d!r}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _err(src, key + ("." if key else "") + str(unknown[0]),
                   f"unknown key; valid keys here: {sorted(allowed)}")


def _check_train(d, src, key) -> dict:
    """Validate TrainConfig overrides and task options (names and values) without the model
    defaults."""
    from gnnkit.train import TrainConfig, split_options

    if d is None:
        return {}
    if not isinstance(d, dict):
        raise _err(src, key, f"expected a mapping of TrainConfig options, got {d!r}")
    try:
        TrainConfig.from_dict(split_options(d)[0])  # names and value ranges
    except (ValueError, TypeError) as e:
        raise _err(src, key, str(e)) from None
    return dict(d)


def _check_mapping(d, src, key) -> dict:
    if d is None:
        return {}
    if not isinstance(d, dict) or not all(isinstance(k, str) for k in d):
        raise _err(src, key, f"expected a mapping of keyword arguments, got {d!r}")
    return dict(d)


def _int_list(v, src, key, minimum=0) -> list:
    if isinstance(v, bool) or not isinstance(v, list) or not v or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= minimum for i in v):
        raise _err(src, key, f"expected a non-empty list of integers >= {minimum}, got {v!r}")
    if len(set(v)) != len(v):
        raise _err(src, key, f"lists a value twice: {v!r}")
    return list(v)


def _model_spec(entry, src, key) -> ModelSpec:
    if isinstance(entry, str):
        return ModelSpec(entry.strip().lower())
    _check_keys(entry, _MODEL_KEYS, src, key)
    if not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise _err(src, key + ".name", f"expected a model name, got {entry.get('name')!r}")
    opt = entry.get("optional", False)
    if not isinstance(opt, bool):
        raise _err(src, key + ".optional", f"expected true or false, got {opt!r}")
    return ModelSpec(entry["name"].strip().lower(), _check_mapping(entry.get("model"), src, key + ".model"),
                     _check_train(entry.get("train"), src, key + ".train"), opt)


def _model_list(v, src, key) -> list:
    if not isinstance(v, list) or not v:
        raise _err(src, key, f"expected a non-empty list of models, got {v!r}")
    return [_model_spec(e, src, f"{key}[{i}]") for i, e in enumerate(v)]


def check_models(plan: BenchPlan, warn=None) -> BenchPlan:
    """Check model names against the registry (optional unknown models are dropped with a
    warning, others raise naming the key) and build each model once on a toy size to check
    its overrides early, before hours of training."""
    from gnnkit.nn.models import available_models, get_model

    known = set(available_models(plan.task))
    other = set(available_models()) - known
    dropped: dict = {}
    for i, ds in enumerate(plan.datasets):
        kept = []
        for j, m in enumerate(ds.models):
            key = f"datasets[{i}].models[{j}]" if plan.source != "flags" else "--model"
            if m.name not in known:
                if m.optional:
                    dropped.setdefault(m.name, []).append(ds.label)
                    continue
                what = (f"model {m.name!r} does not support task kind {plan.task!r}"
                        if m.name in other else f"unknown model {m.name!r}")
                raise _err(plan.source, key, f"{what}; available models for {plan.task!r}: "
                           f"{', '.join(sorted(known)) or 'none'}")
            if m.model:
                try:
                    get_model(m.name, 8, 2, dataset_name=ds.name, **m.model)
                except (ValueError, TypeError) as e:
                    raise _err(plan.source, key + ".model", str(e)) from None
            kept.append(m)
        ds.models = kept
    for name, where in dropped.items():
        msg = (f"{plan.source}: optional model {name!r} is not registered in this gnnkit build; "
               f"skipped on {', '.join(where)} (available: {', '.join(sorted(known))})")
        (warn or (lambda s: warnings.warn(s, stacklevel=3)))(msg)
    plan.datasets = [d for d in plan.datasets if d.models]
    return plan


def _check_dataset_name(name, src, key) -> str:
    from gnnkit.data import available_datasets

    if not isinstance(name, str) or not name.strip():
        raise _err(src, key, f"expected a dataset name, got {name!r}")
    from gnnkit.data.registry import is_dataset_path

    if is_dataset_path(name):   # a file in the Platonov et al. .npz layout
        if not Path(name).expanduser().is_file():
            raise _err(src, key, f"dataset file {name!r} does not exist")
        return str(Path(name).expanduser())
    names = available_datasets()
    norm = {n.lower().replace("-", "_"): n for n in names}
    canon = norm.get(name.strip().lower().replace("-", "_"))
    if canon is None:
        raise _err(src, key, f"unknown dataset {name!r}; available datasets: {', '.join(names)}")
    return canon


def parse_config(data, source: str = "<config>") -> BenchPlan:
    """Validate a parsed YAML document into a :class:`BenchPlan` (model names not yet checked,
    see :func:`check_models`)."""
    src = source
    if data is None:
        raise _err(src, "", "the file is empty")
    _check_keys(data, _TOP_KEYS, src, "")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
        raise _err(src, "name", f"expected a short name usable in a folder name, got {name!r}")
    if "runs" in data and "seeds" in data:
        raise _err(src, "seeds", "give either runs or seeds, not both")
    if "seeds" in data:
        seeds = _int_list(data["seeds"], src, "seeds")
    else:
        runs = data.get("runs", 1)
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
            raise _err(src, "runs", f"expected an integer >= 1, got {runs!r}")
        seeds = list(range(runs))
    splits = data.get("splits")
    if splits is not None:
        splits = _int_list(splits, src, "splits")
    skip = data.get("skip_missing", True)
    if not isinstance(skip, bool):
        raise _err(src, "skip_missing", f"expected true or false, got {skip!r}")
    train = _check_train(data.get("train"), src, "train")
    default_models = _model_list(data["models"], src, "models") if "models" in data else None
    dsets = data.get("datasets")
    if not isinstance(dsets, list) or not dsets:
        raise _err(src, "datasets", f"expected a non-empty list of datasets, got {dsets!r}")
    specs = []
    for i, d in enumerate(dsets):
        key = f"datasets[{i}]"
        if isinstance(d, str):
            d = {"name": d}
        _check_keys(d, _DATASET_KEYS, src, key)
        dname = _check_dataset_name(d.get("name"), src, key + ".name")
        if "models" in d:
            models = _model_list(d["models"], src, key + ".models")
        elif default_models is not None:
            models = [ModelSpec(m.name, dict(m.model), dict(m.train), m.optional) for m in default_models]
        else:
            raise _err(src, key + ".models", "no models: give models here or at the top level")
        seen = [m.name for m in models]
        dup = sorted({n for n in seen if seen.count(n) > 1})
        if dup:
            raise _err(src, key + ".models", f"lists model {dup[0]!r} twice")
        label = d.get("label", dname)
        if not isinstance(label, str) or not label.strip():
            raise _err(src, key + ".label", f"expected a non-empty string, got {label!r}")
        if label in [s.label for s in specs]:
            raise _err(src, key + ".label", f"{label!r} is used twice; give each entry of the "
                       "same dataset a distinct label")
        specs.append(DatasetSpec(dname, _check_mapping(d.get("args"), src, key + ".args"),
                                 _check_train(d.get("train"), src, key + ".train"), models, label))
    desc = data.get("description", "")
    task = data.get("task", "node")
    if not isinstance(task, str) or not task:
        raise _err(src, "task", f"expected a task kind (node, link, graph, ...), got {task!r}")
    return BenchPlan(task=task, name=name, datasets=specs, seeds=seeds, splits=splits, train=train,
                     skip_missing=skip, description=str(desc), source=src)


def load_config(path) -> BenchPlan:
    """Read and validate a YAML config file (see the module docstring)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found (suites live in {config_dir()}: "
                          f"{', '.join(available_suites()) or 'none'})")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    return parse_config(data, source=str(p))


def resolve_run_settings(model: ModelSpec, ds: DatasetSpec, plan: BenchPlan,
                         overrides: dict | None = None) -> tuple[dict, dict]:
    """``(model_kwargs, train_kwargs)`` of one (dataset, model) pair after every layer of
    defaults and overrides (see the module docstring for the order)."""
    from gnnkit.train import TrainConfig, split_options
    from gnnkit.train.recipes import model_defaults

    mk, tk = model_defaults(model.name, ds.name)
    mk.update(model.model)
    tk = {**tk, **plan.train, **ds.train, **model.train, **(overrides or {})}
    TrainConfig.from_dict(split_options(tk)[0])  # validates the combination
    return mk, tk


def fingerprint(*parts) -> str:
    """Short stable hash of JSON-able settings (identifies a run configuration in runs.jsonl).

    >>> fingerprint({'a': 1, 'b': [2]}) == fingerprint({'b': [2], 'a': 1})
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
