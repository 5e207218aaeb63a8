r"""OGB graph property prediction (``ogbg-*``) offline from OGB's raw directory layout.

Reads what ogb's ``graphproppred/dataset.py`` reads (through ``ogb/io/read_graph_raw.py``), with
the shared checked reader :class:`gnnkit.data.readers.OgbRaw`, straight into a
:class:`~gnnkit.graphlevel.dataset.GraphDataset` (one vectorised sort, no per-graph objects):

* arcs: ``raw/edge.csv.gz`` with ``num-edge-list`` / ``num-node-list`` offsets; every edge is
  stored in both directions when master.csv says ``add_inverse_edge`` (the molecule and ppa
  sets), with its features copied as ogb does;
* features: ``node-feat`` (molecules: 9 categorical atom codes, int64) and ``edge-feat``
  (molecules: 3 bond codes; ogbg-ppa: 7 float association scores); ogbg-ppa has no node
  features, so ``x`` is one code 0 per node (OGB's reference model embeds it with
  ``nn.Embedding(1, d)``);
* targets: ``graph-label`` ``[G, T]``; binary (multi-)task sets (molhiv, molpcba) as float with
  NaN for missing labels, multi-class sets (ppa: 37 species classes) as int64 ``[G]``;
* splits: ``split/<scheme>/{train,valid,test}.csv.gz`` (``scaffold`` for molecules,
  ``species`` for ppa), the scheme from master.csv;
* metric ``ogb:<name>``: ogb's ``Evaluator`` (ROC-AUC for molhiv, AP for molpcba, accuracy for
  ppa) through :func:`gnnkit.tasks.metrics.get_metric`.

Files are looked for in ``<root>/<dir_name>`` and ``<root>/ogb/<dir_name>`` (``root`` given), or in
the ``ogb`` family folders of :mod:`gnnkit.data._paths` (``$GNNKIT_DATA/ogb``,
``../shared/datasets/ogb``).  Nothing is downloaded here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gnnkit.data._paths import candidate_dirs
from gnnkit.data.errors import DatasetError
from gnnkit.data.readers import OgbRaw
from gnnkit.graphlevel.dataset import GraphDataset

__all__ = ["OGBG_NAMES", "ogbg_dataset_names", "load_ogbg", "ogbg_folder", "ogbg_presence"]

OGBG_NAMES = ("ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa")


def ogbg_dataset_names() -> list[str]:
    """The ``ogbg-*`` names this loader reads (ogb's master.csv lists more; their layouts are the
    same, but only these three are tested)."""
    return list(OGBG_NAMES)


def _meta(name: str) -> dict:
    from gnnkit.data.ogb import ogb_meta
    meta = ogb_meta(name)
    if meta["family"] != "ogbg":
        raise DatasetError(f"load_ogbg: {name!r} is not a graph property prediction dataset")
    return meta


def ogbg_presence(name: str, root=None) -> tuple[Path | None, list[Path], str]:
    """``(folder or None, folders searched, how to get the files)`` without reading them."""
    meta = _meta(name)
    roots = [Path(root).expanduser(), Path(root).expanduser() / "ogb"] if root is not None \
        else candidate_dirs("ogb")
    dirs = [r / meta["dir_name"] for r in roots]
    found = next((d for d in dirs if (d / "raw" / "num-node-list.csv.gz").is_file()
                  or (d / "raw" / "data.npz").is_file()), None)
    return found, dirs, f"download {meta['url']} and unzip it into one of the folders searched"


def ogbg_folder(name: str, root=None) -> Path:
    """The dataset directory of ``name``; :class:`DatasetError` lists the folders searched."""
    found, dirs, how = ogbg_presence(name, root)
    if found is None:
        raise DatasetError(f"{name}: no raw files found; looked in {[str(d) for d in dirs]} ({how})")
    return found


def load_ogbg(name: str, root=None, split: str | None = None) -> GraphDataset:
    """Load ``ogbg-*`` ``name`` from its raw files as a :class:`GraphDataset`.

    Args:
        name (str): e.g. ``'ogbg-molhiv'``.
        root (str, optional): folder containing ``<dir_name>/`` (OGB's ``root``).
        split (str, optional): split scheme under ``split/`` (default: master.csv's).
    """
    key = str(name).lower().replace("_", "-")
    meta = _meta(key)
    folder = ogbg_folder(key, root)
    raw = OgbRaw(folder, binary=meta["binary"])
    G = raw.num_graphs
    n = torch.from_numpy(np.ascontiguousarray(raw.num_node_list()).astype(np.int64))
    m = torch.from_numpy(np.ascontiguousarray(raw.num_edge_list()).astype(np.int64))
    ei = torch.from_numpy(np.ascontiguousarray(raw.edge_index()).astype(np.int64))
    nf, ef = raw.node_feat(), raw.edge_feat()
    x = torch.from_numpy(np.ascontiguousarray(nf)) if nf is not None else \
        torch.zeros(int(n.sum()), 1, dtype=torch.int64)
    ea = torch.from_numpy(np.ascontiguousarray(ef)) if ef is not None else None
    task = meta["task_type"]
    T = meta["num_tasks"]
    if "classification" in task:
        ncls = meta["num_classes"]
        lab = raw.labels("graph", T, ncls if ncls > 2 else 2, task)
        if "multiclass" in task:
            if T != 1:
                raise DatasetError(f"{name}: multi-class with {T} tasks is not supported")
            y, task_type, ncls_out = torch.from_numpy(lab.reshape(-1).astype(np.int64)), "multiclass", ncls
            if bool((y < 0).any()):
                raise DatasetError(f"{folder}/raw/graph-label: missing class labels in {name}")
        else:
            yf = lab.astype(np.float32)
            yf[lab < 0] = np.nan                   # OgbRaw maps NaN (missing) to -1
            y = torch.from_numpy(yf)
            task_type, ncls_out = ("binary" if T == 1 else "multilabel"), None
    else:
        y = torch.from_numpy(raw.labels("graph", T, None, task))
        task_type, ncls_out = "regression", None
    scheme = split or meta["split"]
    ids = raw.index_split(scheme, G)
    splits = {k: torch.from_numpy(v.astype(np.int64)) for k, v in ids.items()}
    return GraphDataset.from_coo(ei[0], ei[1], n, m, y, x=x, edge_attr=ea,
                                 add_reverse=meta["add_inverse_edge"], name=key,
                                 task_type=task_type, num_classes=ncls_out, splits=splits,
                                 metric=f"ogb:{key}")
