r"""Mini-batch GNN runners on sampled blocks: GCN, GAT, GraphSAGE and Dir-GNN.

:class:`MiniBatchGNN` stacks ``num_layers`` convolutions and runs them either on the blocks of a
:class:`~gnnkit.sampling.NeighborSample` (``forward``; layer :math:`\ell` maps the
``num_src_nodes`` rows of block :math:`\ell` to its ``num_dst_nodes`` rows, which are the sources
of block :math:`\ell + 1`) or on a whole graph (``full_forward``) with the **same parameters**.
With all neighbours (fan-outs ``-1``) both give the seeds the same outputs, which the tests
check for every kind.

* ``'sage'``: :class:`gnnkit.nn.SAGEConv` (mean aggregation, PyG semantics).
* ``'gcn'``: :class:`gnnkit.nn.GCNConv` (Kipf & Welling 2017); on a sampled block
  :func:`gnnkit.nn.gcn_norm` uses the **full-graph** degrees the block carries (``src_degree``),
  so that a block with all neighbours reproduces full-batch GCN exactly.
* ``'gat'``: :class:`gnnkit.nn.GATConv` (Veličković et al. 2018), ``heads`` concatenated in hidden
  layers, one head in the output layer.
* ``'dir-sage'``: Dir-GNN (Rossi et al., "Edge Directionality Improves Learning on Heterophilic
  Graphs", LoG 2023, https://arxiv.org/abs/2305.10498) over SAGE, as PyG's ``DirGNNConv``:
  :math:`\mathbf{x}'_i = \alpha\, \mathrm{SAGE}_{out}(\mathbf{x})_i +
  (1 - \alpha)\, \mathrm{SAGE}_{in}(\mathbf{x})_i + \mathbf{W}\mathbf{x}_i`; needs the
  ``out_blocks`` of ``sample_neighbors(..., directed=True)``.
"""
from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from gnnkit.graph import Graph

__all__ = ["MiniBatchGNN", "KINDS"]

KINDS = ("gcn", "gat", "sage", "dir-sage")


class _DirSAGE(nn.Module):
    """One Dir-GNN layer over SAGE (PyG ``DirGNNConv(SAGEConv, alpha, root_weight=True)``)."""

    def __init__(self, in_channels: int, out_channels: int, alpha: float):
        super().__init__()
        from gnnkit.nn.sage_conv import SAGEConv

        self.alpha = alpha
        self.conv_in = SAGEConv(in_channels, out_channels, root_weight=False)
        self.conv_out = SAGEConv(in_channels, out_channels, root_weight=False)
        self.lin = nn.Linear(in_channels, out_channels)

    def forward(self, x, g_in, g_out):
        n = g_in.num_nodes
        return (self.alpha * self.conv_out(x, g_out) + (1 - self.alpha) * self.conv_in(x, g_in)
                + self.lin(x[:n]))


class MiniBatchGNN(nn.Module):
    r"""A ``num_layers``-layer GCN / GAT / GraphSAGE / Dir-GNN for sampled mini-batches.

    Layers are ``conv -> ReLU -> dropout`` except the last (no activation).  See the module
    docstring for the four kinds and the references.

    Args:
        kind (str): ``'gcn'``, ``'gat'``, ``'sage'`` or ``'dir-sage'``.
        in_channels (int): input size.
        hidden_channels (int): hidden size (per head for GAT).
        out_channels (int): output size (classes).
        num_layers (int, optional): number of layers :math:`L` (use ``L`` fan-outs).
            (default: :obj:`2`)
        dropout (float, optional): feature dropout between layers. (default: :obj:`0.5`)
        heads (int, optional): GAT heads of the hidden layers. (default: :obj:`8`)
        alpha (float, optional): Dir-GNN weight of the out-direction. (default: :obj:`0.5`)

    Shapes:
        ``forward(x, blocks)``: ``x`` :math:`(N_{src}(\text{blocks}[0]), F_{in})` ->
        :math:`(B, F_{out})`; ``full_forward(x, graph)``: :math:`(N, F_{in})` -> :math:`(N, F_{out})`.

    >>> import torch, gnnkit
    >>> from gnnkit.sampling import sample_neighbors
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    >>> model = MiniBatchGNN("sage", 4, 8, 3).eval()
    >>> s = sample_neighbors(g, [1], [-1, -1], seed=0)
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(model(x[s.n_id], s.blocks), model.full_forward(x, g)[[1]], atol=1e-6)
    True
    """

    def __init__(self, kind: str, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5, heads: int = 8, alpha: float = 0.5):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"MiniBatchGNN: kind must be one of {KINDS}, got {kind!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"MiniBatchGNN: num_layers must be a positive int, got {num_layers!r}")
        self.kind, self.num_layers, self.dropout = kind, num_layers, dropout
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.convs = nn.ModuleList()
        for layer in range(num_layers):
            last = layer == num_layers - 1
            fin = in_channels if layer == 0 else (hidden_channels * heads if kind == "gat" else hidden_channels)
            fout = out_channels if last else hidden_channels
            if kind == "sage":
                from gnnkit.nn.sage_conv import SAGEConv

                self.convs.append(SAGEConv(fin, fout))
            elif kind == "gcn":
                from gnnkit.nn import GCNConv

                self.convs.append(GCNConv(fin, fout))
            elif kind == "gat":
                from gnnkit.nn import GATConv

                self.convs.append(GATConv(fin, fout, heads=1 if last else heads, concat=not last))
            else:
                self.convs.append(_DirSAGE(fin, fout, alpha))

    def reset_parameters(self) -> None:
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def _layers(self, x, graphs_in, graphs_out):
        for layer, conv in enumerate(self.convs):
            if self.kind == "dir-sage":
                x = conv(x, graphs_in[layer], graphs_out[layer])
            else:
                x = conv(x, graphs_in[layer])
            if layer < self.num_layers - 1:
                x = F.dropout(F.relu(x), p=self.dropout, training=self.training)
        return x

    def forward(self, x: Tensor, blocks, out_blocks=None) -> Tensor:
        """Run on sampled blocks (input layer first); ``x`` holds the features of
        ``blocks[0].n_id``.  A :class:`~gnnkit.sampling.NeighborSample` may be passed as
        ``blocks``."""
        if hasattr(blocks, "blocks"):
            blocks, out_blocks = blocks.blocks, blocks.out_blocks
        if len(blocks) != self.num_layers:
            raise ValueError(f"MiniBatchGNN: got {len(blocks)} blocks for {self.num_layers} layers; sample "
                             f"with {self.num_layers} fan-outs")
        if x.size(0) != blocks[0].num_src_nodes:
            raise ValueError(f"MiniBatchGNN: x has {x.size(0)} rows but blocks[0] has "
                             f"{blocks[0].num_src_nodes} source nodes")
        if self.kind == "dir-sage" and out_blocks is None:
            raise ValueError("MiniBatchGNN('dir-sage') needs out_blocks: sample with directed=True")
        return self._layers(x, blocks, out_blocks)

    def full_forward(self, x: Tensor, graph: Graph) -> Tensor:
        """Full-batch forward on the whole graph with the same parameters."""
        g_out = graph.reverse() if self.kind == "dir-sage" else None
        n = self.num_layers
        return self._layers(x, [graph] * n, [g_out] * n)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.kind!r}, {self.in_channels}, {self.hidden_channels}, "
                f"{self.out_channels}, num_layers={self.num_layers})")
