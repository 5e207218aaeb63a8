r"""node2vec and DeepWalk embeddings: compiled walks + a compiled skip-gram (SGNS) trainer.

:func:`node2vec_embedding` runs ``walks_per_node`` walks of ``walk_length`` steps from every node
(:func:`gnnkit.ops.random_walk`: uniform for DeepWalk, :math:`(p, q)`-biased for node2vec) and
trains skip-gram with negative sampling on them (``torch.ops.gnnkit.sgns_train``, see
``csrc/cpu/sgns_cpu.cpp``), the word2vec / gensim recipe with the same defaults as PecanPy's
CLI (``gensim.models.Word2Vec(walks, window=10, min_count=0, sg=1, epochs=1)``: 5 negatives from
the walk-frequency\ :sup:`0.75` noise distribution, down-sampling ``1e-3``, learning rate
0.025 decaying linearly to 0.0001, a random window shrink per centre).

Papers: node2vec (Grover & Leskovec, KDD 2016, https://arxiv.org/abs/1607.00653), DeepWalk
(Perozzi et al., KDD 2014, https://arxiv.org/abs/1403.6652), SGNS (Mikolov et al., NeurIPS 2013,
https://arxiv.org/abs/1310.4546).

The update order is gensim's (``train_batch_sg``): every (centre, context) pair in turn, with
:math:`K` fresh negatives per pair, the output rows updated at once and the context row after the
pair; scores outside :math:`(-6, 6)` skipped and the sigmoid read from gensim's 1000-entry table.
Honest differences from gensim: the random numbers come from gnnkit's counter-based streams (one
per walk), not gensim's linear congruential generator, so the two never give the same vectors
bit for bit; the learning rate decays per walk instead of per 10 000-word job; DeepWalk is
trained with SGNS, not the hierarchical softmax of the original paper.  Updates are lock-free
across threads (Hogwild, as word2vec and gensim): bit-reproducible for a seed with one thread
(``torch.set_num_threads(1)``), statistically equivalent otherwise.
"""
from __future__ import annotations

import math
import time

import torch
from torch import Tensor

from gnnkit.ops._library import ops
from gnnkit.graphlike import as_graph as _as_graph
from gnnkit.ops.random_walk import random_walk

__all__ = ["node2vec_embedding", "deepwalk_embedding", "sgns_train", "walk_noise"]


def walk_noise(walks: Tensor, num_nodes: int, power: float = 0.75, sample: float = 1e-3):
    r"""word2vec's noise weights and keep probabilities from node frequencies in ``walks``.

    ``noise[v] = count(v) ** power``; with ``sample > 0``,
    ``keep[v] = (sqrt(f_v / (sample F)) + 1) (sample F) / f_v`` clipped to 1 (``F`` = number of
    tokens), else ``None``.  Returns ``(noise float64 [N], keep float32 [N] | None)``.
    """
    tok = walks.reshape(-1)
    tok = tok[tok >= 0]
    count = torch.bincount(tok, minlength=num_nodes).to(torch.float64)
    noise = count.pow(power)
    keep = None
    if sample > 0:
        thr = sample * tok.numel()
        keep = ((count / thr).sqrt() + 1) * thr / count.clamp_min(1)
        keep = keep.clamp(max=1.0).to(torch.float32)
    return noise, keep


