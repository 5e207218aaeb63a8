r"""A graph-agnostic multi-layer perceptron baseline."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn._layer import ChannelLayer

__all__ = ["MLP"]

_ACTIVATIONS = {"relu": F.relu, "elu": F.elu, "gelu": F.gelu, "tanh": F.tanh}


class MLP(ChannelLayer):
    r"""Multi-layer perceptron: ``num_layers`` linear layers with dropout on the input of every
    layer and an activation between layers (none after the last).

    .. math::
        \mathbf{X}^{(\ell+1)} = \sigma\big(\mathrm{dropout}(\mathbf{X}^{(\ell)})
        \mathbf{W}^{(\ell)} + \mathbf{b}^{(\ell)}\big)

    The graph argument of :meth:`forward` is optional and ignored except for blocks, whose
    destination rows ``x[:N_dst]`` are returned, so the model plugs into the same training loops
    as the GNNs.

    Args:
        in_channels (int): input size.
        hidden_channels (int): hidden size.
        out_channels (int): output size.
        num_layers (int, optional): number of linear layers (>= 1). (default: :obj:`2`)
        dropout (float, optional): dropout probability. (default: :obj:`0.5`)
        activation (str, optional): ``'relu'``, ``'elu'``, ``'gelu'`` or ``'tanh'``.
            (default: :obj:`"relu"`)

    Shapes:
        :math:`(N, F_{in}) \to (N, F_{out})`.

    >>> MLP(16, 32, 4)
    MLP(16, 32, 4, num_layers=2)
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5, activation: str = "relu"):
        super().__init__(in_channels, out_channels)
        name = type(self).__name__
        _utils.check_positive_int(name, in_channels=in_channels, hidden_channels=hidden_channels,
                                  out_channels=out_channels, num_layers=num_layers)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{name}: activation must be one of {sorted(_ACTIVATIONS)}, got "
                             f"{activation!r}")
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.activation = activation
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()

    def forward(self, x: Tensor, graph=None) -> Tensor:
        if isinstance(graph, (list, tuple)):
            graph = graph[-1] if graph else None
        if graph is not None and not isinstance(graph, Tensor) and _utils.is_block(graph):
            x = _utils.first_rows(x, graph.num_nodes)
        act = _ACTIVATIONS[self.activation]
        x = _utils.dropout(x, self.dropout, self.training)
        for i, lin in enumerate(self.lins):
            x = lin(x)
            if i < self.num_layers - 1:
                # the activation, then the next layer's input dropout (one pass for ReLU)
                x = _utils.activation_dropout(x, act, self.dropout, self.training)
        return x

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{self.out_channels}, num_layers={self.num_layers})")
