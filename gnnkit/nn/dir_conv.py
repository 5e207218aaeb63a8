r"""Dir-GNN (Rossi et al., LoG 2023, "Edge Directionality Improves Learning on Heterophilic
Graphs", `arXiv:2305.10498 <https://arxiv.org/abs/2305.10498>`_): run a base convolution on the
in-arcs and, separately, on the out-arcs, and mix the two with :math:`\alpha`.

.. math::
    \mathbf{X}' = (1 - \alpha)\, \mathrm{conv}_{in}(\mathbf{X}, A)
                + \alpha\, \mathrm{conv}_{out}(\mathbf{X}, A^\top)
                \;[+\; \mathbf{X} \mathbf{W}_{root}]

node-wise :math:`\mathbf{x}'_i = (1-\alpha) \mathrm{AGG}_{j \to i}(\mathbf{x}_j) + \alpha\,
\mathrm{AGG}_{i \to j}(\mathbf{x}_j)`: in-neighbours through the graph as stored, out-neighbours
through :meth:`gnnkit.Graph.reverse`.  On an undirected graph both directions see the same
neighbours (the layer is then an ordinary conv with two weight sets).  With the directed
normalisation (``'dir'``, :meth:`gnnkit.Graph.normalize`) arc :math:`j \to i` has weight
:math:`1/\sqrt{d_{out}(j)\, d_{in}(i)}` in both directions, i.e. :math:`D_{out}^{-1/2} A
D_{in}^{-1/2}` and its transpose, as in the paper's Dir-GCN.  A node without in-arcs (out-arcs)
gets 0 from that direction (zero degrees give weight 0, never ``inf``).  No activation is applied.

Ready layers and models (official code's ``get_conv``):

=================  ==========================================================================
:class:`DirGCNConv`   base = linear map after ``'dir'``-normalised sum aggregation, no root
:class:`DirSAGEConv`  base = linear map after mean aggregation, plus a root weight
:class:`DirGATConv`   base = :class:`gnnkit.nn.GATConv` (self loops added by GAT), no root
:class:`DirGNN`       stack with ReLU, dropout, optional L2 row normalisation, jumping knowledge
=================  ==========================================================================
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.ops import spmm

__all__ = ["DirGNNConv", "DirGCNConv", "DirSAGEConv", "DirGATConv", "DirGNN", "DirGCN", "DirSAGE",
           "DirGAT", "AggLinear", "dir_norm"]


def dir_norm(graph):
    r"""The two propagation graphs of Dir-GCN: ``(in_graph, out_graph)`` with weights
    :math:`w_{ji} / \sqrt{d_{out}(j) d_{in}(i)}` on ``graph`` and on ``graph.reverse()``.

    >>> import torch, gnnkit
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 0, 1], [1, 2, 2]]))
    >>> gin, gout = dir_norm(g)
    >>> [round(w, 4) for w in gin.edge_weight.tolist()], [round(w, 4) for w in gout.edge_weight.tolist()]
    ([0.7071, 0.5, 0.7071], [0.7071, 0.5, 0.7071])
    """
    gin = graph.normalize("dir")
    return gin, gin.reverse()


class AggLinear(nn.Module):
    r"""Aggregate then transform: :math:`\mathbf{x}'_i = \mathbf{W} \bigoplus_{j \to i} w_{ji}
    \mathbf{x}_j + \mathbf{b}` with the graph's arc weights (``reduce='sum'``) or the mean over
    in-arcs (``reduce='mean'``, the SAGE aggregation without root weight).

    Args:
        in_channels (int), out_channels (int): sizes.
        reduce (str): ``'sum'`` or ``'mean'``. (default: ``'sum'``)
        bias (bool): (default: :obj:`True`)

    Shapes: ``x [N, F_in]``, graph -> ``[N, F_out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, reduce: str = "sum", bias: bool = True):
        super().__init__()
        if reduce not in ("sum", "mean"):
            raise ValueError(f"AggLinear: reduce must be 'sum' or 'mean', got {reduce!r}")
        self.in_channels, self.out_channels, self.reduce = in_channels, out_channels, reduce
        self.lin = nn.Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _utils.glorot(self.lin.weight)
        if self.lin.bias is not None:
            _utils.zeros(self.lin.bias)

    def forward(self, x: Tensor, graph) -> Tensor:
        # Transform first when it shrinks the features (same result, fewer aggregated channels).
        if self.out_channels < self.in_channels:
            out = spmm(graph, x @ self.lin.weight.t(), reduce=self.reduce)
            return out if self.lin.bias is None else out + self.lin.bias
        return self.lin(spmm(graph, x, reduce=self.reduce))

    def __repr__(self) -> str:
        return f"AggLinear({self.in_channels}, {self.out_channels}, reduce={self.reduce!r})"


