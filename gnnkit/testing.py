"""Plain-PyTorch reference implementations (oracles) of gnnkit's ops.

These are deliberately simple (gather + ``scatter_reduce``) and are used only by tests and
benchmarks to check the compiled kernels; the library never falls back to them.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from gnnkit._graph_utils import row_index

__all__ = [
    "spmm_reference",
    "sddmm_reference",
    "edge_softmax_reference",
    "gat_attention_reference",
    "dropout_reference",
    "dataset_root",
    "roc_auc_pairwise",
    "average_precision_reference",
    "sgns_positive_reference",
]


def _arcs(graph):
    rowptr, col = graph.indptr, graph.indices
    dst = row_index(rowptr)
    return col.long(), dst


def _num_src(graph):
    return int(getattr(graph, "num_src_nodes", graph.indptr.numel() - 1))


def spmm_reference(graph, x, reduce="sum", edge_weight=None):
    """``out[i] = reduce_{j->i} w_ji x_j`` via index_select + scatter_reduce (empty rows -> 0)."""
    src, dst = _arcs(graph)
    n = graph.indptr.numel() - 1
    w = edge_weight if edge_weight is not None else getattr(graph, "edge_weight", None)
    msg = x.index_select(0, src)
    if w is not None:
        w = w.to(x.dtype)
        if x.dim() == 3 and w.dim() == 2:
            msg = msg * w.unsqueeze(-1)
        else:
            msg = msg * w.reshape((-1,) + (1,) * (x.dim() - 1))
    out = x.new_zeros((n,) + tuple(x.shape[1:]))
    idx = dst.reshape((-1,) + (1,) * (x.dim() - 1)).expand_as(msg)
    if reduce == "sum":
        return out.scatter_add(0, idx, msg)
    torch_reduce = {"mean": "mean", "max": "amax", "min": "amin"}[reduce]
    return out.scatter_reduce(0, idx, msg, torch_reduce, include_self=False)


def sddmm_reference(graph, a, b):
    """``out[k] = <a[dst_k], b[src_k]>`` per arc (and head)."""
    src, dst = _arcs(graph)
    return (a.index_select(0, dst) * b.index_select(0, src)).sum(-1)


def edge_softmax_reference(graph, scores):
    """Softmax over each destination's in-arcs via scatter max / sum."""
    _, dst = _arcs(graph)
    n = graph.indptr.numel() - 1
    shape = (n,) + tuple(scores.shape[1:])
    idx = dst.reshape((-1,) + (1,) * (scores.dim() - 1)).expand_as(scores)
    mx = scores.new_full(shape, float("-inf")).scatter_reduce(0, idx, scores, "amax", include_self=True)
    e = (scores - mx.gather(0, idx)).exp()
    s = scores.new_zeros(shape).scatter_add(0, idx, e)
    return e / s.gather(0, idx)


def gat_attention_reference(graph, x, alpha_src, alpha_dst, negative_slope=0.2, dropout_mask=None):
    """Unfused GAT aggregation: materialises ``[E, H]`` attention and ``[E, H, D]`` messages."""
    src, dst = _arcs(graph)
    e = torch.nn.functional.leaky_relu(alpha_dst[dst] + alpha_src[src], negative_slope)
    alpha = edge_softmax_reference(graph, e)
    if dropout_mask is not None:
        alpha = alpha * dropout_mask
    msg = x[src] * alpha.unsqueeze(-1)
    out = x.new_zeros((graph.indptr.numel() - 1,) + tuple(x.shape[1:]))
    return out.index_add(0, dst, msg)


def dropout_reference(x, p, seed, relu=False):
    """Oracle of :func:`gnnkit.ops.dropout` with a given ``seed``: the SplitMix64 words of
    ``csrc/rng.h::dropout_bits`` in numpy uint64 arithmetic, ``keep = u >= min(round(p 2^32),
    2^32 - 1)``, then ``a(x) * keep / (1 - p)`` computed in float64 and cast to ``x``'s dtype
    (for float32 / bfloat16 / float16 inputs the kernel's fp32 product rounds the same way).
    Returns ``(y, keep)``."""
    import numpy as np

    n = x.numel()
    i = np.arange(n, dtype=np.uint64)
    one = np.uint64(1)
    with np.errstate(over="ignore"):
        z = np.uint64(seed % 2**64) + ((i >> one) + one) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = np.where(i & one, z >> np.uint64(32), z & np.uint64(0xFFFFFFFF))
    t = min(round(p * 2**32), 2**32 - 1)
    keep = torch.from_numpy(u >= np.uint64(t)).reshape(x.shape)
    v = x.detach().double()
    if relu:
        v = v.clamp_min(0)  # NaN stays NaN, as in the kernel
    scale = 1.0 / (1.0 - p)
    if x.dtype != torch.float64:  # the kernel multiplies in fp32 by the fp32 scale
        y = (v.float() * (keep.float() * torch.tensor(scale, dtype=torch.float32))).to(x.dtype)
    else:
        y = v * (keep.double() * scale)
    return y, keep


def batch_norm_relu_reference(x, running_mean, running_var, weight=None, bias=None, training=False,
                              momentum=0.1, eps=1e-5, relu=True):
    """Oracle of :func:`gnnkit.ops.batch_norm_relu`: ``torch.nn.functional.batch_norm`` (which
    updates the running statistics in place in training) followed by ``torch.relu``."""
    y = torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return torch.relu(y) if relu else y


