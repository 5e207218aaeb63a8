r"""Heterophilous node-classification graphs in the ``.npz`` format of Platonov et al.

From "A critical look at the evaluation of GNNs under heterophily: Are we really making progress?"
(Platonov et al., ICLR 2023, https://arxiv.org/abs/2302.11640), files from
https://github.com/yandex-research/heterophilous-graphs (``data/``, MIT licence).  Chameleon and
Squirrel are Wikipedia networks (Rozemberczki et al., https://arxiv.org/abs/1909.13021); Actor,
Cornell, Texas and Wisconsin come from Geom-GCN (Pei et al., https://arxiv.org/abs/2002.05287).
``*_filtered`` variants have the duplicated nodes removed and ``texas_4_classes`` drops Texas'
one-node class (Platonov et al.).  The five graphs proposed by Platonov et al. are
``roman_empire``, ``amazon_ratings`` (5 classes, accuracy) and ``minesweeper``, ``tolokers``,
``questions`` (binary: the metric is ROC-AUC, as in the paper).

Each archive holds ``node_features`` ``[N, F]``, ``node_labels`` ``[N]``, ``edges`` ``[E, 2]``
(column 0 source) and ``train_masks`` / ``val_masks`` / ``test_masks`` (10 splits; ``[10, N]`` in the
shipped files, ``[N, 10]`` is accepted too).  As in the authors' ``datasets.py``:

- files whose name contains ``directed`` keep their arcs exactly (self loops included);
- the others store each undirected edge once and are symmetrised (``dgl.to_bidirected``): both arcs,
  repeats merged.
"""
from __future__ import annotations

from pathlib import Path

from gnnkit.data._paths import find_file
from gnnkit.data.dataset import DatasetError, NodeDataset
from gnnkit.data.generic import dataset_from_arrays, open_npz

__all__ = ["HETEROPHILY_NAMES", "BINARY_NAMES", "load_heterophily", "read_heterophily_npz"]

HETEROPHILY_NAMES = (
    "chameleon", "chameleon_directed", "chameleon_filtered", "chameleon_filtered_directed",
    "squirrel", "squirrel_directed", "squirrel_filtered", "squirrel_filtered_directed",
    "actor", "cornell", "texas", "texas_4_classes", "wisconsin",
    "roman_empire", "amazon_ratings", "minesweeper", "tolokers", "questions",
)
#: Binary datasets of Platonov et al.: evaluated by ROC-AUC (their ``datasets.py``: ``num_classes == 2``
#: -> one target, ``'ROC AUC'``).
BINARY_NAMES = ("minesweeper", "tolokers", "questions")
_KEYS = ("node_features", "node_labels", "edges", "train_masks", "val_masks", "test_masks")
_URL = "https://github.com/yandex-research/heterophilous-graphs/raw/main/data/{name}.npz"


def read_heterophily_npz(path, directed: bool | None = None, name: str | None = None) -> NodeDataset:
    """Read one archive in the Platonov et al. format (see the module docstring).

    Args:
        path (str): the ``.npz`` file.
        directed (bool, optional): ``None`` decides from the file name (``'directed'`` in it).
        name (str, optional): dataset name; the file stem when ``None``.

    Any file of this layout is accepted (``gnnkit bench -d PATH.npz``, ``gnnkit analyze PATH.npz``).
    ``metadata['metric']`` is ``'roc_auc'`` when the labels have two classes (the paper's rule),
    else ``'accuracy'``.

    Raises:
        DatasetError: unreadable archive, missing keys, wrong shapes / dtypes, node ids or labels
            out of range, overlapping masks; the message names the file.
    """
    path = Path(path)
    d = open_npz(path)
    missing = [k for k in _KEYS if k not in d]
    if missing:
        raise DatasetError(f"{path}: missing key(s) {missing}; a heterophily archive needs "
                           f"{list(_KEYS)}, found {sorted(d)}")
    edges = d["edges"]
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise DatasetError(f"{path}: 'edges' must have shape [E, 2], got {edges.shape}")
    if directed is None:
        directed = "directed" in path.stem
    ds = dataset_from_arrays(
        edges.T, d["node_features"], d["node_labels"],
        masks=(d["train_masks"], d["val_masks"], d["test_masks"]), directed=directed,
        name=name or path.stem, source=str(path), dedupe=not directed,
        metadata={"family": "heterophily", "source": str(path), "num_raw_edges": int(edges.shape[0])},
    )
    # Platonov et al. score the binary graphs (minesweeper, tolokers, questions) by ROC-AUC.
    binary = ds.num_classes == 2 and ds.y.dim() == 1
    ds.metadata["metric"] = "roc_auc" if binary else "accuracy"
    return ds


def load_heterophily(name: str, root=None) -> NodeDataset:
    """Load one of :data:`HETEROPHILY_NAMES` (10 splits each).

    Args:
        name (str): e.g. ``'chameleon'``, ``'squirrel_directed'`` (``-`` and ``_`` both work).
        root (str, optional): folder holding ``<name>.npz``, directly or in ``heterophily/``;
            see :mod:`gnnkit.data._paths` for the default search. (default: ``None``)
    """
    key = name.lower().replace("-", "_")
    if key not in HETEROPHILY_NAMES:
        raise DatasetError(f"unknown heterophily dataset {name!r}; choose from "
                           f"{list(HETEROPHILY_NAMES)}")
    folder, searched = find_file("heterophily", [f"{key}.npz"], root)
    if folder is None:
        raise DatasetError(f"{key}.npz not found; looked in {', '.join(map(str, searched))}. "
                           f"Download it from {_URL.format(name=key)} into one of these folders, "
                           "or pass root=.")
    ds = read_heterophily_npz(folder / f"{key}.npz", name=key)
    ds.metadata["url"] = _URL.format(name=key)
    return ds
