r"""GraphSAGE node classifier (Hamilton, Ying & Leskovec, NeurIPS 2017,
https://arxiv.org/abs/1706.02216) in the form of OGB's reference examples
(``examples/nodeproppred/{arxiv,products}/gnn.py``): ``num_layers`` :class:`~gnnkit.nn.SAGEConv`
(mean aggregation), each but the last followed by an optional normalisation (``BatchNorm1d`` in the
arxiv example), ReLU and dropout.

.. math::
    \mathbf{H}^{(\ell+1)} = \mathrm{drop}\big(\mathrm{ReLU}(\mathrm{BN}(\mathbf{H}^{(\ell)}
    \mathbf{W}_r^{(\ell)} + \mathrm{mean}_{j \to i}\, \mathbf{h}^{(\ell)}_j \mathbf{W}_l^{(\ell)}
    + \mathbf{b}^{(\ell)}))\big)

``forward(x, graph)`` takes one graph used by every layer (full batch) or a list of
``num_layers`` sampled blocks (mini-batch, PyG ``NeighborLoader`` convention: the destination nodes
are the first sources), so the same model trains full-batch or on sampled neighbourhoods.
"""
from __future__ import annotations

from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn.sage_conv import SAGEConv

__all__ = ["SAGE"]

_NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


class SAGE(nn.Module):
    r"""GraphSAGE stack (see the module docstring).

    Args:
        in_channels (int), out_channels (int): input size and number of outputs.
        hidden_channels (int): (default: :obj:`256`, OGB's)
        num_layers (int): (default: :obj:`3`)
        dropout (float): dropout after every hidden layer. (default: :obj:`0.5`)
        norm (str, optional): ``'batch'``, ``'layer'`` or :obj:`None` after every hidden layer.
            (default: :obj:`None`)
        aggr (str): :class:`SAGEConv` aggregation. (default: :obj:`'mean'`)
        input_dropout (bool): also drop out the input features (OGB's examples do not).
            (default: :obj:`False`)

    >>> SAGE(128, 40, norm='batch')
    SAGE(128, 40, hidden_channels=256, num_layers=3, norm='batch')
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 256,
                 num_layers: int = 3, dropout: float = 0.5, norm: str | None = None,
                 aggr: str = "mean", input_dropout: bool = False):
        super().__init__()
        _utils.check_positive_int("SAGE", in_channels=in_channels, out_channels=out_channels,
                                  hidden_channels=hidden_channels, num_layers=num_layers)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SAGE: dropout must be in [0, 1), got {dropout!r}")
        if norm is not None and norm not in _NORMS:
            raise ValueError(f"SAGE: norm must be None or one of {tuple(_NORMS)}, got {norm!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels, self.num_layers, self.dropout, self.norm = (
            hidden_channels, num_layers, dropout, norm)
        self.input_dropout = input_dropout
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(SAGEConv(a, b, aggr=aggr) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(_NORMS[norm](hidden_channels) if norm else nn.Identity()
                                   for _ in range(num_layers - 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in list(self.convs) + list(self.norms):
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def forward(self, x: Tensor, graph) -> Tensor:
        blocks = isinstance(graph, (list, tuple))
        if blocks and len(graph) != self.num_layers:
            raise ValueError(f"SAGE: expected {self.num_layers} blocks (one per layer), got {len(graph)}")
        if self.input_dropout:
            x = _utils.dropout(x, self.dropout, self.training)
        for i, conv in enumerate(self.convs):
            x = conv(x, graph[i] if blocks else graph)
            if i < self.num_layers - 1:
                x = _utils.dropout(self.norms[i](x), self.dropout, self.training, relu=True)
        return x

    def __repr__(self) -> str:
        norm = f", norm={self.norm!r}" if self.norm else ""
        return (f"SAGE({self.in_channels}, {self.out_channels}, hidden_channels="
                f"{self.hidden_channels}, num_layers={self.num_layers}{norm})")
