r"""OGB node property prediction datasets (``ogbn-*``) read from OGB's own raw files.

From "Open Graph Benchmark: Datasets for Machine Learning on Graphs" (Hu et al., NeurIPS 2020,
https://arxiv.org/abs/2005.00687).  Dataset metadata (tasks, task type, metric, split scheme,
``add_inverse_edge``, binary layout, URL, version) comes from the ``master.csv`` that the ``ogb``
package ships in ``ogb/nodeproppred``, so every homogeneous ``ogbn-*`` dataset it lists is supported.

Directory layout (identical to OGB's, so an existing OGB download is reused as is)::

    <root>/ogbn_arxiv/RELEASE_v1.txt
    <root>/ogbn_arxiv/raw/{edge, num-node-list, num-edge-list, node-feat, node-label,
                           edge-feat, node_year, ...}.csv.gz          (CSV datasets)
    <root>/ogbn_papers100M/raw/{data.npz, node-label.npz}            (binary datasets)
    <root>/ogbn_arxiv/split/<scheme>/{train, valid, test}.csv.gz

``<root>`` is ``root`` (or ``root/ogb``) when given, else ``$GNNKIT_DATA/ogb``, then
``~/.cache/gnnkit/datasets/ogb``.  Files are read directly, without OGB's ``processed/`` cache, and
exactly as OGB's ``read_csv_graph_raw`` / ``read_binary_graph_raw`` read them:

- ``add_inverse_edge`` datasets (products, proteins) get each edge as two arcs (``directed=False``;
  duplicate edges stay duplicated, as in OGB), and edge features are copied to both arcs;
- the others (arxiv, papers100M) keep their arcs (``directed=True``);
- labels become ``int64``; NaN labels (unlabelled nodes of papers100M) become ``-1``; single-task
  labels are flattened to ``[N]``;
- datasets without node features (proteins) get ``x`` of shape ``[N, 0]``; OGB's edge features are
  ``dataset.edge_attr`` and additional node files (``node_year``, ``node_species``) are
  ``dataset.extras``.

Downloading is opt-in (``download=True``): the zip is fetched from OGB's URL with a ``tqdm``
progress bar, its CRCs are verified, and it is unpacked into ``<root>``.  Heterogeneous datasets
(``ogbn-mag``) do not fit :class:`NodeDataset` and raise :class:`DatasetError`.
"""
from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from gnnkit.data._paths import candidate_dirs, download_dir
from gnnkit.data.dataset import DatasetError, NodeDataset
from gnnkit.data.generic import graph_from_arcs
from gnnkit.data.readers.csv import as_float
from gnnkit.data.readers.ogb_raw import OgbRaw

__all__ = ["ogb_dataset_names", "ogb_meta", "load_ogb", "download_ogb", "ogb_evaluate"]

# Used by available_datasets() only when the ogb package is not installed.
_KNOWN = ("ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-papers100M")


_FAMILY_DIRS = {"ogbn": "nodeproppred", "ogbl": "linkproppred", "ogbg": "graphproppred"}


def _master_csv(family: str = "ogbn") -> Path:
    spec = importlib.util.find_spec("ogb")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the 'ogb' package is needed for OGB dataset metadata "
                           f"(its {_FAMILY_DIRS[family]}/master.csv); install it with "
                           "`pip install ogb`")
    return Path(list(spec.submodule_search_locations)[0]) / _FAMILY_DIRS[family] / "master.csv"


def _read_master(family: str = "ogbn") -> dict[str, dict[str, str]]:
    with open(_master_csv(family), newline="") as f:
        rows = list(csv.reader(f))
    names = rows[0][1:]
    return {name: {r[0]: r[i + 1] for r in rows[1:]} for i, name in enumerate(names)}


def ogb_dataset_names() -> list[str]:
    """The homogeneous ``ogbn-*`` datasets in ogb's ``master.csv`` (a fixed list if ogb is not
    installed); heterogeneous ones (``ogbn-mag``) are left out, :func:`load_ogb` refuses them."""
    try:
        master = _read_master()
    except DatasetError:
        return list(_KNOWN)
    return [n for n, r in master.items() if r.get("is hetero", "False") != "True"]


