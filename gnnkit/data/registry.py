r"""The dataset registry: load any dataset by name (:func:`get_dataset`), list the names
(:func:`available_datasets`), add a family (:func:`register_family`).

A *family* is a loader function plus the names it accepts.  The built-in families are listed in
:data:`FAMILIES` as ``(module, loader attribute, names attribute)`` and imported on first use, so
importing the registry stays cheap and no loader module imports this one (no import cycle: the
loaders depend on :mod:`gnnkit.data.dataset`, the registry depends on the loaders).  A new
built-in family (e.g. ``ogbl``/``ogbg`` loaders) is one entry in :data:`FAMILIES`; user code calls
:func:`register_family`.

Loader convention: ``loader(name, root=None, **kwargs)`` for file-based families (``root`` is the
data folder, see :mod:`gnnkit.data._paths`), ``loader(**kwargs)`` for generated ones
(``generated=True``).  Names are matched case-insensitively with ``-`` and ``_`` interchangeable.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Callable

from gnnkit.data.errors import DatasetError

__all__ = ["FAMILIES", "Family", "register_family", "unregister_family", "available_datasets",
           "get_dataset", "dataset_family", "is_dataset_path"]


@dataclass(frozen=True)
class Family:
    """One registered family: its loader, its names (a sequence or a callable returning one),
    whether it is generated (no ``root``), and a name prefix it owns even for names not listed
    (``'ogbn_'``: the OGB loader explains why an unlisted ``ogbn-*`` name is refused)."""

    loader: Callable
    names: object
    generated: bool = False
    prefix: str | None = None

    def list_names(self) -> list[str]:
        names = self.names() if callable(self.names) else self.names
        return list(names)


# family -> (module, loader attribute, names attribute, generated, prefix)
FAMILIES = {
    "planetoid": ("gnnkit.data.planetoid", "load_planetoid", "PLANETOID_NAMES", False, None),
    "heterophily": ("gnnkit.data.heterophily", "load_heterophily", "HETEROPHILY_NAMES", False,
                    None),
    "ogb": ("gnnkit.data.ogb", "load_ogb", "ogb_dataset_names", False, "ogbn_"),
    "ogbl": ("gnnkit.link.ogbl", "load_ogbl", "ogbl_dataset_names", False, "ogbl_"),
    "synthetic": ("gnnkit.data.synthetic", "csbm", "SYNTHETIC_NAMES", True, None),
    "ogbg": ("gnnkit.graphlevel.ogbg", "load_ogbg", "ogbg_dataset_names", False, "ogbg_"),
    "graph-synthetic": ("gnnkit.graphlevel.synthetic", "load_synthetic_family", "SYNTHETIC", False,
                        None),
}

_registered: dict[str, Family] = {}


def register_family(family: str, loader: Callable, names, *, generated: bool = False,
                    prefix: str | None = None, overwrite: bool = False) -> None:
    """Add a dataset family to :func:`get_dataset`.

    Args:
        family (str): the family's name (``available_datasets(family)`` lists its datasets).
        loader (callable): ``loader(name, root=None, **kw)`` (or ``loader(**kw)`` if generated).
        names (sequence of str or callable): the dataset names it accepts.
        generated (bool): the datasets are generated and take no ``root``. (default: ``False``)
        prefix (str, optional): normalised name prefix (``'ogbl_'``) routed to this loader even
            when the name is not listed, so that the loader can explain the refusal.
        overwrite (bool): replace an existing family of that name. (default: ``False``)

    >>> register_family('toy', lambda name, root=None: name.upper(), ['toy-a'])
    >>> get_dataset('TOY_A'), 'toy-a' in available_datasets('toy')
    ('TOY-A', True)
    >>> unregister_family('toy')
    """
    if not isinstance(family, str) or not family:
        raise ValueError(f"family must be a non-empty string, got {family!r}")
    if (family in FAMILIES or family in _registered) and not overwrite:
        raise ValueError(f"dataset family {family!r} already exists; pass overwrite=True")
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {type(loader).__name__}")
    _registered[family] = Family(loader, names, generated, prefix)


def unregister_family(family: str) -> None:
    """Remove a family added with :func:`register_family`."""
    if family not in _registered:
        raise KeyError(f"no registered dataset family {family!r}")
    del _registered[family]


def _family(family: str) -> Family:
    if family in _registered:
        return _registered[family]
    mod, fn, attr, generated, prefix = FAMILIES[family]
    m = importlib.import_module(mod)
    return Family(getattr(m, fn), getattr(m, attr), generated, prefix)


def _families() -> list[str]:
    return list(FAMILIES) + [f for f in _registered if f not in FAMILIES]


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def available_datasets(family: str | None = None) -> list[str]:
    """Names accepted by :func:`get_dataset` (optionally of one family).

    >>> available_datasets('planetoid')
    ['cora', 'citeseer', 'pubmed']
    """
    fams = _families()
    if family is not None and family not in fams:
        raise DatasetError(f"unknown dataset family {family!r}; families are {fams}")
    return [n for f in ([family] if family else fams) for n in _family(f).list_names()]


def dataset_family(name: str) -> str | None:
    """The family that loads ``name``, or ``None``."""
    key = _key(name)
    for f in _families():
        fam = _family(f)
        if any(_key(n) == key for n in fam.list_names()):
            return f
    for f in _families():
        fam = _family(f)
        if fam.prefix and key.startswith(fam.prefix):
            return f
    return None


def is_dataset_path(name) -> bool:
    """True when ``name`` names an ``.npz`` file (``gnnkit bench -d PATH.npz``) rather than a
    registered dataset.

    >>> is_dataset_path('data/minesweeper.npz'), is_dataset_path('minesweeper')
    (True, False)
    """
    return isinstance(name, str) and name.lower().endswith(".npz")


def get_dataset(name: str, root=None, symmetrize: bool = False,
                node_features_from_edges: str | None = None, **kwargs):
    """Load a dataset by name: ``'cora'``, ``'chameleon'``, ``'squirrel_directed'``,
    ``'ogbn-arxiv'``, ``'csbm'``, ... (see :func:`available_datasets`), or a path to an ``.npz``
    archive in the Platonov et al. layout (:func:`gnnkit.data.read_heterophily_npz`).

    ``root`` is passed to file-based loaders (see :mod:`gnnkit.data._paths`); other keyword
    arguments go to the family's loader (e.g. ``download=True`` for OGB, ``homophily=0.2`` for
    ``'csbm'``).  Names are case-insensitive and ``-``/``_`` are interchangeable.
    Transforms (:mod:`gnnkit.data.transforms`): ``symmetrize=True`` makes a directed graph
    undirected; ``node_features_from_edges='mean'`` (``'sum'``, ``'max'``) appends to ``x`` each
    node's aggregate of its in-arcs' ``edge_attr`` (OGB's ogbn-proteins example).

    Raises:
        DatasetError: unknown name (with close matches), or whatever the loader raises.
    """
    if not isinstance(name, str):
        raise DatasetError(f"dataset name must be a string, got {type(name).__name__}")
    if symmetrize or node_features_from_edges:
        from gnnkit.data import transforms

        ds = get_dataset(name, root=root, **kwargs)
        if node_features_from_edges:
            ds = transforms.node_features_from_edges(ds, node_features_from_edges)
        return transforms.symmetrized(ds) if symmetrize else ds
    if is_dataset_path(name):
        from gnnkit.data.heterophily import read_heterophily_npz

        if kwargs:
            raise DatasetError(f"{name}: a dataset file takes no loader arguments, got "
                               f"{sorted(kwargs)}")
        return read_heterophily_npz(name)
    key = _key(name)
    for f in _families():
        fam = _family(f)
        for known in fam.list_names():
            if _key(known) == key:
                if fam.generated:
                    if root is not None:
                        raise DatasetError(f"{name!r} is generated, it takes no root "
                                           f"(got {root!r})")
                    return fam.loader(**kwargs)
                return fam.loader(known, root=root, **kwargs)
    for f in _families():  # let the owning loader explain (e.g. a heterogeneous ogbn-mag)
        fam = _family(f)
        if fam.prefix and key.startswith(fam.prefix):
            return fam.loader(name, root=root, **kwargs)
    names = available_datasets()
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3)
    hint = f" Did you mean {close}?" if close else ""
    raise DatasetError(f"unknown dataset {name!r}.{hint} Available: {', '.join(names)}")
