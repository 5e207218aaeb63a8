r"""Link prediction: :class:`LinkTask` (registered as task kind ``'link'``).

What is learned: a score for node pairs; positives are edges held out of the message-passing
graph, negatives are non-edges.  The model maps ``(x, graph, pairs [2, P]) -> logits [P]`` (see
:mod:`gnnkit.nn.gae`: :class:`~gnnkit.nn.GAE`, :class:`~gnnkit.nn.VGAE`, :class:`~gnnkit.nn.LinkGNN`);
the loss is BCE on positive and negative pairs (+ the KL term for a variational model).

==========================================  ===========================  ==========================
dataset                                     split                        metric
==========================================  ===========================  ==========================
node dataset (Cora, ...)                    :func:`random_link_split`    ``roc_auc`` (GAE protocol)
                                            85/5/10, seed = ``split``
:class:`~gnnkit.link.LinkDataset` (ogbl-*)  OGB's split files            ``ogb:<name>`` (Hits@K/MRR)
==========================================  ===========================  ==========================

Loaders (:meth:`LinkTask.loaders`):

* full graph (default): every training batch runs the encoder on the whole training graph and
  scores ``batch_size`` positive pairs (default: all of them) plus ``neg_ratio`` times as many
  negatives drawn afresh every epoch with the strict C++ sampler
  (:func:`gnnkit.ops.negative_sampling`, excluding the training edges); evaluation is one
  batch per held-out split with its fixed negatives;
* ``fanouts``: sampled mini-batches (:func:`gnnkit.link.link_loader`): the union of both
  endpoints' sampled blocks, the batch's target edges removed from the blocks while training.

Batches carry ``edge_label_index`` (pairs, as positions in the batch's node set), ``target``
(1 = positive, 0 = negative) and, for per-source negatives (ogbl-citation2), ``extra['rows']
= 1 + K`` so that ``forward`` returns ``[P, 1 + K]`` score rows for the MRR.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gnnkit.tasks.base import Task, positive_int, register_task_kind
from gnnkit.tasks.batch import Batch

__all__ = ["LinkTask"]

_MASK63 = (1 << 63) - 1


def _mix(a: int, b: int) -> int:
    z = (a * 0x9E3779B97F4A7C15 + b + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & _MASK63


def _link_dataset(dataset, split: int, val: float, test: float):
    """A LinkDataset as is, or a node dataset split by random_link_split(seed=split)."""
    from gnnkit.link.ogbl import LinkDataset
    from gnnkit.link.split import random_link_split

    if isinstance(dataset, LinkDataset):
        return dataset
    graph = getattr(dataset, "graph", None)
    if graph is None:
        raise TypeError(f"LinkTask: dataset must be a LinkDataset or have a .graph, got {type(dataset).__name__}")
    s = random_link_split(graph, val=val, test=test, seed=int(split))
    name = getattr(dataset, "name", "graph")
    return LinkDataset(name, getattr(dataset, "x", None), s, "roc_auc")


class _TrainBatches:
    """Training batches of one epoch: positives in ``batch_size`` chunks (shuffled), fresh strict
    negatives per batch; a new epoch seed on every ``iter``."""

    def __init__(self, task, seed: int, batch_size: int | None, shuffle: bool):
        self.task, self.seed, self.batch_size, self.shuffle = task, seed, batch_size, shuffle
        self.epoch = 0

    def __len__(self) -> int:
        p = self.task.edges.train_pos.shape[1]
        return 1 if self.batch_size is None else -(-p // self.batch_size)

    def __iter__(self):
        from gnnkit.ops.negative_sampling import negative_sampling

        t = self.task
        es = _mix(self.seed, self.epoch + 1)
        self.epoch += 1
        pos = t.edges.train_pos
        if self.shuffle and self.batch_size is not None:
            gen = torch.Generator().manual_seed(_mix(es, 0))
            pos = pos[:, torch.randperm(pos.shape[1], generator=gen)]
        bs = pos.shape[1] if self.batch_size is None else self.batch_size
        for b in range(len(self)):
            p = pos[:, b * bs:(b + 1) * bs]
            q = round(t.neg_ratio * p.shape[1])
            neg = negative_sampling(t.graph, q, strict=True, seed=_mix(es, b + 1))
            pairs = torch.cat([p, neg], 1)
            target = torch.cat([torch.ones(p.shape[1]), torch.zeros(q)])
            yield Batch(x=t.x, graph=t.graph, target=target, split_index={"train": None},
                        edge_label_index=pairs, seed=_mix(es, b + 1), extra={"num_nodes": t.num_nodes})


class _FullBatches:
    """One batch per epoch for the full-adjacency objective (no sampled pairs)."""

    def __init__(self, task):
        self.task = task

    def __len__(self) -> int:
        return 1

    def __iter__(self):
        t = self.task
        yield Batch(x=t.x, graph=t.graph, target=None, split_index={"train": None},
                    extra={"objective": "full", "num_nodes": t.num_nodes})


class LinkTask(Task):
    r"""Predict whether node pairs are linked.

    Args:
        dataset (NodeDataset or LinkDataset): a graph to split at random (GAE protocol) or an
            OGB link dataset with its own split.
        split (int): seed of the random edge split (default: ``0``).
        val, test (float): held-out fractions of the random split (default: ``0.05``, ``0.1``).
        metric (str, optional): override (default: ``roc_auc``; ``ogb:<name>`` for ogbl).
        neg_ratio (float): training negatives per positive (default: ``1.0``).
        batch_size (int, optional): positive pairs per training batch (default: all).
        fanouts (list of int, optional): sampled mini-batches instead of the full graph
            (:func:`gnnkit.link.link_loader`).
        eval_batch_size (int): pairs per evaluation batch in sampled mode (default: ``65536``).
        normalize_features (bool): row-normalise ``x`` (default: ``False``).
        objective (str): ``'sampled'`` (BCE on the training positives and fresh random
            negatives) or ``'full'``: the GAE paper's reconstruction of the whole adjacency,
            :math:`\frac{N^2}{2(N^2 - E)}\,\mathrm{BCE}_w(\sigma(ZZ^\top), A + I)` with positive
            weight :math:`(N^2 - E)/E` over all :math:`N^2` pairs (Kipf & Welling's ``gae``
            code; dense :math:`N \times N`, for small graphs and dot-product decoders only).
            (default: ``'sampled'``)

    Datasets without node features (ogbl-ddi) give ``x = None``: the model is then called with
    the batch's global node ids and must hold its own embedding table.
    """

    kind = "link"

    def __init__(self, dataset, split: int = 0, *, val: float = 0.05, test: float = 0.1, metric=None,
                 neg_ratio: float = 1.0, batch_size: int | None = None, fanouts=None,
                 eval_batch_size: int = 65536, normalize_features: bool = False, objective: str = "sampled"):
        ds = _link_dataset(dataset, split, val, test)
        self.dataset, self.edges, self.split = ds, ds.split, int(split)
        x = ds.x
        if x is not None and normalize_features:
            s = x.sum(-1, keepdim=True)
            x = x / torch.where(s == 0, torch.ones_like(s), s)
        self.x = x
        if isinstance(neg_ratio, bool) or not isinstance(neg_ratio, (int, float)) or not neg_ratio > 0:
            raise ValueError(f"LinkTask: neg_ratio must be a positive number, got {neg_ratio!r}")
        positive_int("LinkTask", "batch_size", batch_size)
        self.neg_ratio, self.batch_size, self.fanouts = float(neg_ratio), batch_size, fanouts
        self.eval_batch_size = eval_batch_size
        if objective not in ("sampled", "full"):
            raise ValueError(f"LinkTask: objective must be 'sampled' or 'full', got {objective!r}")
        if objective == "full" and self.edges.num_nodes > 30000:
            raise ValueError(f"LinkTask: objective='full' builds a dense N x N target; N = "
                             f"{self.edges.num_nodes} is too large, use objective='sampled'")
        self.objective = objective
        self._full = None
        super().__init__(ds.name, metric or ds.metric, "bce", 1, ds.num_features)

    @property
    def graph(self):
        """The message-passing graph (training edges only)."""
        return self.edges.train_graph

    @property
    def num_nodes(self) -> int:
        return self.edges.num_nodes

    # ------------------------------------------------------------------ batches
    def _eval_batch(self, name: str) -> Batch:
        pos, neg = self.edges.pairs(name)
        split = "val" if name in ("val", "valid") else name
        per_source = self._per_source
        if per_source:  # citation2: row i = (src_i, dst_i), then (src_i, neg_ij) for j < K
            k = neg.shape[1]
            src = pos[0].repeat_interleave(1 + k)
            dst = torch.cat([pos[1].unsqueeze(1), neg], 1).reshape(-1)
            pairs = torch.stack([src, dst])
            target = torch.cat([torch.ones(pos.shape[1], 1), torch.zeros(pos.shape[1], k)], 1)
            extra = {"rows": 1 + k}
        else:
            pairs = torch.cat([pos, neg], 1)
            target = torch.cat([torch.ones(pos.shape[1]), torch.zeros(neg.shape[1])])
            extra = {}
        extra["num_nodes"] = self.num_nodes
        return Batch(x=self.x, graph=self.graph, target=target, split_index={split: None},
                     edge_label_index=pairs, extra=extra)

    @property
    def _per_source(self) -> bool:
        """ogbl-citation2 layout: negatives are ``[P, K]`` destinations of each positive's source."""
        return bool(self.edges.extra.get("per_source_negatives", False))

    def loaders(self, seed: int | None = None, splits=("val", "test"), **_) -> dict:
        seed = 0 if seed is None else int(seed)
        if self.fanouts is not None:
            from gnnkit.link.loader import link_loaders

            return link_loaders(self, seed=seed, splits=splits)
        train = _FullBatches(self) if self.objective == "full" else _TrainBatches(self, seed, self.batch_size, True)
        return {"train": train,
                "eval": [self._eval_batch(s) for s in splits]}

    # ------------------------------------------------------------------ model
    def forward(self, model, batch) -> Tensor:
        out = model(batch.x if batch.x is not None else _num_nodes_arg(batch), batch.graph,
                    batch.edge_label_index)
        rows = batch.extra.get("rows")
        return out.reshape(-1, rows) if rows else out.reshape(-1)

    def _full_target(self):
        """Ones of the reconstruction target ``A + I`` (unique pairs), the positive weight
        ``(N^2 - E) / E`` and the normalisation ``N^2 / (2 (N^2 - E))`` of the GAE code."""
        if self._full is None:
            n = self.num_nodes
            ei = self.graph.edge_index
            key = torch.unique(torch.cat([ei[0] * n + ei[1], torch.arange(n) * (n + 1)]))
            e = float(self.graph.num_edges)
            if e == 0:
                raise ValueError("LinkTask: objective='full' needs training edges")
            self._full = (torch.stack([key // n, key % n]), (n * n - e) / e, n * n / ((n * n - e) * 2.0))
        return self._full

    def train_loss(self, model, batch):
        if batch.extra.get("objective") == "full":
            from gnnkit.nn.gae import full_recon_loss

            ones, pos_weight, norm = self._full_target()
            z = model.encode(batch.x, batch.graph)
            loss = norm * full_recon_loss(z, ones.to(z.device), pos_weight)
            if getattr(model, "variational", False):
                loss = loss + model.kl_loss() / z.shape[0]
            return loss, self.edges.train_pos.shape[1]
        loss, n = super().train_loss(model, batch)
        if getattr(model, "variational", False):  # (1/N) KL over the encoded nodes (PyG's example)
            loss = loss + model.kl_loss() / model._mu.shape[0]
        return loss, n

    def score(self, out: Tensor, target: Tensor) -> float:
        return self.metric(out, target)


def _num_nodes_arg(batch):
    """Featureless datasets: the model receives the batch's global node ids instead of x."""
    if batch.n_id is not None:
        return batch.n_id
    return torch.arange(batch.extra["num_nodes"])


register_task_kind("link", LinkTask)
