r"""Registry entries for models whose constructor or input differs from ``cls(in, out)`` /
``forward(x, graph)``: the decoupled SGC and GBP classifiers and Dir-GNN.

The decoupled adapters let the full-batch trainer and ``gnnkit bench`` run SGC / GBP on graphs
that fit in memory: the graph is used once, on the first forward for a given ``(graph, x)``, to
precompute the propagated features (SGC: :math:`S^K X`; GBP: :math:`\sum_\ell w_\ell T^\ell X` by
:func:`gnnkit.precompute.gbp_precompute` at every node), which are then cached; training only
touches the classifier.  For graphs larger than memory use :mod:`gnnkit.precompute` with a
``DiskGraph`` and :func:`gnnkit.precompute.train.train_node_classifier` directly.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gnnkit.nn.decoupled import GBPMLP, SGC
from gnnkit.nn.dir_conv import DirGNN
from gnnkit.nn.models import register_model

__all__ = ["SGCNet", "GBPNet", "DirGNNNet"]


class _Precomputed(nn.Module):
    """Caches ``self.precompute(x, graph)`` per (graph object, features storage, shape)."""

    def __init__(self):
        super().__init__()
        self._key = None
        self._feats = None

    def features(self, x: Tensor, graph) -> Tensor:
        key = (id(graph), x.data_ptr(), tuple(x.shape), x.dtype)
        if self._key != key:
            with torch.no_grad():
                self._feats = self.precompute(x.detach(), graph)
            self._key = key
        return self._feats

    def reset_parameters(self) -> None:
        self.model.reset_parameters()


class SGCNet(_Precomputed):
    """SGC (Wu et al., ICML 2019, arXiv:1902.07153) for the full-batch trainer: logistic
    regression on :math:`S^K X`, with :math:`S` the GCN operator (self loops, sym. norm.)."""

    def __init__(self, in_channels: int, out_channels: int, K: int = 2):
        super().__init__()
        self.K = int(K)
        self.model = SGC(in_channels, out_channels)

    def precompute(self, x, graph):
        from gnnkit.precompute import sgc_features

        return sgc_features(graph, x, self.K)

    def forward(self, x: Tensor, graph) -> Tensor:
        return self.model(self.features(x, graph))

    def __repr__(self) -> str:
        return f"SGCNet({self.model.in_channels}, {self.model.out_channels}, K={self.K})"


class GBPNet(_Precomputed):
    """GBP (Chen et al., NeurIPS 2020, arXiv:2010.15421) for the full-batch trainer:
    :class:`~gnnkit.nn.GBPMLP` on the bidirectional-propagation estimate at every node."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, num_levels: int = 4, r: float = 0.5, alpha: float = 0.1,
                 r_max: float = 1e-4, num_walks: int = 100, seed: int = 0):
        super().__init__()
        self.prop = dict(num_levels=num_levels, r=r, alpha=alpha, r_max=r_max, num_walks=num_walks, seed=seed)
        self.model = GBPMLP(in_channels, hidden_channels, out_channels, num_layers=num_layers, dropout=dropout)

    def precompute(self, x, graph):
        from gnnkit.precompute import gbp_precompute

        p = gbp_precompute(graph, x, **self.prop)
        return torch.as_tensor(p, dtype=torch.float32)

    def forward(self, x: Tensor, graph) -> Tensor:
        return self.model(self.features(x, graph))

    def __repr__(self) -> str:
        return f"GBPNet({self.model.in_channels}, {self.model.out_channels}, L={self.prop['num_levels']})"


class DirGNNNet(DirGNN):
    """:class:`~gnnkit.nn.DirGNN` with the registry's ``(in_channels, out_channels, **kw)`` order."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 128, num_layers: int = 4,
                 conv: str = "dir-gcn", alpha: float = 1.0, jumping_knowledge: str | None = "max",
                 normalize: bool = True, dropout: float = 0.0):
        super().__init__(in_channels, hidden_channels, out_channels, num_layers=num_layers, conv=conv,
                         alpha=alpha, jumping_knowledge=jumping_knowledge, normalize=normalize,
                         dropout=dropout)


# Architecture defaults: SGC paper (K=2); GBP official transductive settings; Dir-GCN paper
# (Rossi et al. 2023: hidden 128, JK max, alpha 1, no dropout).  Training: gnnkit.train.recipes.
register_model("sgc", SGCNet, {"K": 2})
register_model("gbp", GBPNet, {"hidden_channels": 64, "dropout": 0.5})
register_model("dir-gnn", DirGNNNet, {"hidden_channels": 128, "num_layers": 4})
