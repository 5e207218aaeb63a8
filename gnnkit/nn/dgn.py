r"""DGN: directional graph networks (Beaini et al., ICML 2021, "Directional Graph Networks",
`arXiv:2010.02863 <https://arxiv.org/abs/2010.02863>`_).

A Laplacian eigenvector :math:`\phi` (the :math:`k`-th smallest non-trivial one, per connected
component, see :mod:`gnnkit.nn._laplacian`) defines a vector field on the arcs, its gradient

.. math::
    F_{ij} = \phi_j - \phi_i \quad (j \to i \in E), \qquad
    \hat F_{i,:} = \frac{F_{i,:}}{\lVert F_{i,:} \rVert_1 + \epsilon},

and two directional aggregation matrices

.. math::
    B_{av} = |\hat F| \ \ \text{(directional smoothing)}, \qquad
    B_{dx} = \hat F - \mathrm{diag}\big(\textstyle\sum_j \hat F_{:,j}\big) \ \
    \text{(directional derivative)},

used as :math:`y_{av} = B_{av} X` and :math:`y_{dx} = |B_{dx} X|`, i.e.
:math:`y_{dx,i} = |\sum_j \hat F_{ij} (x_j - x_i)|`.  On a grid whose eigenvector varies along
:math:`x` only, :math:`y_{dx}` is a (weighted) central difference along :math:`x`: this is the
paper's claim that DGN generalises CNN filters (tested in ``tests/nn/test_dgn.py``).

Rows of :math:`\hat F` are the in-arcs of node :math:`i` (gnnkit's CSR rows); for an undirected
graph these are its neighbours. For a directed graph the field lives on the in-arcs while
:math:`\phi` comes from the symmetrised graph.

Layer (:class:`DGNConv`): the aggregators are concatenated with the node's own features and
mixed by a linear map, :math:`h'_i = U\,[h_i \,\Vert\, \mathrm{agg}_1(h)_i \Vert \dots]`.
Simplified with respect to the official PNA-based code (said here and in the report): the
"pretrans" is node-wise (:math:`M(h_j)`, not an edge MLP of :math:`(h_i, h_j)`), there are no
degree scalers and no towers.
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit._graph_utils import row_index
from gnnkit.nn import _utils
from gnnkit.nn._laplacian import laplacian_eigenvectors
from gnnkit.nn._utils import check_positive_int
from gnnkit.nn.pool import global_pool
from gnnkit.ops import spmm

__all__ = ["dgn_vector_field", "directional_aggregate", "DGNConv", "DGN", "DGN_AGGREGATORS"]

DGN_AGGREGATORS = ("mean", "sum", "max", "min", "dir{k}-av", "dir{k}-dx")
_DIR = re.compile(r"^dir(\d+)-(av|dx)$")


def dgn_vector_field(graph, eigvecs: Tensor | None = None, k: int = 1, eps: float = 1e-8,
                     normalization: str | None = None) -> Tensor:
    r"""Normalised vector fields :math:`\hat F` of the first ``k`` eigenvectors, per arc.

    Args:
        graph (Graph): the graph.
        eigvecs (Tensor, optional): ``[N]`` or ``[N, k]``; computed with
            :func:`~gnnkit.nn._laplacian.laplacian_eigenvectors` when :obj:`None`.
        k (int): eigenvectors to use when computing them. (default: ``1``)
        eps (float): :math:`\epsilon`. (default: ``1e-8``)
        normalization: Laplacian for the computed eigenvectors (:obj:`None` or ``'sym'``).

    Returns:
        ``[E, k]`` in CSR order: entry ``[e, c]`` is :math:`\hat F_{ij}` of field ``c`` for the
        arc ``e = (j -> i)``. Rows with no variation (e.g. isolated nodes, padded
        eigenvectors) are 0.

    >>> import torch, gnnkit
    >>> path = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), directed=False)
    >>> dgn_vector_field(path, torch.tensor([1., 0., -1.]))[:, 0].tolist()
    [-1.0, 0.5, -0.5, 1.0]
    """
    if eigvecs is None:
        eigvecs = laplacian_eigenvectors(graph, k, normalization)
    if eigvecs.dim() == 1:
        eigvecs = eigvecs.unsqueeze(1)
    if eigvecs.dim() != 2 or eigvecs.size(0) != graph.num_nodes:
        raise ValueError(f"dgn_vector_field: eigvecs must be [N] or [N, k] with N = {graph.num_nodes}, "
                         f"got {tuple(eigvecs.shape)}")
    eigvecs = eigvecs.to(graph.device)
    src = graph.indices.to(torch.int64)
    dst = row_index(graph.indptr)
    Fld = eigvecs[src] - eigvecs[dst]                        # phi_j - phi_i for arc j -> i
    l1 = torch.zeros_like(eigvecs).index_add_(0, dst, Fld.abs())
    return Fld / (l1[dst] + eps)


def directional_aggregate(graph, x: Tensor, field: Tensor, kind: str) -> Tensor:
    r"""``'av'``: :math:`|\hat F| X`; ``'dx'``: :math:`|(\hat F - \mathrm{diag}(\hat F
    \mathbf{1})) X|`, for one field ``[E]``.

    Shapes: ``x [N, C]``, ``field [E]`` -> ``[N, C]``.
    """
    if field.dim() != 1 or field.numel() != graph.num_edges:
        raise ValueError(f"directional_aggregate: field must be [E] = [{graph.num_edges}], got "
                         f"{tuple(field.shape)}")
    field = field.to(x.dtype)
    if kind == "av":
        return spmm(graph, x, edge_weight=field.abs())
    if kind == "dx":
        dst = row_index(graph.indptr)
        rowsum = torch.zeros(graph.num_nodes, dtype=x.dtype, device=x.device).index_add_(0, dst, field)
        return (spmm(graph, x, edge_weight=field) - rowsum.unsqueeze(1) * x).abs()
    raise ValueError(f"directional_aggregate: kind must be 'av' or 'dx', got {kind!r}")


class DGNConv(nn.Module):
    r"""One DGN layer: :math:`h'_i = U\,[h_i \Vert \mathrm{agg}_1(Mh)_i \Vert \dots \Vert
    \mathrm{agg}_m(Mh)_i]` (see the module docstring for the aggregators and simplifications).

    Args:
        in_channels (int): input size.
        out_channels (int): output size.
        aggregators (sequence of str): from ``'mean'``, ``'sum'``, ``'max'``, ``'min'``,
            ``'dir{k}-av'``, ``'dir{k}-dx'`` (``k`` = 1-based eigenvector index).
            (default: ``('mean', 'dir1-av', 'dir1-dx')``, the paper's best ZINC setting uses
            mean + dx1 + max variants)
        bias (bool): bias of :math:`U`. (default: :obj:`True`)

    Shapes:
        ``x [N, F_in]``, graph, ``field [E, k]`` (from :func:`dgn_vector_field`) -> ``[N, F_out]``.
        The layer does not apply an activation.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 aggregators=("mean", "dir1-av", "dir1-dx"), bias: bool = True):
        super().__init__()
        aggregators = tuple(aggregators)
        if not aggregators:
            raise ValueError("DGNConv: aggregators must not be empty")
        self.num_fields = 0
        for a in aggregators:
            m = _DIR.match(a)
            if m:
                if int(m.group(1)) < 1:
                    raise ValueError(f"DGNConv: eigenvector index in {a!r} starts at 1")
                self.num_fields = max(self.num_fields, int(m.group(1)))
            elif a not in ("mean", "sum", "max", "min"):
                raise ValueError(f"DGNConv: unknown aggregator {a!r}; valid: {DGN_AGGREGATORS}")
        self.in_channels, self.out_channels, self.aggregators = in_channels, out_channels, aggregators
        self.pre = nn.Linear(in_channels, in_channels)
        self.post = nn.Linear(in_channels * (1 + len(aggregators)), out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.pre.reset_parameters()
        self.post.reset_parameters()

    def forward(self, x: Tensor, graph, field: Tensor | None = None) -> Tensor:
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"DGNConv: x must have shape [N, {self.in_channels}], got {tuple(x.shape)}")
        if self.num_fields:
            if field is None:
                raise ValueError("DGNConv: directional aggregators need field = "
                                 "dgn_vector_field(graph, k=...) [E, k]")
            if field.dim() != 2 or field.size(0) != graph.num_edges or field.size(1) < self.num_fields:
                raise ValueError(f"DGNConv: field must be [E, k] with E = {graph.num_edges} and "
                                 f"k >= {self.num_fields}, got {tuple(field.shape)}")
        m = self.pre(x)
        outs = [x]
        for a in self.aggregators:
            d = _DIR.match(a)
            if d:
                outs.append(directional_aggregate(graph, m, field[:, int(d.group(1)) - 1], d.group(2)))
            else:
                outs.append(spmm(graph, m, reduce="sum" if a == "sum" else a))
        return self.post(torch.cat(outs, dim=1))

    def __repr__(self) -> str:
        return (f"DGNConv({self.in_channels}, {self.out_channels}, "
                f"aggregators={list(self.aggregators)})")


