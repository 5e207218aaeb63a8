r"""Generic readers: edge lists (text, CSV, raw binary int32/int64 pairs), ``.npz`` archives and
scipy sparse matrices, to a :class:`gnnkit.Graph` or a :class:`~gnnkit.data.NodeDataset`.

Every reader checks what it reads and raises :class:`~gnnkit.data.DatasetError` naming the file and
the problem (truncated binary file, wrong column count, non-integer ids, missing ``.npz`` key, wrong
shape).  ``.npz`` files are opened with ``allow_pickle=False``, so they cannot run code.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gnnkit.data.dataset import DatasetError, NodeDataset, masks_to_splits
from gnnkit.data.readers.edge_list import TextEdgeList
from gnnkit.data.readers.npz import read_npz as read_npz_arrays
from gnnkit.graph import Graph, GraphError

__all__ = [
    "graph_from_arcs",
    "read_edge_list",
    "read_npz",
    "read_sparse",
    "dataset_from_arrays",
    "open_npz",
]


def graph_from_arcs(src, dst, num_nodes: int, directed: bool = True, *, edge_attr=None,
                    remove_self_loops: bool = False, dedupe: bool = False):
    """Build a :class:`gnnkit.Graph` from arc lists ``src -> dst``.

    With ``directed=False`` every ``u -> v`` gains the reverse arc ``v -> u``.  ``dedupe=True``
    gives set semantics (repeated arcs merged, self loops kept once; ``edge_attr`` not allowed);
    ``dedupe=False`` keeps multiplicities, so an undirected input that lists an edge in both
    directions holds both arcs twice, as OGB's ``add_inverse_edge`` does (a self loop becomes two
    ``u -> u`` arcs there too).

    Args:
        src, dst (array-like): ``[E]`` integer node ids.
        num_nodes (int): :math:`N`.
        directed (bool): keep the arcs as given (``True``) or symmetrise (``False``).
        edge_attr (array-like, optional): ``[E, ...]`` per-input-arc features; the reverse arc of
            an undirected edge copies the feature of its edge.
        remove_self_loops (bool): drop ``u -> u``. (default: ``False``)
        dedupe (bool): merge repeated arcs. (default: ``False``)

    Returns:
        ``Graph`` if ``edge_attr`` is None, else ``(Graph, edge_attr aligned with CSR positions)``.

    >>> g = graph_from_arcs([0, 1, 1], [1, 2, 2], 3, directed=False, dedupe=True)
    >>> g.edge_index.tolist(), g.directed
    ([[1, 0, 2, 1], [0, 1, 1, 2]], False)
    >>> graph_from_arcs([0, 1, 1], [1, 2, 2], 3, directed=False).num_edges
    6
    """
    src = torch.as_tensor(np.asarray(src)).to(torch.int64).view(-1)
    dst = torch.as_tensor(np.asarray(dst)).to(torch.int64).view(-1)
    if src.numel() != dst.numel():
        raise DatasetError(f"src and dst must have the same length, got {src.numel()} and {dst.numel()}")
    attr = None
    if edge_attr is not None:
        if dedupe:
            raise DatasetError("graph_from_arcs: dedupe=True cannot be combined with edge_attr")
        attr = torch.as_tensor(np.asarray(edge_attr))
        if attr.dim() == 0 or attr.shape[0] != src.numel():
            raise DatasetError(f"edge_attr has shape {tuple(attr.shape)}, expected {src.numel()} rows")
    if remove_self_loops:
        keep = src != dst
        src, dst = src[keep], dst[keep]
        attr = None if attr is None else attr[keep]
    ei = torch.stack([src, dst])
    if dedupe:
        g = Graph.from_edge_index(ei, num_nodes=num_nodes, directed=directed)
        return g.coalesce("drop") if directed else g
    if directed:
        g, perm = Graph.from_edge_index(ei, num_nodes=num_nodes, directed=True, return_perm=True)
    else:
        ei = torch.cat([ei, ei.flip(0)], dim=1)
        attr = None if attr is None else torch.cat([attr, attr])
        g, perm = Graph.from_edge_index(ei, num_nodes=num_nodes, directed=True, return_perm=True)
        # Symmetric by construction (every arc was added with its reverse): skip the O(E log E) check.
        g = Graph(g.indptr, g.indices, num_nodes=num_nodes, directed=False, validate=False)
    if attr is None:
        return g
    return g, attr[perm]


# ---------------------------------------------------------------------- edge lists
_BINARY = {"int32": np.int32, "int64": np.int64}


def read_edge_list(path, fmt: str | None = None, num_nodes: int | None = None,
                   directed: bool = True, delimiter: str | None = None, comments: str = "#",
                   weighted: bool = False, dedupe: bool = False) -> Graph:
    r"""Read a list of arcs ``src dst [weight]`` into a :class:`gnnkit.Graph`.

    Args:
        path (str): the file.
        fmt (str, optional): ``'text'`` (whitespace separated, ``comments`` lines skipped),
            ``'csv'`` (comma separated; a non-numeric first line is a header), ``'int32'`` or
            ``'int64'`` (raw little-endian pairs ``src0 dst0 src1 dst1 ...``, e.g. from
            ``np.ndarray.tofile``).  Inferred from the suffix when ``None``: ``.csv``, ``.bin32`` /
            ``.i32``, ``.bin`` / ``.bin64`` / ``.i64``, anything else text. (default: ``None``)
        num_nodes (int, optional): :math:`N`; ``max id + 1`` when ``None``.
        directed (bool): ``False`` symmetrises. (default: ``True``)
        delimiter (str, optional): overrides the text / CSV delimiter.
        comments (str): comment prefix for text files. (default: ``'#'``)
        weighted (bool): a third column holds arc weights (text / CSV only). (default: ``False``)
        dedupe (bool): merge repeated arcs (only without weights). (default: ``False``)

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), 'g.txt')
    >>> _ = open(p, 'w').write('# toy\n0 1\n1 2\n')
    >>> read_edge_list(p, directed=False).num_edges
    4
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: edge list file not found")
    if fmt is None:
        suffix = path.suffix.lower()
        fmt = {".csv": "csv", ".bin32": "int32", ".i32": "int32", ".bin": "int64",
               ".bin64": "int64", ".i64": "int64"}.get(suffix, "text")
    weights = None
    if fmt in _BINARY:
        if weighted:
            raise DatasetError(f"{path}: weighted=True is only supported for text / CSV edge lists")
        dt = np.dtype(_BINARY[fmt]).newbyteorder("<")
        size = path.stat().st_size
        if size % (2 * dt.itemsize):
            raise DatasetError(
                f"{path}: size {size} bytes is not a multiple of {2 * dt.itemsize} "
                f"(one {fmt} pair); the file is truncated or not an {fmt} edge list")
        pairs = np.fromfile(path, dtype=dt).reshape(-1, 2).astype(np.int64)
    elif fmt in ("text", "csv"):
        delim = delimiter if delimiter is not None else ("," if fmt == "csv" else None)
        pairs, weights = TextEdgeList(path, delimiter=delim, comments=comments, weighted=weighted,
                                      header=None if fmt == "csv" else False).read()
    else:
        raise DatasetError(f"{path}: unknown edge list format fmt={fmt!r}; use 'text', 'csv', "
                           "'int32' or 'int64'")
    if pairs.size and pairs.min() < 0:
        r = int(np.argmin(pairs.min(axis=1)))
        raise DatasetError(f"{path}: arc {r} has a negative node id {pairs[r].tolist()}")
    n_found = int(pairs.max()) + 1 if pairs.size else 0
    if num_nodes is None:
        num_nodes = n_found
    elif n_found > num_nodes:
        raise DatasetError(f"{path}: node id {n_found - 1} out of range for num_nodes={num_nodes}")
    if weights is not None:
        if dedupe:
            raise DatasetError(f"{path}: dedupe=True cannot merge weighted arcs")
        # directed=False merges u->v / v->u (and repeats) keeping the larger weight.
        return Graph.from_edge_index(torch.from_numpy(np.ascontiguousarray(pairs.T)),
                                     num_nodes=num_nodes, edge_weight=torch.from_numpy(weights),
                                     directed=directed)
    return graph_from_arcs(pairs[:, 0], pairs[:, 1], num_nodes, directed, dedupe=dedupe)