def ogb_meta(name: str) -> dict:
    """Parsed ``master.csv`` column of ``name`` (any family: ``ogbn-*``, ``ogbl-*``, ``ogbg-*``;
    link datasets have no ``num_tasks`` / ``num_classes`` columns: 1 and 0).

    >>> m = ogb_meta('ogbn-arxiv')
    >>> m['num_tasks'], m['eval_metric'], m['add_inverse_edge'], m['split'], m['dir_name']
    (1, 'acc', False, 'time', 'ogbn_arxiv')
    """
    family = name[:4] if isinstance(name, str) else ""
    if family not in _FAMILY_DIRS:
        raise DatasetError(f"{name!r} is not an OGB dataset name (ogbn-*, ogbl-* or ogbg-*)")
    master = _read_master(family)
    if name not in master:
        raise DatasetError(f"unknown OGB {_FAMILY_DIRS[family][:-8]} dataset {name!r}; ogb's "
                           f"master.csv lists {list(master)}")
    r = master[name]

    def flag(key):
        return r.get(key, "False") == "True"

    def files(key):
        v = r.get(key, "None")
        return [] if v in ("None", "") else v.split(",")

    return {
        "name": name, "family": family, "dir_name": name.replace("-", "_"),
        "num_tasks": int(r.get("num tasks", 1)), "num_classes": int(r.get("num classes", 0)),
        "eval_metric": r["eval metric"], "task_type": r["task type"],
        "download_name": r["download_name"], "version": int(r["version"]), "url": r["url"],
        "add_inverse_edge": flag("add_inverse_edge"), "has_node_attr": flag("has_node_attr"),
        "has_edge_attr": flag("has_edge_attr"), "split": r["split"],
        "additional_node_files": files("additional node files"),
        "additional_edge_files": files("additional edge files"),
        "is_hetero": flag("is hetero"), "binary": flag("binary"),
    }


def _required_raw(meta: dict) -> list[str]:
    if meta["binary"]:
        return ["data.npz", "node-label.npz"]
    req = ["edge.csv.gz", "num-node-list.csv.gz", "num-edge-list.csv.gz", "node-label.csv.gz"]
    if meta["has_node_attr"]:
        req.append("node-feat.csv.gz")
    if meta["has_edge_attr"]:
        req.append("edge-feat.csv.gz")
    return req


def _marker(meta: dict) -> str:
    return "raw/data.npz" if meta["binary"] else "raw/edge.csv.gz"


def _locate(meta: dict, root) -> tuple[Path | None, list[Path]]:
    dirs = [d / meta["dir_name"] for d in _ogb_roots(root)]
    for d in dirs:
        if (d / _marker(meta)).is_file():
            return d, dirs
    return None, dirs


def _ogb_roots(root) -> list[Path]:
    if root is not None:
        r = Path(root).expanduser()
        return [r, r / "ogb"]  # OGB's own convention first: root/ogbn_arxiv
    return candidate_dirs("ogb")


