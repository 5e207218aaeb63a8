r"""Graph attention layer of Veličković et al. (ICLR 2018) on the fused attention kernel."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn._layer import ChannelLayer
from gnnkit.ops import gat_attention

__all__ = ["GATConv"]


class GATConv(ChannelLayer):
    r"""The graph attentional operator from `"Graph Attention Networks"
    <https://arxiv.org/abs/1710.10903>`_ (Veličković et al., ICLR 2018).

    .. math::
        \mathbf{x}^{\prime}_i = \Big\Vert_{h=1}^{H} \sum_{j \in \mathcal{N}(i) \cup \{ i \}}
        \alpha^h_{j,i} \mathbf{\Theta}^h \mathbf{x}_{j}
        \quad (\text{or the mean over } h \text{ when } \texttt{concat=False})

    with attention coefficients

    .. math::
        \alpha^h_{j,i} = \frac{\exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}^{h\top}_{s} \mathbf{\Theta}^h \mathbf{x}_j +
        \mathbf{a}^{h\top}_{t} \mathbf{\Theta}^h \mathbf{x}_i \right)\right)}
        {\sum_{k \in \mathcal{N}(i) \cup \{ i \}} \exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}^{h\top}_{s} \mathbf{\Theta}^h \mathbf{x}_k +
        \mathbf{a}^{h\top}_{t} \mathbf{\Theta}^h \mathbf{x}_i \right)\right)}.

    The scores, the per-destination softmax, the attention dropout and the weighted sum run in
    one kernel, :func:`gnnkit.ops.gat_attention` (no ``[E, H]`` or ``[E, H, D]`` tensor is
    stored).  With ``add_self_loops`` existing loops are removed and one loop per (destination)
    node is added, as in PyG.  The layer does not apply an activation.  Attention dropout uses
    the kernel's own counter-based mask (seeded from torch's generator), so it is reproducible
    under ``torch.manual_seed`` but draws different masks than PyG's ``F.dropout``.

    Args:
        in_channels (int): input size :math:`F_{in}`.
        out_channels (int): size :math:`D` of every head.
        heads (int, optional): number of heads :math:`H`. (default: :obj:`1`)
        concat (bool, optional): concatenate the heads (output :math:`H D`), else average them
            (output :math:`D`). (default: :obj:`True`)
        negative_slope (float, optional): LeakyReLU slope. (default: :obj:`0.2`)
        dropout (float, optional): dropout probability of the attention coefficients (training
            only). (default: :obj:`0.0`)
        add_self_loops (bool, optional): replace the graph's loops by one loop per node.
            (default: :obj:`True`)
        bias (bool, optional): learn an additive bias. (default: :obj:`True`)
        residual (bool, optional): add a linear projection of the input (of the destination
            nodes) to the output. (default: :obj:`False`)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})` (for a block
          :math:`(N_{src}, F_{in})`), a :class:`gnnkit.Graph` / block, an ``edge_index``
          :math:`(2, |\mathcal{E}|)` or a PyG ``Data``
        - **output:** :math:`(|\mathcal{V}|, H D)` if ``concat`` else :math:`(|\mathcal{V}|, D)`
          (:math:`N_{dst}` rows for a block)

    >>> conv = GATConv(8, 32, heads=2)
    >>> conv
    GATConv(8, 32, heads=2)
    >>> from gnnkit import Graph
    >>> g = Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    >>> conv(torch.randn(3, 8), g).shape
    torch.Size([3, 64])
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 bias: bool = True, residual: bool = False):
        super().__init__(in_channels, out_channels)
        name = type(self).__name__
        _utils.check_positive_int(name, in_channels=in_channels, out_channels=out_channels,
                                  heads=heads)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
        if negative_slope < 0:
            raise ValueError(f"{name}: negative_slope must be >= 0, got {negative_slope!r}")
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.residual = residual
        total = heads * out_channels if concat else out_channels
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        if residual:
            self.res = nn.Linear(in_channels, total, bias=False)
        else:
            self.register_module("res", None)
        _utils.register_bias(self, total, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _utils.glorot(self.lin.weight)
        if self.res is not None:
            _utils.glorot(self.res.weight)
        _utils.glorot(self.att_src)
        _utils.glorot(self.att_dst)
        _utils.zeros(self.bias)
        self._memo = (None, None)

    def _attention_graph(self, g):
        if not self.add_self_loops:
            return g
        key, adj = self._memo
        if key is not g:
            adj = g.remove_self_loops().add_self_loops(remaining=False)
            self._memo = (g, adj)  # immutable input: re-use the looped copy for the same object
        return adj

    def forward(self, x: Tensor, graph, num_nodes: int | None = None) -> Tensor:
        """``x [N_src, F_in]`` and a graph (see the class docstring) -> ``[N_dst, H*D or D]``."""
        name = type(self).__name__
        _utils.check_features(name, x, self.in_channels)
        g = _utils.as_graph(graph, x.size(0) if num_nodes is None else num_nodes, where=name)
        adj = self._attention_graph(g)
        n_dst = g.num_nodes
        H, D = self.heads, self.out_channels
        x_lin = self.lin(x).view(-1, H, D)
        # alpha[n, h] = <W x_n, a_h> = <x_n, W_h^T a_h>: fold the attention vectors into the
        # weight ([2H, F_in], tiny) and get both scores from one thin matmul of x, instead of
        # contracting the [N, H, D] projection (a batched product per head cost ~13 % of an
        # epoch, forward and backward).
        Wv = self.lin.weight.view(H, D, -1)
        w_att = torch.cat([torch.einsum("hdf,hd->hf", Wv, self.att_src[0]),
                           torch.einsum("hdf,hd->hf", Wv, self.att_dst[0])])
        alpha = F.linear(x, w_att)  # [N_src, 2H]
        alpha_src = alpha[:, :H]
        alpha_dst = alpha[:n_dst, H:]
        out = gat_attention(adj, x_lin, alpha_src, alpha_dst, negative_slope=self.negative_slope,
                            dropout=self.dropout, training=self.training)
        out = out.reshape(n_dst, H * D) if self.concat else out.mean(dim=1)
        if self.res is not None:
            out = out + self.res(_utils.first_rows(x, n_dst))
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr_items(self) -> str:
        return f"heads={self.heads}"