# ---------------------------------------------------------------------- npz / sparse
def open_npz(path) -> dict:
    """Load every array of an ``.npz`` archive (``allow_pickle=False``) into a dict.

    Raises :class:`DatasetError` naming the file (and the member) when the archive is missing,
    truncated, corrupt, holds object arrays or announces more data than it holds (see
    :mod:`gnnkit.data.readers.npz`).
    """
    return read_npz_arrays(path)


def read_sparse(A, directed: bool | None = None, weighted: bool | None = None) -> Graph:
    """A scipy sparse matrix, or a ``scipy.sparse.save_npz`` file, to a :class:`gnnkit.Graph`.

    ``A[u, v]`` (every stored entry) is an arc ``u -> v``; see :meth:`gnnkit.Graph.from_scipy`
    for ``directed`` (``None`` infers it, ``False`` symmetrises) and ``weighted`` (``None``: keep
    the values unless all are 1).

    >>> import scipy.sparse
    >>> read_sparse(scipy.sparse.csr_matrix([[0, 2.], [2., 0]])).edge_weight.tolist()
    [2.0, 2.0]
    """
    import scipy.sparse as sp  # imported here: keeps `import gnnkit.data` light

    source = None
    if isinstance(A, (str, os.PathLike)):
        source = Path(A)
        d = open_npz(source)
        need = {"format", "shape", "data"} | ({"row", "col"} if "row" in d else {"indices", "indptr"})
        if need - set(d):
            raise DatasetError(f"{source}: not a scipy.sparse.save_npz file, missing keys "
                               f"{sorted(need - set(d))} (found {sorted(d)})")
        try:
            A = sp.load_npz(source)
        except (ValueError, KeyError, NotImplementedError) as e:
            raise DatasetError(f"{source}: invalid sparse matrix ({e})") from e
    if not sp.issparse(A):
        raise DatasetError(f"read_sparse expects a scipy sparse matrix or a .npz path, got "
                           f"{type(A).__name__}")
    try:
        return Graph.from_scipy(A, directed=directed, weighted=weighted)
    except GraphError as e:
        raise DatasetError(f"{source or 'matrix'}: {e}") from e