def download_ogb(name: str, root=None, url: str | None = None) -> Path:
    """Download and unpack ``name`` into ``<root>/<dir_name>``; return that directory.

    The archive goes to a temporary file next to the target, is checked with
    ``zipfile.testzip`` (CRC of every member) and only then unpacked; on any failure nothing is
    left behind and :class:`DatasetError` names the URL and the target directory.

    Args:
        root (str, optional): parent directory. (default: ``$GNNKIT_DATA/ogb`` or
            ``~/.cache/gnnkit/datasets/ogb``)
        url (str, optional): a mirror to use instead of OGB's URL.
    """
    meta = ogb_meta(name)
    url = url or meta["url"]
    parent = download_dir("ogb", root)
    target = parent / meta["dir_name"]
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".zip", dir=parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        _fetch(url, tmp, target)
        try:
            with zipfile.ZipFile(tmp) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise DatasetError(f"{url}: downloaded archive is corrupt (CRC error in "
                                       f"member {bad!r}); nothing was written to {target}")
                members = zf.namelist()
                top = meta["download_name"] + "/"
                if not any(m.startswith(top) for m in members):
                    raise DatasetError(f"{url}: archive has no folder {top!r} (members start with "
                                       f"{sorted({m.split('/')[0] for m in members})[:5]})")
                with tempfile.TemporaryDirectory(dir=parent) as unpack:
                    zf.extractall(unpack)
                    if target.exists():
                        shutil.rmtree(target)
                    shutil.move(os.path.join(unpack, meta["download_name"]), target)
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise DatasetError(f"{url}: downloaded file is not a valid zip archive ({e}); nothing "
                               f"was written to {target}") from e
    finally:
        tmp.unlink(missing_ok=True)
    release = target / f"RELEASE_v{meta['version']}.txt"
    if not release.exists():
        release.write_text(f"{name} version {meta['version']} (written by gnnkit)\n")
    return target


def _fetch(url: str, dest: Path, target: Path) -> None:
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as f:
            total = r.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                      desc=f"Downloading {url.rsplit('/', 1)[-1]}") as bar:
                while True:
                    chunk = r.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise DatasetError(f"downloading {url} into {target} failed ({type(e).__name__}: {e}). "
                           f"Without internet access, download the zip elsewhere and unpack it "
                           f"so that {target}/raw exists") from e
    got = dest.stat().st_size
    if total and got != int(total):
        raise DatasetError(f"{url}: download incomplete ({got} of {total} bytes); nothing was "
                           f"written to {target}")