class DirGNNConv(nn.Module):
    r"""Directional wrapper around any convolution ``conv(x, graph)`` (see module docstring).

    Args:
        conv (nn.Module): the base convolution; it is used for the out-arcs and a deep copy (then
            both re-initialised) for the in-arcs. It must accept ``(x, graph)`` and have
            ``in_channels`` / ``out_channels`` attributes when ``root_weight``.
        alpha (float): weight of the out-arc direction, :math:`\alpha \in [0, 1]`.
            (default: ``0.5``)
        root_weight (bool): add :math:`\mathbf{X}\mathbf{W}_{root} + \mathbf{b}`. (default: :obj:`True`)
        norm (str, optional): ``'dir'`` propagates over :func:`dir_norm` graphs (weighted
            base convs only); :obj:`None` passes the graph and its reverse as they are.
            (default: :obj:`None`)
        root_in_wrapper (bool): as PyG's ``DirGNNConv``, switch off the base convs' own
            ``add_self_loops`` / ``root_weight`` attributes (when they have them), since the
            node's own features enter through the root weight. ``False`` keeps the base convs
            as given (the official Dir-GAT keeps GAT's self loops). (default: :obj:`True`)

    Shapes: ``x [N, F_in]``, graph (Graph or ``edge_index``) -> ``[N, F_out]``.

    >>> import torch, gnnkit
    >>> conv = DirGNNConv(AggLinear(4, 8), alpha=0.3)
    >>> conv
    DirGNNConv(AggLinear(4, 8, reduce='sum'), alpha=0.3, root_weight=True)
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]))
    >>> conv(torch.randn(3, 4), g).shape
    torch.Size([3, 8])
    """

    def __init__(self, conv: nn.Module, alpha: float = 0.5, root_weight: bool = True,
                 norm: str | None = None, root_in_wrapper: bool = True):
        super().__init__()
        if not isinstance(conv, nn.Module):
            raise TypeError(f"DirGNNConv: conv must be an nn.Module, got {type(conv).__name__}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"DirGNNConv: alpha must be in [0, 1], got {alpha!r}")
        if norm not in (None, "dir"):
            raise ValueError(f"DirGNNConv: norm must be None or 'dir', got {norm!r}")
        self.alpha = float(alpha)
        self.root_weight = root_weight
        self.norm = norm
        self.conv_in = copy.deepcopy(conv)
        self.conv_out = conv
        if root_in_wrapper:
            for c in (self.conv_in, self.conv_out):
                for attr in ("add_self_loops", "root_weight"):
                    if isinstance(getattr(c, attr, None), bool):
                        setattr(c, attr, False)
        if root_weight:
            for a in ("in_channels", "out_channels"):
                if not hasattr(conv, a):
                    raise ValueError(f"DirGNNConv: root_weight=True needs conv.{a}; pass "
                                     "root_weight=False or a conv that has it")
            self.lin_root = nn.Linear(conv.in_channels, self._out_size(conv))
        else:
            self.register_module("lin_root", None)
        self._memo = (None, None, None)
        self.reset_parameters()

    @staticmethod
    def _out_size(conv) -> int:
        heads = getattr(conv, "heads", 1)
        return conv.out_channels * heads if getattr(conv, "concat", False) else conv.out_channels

    def reset_parameters(self) -> None:
        for c in (self.conv_in, self.conv_out):
            if hasattr(c, "reset_parameters"):
                c.reset_parameters()
        if self.lin_root is not None:
            self.lin_root.reset_parameters()
        self._memo = (None, None, None)

    def graphs(self, graph):
        """``(in_graph, out_graph)`` for ``graph``, memoised for the same (immutable) Graph."""
        key, gin, gout = self._memo
        if key is not graph:
            if self.norm == "dir":
                gin, gout = dir_norm(graph)
            else:
                gin, gout = graph, graph.reverse()
            self._memo = (graph, gin, gout)
        return gin, gout

    def forward(self, x: Tensor, graph) -> Tensor:
        g = _utils.as_graph(graph, x.size(0), where=type(self).__name__)
        if _utils.is_block(g):
            raise ValueError("DirGNNConv does not support bipartite blocks: the reverse of a sampled "
                             "block is not a block of the same nodes; run it full-batch")
        gin, gout = self.graphs(g)
        # A direction with weight 0 is not computed (its conv then gets no gradient).
        if self.alpha == 1.0:
            out = self.conv_out(x, gout)
        elif self.alpha == 0.0:
            out = self.conv_in(x, gin)
        else:
            out = (1.0 - self.alpha) * self.conv_in(x, gin) + self.alpha * self.conv_out(x, gout)
        if self.lin_root is not None:
            out = out + self.lin_root(x)
        return out

    def __repr__(self) -> str:
        return f"DirGNNConv({self.conv_out!r}, alpha={self.alpha}, root_weight={self.root_weight})"


class DirGCNConv(DirGNNConv):
    r"""Dir-GCN layer: :math:`(1-\alpha) \hat A X W_{in} + \alpha \hat A^\top X W_{out}` with
    :math:`\hat A = D_{out}^{-1/2} A D_{in}^{-1/2}` (no self loops, no root weight; official code)."""

    def __init__(self, in_channels: int, out_channels: int, alpha: float = 0.5):
        super().__init__(AggLinear(in_channels, out_channels, "sum"), alpha, root_weight=False, norm="dir")

    def __repr__(self) -> str:
        return f"DirGCNConv({self.conv_out.in_channels}, {self.conv_out.out_channels}, alpha={self.alpha})"


class DirSAGEConv(DirGNNConv):
    r"""Dir-SAGE layer: :math:`X W_{root} + (1-\alpha)\,\mathrm{mean}_{in}(X) W_{in} + \alpha\,
    \mathrm{mean}_{out}(X) W_{out}` (official code's ``DirSageConv``)."""

    def __init__(self, in_channels: int, out_channels: int, alpha: float = 0.5):
        super().__init__(AggLinear(in_channels, out_channels, "mean"), alpha, root_weight=True)

    def __repr__(self) -> str:
        return f"DirSAGEConv({self.conv_out.in_channels}, {self.conv_out.out_channels}, alpha={self.alpha})"


class DirGATConv(DirGNNConv):
    r"""Dir-GAT layer: :class:`gnnkit.nn.GATConv` on in-arcs and on out-arcs, mixed by
    :math:`\alpha` (official code's ``DirGATConv``; ``heads`` heads, concatenated)."""

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, alpha: float = 0.5):
        from gnnkit.nn.gat_conv import GATConv

        super().__init__(GATConv(in_channels, out_channels, heads=heads), alpha, root_weight=False,
                         root_in_wrapper=False)

    def __repr__(self) -> str:
        c = self.conv_out
        return f"DirGATConv({c.in_channels}, {c.out_channels}, heads={c.heads}, alpha={self.alpha})"


