r"""Decoupled models: the graph is used once, in a precompute, and training sees only node rows.

=============  =====================================================================
:class:`SGC`     logistic regression on :math:`S^K X` (features from
                 :func:`gnnkit.precompute.sgc_features`)
:class:`SIGN`    one linear map per precomputed hop :math:`S^k X`, concatenated, then an MLP
:class:`GBPMLP`  GBP's classifier on :math:`\hat P` (:func:`gnnkit.precompute.gbp_precompute`)
=============  =====================================================================

None of them takes a graph in :meth:`forward`: a mini-batch is a set of node ids whose feature
rows are read from memory maps (see :mod:`gnnkit.precompute.train`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn._utils import check_positive_int

__all__ = ["SGC", "SIGN", "GBPMLP"]


def _prob(cls: str, name: str, v) -> float:
    if not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
        raise ValueError(f"{cls}: {name} must be in [0, 1), got {v!r}")
    return float(v)


class SGC(nn.Module):
    r"""The simple graph convolution classifier from "Simplifying Graph Convolutional Networks"
    (Wu et al., ICML 2019, `arXiv:1902.07153 <https://arxiv.org/abs/1902.07153>`_):

    .. math::
        \hat Y = \mathrm{softmax}\big(S^K X\, W + b\big), \qquad
        S = \hat D^{-1/2} \hat A \hat D^{-1/2},\ \hat A = A + I .

    The propagation :math:`S^K X` is precomputed (:func:`gnnkit.precompute.sgc_features`), so the
    model is a single linear layer; it returns logits (the softmax is in the loss).

    Args:
        in_channels (int): :math:`F`.
        out_channels (int): number of classes.
        bias (bool): learn :math:`b` (default: :obj:`True`).

    Shapes:
        :math:`(B, F) \to (B, C)`.

    >>> SGC(1433, 7)
    SGC(1433, 7)
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        check_positive_int("SGC", in_channels=in_channels, out_channels=out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.bias = bias
        self.lin = nn.Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"SGC: x must have shape [B, {self.in_channels}], got {tuple(x.shape)}")
        return self.lin(x)

    def __repr__(self) -> str:
        return f"SGC({self.in_channels}, {self.out_channels})"


class SIGN(nn.Module):
    r"""The inception-style model of "SIGN: Scalable Inception Graph Neural Networks" (Frasca et al.,
    2020, `arXiv:2004.11198 <https://arxiv.org/abs/2004.11198>`_):

    .. math::
        Z = \sigma\big(\big[X\Theta_0 \,\|\, S X \Theta_1 \,\|\, \dots \,\|\, S^K X \Theta_K\big]\big),
        \qquad \hat Y = \mathrm{MLP}(Z),

    with the hops :math:`S^k X` precomputed (:func:`gnnkit.precompute.sign_features`); each
    :math:`\Theta_k` is followed by batch norm and PReLU, as in the official implementation.

    Args:
        in_channels (int): :math:`F` of every hop.
        hidden_channels (int): width of each hop's projection and of the MLP.
        out_channels (int): number of classes.
        num_hops (int): :math:`K` (the model takes :math:`K + 1` inputs) (default: ``2``).
        num_layers (int): layers of the final MLP, >= 1 (default: ``2``).
        dropout (float): dropout after the hop projections and in the MLP (default: ``0.5``).
        input_dropout (float): dropout on the inputs (default: ``0.0``).
        batch_norm (bool): batch norm after each projection (default: :obj:`True`).

    Shapes:
        a list of :math:`K+1` tensors :math:`(B, F)` or one :math:`(B, K+1, F)` tensor
        :math:`\to (B, C)`.

    >>> SIGN(500, 64, 3, num_hops=2)
    SIGN(500, 64, 3, num_hops=2)
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_hops: int = 2,
                 num_layers: int = 2, dropout: float = 0.5, input_dropout: float = 0.0, batch_norm: bool = True):
        super().__init__()
        check_positive_int("SIGN", in_channels=in_channels, hidden_channels=hidden_channels,
                           out_channels=out_channels)
        if isinstance(num_hops, bool) or not isinstance(num_hops, int) or num_hops < 0:
            raise ValueError(f"SIGN: num_hops must be an int >= 0, got {num_hops!r}")
        check_positive_int("SIGN", num_layers=num_layers)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_hops = num_hops
        self.num_layers = num_layers
        self.dropout = _prob("SIGN", "dropout", dropout)
        self.input_dropout = _prob("SIGN", "input_dropout", input_dropout)
        self.batch_norm = batch_norm
        self.proj = nn.ModuleList(nn.Linear(in_channels, hidden_channels) for _ in range(num_hops + 1))
        self.norms = nn.ModuleList(
            (nn.BatchNorm1d(hidden_channels) if batch_norm else nn.Identity()) for _ in range(num_hops + 1))
        self.acts = nn.ModuleList(nn.PReLU() for _ in range(num_hops + 1))
        dims = [(num_hops + 1) * hidden_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in list(self.proj) + list(self.mlp):
            m.reset_parameters()
        for m in self.norms:
            if isinstance(m, nn.BatchNorm1d):
                m.reset_parameters()
        for a in self.acts:
            nn.init.constant_(a.weight, 0.25)

    def forward(self, xs) -> Tensor:
        if isinstance(xs, Tensor):
            if xs.dim() != 3:
                raise ValueError(f"SIGN: a tensor input must be [B, K+1, F], got {tuple(xs.shape)}")
            xs = xs.unbind(1)
        xs = list(xs)
        if len(xs) != self.num_hops + 1:
            raise ValueError(f"SIGN: expected {self.num_hops + 1} hop features (K = {self.num_hops}), got {len(xs)}")
        hs = []
        for x, lin, norm, act in zip(xs, self.proj, self.norms, self.acts):
            x = _utils.dropout(x, self.input_dropout, self.training)
            hs.append(_utils.dropout(act(norm(lin(x))), self.dropout, self.training))
        h = torch.cat(hs, dim=-1)
        for i, lin in enumerate(self.mlp):
            h = lin(h)
            if i < len(self.mlp) - 1:
                h = _utils.activation_dropout(h, F.relu, self.dropout, self.training)
        return h

    def __repr__(self) -> str:
        return f"SIGN({self.in_channels}, {self.hidden_channels}, {self.out_channels}, num_hops={self.num_hops})"


class _Dense(nn.Module):
    """GBP's dense layer: x W, then batch norm (or nothing), plus x when in == out (residual)."""

    def __init__(self, in_features: int, out_features: int, batch_norm: bool):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.norm = nn.BatchNorm1d(out_features) if batch_norm else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.out_features)
        nn.init.uniform_(self.weight, -stdv, stdv)
        if isinstance(self.norm, nn.BatchNorm1d):
            self.norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        out = self.norm(x @ self.weight)
        return out + x if self.in_features == self.out_features else out