class DGN(nn.Module):
    r"""Graph-level DGN: embedding, ``num_layers`` x (DGNConv, BatchNorm, ReLU, residual),
    readout, 2-layer MLP head (`arXiv:2010.02863 <https://arxiv.org/abs/2010.02863>`_).

    Args:
        in_channels, hidden_channels, out_channels (int): sizes.
        num_layers (int): DGN layers. (default: ``4``)
        aggregators: see :class:`DGNConv`.
        readout (str): ``'mean'``, ``'add'`` or ``'max'``. (default: ``'mean'``)
        dropout (float): before the head. (default: ``0.0``)

    Shapes:
        ``x [N, F_in]``, graph (a batch from :func:`gnnkit.nn.pool.batch_graphs`),
        ``batch [N]``, ``field [E, k]`` (:meth:`precompute`) -> ``[B, out_channels]``.

    >>> import torch
    >>> from gnnkit.data.graph_datasets import decalin
    >>> g = decalin(); model = DGN(1, 8, 2, num_layers=2).eval()
    >>> model(torch.ones(10, 1), g, field=model.precompute(g)).shape
    torch.Size([1, 2])
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 4,
                 aggregators=("mean", "dir1-av", "dir1-dx"), readout: str = "mean", dropout: float = 0.0):
        super().__init__()
        if readout not in ("add", "mean", "max"):
            raise ValueError(f"DGN: readout must be 'add', 'mean' or 'max', got {readout!r}")
        check_positive_int("DGN", num_layers=num_layers)
        _utils.check_probability("DGN", dropout=dropout)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.readout, self.dropout = num_layers, readout, dropout
        self.embed = nn.Linear(in_channels, hidden_channels)
        self.convs = nn.ModuleList(DGNConv(hidden_channels, hidden_channels, aggregators)
                                   for _ in range(num_layers))
        self.bns = nn.ModuleList(nn.BatchNorm1d(hidden_channels) for _ in range(num_layers))
        self.head = nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.ReLU(),
                                  _utils.Dropout(dropout), nn.Linear(hidden_channels, out_channels))
        self.num_fields = self.convs[0].num_fields
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embed.reset_parameters()
        for c, b in zip(self.convs, self.bns):
            c.reset_parameters()
            b.reset_parameters()
        for m in self.head:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def precompute(self, graph, normalization: str | None = None) -> Tensor | None:
        """The vector fields this model needs, ``[E, k]`` (or :obj:`None` without dir aggregators)."""
        if not self.num_fields:
            return None
        return dgn_vector_field(graph, k=self.num_fields, normalization=normalization)

    def forward(self, x: Tensor, graph, batch: Tensor | None = None, field: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        if field is None:
            field = self.precompute(graph)
        h = self.embed(x)
        for conv, bn in zip(self.convs, self.bns):
            h = h + F.relu(bn(conv(h, graph, field)))
        h = global_pool(h, batch, self.readout, num_graphs)
        return self.head(h)

    def __repr__(self) -> str:
        return (f"DGN({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers})")