_CONVS = ("dir-gcn", "dir-sage", "dir-gat", "gcn", "sage", "gat")


def _make_conv(kind: str, fin: int, fout: int, alpha: float) -> nn.Module:
    if kind == "dir-gcn":
        return DirGCNConv(fin, fout, alpha)
    if kind == "dir-sage":
        return DirSAGEConv(fin, fout, alpha)
    if kind == "dir-gat":
        return DirGATConv(fin, fout, 1, alpha)
    if kind == "gcn":   # the official baseline: GCN without self loops
        from gnnkit.nn.gcn_conv import GCNConv
        return GCNConv(fin, fout, add_self_loops=False)
    if kind == "sage":
        return _SAGE(fin, fout)
    if kind == "gat":
        from gnnkit.nn.gat_conv import GATConv
        return GATConv(fin, fout, heads=1)
    raise ValueError(f"DirGNN: conv must be one of {_CONVS}, got {kind!r}")


class _SAGE(nn.Module):
    """Undirected-baseline SAGE: ``x W_root + mean_{j -> i}(x_j) W`` (PyG SAGEConv defaults)."""

    def __init__(self, fin, fout):
        super().__init__()
        self.in_channels, self.out_channels = fin, fout
        self.agg = AggLinear(fin, fout, "mean")
        self.root = nn.Linear(fin, fout, bias=False)

    def reset_parameters(self):
        self.agg.reset_parameters()
        self.root.reset_parameters()

    def forward(self, x, graph):
        return self.agg(x, graph) + self.root(x)


