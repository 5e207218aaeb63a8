r"""Linear probe: multinomial logistic regression on frozen embeddings (node classification).

The standard evaluation of node2vec / DeepWalk embeddings (Perozzi et al. 2014, Grover &
Leskovec 2016 use one-vs-rest logistic regression): fit :math:`\mathrm{softmax}(Z W + b)` with
an L2 penalty on the training nodes by L-BFGS (full batch, deterministic), report accuracy on the
evaluation nodes.  Embeddings are standardised with the training nodes' mean and std.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["linear_probe"]


def _index(mask_or_idx: Tensor, n: int, name: str) -> Tensor:
    t = torch.as_tensor(mask_or_idx)
    if t.dtype == torch.bool:
        if t.shape != (n,):
            raise ValueError(f"linear_probe: a bool '{name}' mask must have shape [{n}], got {tuple(t.shape)}")
        return t.nonzero().view(-1)
    t = t.to(torch.long).view(-1)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
        raise IndexError(f"linear_probe: '{name}' ids must be in [0, {n})")
    return t


GRID = (1e-3, 1e-2, 1e-1, 1.0)


def linear_probe(emb: Tensor, labels: Tensor, train, test, *, val=None, weight_decay: float | None = None,
                 max_iter: int = 100) -> dict:
    r"""Train logistic regression on ``emb[train]`` and score ``emb[test]``.

    Args:
        emb (Tensor): ``[N, D]`` embeddings.
        labels (Tensor): int ``[N]`` class ids.
        train, test (Tensor): node ids or bool masks ``[N]``.
        val (Tensor, optional): validation ids / mask; with ``weight_decay=None`` the L2 penalty
            is chosen from :data:`GRID` by validation accuracy.
        weight_decay (float, optional): L2 penalty on ``W`` (mean loss + ``wd * ||W||^2``).
            (default: chosen on ``val``; ``1e-2`` without ``val``)
        max_iter (int): L-BFGS iterations (default: ``100``).

    Returns:
        dict: ``{'train_acc', 'test_acc', 'weight_decay'}`` (+ ``'val_acc'`` with ``val``).
    """
    if weight_decay is None and val is not None:
        runs = [linear_probe(emb, labels, train, test, val=val, weight_decay=wd, max_iter=max_iter) for wd in GRID]
        return max(runs, key=lambda r: r["val_acc"])  # first (smallest penalty) among ties
    weight_decay = 1e-2 if weight_decay is None else float(weight_decay)
    if emb.dim() != 2 or labels.dim() != 1 or labels.shape[0] != emb.shape[0]:
        raise ValueError(f"linear_probe: 'emb' [N, D] and 'labels' [N] must agree, got {tuple(emb.shape)} "
                         f"and {tuple(labels.shape)}")
    n = emb.shape[0]
    tr, te = _index(train, n, "train"), _index(test, n, "test")
    x = emb.to(torch.float64)
    mu, sd = x[tr].mean(0), x[tr].std(0).clamp_min(1e-12)
    x = (x - mu) / sd
    y = labels.to(torch.long)
    c = int(y.max()) + 1
    W = torch.zeros(x.shape[1], c, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(c, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x[tr] @ W + b, y[tr]) + weight_decay * W.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (x @ W + b).argmax(1)
    out = {"train_acc": float((pred[tr] == y[tr]).double().mean()),
           "test_acc": float((pred[te] == y[te]).double().mean()), "weight_decay": weight_decay}
    if val is not None:
        va = _index(val, n, "val")
        out["val_acc"] = float((pred[va] == y[va]).double().mean())
    return out
