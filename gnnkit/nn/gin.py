r"""GIN and GINE: graph isomorphism networks, with edge features and an optional virtual node.

* **GIN** (Xu, Hu, Leskovec & Jegelka, ICLR 2019, "How Powerful are Graph Neural Networks?",
  `arXiv:1810.00826 <https://arxiv.org/abs/1810.00826>`_):

  .. math::
      \mathbf{h}_v' = \mathrm{MLP}\Big((1 + \epsilon)\,\mathbf{h}_v + \sum_{u \in N(v)} \mathbf{h}_u\Big)

* **GINE** (Hu, Liu, Gomes, Zitnik, Liang, Pande & Leskovec, ICLR 2020, "Strategies for
  Pre-training Graph Neural Networks", `arXiv:1905.12265 <https://arxiv.org/abs/1905.12265>`_;
  the OGB reference ``GINConv``):

  .. math::
      \mathbf{h}_v' = \mathrm{MLP}\Big((1 + \epsilon)\,\mathbf{h}_v + \sum_{u \in N(v)}
      \mathrm{ReLU}(\mathbf{h}_u + \mathbf{e}_{uv})\Big)

* **virtual node** (Gilmer et al. 2017; OGB's ``gin-virtual``): a per-graph vector
  :math:`\mathbf{z}_G^{(\ell)}` added to every node before layer :math:`\ell` and updated as
  :math:`\mathbf{z}_G^{(\ell+1)} = \mathrm{MLP}(\mathbf{z}_G^{(\ell)} + \sum_{v \in G} \mathbf{h}_v^{(\ell)})`.

``MLP`` is Linear-BN-ReLU-Linear (BN + ReLU fused: :class:`gnnkit.nn.batch_norm.BatchNormReLU`; OGB: hidden :math:`2d`; Xu et al.: :math:`d`); :math:`\epsilon`
is learned (``train_eps``, OGB) or 0 (GIN-0). The graph model follows OGB's ``GNN_node``:
``num_layers`` x (conv, BatchNorm, ReLU except after the last, dropout), JK ``'last'`` or
``'sum'``, a readout (sum / mean / max) and one linear layer.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit._graph_utils import row_index
from gnnkit.nn import _utils
from gnnkit.nn._gin_fused import can_fuse, gin_layer
from gnnkit.nn._utils import check_positive_int
from gnnkit.nn.batch_norm import BatchNormReLU
from gnnkit.nn.encoders import make_edge_encoder, make_node_encoder
from gnnkit.nn.pool import global_pool
from gnnkit.ops import spmm

__all__ = ["GINConv", "GINEConv", "GIN"]


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    # Linear-BN-ReLU-Linear with BN + ReLU fused (gnnkit.nn.BatchNormReLU); the Identity keeps the
    # ReLU's slot, so the state-dict keys (0.*, 1.*, 3.*) are those of the unfused MLP.
    return nn.Sequential(nn.Linear(d_in, d_hidden), BatchNormReLU(d_hidden), nn.Identity(),
                         nn.Linear(d_hidden, d_out))


def _reset(module: nn.Module) -> None:
    for m in module.modules():
        if m is not module and hasattr(m, "reset_parameters"):
            m.reset_parameters()


class GINConv(nn.Module):
    r"""One GIN layer :math:`\mathrm{MLP}((1+\epsilon) h_v + \sum_{u \in N(v)} h_u)`.

    Args:
        in_channels, out_channels (int): sizes.
        hidden_channels (int, optional): MLP hidden size (default: ``out_channels``).
        train_eps (bool): learn :math:`\epsilon` (initialised to 0). (default: :obj:`False`)

    Shapes: ``x [N, F_in]``, graph -> ``[N, F_out]`` (the sum uses ``gnnkit.ops.spmm``).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int | None = None,
                 train_eps: bool = False):
        super().__init__()
        check_positive_int("GINConv", in_channels=in_channels, out_channels=out_channels)
        self.mlp = _mlp(in_channels, hidden_channels or out_channels, out_channels)
        self.eps = nn.Parameter(torch.zeros(1)) if train_eps else None
        self.in_channels, self.out_channels = in_channels, out_channels

    def reset_parameters(self) -> None:
        _reset(self.mlp)
        if self.eps is not None:
            nn.init.zeros_(self.eps)

    def forward(self, x: Tensor, graph, edge_attr: Tensor | None = None) -> Tensor:
        agg = spmm(graph, x)
        h = x if self.eps is None else (1 + self.eps) * x
        return self.mlp(h + agg)

    def __repr__(self) -> str:
        return f"GINConv({self.in_channels}, {self.out_channels})"


