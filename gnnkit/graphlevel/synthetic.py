"""Synthetic graph-level datasets as :class:`GraphDataset` (CSL, EXP, SR25, substructure counts).

The generators live in :mod:`gnnkit.graphlevel.expressivity` (EXP, SR25, counting) and
:mod:`gnnkit.data.graph_datasets` (CSL); this module wraps them by name.
"""
from __future__ import annotations

import torch

from gnnkit.graphlevel.dataset import GraphDataset

__all__ = ["SYNTHETIC", "load_synthetic", "load_synthetic_family"]

SYNTHETIC = ("csl", "exp", "sr25", "count-triangle", "count-4cycle", "count-chordal")


def load_synthetic(name: str, seed: int = 0) -> GraphDataset:
    """One of :data:`SYNTHETIC` (reproducible from ``seed``)."""
    key = name.lower()
    if key == "csl":
        from gnnkit.data.graph_datasets import csl_dataset
        graphs, y = csl_dataset(seed=seed)
        return GraphDataset.from_graphs(graphs, y, name="csl", metric="accuracy")
    if key == "exp":
        from gnnkit.graphlevel.expressivity import exp_dataset
        return exp_dataset(seed=seed)
    if key == "sr25":
        from gnnkit.graphlevel.expressivity import sr25_dataset
        return sr25_dataset()
    if key.startswith("count-"):
        from gnnkit.graphlevel.expressivity import counting_dataset
        return counting_dataset(key[len("count-"):], seed=seed)
    raise ValueError(f"load_synthetic: unknown dataset {name!r}; available: {', '.join(SYNTHETIC)}")


def load_synthetic_family(name: str, root=None, seed: int = 0) -> GraphDataset:
    """Registry entry point (``gnnkit.data.get_dataset('csl')``): generated, so ``root`` must be
    :obj:`None`."""
    if root is not None:
        raise ValueError(f"{name!r} is generated, it takes no root (got {root!r})")
    return load_synthetic(name, seed=seed)