class GBPMLP(nn.Module):
    r"""The classifier of GBP ("Scalable Graph Neural Networks via Bidirectional Propagation",
    Chen et al., NeurIPS 2020, `arXiv:2010.15421 <https://arxiv.org/abs/2010.15421>`_), trained on
    the precomputed :math:`\hat P = \sum_\ell w_\ell T^\ell X`:

    .. math::
        H^{(0)} = \hat P, \quad H^{(i+1)} = \mathrm{ReLU}\big(\mathrm{BN}(H^{(i)} W_i) + [H^{(i)}]\big),
        \quad \hat Y = H^{(n-1)} W_{n-1},

    with dropout before every layer; the residual :math:`[H^{(i)}]` is added when a layer keeps its
    width and batch norm is optional (``batch_norm``), as in the official code.

    Args:
        in_channels (int): :math:`F`.
        hidden_channels (int): hidden width (default in the paper's Cora run: 64).
        out_channels (int): number of classes.
        num_layers (int): linear layers, >= 1 (default: ``2``).
        dropout (float): dropout probability (default: ``0.5``).
        batch_norm (bool): batch norm in the hidden layers (default: :obj:`False`).

    Shapes:
        :math:`(B, F) \to (B, C)`.

    >>> GBPMLP(1433, 64, 7)
    GBPMLP(1433, 64, 7, num_layers=2)
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 dropout: float = 0.5, batch_norm: bool = False):
        super().__init__()
        check_positive_int("GBPMLP", in_channels=in_channels, hidden_channels=hidden_channels,
                           out_channels=out_channels, num_layers=num_layers)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers = num_layers
        self.dropout = _prob("GBPMLP", "dropout", dropout)
        self.batch_norm = batch_norm
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(
            _Dense(a, b, batch_norm and i < num_layers - 1) for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"GBPMLP: x must have shape [B, {self.in_channels}], got {tuple(x.shape)}")
        x = _utils.dropout(x, self.dropout, self.training)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:  # the ReLU, then the next layer's input dropout (one pass)
                x = _utils.activation_dropout(x, F.relu, self.dropout, self.training)
        return x

    def __repr__(self) -> str:
        return f"GBPMLP({self.in_channels}, {self.hidden_channels}, {self.out_channels}, num_layers={self.num_layers})"