def sgns_train(walks: Tensor, num_nodes: int, dim: int = 128, *, window: int = 10, negatives: int = 5,
               epochs: int = 1, lr: float = 0.025, min_lr: float = 1e-4, sample: float = 1e-3,
               seed: int = 0, batch_walks: int = 1 << 16) -> Tensor:
    r"""Skip-gram with negative sampling on node sequences ``walks`` ``[W, L+1]`` (``-1`` pads).

    Input vectors start uniform in :math:`[-1/D, 1/D)` (gensim 4's ``prep_vectors``), output
    vectors at 0; the learning rate decays linearly from ``lr`` to ``min_lr`` over all walks and
    epochs, :math:`\alpha = lr - (lr - min\_lr) \cdot \mathrm{progress}` (gensim).

    Returns:
        Tensor: float32 ``[num_nodes, dim]``, the input ("syn0") vectors.
    """
    for name, v in (("dim", dim), ("window", window), ("epochs", epochs), ("batch_walks", batch_walks)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"sgns_train: '{name}' must be a positive int, got {v!r}")
    if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 0:
        raise ValueError(f"sgns_train: 'negatives' must be an int >= 0, got {negatives!r}")
    gen = torch.Generator().manual_seed(int(seed))
    emb_in = (torch.rand(num_nodes, dim, generator=gen) * 2 - 1) / dim
    emb_out = torch.zeros(num_nodes, dim)
    noise, keep = walk_noise(walks, num_nodes, sample=sample)
    W = walks.shape[0]
    total = W * epochs
    for e in range(epochs):
        for s in range(0, W, batch_walks):
            ops().sgns_train(walks[s:s + batch_walks], emb_in, emb_out, noise, keep, window, negatives,
                             float(lr), float(min_lr), e * W + s, total, int(seed))
    return emb_in


def node2vec_embedding(graph, dim: int = 128, *, walk_length: int = 80, walks_per_node: int = 10,
                       window: int = 10, p: float = 1.0, q: float = 1.0, negatives: int = 5,
                       epochs: int = 1, lr: float = 0.025, min_lr: float = 1e-4, sample: float = 1e-3,
                       seed: int = 0, return_timing: bool = False):
    r"""node2vec embeddings (Grover & Leskovec, 2016) of every node of ``graph``.

    ``walks_per_node`` rounds of one walk per node (:func:`gnnkit.ops.random_walk` with
    :math:`(p, q)`, along out-arcs; nodes are shuffled per round as in node2vec's reference code),
    then :func:`sgns_train` over all walks.

    Args:
        graph (Graph or DiskGraph): the graph.
        dim (int): embedding size (default: ``128``).
        walk_length (int): steps per walk (default: ``80``).
        walks_per_node (int): walks started at every node (default: ``10``).
        window (int): context size (default: ``10``).
        p, q (float): node2vec return / in-out parameters (default: ``1.0``: DeepWalk walks).
        negatives, epochs, lr, min_lr, sample: SGNS settings (see the module docstring).
        seed (int): seed of walks, initialisation and training (default: ``0``).
        return_timing (bool): also return ``{'walk_s', 'train_s', 'num_walks', 'num_tokens'}``.

    Returns:
        Tensor: float32 ``[N, dim]`` (and the timing dict with ``return_timing``).
    """
    g = _as_graph(graph)
    n = g.num_nodes
    if n == 0:
        raise ValueError("node2vec_embedding: 'graph' has no nodes")
    if isinstance(walks_per_node, bool) or not isinstance(walks_per_node, int) or walks_per_node < 1:
        raise ValueError(f"node2vec_embedding: 'walks_per_node' must be a positive int, got {walks_per_node!r}")
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(int(seed))
    start = torch.cat([torch.randperm(n, generator=gen) for _ in range(walks_per_node)])
    walks = random_walk(g, start, walk_length, p, q, seed=int(seed))
    t1 = time.perf_counter()
    emb = sgns_train(walks, n, dim, window=window, negatives=negatives, epochs=epochs, lr=lr,
                     min_lr=min_lr, sample=sample, seed=int(seed) + 1)
    t2 = time.perf_counter()
    if return_timing:
        return emb, {"walk_s": t1 - t0, "train_s": t2 - t1, "num_walks": int(walks.shape[0]),
                     "num_tokens": int((walks >= 0).sum())}
    return emb


def deepwalk_embedding(graph, dim: int = 128, **kwargs):
    r"""DeepWalk (Perozzi et al., KDD 2014, https://arxiv.org/abs/1403.6652): uniform walks +
    skip-gram, i.e. :func:`node2vec_embedding` with ``p = q = 1`` (trained with SGNS, not the
    paper's hierarchical softmax)."""
    if "p" in kwargs or "q" in kwargs:
        raise ValueError("deepwalk_embedding: DeepWalk walks are uniform; use node2vec_embedding for p / q")
    return node2vec_embedding(graph, dim, **kwargs)