# Accepted spellings of each field in a generic .npz node dataset.
_ALIASES = {
    "x": ("x", "node_features", "features", "feat"),
    "y": ("y", "node_labels", "labels", "label"),
    "edges": ("edges", "edge_index"),
    "train": ("train_masks", "train_mask"),
    "val": ("val_masks", "val_mask", "valid_masks", "valid_mask"),
    "test": ("test_masks", "test_mask"),
}


def _pick(d: dict, field: str, path, required=True):
    for k in _ALIASES[field]:
        if k in d:
            return d[k]
    if required:
        raise DatasetError(f"{path}: missing key for {field!r}: expected one of "
                           f"{list(_ALIASES[field])}, found {sorted(d)}")
    return None


def read_npz(path, directed: bool = False, name: str | None = None) -> NodeDataset:
    r"""Read a node-classification ``.npz`` archive into a :class:`NodeDataset`.

    Keys (any one spelling): features ``node_features`` / ``x`` ``[N, F]``; labels
    ``node_labels`` / ``y`` ``[N]``; arcs ``edges`` ``[E, 2]`` or ``edge_index`` ``[2, E]`` (source
    first); optional masks ``train_masks`` / ``val_masks`` / ``test_masks`` (``[S, N]``, ``[N, S]``
    or ``[N]``; all three or none).

    Args:
        directed (bool): keep arcs as stored; otherwise each stored edge is made two arcs and
            repeated arcs merged. (default: ``False``)
        name (str, optional): dataset name; the file stem when ``None``.
    """
    path = Path(path)
    d = open_npz(path)
    x, y = _pick(d, "x", path), _pick(d, "y", path)
    if "edges" in d:
        e = d["edges"]
        if e.ndim != 2 or e.shape[1] != 2:
            raise DatasetError(f"{path}: 'edges' must have shape [E, 2], got {e.shape}")
        e = e.T
    else:
        e = _pick(d, "edges", path)
        if e.ndim != 2 or e.shape[0] != 2:
            raise DatasetError(f"{path}: 'edge_index' must have shape [2, E], got {e.shape}")
    masks = [_pick(d, k, path, required=False) for k in ("train", "val", "test")]
    if any(m is not None for m in masks) and any(m is None for m in masks):
        raise DatasetError(f"{path}: needs all of train/val/test masks or none, found "
                           f"{sorted(k for k in d if 'mask' in k)}")
    return dataset_from_arrays(e, x, y, masks=None if masks[0] is None else masks,
                               directed=directed, name=name or path.stem, source=str(path),
                               dedupe=not directed)