def dataset_root() -> Path | None:
    """The shared datasets folder: ``$GNNKIT_DATA`` or ``../shared/datasets`` beside the repo."""
    env = os.environ.get("GNNKIT_DATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = Path(__file__).resolve().parent.parent
    for cand in (here.parent / "shared" / "datasets", Path.cwd().parent / "shared" / "datasets"):
        if cand.is_dir():
            return cand
    return None


def random_edge_index(num_nodes: int, num_edges: int, seed: int = 0, self_loops: bool = True,
                      duplicates: bool = True) -> torch.Tensor:
    """Random ``[2, E]`` arcs (power-law-ish sources) with optional self loops and duplicates."""
    g = torch.Generator().manual_seed(seed)
    if num_nodes == 0 or num_edges == 0:
        return torch.zeros(2, 0, dtype=torch.long)
    w = torch.arange(1, num_nodes + 1, dtype=torch.float).pow(-0.8)
    src = torch.multinomial(w, num_edges, replacement=True, generator=g)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=g)
    ei = torch.stack([src, dst])
    if not self_loops:
        ei = ei[:, ei[0] != ei[1]]
    if duplicates and ei.shape[1] > 4:
        ei = torch.cat([ei, ei[:, :3]], 1)
    return ei


def corner_case_graphs(index_dtype=None):
    """Named small graphs covering the corner cases every op must handle.

    Returns a list of ``(name, Graph)``: empty graph, nodes without arcs, a single self loop,
    isolated nodes + duplicates + self loops, PyG's 4-node star, and a random graph.
    """
    from gnnkit.graph import Graph

    kw = {} if index_dtype is None else {"index_dtype": index_dtype}
    ei = lambda rows: torch.tensor(rows, dtype=torch.long).reshape(2, -1)  # noqa: E731
    return [
        ("empty", Graph.from_edge_index(torch.zeros(2, 0, dtype=torch.long), num_nodes=0, **kw)),
        ("no_edges", Graph.from_edge_index(torch.zeros(2, 0, dtype=torch.long), num_nodes=3, **kw)),
        ("self_loop", Graph.from_edge_index(ei([[0], [0]]), num_nodes=1, **kw)),
        ("isolated_dup_loops", Graph.from_edge_index(
            ei([[0, 0, 1, 1, 3, 3], [1, 1, 1, 3, 3, 0]]), num_nodes=5, **kw)),
        ("pyg_star", Graph.from_edge_index(ei([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]]), num_nodes=4, **kw)),
        ("random", Graph.from_edge_index(random_edge_index(30, 120, seed=1), num_nodes=30, **kw)),
    ]


def roc_auc_pairwise(scores, labels) -> float:
    """ROC-AUC by counting every (positive, negative) pair: 1 if the positive scores higher,
    1/2 on a tie (the oracle of :func:`gnnkit.tasks.metrics.roc_auc`); O(P Q) memory."""
    s = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    y = torch.as_tensor(labels).reshape(-1)
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


def average_precision_reference(scores, labels) -> float:
    """AP as the mean over positives of the precision at that positive's threshold, every item
    scored at least as high counted (tie groups as one threshold), by a loop."""
    s = torch.as_tensor(scores, dtype=torch.float64).reshape(-1).tolist()
    y = torch.as_tensor(labels).reshape(-1).tolist()
    precisions = []
    for si, yi in zip(s, y):
        if yi == 1:
            above = [yj for sj, yj in zip(s, y) if sj >= si]
            precisions.append(sum(above) / len(above))
    return sum(precisions) / len(precisions)


def admissible_negatives(graph, strict: bool = True, exclude_self: bool = True) -> set:
    """Oracle of :mod:`gnnkit.ops.negative_sampling`: the set of pairs ``(u, v)`` a negative
    sampler may return (plain Python over all ``N^2`` pairs; tiny graphs only)."""
    n = graph.num_nodes
    src, dst = graph.edge_index
    arcs = set(zip(src.tolist(), dst.tolist())) if strict else set()
    return {(u, v) for u in range(n) for v in range(n)
            if not (exclude_self and u == v) and (u, v) not in arcs}


def sgns_positive_reference(walks, emb_in, emb_out, lr, min_lr, walk_offset=0, total_walks=None):
    r"""gensim's skip-gram update order without negatives or window shrink: the oracle of
    ``torch.ops.gnnkit.sgns_train(..., keep=None, window=1, negatives=0)``.

    For walk ``w`` (learning rate :math:`\alpha = lr - (lr - min\_lr) (walk\_offset + w) / total`),
    every centre ``t = walk[i]`` and context ``c = walk[i - 1], walk[i + 1]`` in turn: score
    :math:`f = \langle in_c, out_t \rangle`; if :math:`|f| < 6`, :math:`g = \alpha (1 - \sigma(f))`
    with :math:`\sigma` read from gensim's 1000-entry table, ``out_t += g in_c`` and then
    ``in_c += g out_t`` (with the old ``out_t``).  Updates copies; returns ``(emb_in, emb_out)``.
    """
    import math

    emb_in, emb_out = emb_in.clone(), emb_out.clone()
    total = walks.shape[0] if total_walks is None else total_walks
    table = [math.exp((i / 1000 * 2 - 1) * 6) for i in range(1000)]
    table = torch.tensor([e / (e + 1) for e in table], dtype=torch.float32)
    for w, row in enumerate(walks.tolist()):
        tok = [v for v in row if v >= 0]
        alpha = torch.tensor(lr - (lr - min_lr) * (walk_offset + w) / total, dtype=torch.float32)
        for i, t in enumerate(tok):
            for j in (i - 1, i + 1):
                if not 0 <= j < len(tok):
                    continue
                c = tok[j]
                f = float(emb_in[c] @ emb_out[t])
                if abs(f) >= 6:
                    continue
                g = alpha * (1 - table[min(int((f + 6) * (1000 / 6 / 2)), 999)])
                work = g * emb_out[t]
                emb_out[t] += g * emb_in[c]
                emb_in[c] += work
    return emb_in, emb_out
