r"""Mini-batch training of decoupled models on precomputed, memory-mapped node features.

=============================  ================================================================
:class:`FeatureStore`          node id -> feature rows, read from ``.npy`` memory maps (or
                               arrays / tensors); several hops for SIGN
:func:`train_node_classifier`  Adam, mini-batches of node ids, early stopping on validation
                               accuracy, test accuracy of the best-validation model (a
                               shortcut for :func:`gnnkit.train.fit` on a ``NodeTask`` whose
                               loader yields feature rows with ``graph=None``)
=============================  ================================================================

The training loop never touches the graph: each step reads the rows of one mini-batch of node
ids (sorted, for sequential access to the map) and converts only those to tensors, so the
resident memory is the model plus one batch, whatever the size of the feature file.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from gnnkit.data.npy_file import load_npy

__all__ = ["FeatureStore", "train_node_classifier"]


class FeatureStore:
    r"""Row access to precomputed features by node id.

    Args:
        features (array-like, str, or list of them): ``[R, F]`` ndarray, ``np.memmap``, tensor,
            or ``.npy`` path (memory-mapped read-only); a list gives several aligned arrays (SIGN's
            hops), returned as a list.
        node_ids (array-like, optional): the node id of every row ``[R]`` (e.g. GBP's ``targets``);
            default: row ``i`` is node ``i``.

    Shapes:
        ``store[nodes]``: ``[B, F]`` float32 (or a list of them).

    >>> import numpy as np
    >>> s = FeatureStore(np.arange(6.0).reshape(3, 2), node_ids=[10, 20, 30])
    >>> s[torch.tensor([30, 10])].tolist()
    [[4.0, 5.0], [0.0, 1.0]]
    """

    def __init__(self, features, node_ids=None):
        self.multi = isinstance(features, (list, tuple))
        arrays = [self._open(f) for f in (features if self.multi else [features])]
        if not arrays:
            raise ValueError("FeatureStore: empty list of feature arrays")
        rows = arrays[0].shape[0]
        for a in arrays:
            if len(a.shape) != 2 or a.shape[0] != rows:
                raise ValueError(f"FeatureStore: every array must be [R, F] with R = {rows}, got {tuple(a.shape)}")
        self.arrays = arrays
        self.num_rows = rows
        self.num_features = int(arrays[0].shape[1])
        self._row_of = None
        if node_ids is not None:
            ids = np.asarray(node_ids.cpu() if isinstance(node_ids, torch.Tensor) else node_ids).astype(np.int64)
            if ids.shape != (rows,):
                raise ValueError(f"FeatureStore: node_ids must have shape [{rows}], got {ids.shape}")
            if ids.size and ids.min() < 0:
                raise ValueError("FeatureStore: node_ids must be non-negative")
            row_of = np.full(int(ids.max()) + 1 if ids.size else 0, -1, dtype=np.int64)
            row_of[ids] = np.arange(rows)
            if (row_of >= 0).sum() != rows:
                raise ValueError("FeatureStore: node_ids contains duplicates")
            self._row_of = row_of

    @staticmethod
    def _open(f):
        if isinstance(f, (str, os.PathLike)):  # an untrusted file: header, dtype and size checked first
            return load_npy(f, ["fiu"], (None, None), "FeatureStore features [rows, F]")
        if isinstance(f, torch.Tensor):
            return f.detach().cpu()
        return f

    def rows(self, nodes) -> np.ndarray:
        """Row index of each node id (IndexError for ids without a row)."""
        ids = np.asarray(nodes.cpu() if isinstance(nodes, torch.Tensor) else nodes, dtype=np.int64).reshape(-1)
        if self._row_of is None:
            bad = (ids < 0) | (ids >= self.num_rows)
            if bad.any():
                raise IndexError(f"FeatureStore: node {int(ids[bad][0])} has no row (rows: {self.num_rows})")
            return ids
        bad = (ids < 0) | (ids >= self._row_of.size)
        r = np.where(bad, -1, self._row_of[np.clip(ids, 0, max(self._row_of.size - 1, 0))])
        if (r < 0).any():
            raise IndexError(f"FeatureStore: node {int(ids[r < 0][0])} has no precomputed row")
        return r

    def __getitem__(self, nodes):
        r = self.rows(nodes)
        order = np.argsort(r, kind="stable")  # sorted reads: sequential access to the memory map
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size)
        out = []
        for a in self.arrays:
            if isinstance(a, torch.Tensor):
                out.append(a[torch.from_numpy(r)].to(torch.float32))
            else:
                block = np.asarray(a[r[order]], dtype=np.float32)
                out.append(torch.from_numpy(block[inv]))
        return out if self.multi else out[0]

    def __repr__(self) -> str:
        return f"FeatureStore(rows={self.num_rows}, features={self.num_features}, arrays={len(self.arrays)})"


def train_node_classifier(model, store: FeatureStore, labels, train_idx, val_idx=None, test_idx=None, *,
                          epochs: int = 100, lr: float = 0.01, weight_decay: float = 0.0, batch_size: int = 64,
                          patience: int | None = None, seed: int | None = 0, eval_batch_size: int = 4096,
                          select: str = "best_val") -> dict:
    r"""Train ``model`` with Adam and cross-entropy on mini-batches of precomputed rows.

    A shortcut for :func:`gnnkit.train.fit` on ``NodeTask.from_labels(labels, splits,
    features=store)`` (batches of feature rows, ``graph=None``).  Each epoch shuffles the
    training node ids (``torch.Generator`` seeded by ``seed``) and runs one step per batch of
    ``batch_size`` ids, reading their rows from ``store``.  Validation accuracy is computed after
    every epoch; with ``select='best_val'`` the returned test accuracy is that of the parameters
    with the best validation accuracy (ties: earliest), and ``patience`` stops after that many
    epochs without improvement (GBP's protocol); ``select='last'`` evaluates the final parameters
    (SGC's protocol: a fixed number of epochs).

    Args:
        model (nn.Module): maps ``store[batch]`` to logits ``[B, C]``.
        store (FeatureStore): features by node id.
        labels (Tensor): int64 ``[N]`` labels indexed by node id.
        train_idx, val_idx, test_idx (Tensor): node ids.
        epochs (int): maximum epochs (default: ``100``).
        lr (float): learning rate (default: ``0.01``).
        weight_decay (float): Adam L2 penalty (default: ``0.0``).
        batch_size (int): training batch size (default: ``64``).
        patience (int, optional): early-stopping patience in epochs (default: no early stop).
        seed (int, optional): seeds the shuffling and ``torch.manual_seed`` for init/dropout
            (default: ``0``; ``None`` leaves the global RNG alone and shuffles with seed 0).
        eval_batch_size (int): batch size for evaluation (default: ``4096``).
        select (str): ``'best_val'`` or ``'last'`` (default: ``'best_val'``).

    Returns:
        dict: ``val_acc``, ``test_acc``, ``best_epoch`` (0-based), ``epochs_run``, ``history``
        (per-epoch ``(loss, val_acc)``), ``result`` (the :class:`gnnkit.train.FitResult`).
    """
    from gnnkit.tasks import NodeTask
    from gnnkit.train import TrainConfig, fit

    if select not in ("best_val", "last"):
        raise ValueError(f"select must be 'best_val' or 'last', got {select!r}")
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    splits = {"train": train_idx, "val": val_idx, "test": test_idx}
    task = NodeTask.from_labels(labels, splits, features=store, batch_size=batch_size,
                                eval_batch_size=eval_batch_size)
    has_val = task.split_nodes["val"].numel() > 0
    task.eval_splits = tuple(k for k in ("val", "test") if task.split_nodes[k].numel() or k == "val")
    monitor = "val_metric" if select == "best_val" and has_val else "last"
    cfg = TrainConfig(lr=lr, weight_decay=weight_decay, epochs=epochs, patience=patience,
                      monitor=monitor, tie_break=None)
    loaders = task.loaders(seed=0 if seed is None else seed)
    res = fit(model, task, loaders=loaders, config=cfg, seed=seed)
    history = [(h["loss"], h.get("val", float("nan"))) for h in res.history]
    return {"val_acc": res.val, "test_acc": res.test, "best_epoch": res.best_epoch - 1,
            "epochs_run": res.epochs, "history": history, "result": res}
