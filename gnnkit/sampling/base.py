r"""Stage 2 of the loader pipeline: the sampler interface and its one output type.

As PyG's ``torch_geometric/sampler/base.py``: a sampler has two entry points,

* :meth:`BaseSampler.sample_from_nodes` ``(seeds [B], seed)`` -- node-level tasks, and
* :meth:`BaseSampler.sample_from_edges` ``(pairs [2, P], labels, neg_sampling, seed)`` -- link
  tasks: negatives are drawn by a :class:`NegativeSampling` configuration, not by another loader,

and both return a :class:`SamplerOutput`.  Every implementation (the in-memory / memory-mapped
:class:`~gnnkit.sampling.NeighborSampler`, GraphSAINT's :class:`~gnnkit.sampling.SAINTSampler`,
a distributed sampler) plugs into :class:`~gnnkit.sampling.Loader` the same way.  The output is
a function of the arguments (``seed`` included) only, never of threads or timing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

__all__ = ["BaseSampler", "SamplerOutput", "NegativeSampling"]

_MODES = ("binary", "triplet")


@dataclass
class NegativeSampling:
    r"""How ``sample_from_edges`` adds negatives (PyG's ``NegativeSampling`` config).

    Args:
        mode (str): ``'binary'``: ``amount`` :math:`\times P` negative pairs are appended to the
            positive ones and ``edge_label`` is 1 / 0; ``'triplet'``: every positive pair
            :math:`(s, d^+)` gets ``amount`` negative destinations :math:`d^-` (``src_index``,
            ``dst_pos_index``, ``dst_neg_index [P, amount]`` in the output's ``metadata``).
        amount (int or float): negatives per positive (binary: a float ratio is rounded to
            :math:`\lceil \mathrm{amount}\cdot P \rceil` pairs; triplet: an int >= 1).
        sampler (callable, optional): ``sampler(graph, pairs [2, P], num, seed=...)``, a pure
            function of its arguments returning the negatives -- binary: int64 ``[2, num]``
            pairs; triplet: int64 ``[num]`` destinations for the sources
            ``pairs[0].repeat_interleave(amount)`` (or ``[2, num]`` pairs whose row 0 is exactly
            that; checked).  (default: :obj:`None`: :func:`gnnkit.sampling.strict_negatives`,
            the compiled strict sampler: never an arc of the graph, never a self-loop)
    """

    mode: str = "binary"
    amount: float = 1
    sampler: Callable | None = None

    def __post_init__(self):
        if self.mode not in _MODES:
            raise ValueError(f"NegativeSampling: mode must be one of {_MODES}, got {self.mode!r}")
        a = self.amount
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not a > 0:
            raise ValueError(f"NegativeSampling: amount must be a number > 0, got {a!r}")
        if self.mode == "triplet" and int(a) != a:
            raise ValueError(f"NegativeSampling: triplet mode needs an integer amount, got {a!r}")
        if self.sampler is not None and not callable(self.sampler):
            raise TypeError(f"NegativeSampling: sampler must be callable, got {type(self.sampler).__name__}")

    def num_negatives(self, num_pairs: int) -> int:
        """Negatives drawn for ``num_pairs`` positives."""
        if self.mode == "triplet":
            return int(self.amount) * num_pairs
        return int(-(-self.amount * num_pairs // 1))  # ceil


@dataclass
class SamplerOutput:
    r"""What every sampler returns for one batch.

    Attributes:
        n_id (Tensor): int64 ``[N_s]`` global ids of the batch's nodes; the first ``batch_size``
            are the seed nodes (the rows the model's output is read at).
        batch_size (int): number of seed nodes :math:`B`.
        graph (list[Block] or Graph): per-layer blocks (input layer first) or, for subgraph
            samplers (GraphSAINT), the induced subgraph on ``n_id`` (local ids).
        out_blocks (list[Block] or None): out-arc blocks (Dir-GNN, ``directed=True``).
        num_sampled_nodes (list[int]): nodes first seen at each hop.
        num_sampled_edges (list[int]): arcs sampled at each hop.
        seed_pairs (Tensor or None): link batches: int64 ``[2, P']`` global ids of the evaluated
            pairs (positives first, then binary negatives).
        edge_label_index (Tensor or None): the same pairs as positions in ``n_id`` ``[2, P']``.
        edge_label (Tensor or None): ``[P']`` labels (1 / 0 for binary negatives, or the
            supplied labels of the positives).
        metadata (dict): sampler-specific extras (triplet indices, SAINT norms, ...).
    """

    n_id: Tensor
    batch_size: int
    graph: object
    out_blocks: list | None = None
    num_sampled_nodes: list = field(default_factory=list)
    num_sampled_edges: list = field(default_factory=list)
    seed_pairs: Tensor | None = None
    edge_label_index: Tensor | None = None
    edge_label: Tensor | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def seeds(self) -> Tensor:
        return self.n_id[: self.batch_size]

    @property
    def blocks(self):
        """The per-layer blocks (``graph`` when it is a list)."""
        return self.graph if isinstance(self.graph, list) else None


class BaseSampler:
    """The sampler interface (see the module docstring); subclasses implement both methods
    or raise ``NotImplementedError`` naming what they do not support, and have a ``num_nodes``
    attribute (the id range of the seeds)."""

    def sample_from_nodes(self, seeds: Tensor, *, seed: int) -> SamplerOutput:
        raise NotImplementedError(f"{type(self).__name__} does not sample from seed nodes")

    def sample_from_edges(self, pairs: Tensor, *, labels: Tensor | None = None,
                          neg_sampling: NegativeSampling | None = None, seed: int) -> SamplerOutput:
        raise NotImplementedError(f"{type(self).__name__} does not sample from seed edges")


def check_pairs(pairs, num_nodes: int, where: str) -> Tensor:
    """``pairs`` as int64 ``[2, P]`` with ids in ``[0, num_nodes)`` (IndexError names the entry)."""
    if not isinstance(pairs, Tensor):
        pairs = torch.as_tensor(pairs)
    if pairs.is_floating_point() or pairs.dtype == torch.bool or pairs.dim() != 2 or pairs.shape[0] != 2:
        raise ValueError(f"{where}: pairs must be integer node pairs [2, P], got dtype {pairs.dtype} "
                         f"shape {tuple(pairs.shape)}")
    pairs = pairs.to(torch.int64)
    bad = (pairs < 0) | (pairs >= num_nodes)
    if pairs.numel() and bool(bad.any()):
        r, c = (int(v) for v in bad.nonzero()[0])
        raise IndexError(f"{where}: pairs[{r}, {c}] = {int(pairs[r, c])} is out of range for a graph "
                         f"with {num_nodes} nodes")
    return pairs
