r"""Leak-free random edge split for link prediction (the GAE protocol, PyG's ``RandomLinkSplit``).

:func:`random_link_split` splits the edges of a graph into train / validation / test positives,
draws fixed validation and test negatives (non-edges of the *full* graph, so no held-out
positive is ever labelled negative), and builds the message-passing graph from the training
edges only, so no validation or test edge leaks into the encoder.  An undirected graph is split
by unordered pairs :math:`\{u, v\}`: both arcs of a pair go to the same split and the training
graph keeps both arcs of every training pair.  Self-loops are never targets; they are dropped.

Reproducible: the permutation and the negatives are a function of ``seed`` only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from gnnkit.ops.negative_sampling import negative_sampling
from gnnkit.graphlike import as_graph as _as_graph

__all__ = ["LinkSplit", "random_link_split", "target_pairs"]


@dataclass
class LinkSplit:
    r"""One edge split.

    Attributes:
        train_graph (Graph): message-passing graph: the training edges only (both arcs of each
            pair when undirected), ``num_nodes`` of the full graph.
        train_pos, val_pos, test_pos (Tensor): int64 ``[2, P]`` positive pairs (one column per
            unordered pair when undirected, ``u < v``).
        val_neg, test_neg (Tensor): int64 ``[2, Q]`` fixed negative pairs (non-edges of the full
            graph, self-loops excluded).
        full_graph (Graph): the graph that was split (negatives for training are drawn from
            ``train_graph``; evaluation negatives were drawn from this one).
        undirected (bool): whether pairs are unordered.
        seed (int): the seed that produced the split.
    """

    train_graph: object
    train_pos: Tensor
    val_pos: Tensor
    val_neg: Tensor
    test_pos: Tensor
    test_neg: Tensor
    full_graph: object
    undirected: bool
    seed: int
    extra: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return self.full_graph.num_nodes

    def pairs(self, split: str) -> tuple[Tensor, Tensor]:
        """``(pos [2, P], neg [2, Q])`` of ``'val'`` or ``'test'`` (``'train'``: no fixed negatives,
        ``neg`` is empty)."""
        if split == "train":
            return self.train_pos, self.train_pos.new_empty(2, 0)
        if split in ("val", "valid"):
            return self.val_pos, self.val_neg
        if split == "test":
            return self.test_pos, self.test_neg
        raise KeyError(f"unknown split {split!r}; expected 'train', 'val' or 'test'")

    def __repr__(self) -> str:
        return (f"LinkSplit(num_nodes={self.num_nodes}, train={self.train_pos.shape[1]}, "
                f"val={self.val_pos.shape[1]}+{self.val_neg.shape[1]}, "
                f"test={self.test_pos.shape[1]}+{self.test_neg.shape[1]}, undirected={self.undirected})")


def target_pairs(graph, undirected: bool | None = None) -> Tensor:
    """The candidate target pairs of a graph, int64 ``[2, M]``: every arc ``u -> v`` with
    ``u != v`` (duplicates removed), or every unordered pair once (``u < v``) when undirected."""
    g = _as_graph(graph)
    undirected = (not g.directed) if undirected is None else undirected
    src, dst = g.indices.to(torch.int64), g.dst_index()
    keep = src != dst
    if undirected:
        keep &= src < dst
        if g.directed:  # a directed graph treated as undirected: fold every arc onto u < v
            lo, hi = torch.minimum(src, dst), torch.maximum(src, dst)
            src, dst, keep = lo, hi, lo != hi
    src, dst = src[keep], dst[keep]
    n = g.num_nodes
    key = torch.unique(src * n + dst)
    return torch.stack([key // n, key % n])


def _check_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"random_link_split: '{name}' must be a fraction in [0, 1], got {value!r}")
    return float(value)


def random_link_split(graph, val: float = 0.05, test: float = 0.1, *, neg_ratio: float = 1.0,
                      undirected: bool | None = None, seed: int = 0) -> LinkSplit:
    r"""Split the edges of ``graph`` into train / val / test for link prediction.

    ``round(val * M)`` and ``round(test * M)`` of the ``M`` target pairs (:func:`target_pairs`)
    go to validation and test, the rest to training; each held-out split gets
    ``round(neg_ratio * P)`` negatives drawn uniformly (strict, no self-loops) from the non-edges
    of the full graph.  The GAE protocol (Kipf & Welling, 2016, https://arxiv.org/abs/1611.07308)
    is ``val=0.05, test=0.1``.

    Args:
        graph (Graph or DiskGraph): the graph to split.
        val (float): fraction of pairs for validation (default: ``0.05``).
        test (float): fraction of pairs for test (default: ``0.1``); ``val + test <= 1``.
        neg_ratio (float): negatives per held-out positive (default: ``1.0``).
        undirected (bool, optional): split unordered pairs (default: ``not graph.directed``).
        seed (int): seed of the permutation and the negatives (default: ``0``).

    Returns:
        LinkSplit

    Raises:
        ValueError: fractions outside ``[0, 1]`` or summing to more than 1, no edges to split,
            a negative ``neg_ratio``, or a graph too dense for the requested negatives.

    >>> import torch, gnnkit
    >>> ring = torch.arange(10)
    >>> g = gnnkit.Graph.from_edge_index(torch.stack([ring, (ring + 1) % 10]), num_nodes=10).to_undirected()
    >>> s = random_link_split(g, val=0.1, test=0.2, seed=0)
    >>> s.train_pos.shape[1], s.val_pos.shape[1], s.test_pos.shape[1], s.train_graph.num_edges
    (7, 1, 2, 14)
    """
    g = _as_graph(graph)
    val, test = _check_fraction("val", val), _check_fraction("test", test)
    if val + test > 1 + 1e-12:
        raise ValueError(f"random_link_split: 'val' + 'test' = {val + test:g} must be <= 1 (val={val}, test={test})")
    if isinstance(neg_ratio, bool) or not isinstance(neg_ratio, (int, float)) or not neg_ratio >= 0:
        raise ValueError(f"random_link_split: 'neg_ratio' must be a number >= 0, got {neg_ratio!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"random_link_split: 'seed' must be an int, got {seed!r}")
    undirected = (not g.directed) if undirected is None else bool(undirected)
    pairs = target_pairs(g, undirected)
    m = pairs.shape[1]
    if m == 0:
        raise ValueError("random_link_split: 'graph' has no edges (other than self-loops) to split")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(m, generator=gen)
    n_val, n_test = round(val * m), round(test * m)
    n_val = min(n_val, m)
    n_test = min(n_test, m - n_val)
    val_pos = pairs[:, perm[:n_val]]
    test_pos = pairs[:, perm[n_val:n_val + n_test]]
    train_pos = pairs[:, perm[n_val + n_test:]]
    n = g.num_nodes
    neg_graph = g if not (undirected and g.directed) else g.to_undirected()
    neg_seed = int(torch.randint(0, 2**62, (1,), generator=gen))
    n_vneg, n_tneg = round(neg_ratio * n_val), round(neg_ratio * n_test)
    neg = negative_sampling(neg_graph, n_vneg + n_tneg, strict=True, exclude_self=True, seed=neg_seed)
    if undirected:  # canonical u < v, like the positives
        neg = torch.stack([neg.min(0).values, neg.max(0).values])
    val_neg, test_neg = neg[:, :n_vneg], neg[:, n_vneg:]
    from gnnkit.graph import Graph

    ei = torch.cat([train_pos, train_pos.flip(0)], 1) if undirected else train_pos
    train_graph = Graph.from_edge_index(ei, num_nodes=n, directed=not undirected)
    return LinkSplit(train_graph, train_pos, val_pos, val_neg, test_pos, test_neg, g, undirected, seed)
