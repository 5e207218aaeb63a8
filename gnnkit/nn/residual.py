r"""The model family of Platonov et al., "A critical look at the evaluation of GNNs under heterophily:
Are we really making progress?" (ICLR 2023, https://arxiv.org/abs/2302.11640; official code
yandex-research/heterophilous-graphs, ``model.py`` / ``modules.py``): graph layers wrapped in
pre-LayerNorm residual blocks with GELU feed-forward networks.

.. math::
    \mathbf{H}^{(0)} = \mathrm{GELU}(\mathrm{drop}(\mathbf{X} \mathbf{W}_{in} + \mathbf{b}_{in})),
    \qquad
    \mathbf{H}^{(\ell+1)} = \mathbf{H}^{(\ell)} + \mathrm{Block}_\ell\big(\mathrm{Norm}_\ell(
    \mathbf{H}^{(\ell)}), A\big),
    \qquad
    \mathbf{Z} = \mathrm{Norm}_{out}(\mathbf{H}^{(L)}) \mathbf{W}_{out} + \mathbf{b}_{out}

with the feed-forward network
:math:`\mathrm{FF}(\mathbf{U}) = \mathrm{drop}(\mathrm{GELU}(\mathrm{drop}(\mathbf{U}\mathbf{W}_1 +
\mathbf{b}_1))\mathbf{W}_2 + \mathbf{b}_2)` (note the paper's order: dropout *before* GELU) and
the blocks (``d`` hidden size, ``H`` heads, ``m`` = ``hidden_multiplier``):

==========  =========================================================================================
``ff``      ResNet: :math:`\mathrm{FF}(\mathbf{U})` (no graph)
``gcn``     :math:`\mathrm{FF}(\hat A \mathbf{U})` with :math:`\hat A = \hat D^{-1/2}(A+I)\hat D^{-1/2}`;
            its first linear map is a :class:`~gnnkit.nn.GCNConv` (:math:`\hat A U W_1 = (\hat A U) W_1`)
``sage``    :math:`\mathrm{FF}([\mathbf{U} \,\|\, \mathrm{mean}_{j \to i} \mathbf{u}_j])`; the first
            map is a :class:`~gnnkit.nn.SAGEConv` (:math:`[U \| \bar U] W_1 = U W_r + \bar U W_l`)
``gat``     :math:`\mathrm{FF}(\mathrm{GAT}(\mathbf{U}))`, a :class:`~gnnkit.nn.GATConv` with ``H``
            heads of size ``d/H`` and self loops (the paper's extra input bias equals GATConv's bias,
            as attention weights sum to one and the score biases cancel in the softmax)
``gat-sep`` :math:`\mathrm{FF}([\mathbf{V} \,\|\, \sum_{j \to i} \alpha_{ji} \mathbf{v}_j])`,
            :math:`\mathbf{V} = \mathbf{U}\mathbf{W} + \mathbf{b}`, GAT attention without self loops:
            separate ego and neighbour weights
``gt``      graph-transformer attention over in-neighbours and self:
            :math:`\mathrm{drop}(\big[\sum_j \mathrm{softmax}_j(\mathbf{q}_i^h \cdot
            \mathbf{k}_j^h / \sqrt{d/H})\, \mathbf{v}_j^h\big]_h \mathbf{W}_O)`, followed by a separate
            residual ``ff`` block in every layer
``gt-sep``  as ``gt`` without self loops and with :math:`[\mathbf{U} \,\|\, \mathrm{msg}]
            \mathbf{W}_O` (ego and neighbour weights), then an ``ff`` block
==========  =========================================================================================

ResNet+SGC and ResNet+adj (the paper's graph-agnostic baselines with graph features) are
:class:`ResidualGNN` with ``block='ff'`` and ``features='sgc'`` (:math:`[X \| S^5 X]`, :math:`S` the
GCN operator, computed once per graph) or ``features='adj'`` (:math:`[X \| A]`: the adjacency row of
every node as features; the product :math:`A \mathbf{W}_A` is computed sparsely as a sum of learned
rows over each node's out-neighbours, never as an ``N x N`` dense matrix).

Differences from the official code, all of them re-parametrisations or initialisation: GAT/GT heads
are contiguous slices of the hidden vector (the code interleaves them); the GT score is
:math:`\mathbf{q}_{dst} \cdot \mathbf{k}_{src}` (the code writes :math:`\mathbf{q}_{src} \cdot
\mathbf{k}_{dst}`, the same model with the two matrices renamed); graph layers use gnnkit's Glorot
initialisation where the code has PyTorch's default.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn.gat_conv import GATConv
from gnnkit.nn.gcn_conv import GCNConv
from gnnkit.nn.sage_conv import SAGEConv
from gnnkit.ops import edge_softmax, gat_attention, sddmm, spmm

__all__ = ["ResidualGNN", "FeedForward", "BLOCKS", "sgc_features"]

BLOCKS = ("ff", "gcn", "sage", "gat", "gat-sep", "gt", "gt-sep")
_NORMS = {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d, "none": None}
_FEATURES = ("none", "sgc", "adj")


def _norm(kind: str, dim: int) -> nn.Module:
    cls = _NORMS[kind]
    return nn.Identity() if cls is None else cls(dim)


def _loop_free(g):
    return g.remove_self_loops()


class FeedForward(nn.Module):
    r"""The paper's feed-forward network :math:`\mathrm{drop}(\mathrm{GELU}(\mathrm{drop}(\mathrm{first}(
    \mathbf{U})))\mathbf{W}_2 + \mathbf{b}_2)`, where ``first`` is a linear map or a graph layer that
    acts as one (:class:`GCNConv`, :class:`SAGEConv`).

    Args:
        first (nn.Module): maps ``[N, F]`` (and the graph, when ``graph_first``) to ``[N, m d]``.
        dim (int): output size ``d``.
        dropout (float): dropout after both maps.
        graph_first (bool): call ``first(x, graph)``.
    """

    def __init__(self, first: nn.Module, dim: int, dropout: float, graph_first: bool = False):
        super().__init__()
        self.first, self.graph_first, self.dropout = first, graph_first, dropout
        hidden = first.out_channels if graph_first else first.out_features
        self.second = nn.Linear(hidden, dim)

    def reset_parameters(self) -> None:
        self.first.reset_parameters()
        self.second.reset_parameters()

    def forward(self, x: Tensor, graph=None) -> Tensor:
        h = self.first(x, graph) if self.graph_first else self.first(x)
        h = F.gelu(_utils.dropout(h, self.dropout, self.training))
        return _utils.dropout(self.second(h), self.dropout, self.training)


class _GATSep(nn.Module):
    """``gat-sep``: ``FF([V || sum_j alpha_ji v_j])``, attention over in-neighbours only."""

    def __init__(self, dim, heads, mult, dropout):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.lin = nn.Linear(dim, dim)
        self.att_src = nn.Parameter(torch.empty(1, heads, self.head_dim))
        self.att_dst = nn.Parameter(torch.empty(1, heads, self.head_dim))
        self.ff = FeedForward(nn.Linear(2 * dim, int(mult * dim)), dim, dropout)
        self.reset_parameters()

    def reset_parameters(self):
        self.lin.reset_parameters()
        _utils.glorot(self.att_src)
        _utils.glorot(self.att_dst)
        self.ff.reset_parameters()

    def forward(self, x, graph):
        n, H, D = x.size(0), self.heads, self.head_dim
        v = self.lin(x)
        vh = v.view(n, H, D)
        a_src = (vh * self.att_src).sum(-1).to(vh.dtype)   # (autocast: one dtype for the kernel)
        a_dst = (vh * self.att_dst).sum(-1).to(vh.dtype)
        msg = gat_attention(graph, vh, a_src, a_dst, negative_slope=0.2, dropout=0.0,
                            training=self.training)
        return self.ff(torch.cat([v, msg.reshape(n, H * D)], dim=1))


class _GTAttention(nn.Module):
    """``gt`` / ``gt-sep`` attention: scaled dot products over the in-arcs (sddmm -> edge softmax
    -> spmm), then the output map (on ``[U || msg]`` for ``sep``) and dropout."""

    def __init__(self, dim, heads, dropout, sep):
        super().__init__()
        self.heads, self.head_dim, self.sep, self.dropout = heads, dim // heads, sep, dropout
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(2 * dim if sep else dim, dim)

    def reset_parameters(self):
        for lin in (self.q, self.k, self.v, self.out):
            lin.reset_parameters()

    def forward(self, x, graph):
        n, H, D = x.size(0), self.heads, self.head_dim
        q, k, v = (lin(x).view(n, H, D) for lin in (self.q, self.k, self.v))
        scores = sddmm(graph, q, k) / math.sqrt(D)        # [E, H], arc j -> i: q_i . k_j
        alpha = edge_softmax(graph, scores)
        msg = spmm(graph, v, edge_weight=alpha).reshape(n, H * D)
        h = torch.cat([x, msg], dim=1) if self.sep else msg
        return _utils.dropout(self.out(h), self.dropout, self.training)


def _make_block(kind, dim, heads, mult, dropout):
    hid = int(mult * dim)
    if kind == "ff":
        return FeedForward(nn.Linear(dim, hid), dim, dropout)
    if kind == "gcn":
        return FeedForward(GCNConv(dim, hid), dim, dropout, graph_first=True)
    if kind == "sage":
        return FeedForward(SAGEConv(dim, hid), dim, dropout, graph_first=True)
    if kind == "gat":
        return _Then(GATConv(dim, dim // heads, heads=heads), FeedForward(nn.Linear(dim, hid), dim, dropout))
    if kind == "gat-sep":
        return _GATSep(dim, heads, mult, dropout)
    return _GTAttention(dim, heads, dropout, sep=kind == "gt-sep")


class _Then(nn.Module):
    """``ff(conv(x, graph))``."""

    def __init__(self, conv, ff):
        super().__init__()
        self.conv, self.ff = conv, ff

    def reset_parameters(self):
        self.conv.reset_parameters()
        self.ff.reset_parameters()

    def forward(self, x, graph):
        return self.ff(self.conv(x, graph))


def sgc_features(graph, x: Tensor, K: int = 5) -> Tensor:
    r""":math:`S^K X` with :math:`S = \hat D^{-1/2}(A - \mathrm{diag}(A) + I)\hat D^{-1/2}`: the SGC
    features the paper concatenates for ResNet+SGC (``compute_sgc_features``, ``num_props=5``).

    >>> import gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]]))
    >>> sgc_features(g, torch.tensor([[1.], [0.]]), K=1)
    tensor([[0.5000],
            [0.5000]])
    """
    from gnnkit.nn.gcn_conv import gcn_norm

    adj = gcn_norm(graph.remove_self_loops().add_self_loops(remaining=False), add_self_loops=False,
                   dtype=x.dtype)
    for _ in range(K):
        x = spmm(adj, x)
    return x


class ResidualGNN(nn.Module):
    r"""A model of Platonov et al. (ICLR 2023): see the module docstring for the formulas.

    Args:
        in_channels (int), out_channels (int): input size and number of outputs (one logit for a
            binary task, trained with BCE; the number of classes otherwise).
        hidden_channels (int): ``d``. (default: :obj:`512`, the paper's)
        num_layers (int): residual graph blocks (GT: attention + feed-forward per layer; the paper
            selects 1-5 on validation). (default: :obj:`5`)
        block (str): one of :data:`BLOCKS`. (default: :obj:`'gcn'`)
        heads (int): attention heads of ``gat``/``gat-sep``/``gt``/``gt-sep``; must divide ``d``.
            (default: :obj:`8`)
        hidden_multiplier (float): feed-forward width ``m d``. (default: :obj:`1.0`)
        dropout (float): (default: :obj:`0.2`)
        norm (str): ``'layer'``, ``'batch'`` or ``'none'``. (default: :obj:`'layer'`)
        features (str): ``'none'``, ``'sgc'`` (ResNet+SGC) or ``'adj'`` (ResNet+adj); the graph
            features are built from the graph of the forward call. (default: :obj:`'none'`)
        num_nodes (int, optional): required for ``features='adj'`` (size of the learned row table).
        autocast (str, optional): ``'bf16'`` runs the forward pass under
            ``torch.autocast(dtype=torch.bfloat16)`` on the input's device (the paper trains with
            CUDA fp16 AMP; bf16 needs no loss scaling) and returns float32 outputs.
            (default: :obj:`None`: float32 throughout)

    Shapes: ``x [N, F]``, a graph -> ``[N, out_channels]``.

    >>> ResidualGNN(7, 1, hidden_channels=64, num_layers=2, block='gat-sep')
    ResidualGNN(7, 1, hidden_channels=64, num_layers=2, block='gat-sep', heads=8)
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 512,
                 num_layers: int = 5, block: str = "gcn", heads: int = 8,
                 hidden_multiplier: float = 1.0, dropout: float = 0.2, norm: str = "layer",
                 features: str = "none", num_nodes: int | None = None,
                 autocast: str | None = None):
        super().__init__()
        name = type(self).__name__
        if autocast not in (None, "bf16"):
            raise ValueError(f"{name}: autocast must be None or 'bf16', got {autocast!r}")
        _utils.check_positive_int(name, in_channels=in_channels, out_channels=out_channels,
                                  hidden_channels=hidden_channels, num_layers=num_layers, heads=heads)
        if block not in BLOCKS:
            raise ValueError(f"{name}: block must be one of {BLOCKS}, got {block!r}")
        if norm not in _NORMS:
            raise ValueError(f"{name}: norm must be one of {tuple(_NORMS)}, got {norm!r}")
        if features not in _FEATURES:
            raise ValueError(f"{name}: features must be one of {_FEATURES}, got {features!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
        if not hidden_multiplier > 0:
            raise ValueError(f"{name}: hidden_multiplier must be > 0, got {hidden_multiplier!r}")
        if block in ("gat", "gat-sep", "gt", "gt-sep") and hidden_channels % heads:
            raise ValueError(f"{name}: hidden_channels ({hidden_channels}) must be a multiple of "
                             f"heads ({heads}) for block={block!r}")
        if features == "adj":
            _utils.check_positive_int(name, " (features='adj' learns one row per node)",
                                      num_nodes=num_nodes)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels, self.num_layers, self.block = hidden_channels, num_layers, block
        self.heads, self.hidden_multiplier, self.dropout = heads, hidden_multiplier, dropout
        self.norm, self.features, self.num_nodes = norm, features, num_nodes
        self.autocast = autocast
        d = hidden_channels
        self.lin_in = nn.Linear(in_channels * (2 if features == "sgc" else 1), d)
        if features == "adj":
            self.adj_rows = nn.Parameter(torch.empty(num_nodes, d))   # W_A of [X || A] W_in
        else:
            self.register_parameter("adj_rows", None)
        kinds = [[block, "ff"] if block in ("gt", "gt-sep") else [block] for _ in range(num_layers)]
        self.kinds = [k for layer in kinds for k in layer]
        self.norms = nn.ModuleList(_norm(norm, d) for _ in self.kinds)
        self.blocks = nn.ModuleList(_make_block(k, d, heads, hidden_multiplier, dropout)
                                    for k in self.kinds)
        self.norm_out = _norm(norm, d)
        self.lin_out = nn.Linear(d, out_channels)
        self._feat_key, self._feat = None, None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin_in.reset_parameters()
        if self.adj_rows is not None:   # nn.Linear's default init for the N adjacency columns
            bound = 1.0 / math.sqrt(self.in_channels + self.num_nodes)
            with torch.no_grad():
                self.adj_rows.uniform_(-bound, bound)
        for m in list(self.norms) + list(self.blocks) + [self.norm_out, self.lin_out]:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        self._feat_key, self._feat = None, None

    def _graphs(self, graph, n):
        """``(looped, loop_free)`` graphs for the blocks, memoised per graph object."""
        key = getattr(self, "_graph_key", None)
        if key is None or key[0] is not graph:
            g = _utils.as_graph(graph, n, where=type(self).__name__)
            if _utils.is_block(g):
                raise ValueError(f"{type(self).__name__} runs full-batch; got a sampled block")
            free = _loop_free(g)
            self._graph_key = (graph, free.add_self_loops(remaining=False), free,
                               free.reverse().with_edge_weight(None) if self.adj_rows is not None else None)
        return self._graph_key[1], self._graph_key[2]

    def _input(self, x, graph):
        reverse = self._graph_key[3]
        if self.features == "sgc":
            k = (id(graph), x.data_ptr(), tuple(x.shape))
            if self._feat_key != k:
                with torch.no_grad():
                    self._feat = torch.cat([x, sgc_features(graph, x.detach())], dim=1)
                self._feat_key = k
            return self.lin_in(self._feat)
        h = self.lin_in(x)
        if self.adj_rows is not None:
            if graph.num_nodes != self.num_nodes:
                raise ValueError(f"{type(self).__name__}: features='adj' was built for "
                                 f"{self.num_nodes} nodes, the graph has {graph.num_nodes}")
            # row i of A holds i's out-neighbours: (A W_A)_i = sum_{i -> j} W_A[j]
            h = h + spmm(reverse, self.adj_rows)
        return h

    def forward(self, x: Tensor, graph) -> Tensor:
        if self.autocast is None:
            return self._forward(x, graph)
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self._forward(x, graph).float()

    def _forward(self, x: Tensor, graph) -> Tensor:
        looped, free = self._graphs(graph, x.size(0))
        h = F.gelu(_utils.dropout(self._input(x, free), self.dropout, self.training))
        for kind, norm, blk in zip(self.kinds, self.norms, self.blocks):
            u = norm(h)
            if kind == "ff":
                h = h + blk(u)
            elif kind in ("gcn", "gat", "gt"):
                h = h + blk(u, looped if kind == "gt" else free)  # GCNConv/GATConv add their loops
            else:
                h = h + blk(u, free)
        return self.lin_out(self.norm_out(h))

    def __repr__(self) -> str:
        extra = f", heads={self.heads}" if self.block not in ("ff", "gcn", "sage") else ""
        feat = f", features={self.features!r}" if self.features != "none" else ""
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, hidden_channels="
                f"{self.hidden_channels}, num_layers={self.num_layers}, block={self.block!r}"
                f"{extra}{feat})")
