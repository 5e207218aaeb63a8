r"""Graph auto-encoders and link predictors.

====================  ==================================================================================
:class:`GAE`          graph auto-encoder (Kipf & Welling, 2016, https://arxiv.org/abs/1611.07308):
                      GCN encoder, inner-product decoder
:class:`VGAE`         variational GAE (same paper): Gaussian latent :math:`z_i`, KL term
:class:`LinkGNN`      GCN / GraphSAGE encoder + dot or Hadamard-MLP predictor (the OGB link baselines,
                      Hu et al., 2020, https://arxiv.org/abs/2005.00687)
:class:`DotPredictor` :math:`s(u, v) = \langle z_u, z_v \rangle`
:class:`HadamardMLP`  :math:`s(u, v) = \mathrm{MLP}(z_u \odot z_v)` (OGB's ``LinkPredictor``)
====================  ==================================================================================

Every model has the same interface: ``encode(x, graph) -> z [N, F]`` and
``decode(z, pairs [2, P]) -> logits [P]``; ``forward(x, graph, pairs)`` is both.  Scores are
logits (apply a sigmoid for probabilities); the loss is BCE on positive and negative pairs
(:func:`recon_loss`), plus :math:`\frac{1}{N} KL` for :class:`VGAE` (:meth:`VGAE.kl_loss`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn.gcn_conv import GCNConv
from gnnkit.nn.sage_conv import SAGEConv

__all__ = ["GAE", "VGAE", "LinkGNN", "DotPredictor", "HadamardMLP", "recon_loss", "full_recon_loss", "build_gae", "build_vgae",
           "build_link_gnn"]

MAX_LOGSTD = 10.0


def _check_pairs(z: Tensor, pairs: Tensor) -> None:
    if not isinstance(pairs, Tensor) or pairs.dim() != 2 or pairs.shape[0] != 2:
        raise ValueError(f"decode: 'pairs' must have shape [2, P], got "
                         f"{tuple(pairs.shape) if isinstance(pairs, Tensor) else type(pairs).__name__}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= z.shape[0]):
        raise IndexError(f"decode: 'pairs' ids must be in [0, {z.shape[0]}) (rows of z), got range "
                         f"[{int(pairs.min())}, {int(pairs.max())}]")


class DotPredictor(nn.Module):
    r""":math:`s(u, v) = \langle z_u, z_v \rangle` (the GAE inner-product decoder), no parameters."""

    def reset_parameters(self) -> None:
        pass

    def forward(self, z: Tensor, pairs: Tensor) -> Tensor:
        _check_pairs(z, pairs)
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)


class HadamardMLP(nn.Module):
    r""":math:`s(u, v) = \mathrm{MLP}(z_u \odot z_v)`, OGB's ``LinkPredictor`` (ReLU, dropout).

    Args:
        channels (int): embedding size :math:`F`.
        hidden_channels (int): MLP width (default: ``256``).
        num_layers (int): linear layers, the last one to 1 output (default: ``3``).
        dropout (float): dropout before every hidden layer's output (default: ``0.0``).
    """

    def __init__(self, channels: int, hidden_channels: int = 256, num_layers: int = 3, dropout: float = 0.0):
        super().__init__()
        _utils.check_positive_int("HadamardMLP", channels=channels, hidden_channels=hidden_channels,
                                  num_layers=num_layers)
        _utils.check_probability("HadamardMLP", dropout=dropout)
        dims = [channels] + [hidden_channels] * (num_layers - 1) + [1]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()

    def forward(self, z: Tensor, pairs: Tensor) -> Tensor:
        _check_pairs(z, pairs)
        h = z[pairs[0]] * z[pairs[1]]
        for lin in self.lins[:-1]:
            h = _utils.activation_dropout(lin(h), F.relu, self.dropout, self.training)
        return self.lins[-1](h).squeeze(-1)

    def __repr__(self) -> str:
        return f"HadamardMLP({self.lins[0].in_features}, layers={len(self.lins)})"


def recon_loss(pos_logits: Tensor, neg_logits: Tensor) -> Tensor:
    r"""Reconstruction loss :math:`-\frac{1}{P}\sum \log\sigma(s^+) - \frac{1}{Q}\sum
    \log(1 - \sigma(s^-))` (GAE's loss with one negative set, as PyG's ``GAE.recon_loss``)."""
    pos = F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits))
    if neg_logits.numel() == 0:
        return pos
    return pos + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits))


class _FullRecon(torch.autograd.Function):
    """Weighted BCE of ``sigmoid(Z Z^T)`` against a 0/1 adjacency given by its ones, in three
    passes over the ``N x N`` scores (autograd of ``binary_cross_entropy_with_logits`` makes
    about eight): ``sum softplus(S) + sum_{ones} (w softplus(-s) - softplus(s))``."""

    @staticmethod
    def forward(ctx, z, rows, cols, pos_weight: float):
        s = z @ z.t()
        sp = s[rows, cols]
        total = F.softplus(s).sum() + (pos_weight * F.softplus(-sp) - F.softplus(sp)).sum()
        ctx.save_for_backward(z, s, rows, cols)
        ctx.pos_weight = pos_weight
        return total / s.numel()

    @staticmethod
    def backward(ctx, grad):
        z, s, rows, cols = ctx.saved_tensors
        g = s.sigmoid_()  # s is not needed any more: reuse its memory
        sig = g[rows, cols]
        g[rows, cols] = -ctx.pos_weight * (1 - sig)
        g.mul_(grad / g.numel())
        return g @ z + g.t() @ z, None, None, None


def full_recon_loss(z: Tensor, ones: Tensor, pos_weight: float) -> Tensor:
    r"""Mean weighted BCE over all :math:`N^2` pairs of :math:`\sigma(z_u^\top z_v)` against the 0/1
    matrix whose ones are ``ones`` ``[2, M]`` (unique pairs), positives weighted by ``pos_weight``:
    :math:`\frac{1}{N^2}\sum_{uv} [w\, y_{uv} \mathrm{sp}(-s_{uv}) + (1 - y_{uv}) \mathrm{sp}(s_{uv})]`
    (``sp`` = softplus).  Equals ``F.binary_cross_entropy_with_logits(Z Z^T, Y, pos_weight=w)``
    (the GAE paper's loss) with fewer passes over the dense scores."""
    return _FullRecon.apply(z, ones[0], ones[1], float(pos_weight))


class _Encoder(nn.Module):
    """``num_layers`` convolutions with ReLU between them (no activation after the last)."""

    def __init__(self, conv, dims, dropout: float):
        super().__init__()
        self.convs = nn.ModuleList(conv(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for c in self.convs:
            c.reset_parameters()

    def forward(self, x: Tensor, graph) -> Tensor:
        n = len(self.convs)
        for i, conv in enumerate(self.convs):
            x = conv(x, _utils.layer_graph(graph, i, n))
            if i < n - 1:  # the ReLU, then the next layer's input dropout (one pass)
                x = _utils.activation_dropout(x, F.relu, self.dropout, self.training)
        return x


class _PairModel(nn.Module):
    """An encoder and a pair decoder: ``encode(x, graph) -> z [N, F]`` (subclasses),
    ``decode(z, pairs [2, P]) -> [P]`` (``self.decoder``), ``forward`` = decode of encode."""

    def decode(self, z: Tensor, pairs: Tensor) -> Tensor:
        return self.decoder(z, pairs)

    def forward(self, x: Tensor, graph, pairs: Tensor) -> Tensor:
        return self.decode(self.encode(x, graph), pairs)


class GAE(_PairModel):
    r"""Graph auto-encoder (Kipf & Welling, "Variational Graph Auto-Encoders", NeurIPS BDL workshop
    2016, https://arxiv.org/abs/1611.07308), non-variational variant.

    .. math::
        Z = \mathrm{GCN}(X, A) = \tilde A\, \mathrm{ReLU}(\tilde A X W_0) W_1, \qquad
        \hat A_{uv} = \sigma(z_u^\top z_v)

    with :math:`\tilde A = \hat D^{-1/2}(A + I)\hat D^{-1/2}`.  Trained with :func:`recon_loss` on
    the training edges and as many random non-edges (the paper: 32-16 GCN, Adam, lr 0.01, 200
    epochs, no dropout).

    Args:
        in_channels (int): input features :math:`F_{in}`.
        hidden_channels (int): first GCN layer (default: ``32``).
        out_channels (int): embedding size (default: ``16``).

    Shapes: ``x`` :math:`(N, F_{in})`, graph (Graph or 2 blocks), ``pairs`` :math:`(2, P)`
    -> logits :math:`(P)`; :meth:`encode` -> :math:`(N, F_{out})`.
    """

    variational = False

    def __init__(self, in_channels: int, hidden_channels: int = 32, out_channels: int = 16):
        super().__init__()
        _utils.check_positive_int("GAE", in_channels=in_channels, hidden_channels=hidden_channels,
                                  out_channels=out_channels)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.encoder = _Encoder(lambda a, b: GCNConv(a, b), [in_channels, hidden_channels, out_channels], 0.0)
        self.decoder = DotPredictor()

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()

    def encode(self, x: Tensor, graph) -> Tensor:
        return self.encoder(x, graph)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, {self.out_channels})"


class VGAE(GAE):
    r"""Variational graph auto-encoder (Kipf & Welling, 2016, https://arxiv.org/abs/1611.07308).

    .. math::
        H = \mathrm{ReLU}(\tilde A X W_0), \quad \mu = \tilde A H W_\mu, \quad
        \log\sigma = \tilde A H W_\sigma, \quad z_i = \mu_i + \sigma_i \odot \epsilon_i

    with :math:`\epsilon_i \sim \mathcal N(0, I)` while training and :math:`z = \mu` in eval mode.
    Loss: :func:`recon_loss` :math:`+ \frac{1}{N}\mathrm{KL}(q(Z|X,A) \,\|\, \mathcal N(0, I))`
    (:meth:`kl_loss`, PyG's normalisation).  ``log sigma`` is clamped at 10.
    """

    variational = True

    def __init__(self, in_channels: int, hidden_channels: int = 32, out_channels: int = 16):
        super().__init__(in_channels, hidden_channels, out_channels)
        self.encoder = _Encoder(lambda a, b: GCNConv(a, b), [in_channels, hidden_channels], 0.0)
        self.conv_mu = GCNConv(hidden_channels, out_channels)
        self.conv_logstd = GCNConv(hidden_channels, out_channels)
        self._mu = self._logstd = None

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.conv_mu.reset_parameters()
        self.conv_logstd.reset_parameters()

    def encode(self, x: Tensor, graph) -> Tensor:
        last = graph[-1] if isinstance(graph, (list, tuple)) else graph
        first = graph[:-1] if isinstance(graph, (list, tuple)) else graph
        h = F.relu(self.encoder(x, first))
        mu = self.conv_mu(h, last)
        logstd = self.conv_logstd(h, last).clamp(max=MAX_LOGSTD)
        self._mu, self._logstd = mu, logstd
        if self.training:
            return mu + torch.randn_like(logstd) * logstd.exp()
        return mu

    def kl_loss(self, mu: Tensor | None = None, logstd: Tensor | None = None) -> Tensor:
        r""":math:`-\frac{1}{2N}\sum_i \sum_k (1 + 2\log\sigma_{ik} - \mu_{ik}^2 - \sigma_{ik}^2)`
        of the last :meth:`encode` (or of the given ``mu`` / ``logstd``)."""
        mu = self._mu if mu is None else mu
        logstd = self._logstd if logstd is None else logstd
        if mu is None:
            raise RuntimeError("VGAE.kl_loss: call encode() first (or pass mu and logstd)")
        logstd = logstd.clamp(max=MAX_LOGSTD)
        return -0.5 * torch.mean(torch.sum(1 + 2 * logstd - mu ** 2 - logstd.exp() ** 2, dim=1))


class LinkGNN(_PairModel):
    r"""GNN encoder + pair predictor, the OGB link-prediction baselines (Hu et al., "Open Graph
    Benchmark", NeurIPS 2020, https://arxiv.org/abs/2005.00687; ``examples/linkproppred``).

    Encoder: ``num_layers`` :class:`~gnnkit.nn.GCNConv` (``conv='gcn'``) or
    :class:`~gnnkit.nn.SAGEConv` (``conv='sage'``, mean aggregation) layers with ReLU and
    dropout; predictor: :class:`DotPredictor` (``predictor='dot'``) or :class:`HadamardMLP`
    (``predictor='mlp'``, OGB's 3-layer ``LinkPredictor``).

    Args:
        in_channels (int): input features; ``0`` for featureless graphs (ogbl-ddi): the model
            then learns an input embedding of ``hidden_channels`` per node (needs ``num_nodes``)
            and is called with node ids instead of features.
        hidden_channels (int, default ``256``), num_layers (int, default ``3``),
        dropout (float, default ``0.0``), conv (str), predictor (str),
        predictor_layers (int, default ``3``), num_nodes (int, optional).
    """

    variational = False

    def __init__(self, in_channels: int, hidden_channels: int = 256, num_layers: int = 3,
                 dropout: float = 0.0, conv: str = "sage", predictor: str = "mlp", predictor_layers: int = 3,
                 num_nodes: int | None = None):
        super().__init__()
        _utils.check_positive_int("LinkGNN", hidden_channels=hidden_channels, num_layers=num_layers)
        if in_channels == 0:
            if num_nodes is None:
                raise ValueError("LinkGNN: in_channels=0 (no node features) needs num_nodes for the "
                                 "learnable input embedding")
            _utils.check_positive_int("LinkGNN", num_nodes=num_nodes)
            self.embedding = nn.Embedding(num_nodes, hidden_channels)
        else:
            _utils.check_positive_int("LinkGNN", in_channels=in_channels)
            self.embedding = None
        convs = {"gcn": lambda a, b: GCNConv(a, b), "sage": lambda a, b: SAGEConv(a, b)}
        if conv not in convs:
            raise ValueError(f"LinkGNN: conv must be one of {sorted(convs)}, got {conv!r}")
        if predictor not in ("dot", "mlp"):
            raise ValueError(f"LinkGNN: predictor must be 'dot' or 'mlp', got {predictor!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LinkGNN: dropout must be in [0, 1), got {dropout!r}")
        self.in_channels, self.hidden_channels, self.num_layers = in_channels, hidden_channels, num_layers
        self.conv, self.predictor_kind, self.dropout = conv, predictor, dropout
        first = in_channels if in_channels > 0 else hidden_channels
        self.encoder = _Encoder(convs[conv], [first] + [hidden_channels] * num_layers, dropout)
        self.decoder = (DotPredictor() if predictor == "dot"
                        else HadamardMLP(hidden_channels, hidden_channels, predictor_layers, dropout))

    def reset_parameters(self) -> None:
        if self.embedding is not None:
            nn.init.xavier_uniform_(self.embedding.weight)
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()

    def encode(self, x: Tensor, graph) -> Tensor:
        if self.embedding is not None:
            if x is None or x.is_floating_point():
                raise ValueError("LinkGNN(in_channels=0): call with the node ids of the graph's "
                                 "(first block's source) nodes, not features")
            x = self.embedding(x)
        return self.encoder(x, graph)

    def __repr__(self) -> str:
        return (f"LinkGNN({self.in_channels}, {self.hidden_channels}, layers={self.num_layers}, "
                f"conv={self.conv!r}, predictor={self.predictor_kind!r})")


# Builders for the model registry (gnnkit.nn.models): ``build(in_channels, num_outputs, **kw)``.
# A link model outputs one score per pair; ``num_outputs`` (1) is not an embedding size.
def build_gae(in_channels: int, num_outputs: int = 1, **kwargs) -> GAE:
    """:class:`GAE` for the registry (``num_outputs`` is the task's, always 1: one logit per pair)."""
    return GAE(in_channels, **kwargs)


def build_vgae(in_channels: int, num_outputs: int = 1, **kwargs) -> VGAE:
    """:class:`VGAE` for the registry."""
    return VGAE(in_channels, **kwargs)


def build_link_gnn(in_channels: int, num_outputs: int = 1, **kwargs) -> LinkGNN:
    """:class:`LinkGNN` for the registry."""
    return LinkGNN(in_channels, **kwargs)