class DirGNN(nn.Module):
    r"""Node classifier of the Dir-GNN paper (official ``GNN`` class): ``num_layers`` convs, each
    but the last followed by ReLU, dropout and (``normalize``) L2 row normalisation; with jumping
    knowledge every layer outputs ``hidden_channels`` (the last one too, and is also activated),
    the layer outputs are combined (``'max'`` element-wise, ``'cat'`` concatenation) and a linear
    layer gives the logits.

    Args:
        in_channels, hidden_channels, out_channels (int): sizes.
        num_layers (int): (default: ``2``)
        conv (str): ``'dir-gcn'``, ``'dir-sage'``, ``'dir-gat'``, or the undirected baselines
            ``'gcn'`` (no self loops, as the official code), ``'sage'``, ``'gat'``.
            (default: ``'dir-gcn'``)
        alpha (float): Dir-GNN :math:`\alpha`. (default: ``0.5``)
        jumping_knowledge (str, optional): ``'max'``, ``'cat'`` or :obj:`None`. (default: :obj:`None`)
        normalize (bool): L2-normalise hidden rows. (default: :obj:`False`)
        dropout (float): (default: ``0.0``)

    Shapes: ``x [N, F_in]``, graph -> logits ``[N, out_channels]``.

    >>> DirGNN(8, 16, 3, num_layers=2, conv="dir-gcn", alpha=1.0, jumping_knowledge="max")
    DirGNN(8, 16, 3, num_layers=2, conv='dir-gcn', alpha=1.0, jk='max')
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 conv: str = "dir-gcn", alpha: float = 0.5, jumping_knowledge: str | None = None,
                 normalize: bool = False, dropout: float = 0.0, learn_alpha: bool = False):
        super().__init__()
        if conv not in _CONVS:
            raise ValueError(f"DirGNN: conv must be one of {_CONVS}, got {conv!r}")
        if jumping_knowledge not in (None, "max", "cat"):
            raise ValueError(f"DirGNN: jumping_knowledge must be None, 'max' or 'cat', got {jumping_knowledge!r}")
        _utils.check_positive_int("DirGNN", num_layers=num_layers)
        _utils.check_probability("DirGNN", dropout=dropout)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.conv, self.alpha = num_layers, conv, float(alpha)
        self.jumping_knowledge, self.normalize, self.dropout = jumping_knowledge, normalize, dropout
        last = hidden_channels if jumping_knowledge else out_channels
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [last]
        self.convs = nn.ModuleList(_make_conv(conv, a, b, alpha) for a, b in zip(dims, dims[1:]))
        if jumping_knowledge:
            jk_dim = hidden_channels * num_layers if jumping_knowledge == "cat" else hidden_channels
            self.lin = nn.Linear(jk_dim, out_channels)
        else:
            self.register_module("lin", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for c in self.convs:
            c.reset_parameters()
        if self.lin is not None:
            self.lin.reset_parameters()

    def forward(self, x: Tensor, graph) -> Tensor:
        xs = []
        for i, conv in enumerate(self.convs):
            x = conv(x, graph)
            if i != len(self.convs) - 1 or self.jumping_knowledge:
                x = _utils.activation_dropout(x, F.relu, self.dropout, self.training)
                if self.normalize:
                    x = F.normalize(x, p=2, dim=1)
            xs.append(x)
        if self.jumping_knowledge == "max":
            x = torch.stack(xs).amax(0)
        elif self.jumping_knowledge == "cat":
            x = torch.cat(xs, dim=1)
        return self.lin(x) if self.lin is not None else x

    def __repr__(self) -> str:
        return (f"DirGNN({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers}, conv={self.conv!r}, alpha={self.alpha}, "
                f"jk={self.jumping_knowledge!r})")


class DirGCN(DirGNN):
    """:class:`DirGNN` with ``conv='dir-gcn'``."""

    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=2, **kwargs):
        super().__init__(in_channels, hidden_channels, out_channels, num_layers, conv="dir-gcn", **kwargs)


class DirSAGE(DirGNN):
    """:class:`DirGNN` with ``conv='dir-sage'``."""

    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=2, **kwargs):
        super().__init__(in_channels, hidden_channels, out_channels, num_layers, conv="dir-sage", **kwargs)


class DirGAT(DirGNN):
    """:class:`DirGNN` with ``conv='dir-gat'``."""

    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=2, **kwargs):
        super().__init__(in_channels, hidden_channels, out_channels, num_layers, conv="dir-gat", **kwargs)