class GINEConv(GINConv):
    r"""GINE layer :math:`\mathrm{MLP}((1+\epsilon) h_v + \sum_{u} \mathrm{ReLU}(h_u + e_{uv}))`.

    ``edge_attr [E, F_in]`` (already embedded to the node size, CSR order of the graph).
    ``train_eps`` defaults to :obj:`True` (OGB's reference layer).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int | None = None,
                 train_eps: bool = True):
        super().__init__(in_channels, out_channels, hidden_channels, train_eps)

    def forward(self, x: Tensor, graph, edge_attr: Tensor | None = None) -> Tensor:
        if edge_attr is None or edge_attr.shape != (graph.num_edges, x.size(1)):
            raise ValueError(f"GINEConv: edge_attr must be [E, F] = [{graph.num_edges}, {x.size(1)}] "
                             f"(embedded), got {None if edge_attr is None else tuple(edge_attr.shape)}")
        src = graph.indices.to(torch.int64)
        dst = row_index(graph.indptr, graph.num_edges)
        msg = F.relu(x[src] + edge_attr)
        agg = x.new_zeros(x.shape).index_add_(0, dst, msg)
        h = x if self.eps is None else (1 + self.eps) * x
        return self.mlp(h + agg)

    def __repr__(self) -> str:
        return f"GINEConv({self.in_channels}, {self.out_channels})"


class GIN(nn.Module):
    r"""Graph-level GIN / GINE (OGB's ``GNN`` with ``gnn_type='gin'``, optional virtual node).

    Args:
        in_channels (int): node feature size (or number of categories for ``'embedding'``).
        hidden_channels (int): :math:`d`.
        out_channels (int): outputs (classes or tasks).
        num_layers (int): GIN layers. (default: ``5``)
        dropout (float): after every layer. (default: ``0.5``)
        readout (str): ``'add'``, ``'mean'`` or ``'max'``. (default: ``'mean'``, OGB)
        edge_dim (int, optional): edge feature size -> GINE layers; :obj:`None` -> GIN.
        node_encoder (str): ``'linear'``, ``'atom'`` (OGB atom features, int codes) or
            ``'embedding'`` (one int code per node). (default: ``'linear'``)
        edge_encoder (str): ``'linear'`` or ``'bond'`` (OGB bond features). (default: ``'linear'``)
        virtual_node (bool): add a virtual node. (default: :obj:`False`)
        train_eps (bool, optional): learn :math:`\epsilon` (default: GIN no, GINE yes).
        mlp_ratio (int): MLP hidden = ``mlp_ratio * d`` (OGB: 2, Xu et al.: 1). (default: ``2``)
        jk (str): ``'last'`` or ``'sum'`` of all layer outputs. (default: ``'last'``)

    Attributes:
        fuse_layers (bool): in training mode on the CPU, run each GIN layer with its BatchNorm
            (+ ReLU) as one autograd node (:mod:`gnnkit.nn._gin_fused`: same outputs and
            gradients, the Linear biases before a BatchNorm get their exact zero gradient);
            ``False`` runs the modules one by one. (default: :obj:`True`)

    Shapes: ``x [N, F]`` (float, or int64 codes for the embedding encoders), graph (a batch),
    ``batch [N]``, ``edge_attr [E, F_e]`` -> ``[B, out_channels]``.

    >>> import torch
    >>> from gnnkit.data.graph_datasets import decalin
    >>> GIN(1, 16, 2, num_layers=2).eval()(torch.ones(10, 1), decalin()).shape
    torch.Size([1, 2])
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 5,
                 dropout: float = 0.5, readout: str = "mean", edge_dim: int | None = None,
                 node_encoder: str = "linear", edge_encoder: str = "linear",
                 virtual_node: bool = False, train_eps: bool | None = None, mlp_ratio: int = 2,
                 jk: str = "last"):
        super().__init__()
        check_positive_int("GIN", hidden_channels=hidden_channels, out_channels=out_channels,
                           num_layers=num_layers, mlp_ratio=mlp_ratio)
        if readout not in ("add", "mean", "max"):
            raise ValueError(f"GIN: readout must be 'add', 'mean' or 'max', got {readout!r}")
        if jk not in ("last", "sum"):
            raise ValueError(f"GIN: jk must be 'last' or 'sum', got {jk!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"GIN: dropout must be in [0, 1), got {dropout!r}")
        d = hidden_channels
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, d, out_channels
        self.num_layers, self.dropout, self.readout, self.jk = num_layers, dropout, readout, jk
        self.edge_dim, self.virtual_node = edge_dim, virtual_node
        self.node_encoder = make_node_encoder(node_encoder, in_channels, d)
        conv_cls = GINConv if edge_dim is None else GINEConv
        eps = (edge_dim is not None) if train_eps is None else train_eps
        self.convs = nn.ModuleList(conv_cls(d, d, mlp_ratio * d, train_eps=eps)
                                   for _ in range(num_layers))
        self.edge_encoders = nn.ModuleList(make_edge_encoder(edge_encoder, edge_dim, d)
                                           for _ in range(num_layers)) if edge_dim is not None else None
        # BN then ReLU (except after the last layer), fused; same state-dict keys as nn.BatchNorm1d
        self.bns = nn.ModuleList(BatchNormReLU(d, relu=i < num_layers - 1) for i in range(num_layers))
        if virtual_node:
            self.vn_emb = nn.Embedding(1, d)
            self.vn_mlps = nn.ModuleList(
                nn.Sequential(nn.Linear(d, 2 * d), BatchNormReLU(2 * d), nn.Identity(),
                              nn.Linear(2 * d, d), BatchNormReLU(d), nn.Identity())
                for _ in range(num_layers - 1))
        self.head = nn.Linear(d, out_channels)
        self.fuse_layers = True
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset(self)
        if self.virtual_node:
            nn.init.zeros_(self.vn_emb.weight)      # OGB initialises the virtual node to 0

    def forward(self, x: Tensor, graph, batch: Tensor | None = None, num_graphs: int | None = None,
                edge_attr: Tensor | None = None) -> Tensor:
        if self.edge_dim is not None and edge_attr is None:
            raise ValueError("GIN: this model was built with edge_dim (GINE); pass edge_attr")
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
        h = self.node_encoder(x)
        vn = self.vn_emb.weight.expand(num_graphs, -1) if self.virtual_node else None
        hs = []
        for i in range(self.num_layers):
            if vn is not None:
                h = h + vn[batch]
            e = self.edge_encoders[i](edge_attr) if self.edge_encoders is not None else None
            h_in = h
            if (self.fuse_layers and type(self.convs[i]) is GINConv
                    and can_fuse(self.convs[i], self.bns[i], h, graph)):
                h = gin_layer(self.convs[i], self.bns[i], h, graph)
            else:
                h = self.bns[i](self.convs[i](h, graph, e))  # BN, then ReLU except after the last layer
            h = _utils.dropout(h, self.dropout, self.training)
            if vn is not None and i < self.num_layers - 1:
                z = global_pool(h_in, batch, "add", num_graphs) + vn
                vn = _utils.dropout(self.vn_mlps[i](z), self.dropout, self.training)
            hs.append(h)
        h = hs[-1] if self.jk == "last" else torch.stack(hs).sum(0)
        return self.head(global_pool(h, batch, self.readout, num_graphs))

    def __repr__(self) -> str:
        kind = "GINE" if self.edge_dim is not None else "GIN"
        vn = ", virtual_node=True" if self.virtual_node else ""
        return (f"{kind}({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers}{vn})")