def dataset_from_arrays(edge_index, x, y, *, masks=None, splits=None, num_nodes=None,
                        directed=False, name="", source=None, dedupe=False, num_classes=None,
                        metadata=None) -> NodeDataset:
    """Validate raw arrays and assemble a :class:`NodeDataset`.

    Args:
        edge_index (array-like): ``[2, E]`` arcs, row 0 source.
        x (array-like): ``[N, F]`` features (any real dtype, stored as ``float32``).
        y (array-like): ``[N]`` or ``[N, T]`` integer labels.
        masks (tuple, optional): ``(train, val, test)`` boolean mask stacks (see
            :func:`masks_to_splits`).
        splits (list, optional): index splits, instead of ``masks``.
        directed (bool): ``False`` symmetrises the arcs. (default: ``False``)
        dedupe (bool): merge repeated arcs. (default: ``False``)
        source (str, optional): file name used in error messages.
    """
    where = f"{source}: " if source else ""
    x = np.asarray(x)
    if x.ndim != 2 or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
                           or x.dtype == np.bool_):
        raise DatasetError(f"{where}features must be a real [N, F] array, got dtype {x.dtype} "
                           f"and shape {x.shape}")
    if masks is not None and splits is not None:
        raise DatasetError(f"{where}pass masks or splits, not both")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise DatasetError(f"{where}features hold a non-finite value {x[r, c]} at [{r}, {c}]")
    n = x.shape[0] if num_nodes is None else int(num_nodes)
    if x.shape[0] != n:
        raise DatasetError(f"{where}features have {x.shape[0]} rows but num_nodes={n}")
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer) or y.ndim not in (1, 2) or y.shape[0] != n:
        raise DatasetError(f"{where}labels must be an integer array of shape [{n}] or [{n}, T], "
                           f"got dtype {y.dtype} and shape {y.shape}")
    e = np.asarray(edge_index)
    if e.ndim != 2 or e.shape[0] != 2 or not np.issubdtype(e.dtype, np.integer):
        raise DatasetError(f"{where}edges must be an integer [2, E] array, got dtype {e.dtype} "
                           f"and shape {e.shape}")
    if e.size and (e.min() < 0 or e.max() >= n):
        bad = int(np.argmax((e < 0).any(0) | (e >= n).any(0)))
        raise DatasetError(f"{where}edge {bad} = {e[:, bad].tolist()} has a node id outside "
                           f"[0, {n})")
    graph = graph_from_arcs(e[0], e[1], n, directed=directed, dedupe=dedupe)
    if masks is not None:
        splits = masks_to_splits(*masks, num_nodes=n, source=source)
    return _build(graph, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                  torch.from_numpy(y.astype(np.int64)), splits or [], num_classes, name,
                  metadata or {}, source)


def _build(graph, x, y, splits, num_classes, name, metadata, source) -> NodeDataset:
    try:
        return NodeDataset(graph=graph, x=x, y=y, splits=splits, num_classes=num_classes,
                           name=name, metadata=metadata)
    except DatasetError as e:
        if source and not str(e).startswith(str(source)):
            raise DatasetError(f"{source}: {e}") from None
        raise