def load_ogb(name: str, root=None, download: bool = False, split: str | None = None,
             url: str | None = None) -> NodeDataset:
    r"""Load an ``ogbn-*`` dataset from OGB's raw files.

    Args:
        name (str): e.g. ``'ogbn-arxiv'``, ``'ogbn-products'``, ``'ogbn-proteins'``,
            ``'ogbn-papers100M'``, or any homogeneous ``ogbn-*`` in ogb's ``master.csv``.
        root (str, optional): folder containing ``<dir_name>/`` (OGB's ``root``); see the module
            docstring for the default search. (default: ``None``)
        download (bool): fetch the dataset when its files are missing. (default: ``False``)
        split (str, optional): split scheme folder under ``split/``; OGB's default when ``None``.
        url (str, optional): download mirror. (default: OGB's URL)

    Returns:
        NodeDataset: one split (OGB's), ``metadata`` with the master.csv fields and
        ``dataset.metric == 'ogb:<name>'``: score predictions with
        ``gnnkit.tasks.get_metric(dataset.metric)(y_pred[idx], dataset.y[idx])`` (OGB's own
        Evaluator).

    Raises:
        DatasetError: files missing (naming the folders searched and the URL), truncated or
            inconsistent; heterogeneous dataset; failed download.
    """
    meta = ogb_meta(name)
    if meta["family"] != "ogbn":
        raise DatasetError(f"{name} is not a node property prediction dataset; load_ogb reads "
                           "ogbn-* (link and graph datasets have their own loaders on "
                           "gnnkit.data.readers.OgbRaw)")
    if meta["is_hetero"]:
        raise DatasetError(f"{name} is a heterogeneous graph (several node types); NodeDataset "
                           "holds homogeneous graphs only; use ogb.nodeproppred.NodePropPredDataset")
    folder, searched = _locate(meta, root)
    if folder is None:
        if not download:
            target = download_dir("ogb", root) / meta["dir_name"]
            raise DatasetError(
                f"{name}: {_marker(meta)} not found in {', '.join(map(str, searched))}. Pass "
                f"download=True to fetch {meta['url']} into {target}, or download and unzip it "
                f"yourself so that {target}/{_marker(meta)} exists (root= picks the parent "
                "folder)")
        folder = download_ogb(name, root=root, url=url)
    raw = folder / "raw"
    missing = [f for f in _required_raw(meta) if not (raw / f).is_file()]
    if missing:
        raise DatasetError(f"{raw}: missing {missing} for {name}; the OGB directory is "
                           f"incomplete, re-download {meta['url']}")
    if meta["binary"] and meta["add_inverse_edge"]:
        raise DatasetError(f"{meta['name']}: add_inverse_edge is not supported for binary "
                           "datasets (OGB rejects it too)")
    reader = OgbRaw(folder, binary=meta["binary"])
    if reader.num_graphs != 1:
        raise DatasetError(f"{reader.raw}: a node dataset holds one graph, num-node-list lists "
                           f"{reader.num_graphs}")
    n = reader.num_nodes
    # Labels first: their row count confirms N before anything of size N is allocated.
    y = reader.labels("node", meta["num_tasks"], task_type=meta["task_type"])
    if y.dtype != np.int64:
        y = np.where(np.isnan(y), -1, y).astype(np.int64)  # pragma: no cover - no ogbn regression
    y = y[:, 0] if meta["num_tasks"] == 1 else y
    split = split or meta["split"]
    idx = {ours: _tensor(a) for ours, a in zip(
        ("train", "val", "test"), reader.index_split(split, n).values())}
    e = reader.edge_index()
    x = reader.node_feat()
    if meta["has_node_attr"] and x is None:  # pragma: no cover - _required_raw checked it
        raise DatasetError(f"{raw}: node features missing for {name}")
    edge_attr = reader.edge_feat() if meta["has_edge_attr"] else None
    if x is not None:
        x = as_float(x, reader.path("node-feat"), "node features")
    if edge_attr is not None:
        edge_attr = as_float(edge_attr, reader.path("edge-feat"), "edge features")
    extra_names = meta["additional_node_files"]
    if meta["binary"]:
        extra_names = reader.extra_names("node")
    extras = {}
    for fname in extra_names:
        a = reader.array(fname, "node")
        if a is None:
            raise DatasetError(f"{raw / (fname + '.csv.gz')}: missing (additional node file of "
                               f"{name})")
        extras[fname] = _tensor(a[:, 0] if a.shape[1] == 1 else a)
    directed = not meta["add_inverse_edge"]
    built = graph_from_arcs(e[0], e[1], n, directed=directed, edge_attr=edge_attr)
    graph, edge_attr = built if edge_attr is not None else (built, None)
    x = _tensor(x) if x is not None else torch.zeros(n, 0)
    metadata = {"family": "ogb", "ogb_name": name, "metric": f"ogb:{name}", "source": str(folder),
                "split": split,
                **{k: meta[k] for k in ("num_tasks", "task_type", "eval_metric", "url", "version",
                                        "add_inverse_edge", "binary")}}
    try:
        return NodeDataset(graph=graph, x=x, y=_tensor(y), splits=[idx],
                           num_classes=meta["num_classes"], name=name, metadata=metadata,
                           edge_attr=edge_attr, extras=extras)
    except DatasetError as err:
        raise DatasetError(f"{folder}: {err}") from None


def _tensor(a: np.ndarray) -> torch.Tensor:
    # pandas may hand out read-only arrays; torch needs writable, contiguous memory.
    if not (a.flags.writeable and a.flags.c_contiguous):
        a = np.array(a, order="C")
    return torch.from_numpy(a)


def ogb_evaluate(name: str, y_true, y_pred) -> dict:
    """Score with OGB's ``Evaluator(name)``; 1-D inputs are reshaped to OGB's ``[n, 1]``."""
    from ogb.nodeproppred import Evaluator

    y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
    if y_true.dim() == 1:
        y_true = y_true.view(-1, 1)
    if y_pred.dim() == 1:
        y_pred = y_pred.view(-1, 1)
    return Evaluator(name).eval({"y_true": y_true, "y_pred": y_pred})
