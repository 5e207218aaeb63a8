"""The one batch type that every loader yields and every task consumes.

A full-graph node task yields a single :class:`Batch` holding the whole graph, whose
``split_index`` says where the train / val / test nodes sit in the model's output; a mini-batch
loader yields one per step.  ``forward(model, batch)`` of a task returns ``out`` aligned with
``batch.target`` (row ``i`` of ``out`` predicts ``target[i]``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch
from torch import Tensor

__all__ = ["Batch"]


def _move(v, device, non_blocking: bool):
    if v is None:
        return None
    if isinstance(v, Tensor) or hasattr(v, "to"):
        return v.to(device, non_blocking=non_blocking) if isinstance(v, Tensor) else v.to(device)
    if isinstance(v, (list, tuple)):
        return type(v)(_move(u, device, non_blocking) for u in v)
    if isinstance(v, dict):
        return {k: _move(u, device, non_blocking) for k, u in v.items()}
    return v


@dataclass
class Batch:
    """One step's input for any task kind.

    Attributes:
        x (Tensor, optional): features of the batch's nodes ``[N_b, F]`` (dense or sparse COO);
            or precomputed feature rows when ``graph`` is None (a list for multi-hop features).
        graph: a :class:`gnnkit.Graph`, a list of :class:`gnnkit.Block` (one per layer, input
            layer first) or ``None`` (features already propagated).
        target (Tensor, optional): what ``out`` is scored against, aligned with ``out``.
        split_index (dict): ``split -> positions`` in ``out``/``target`` of that split's items in
            this batch; ``None`` means every item.  A training batch has ``{'train': None}``.
        n_id (Tensor, optional): global ids of the rows of ``x``.
        seed (int, optional): the seed the sampler used for this batch.
        edge_label_index (Tensor, optional): ``[2, P]`` node pairs (positions in the batch's node
            set) scored by a link task.
        batch (Tensor, optional): ``[N_b]`` graph membership of every node (graph-level tasks).
        edge_attr (Tensor, optional): features of the graph's arcs.
        num_graphs (int, optional): graphs in the batch (graph-level tasks).
        extra (dict): anything else a task kind needs.

    >>> b = Batch(x=torch.ones(3, 2), target=torch.tensor([0, 1, 1]), split_index={'train': None})
    >>> b.num_items('train'), b.to('cpu').x.shape
    (3, torch.Size([3, 2]))
    """

    x: object = None
    graph: object = None
    target: Tensor | None = None
    split_index: dict = field(default_factory=dict)
    n_id: Tensor | None = None
    seed: int | None = None
    edge_label_index: Tensor | None = None
    batch: Tensor | None = None
    edge_attr: Tensor | None = None
    num_graphs: int | None = None
    extra: dict = field(default_factory=dict)

    def to(self, device, non_blocking: bool = False) -> "Batch":
        """A copy with every tensor (and the graph / blocks) on ``device``."""
        device = torch.device(device)
        return replace(self, **{f.name: _move(getattr(self, f.name), device, non_blocking)
                                for f in fields(self) if f.name not in ("seed", "num_graphs")})

    def num_items(self, split: str) -> int:
        """Items of ``split`` in this batch (0 when the split is absent)."""
        if split not in self.split_index:
            return 0
        idx = self.split_index[split]
        if idx is not None:
            return int(idx.numel())
        return int(self.target.shape[0]) if self.target is not None else 0
