r"""Mini-batch GNNs on sampled blocks or full graphs: GCN, GAT, GraphSAGE and Dir-GNN.

:class:`MiniBatchGNN` is a :class:`gnnkit.nn.models._ConvStack` (conv, then ReLU and dropout
between layers; no dropout on the raw features) whose layers run either on the blocks of a sampled
mini-batch (layer :math:`\ell` maps the ``num_src_nodes`` rows of block :math:`\ell` to its
``num_dst_nodes`` rows, the sources of block :math:`\ell + 1`) or on a whole graph with the
**same parameters**.  With all neighbours (fan-outs ``-1``) both give the seeds the same
outputs, which the tests check for every kind.

* ``'sage'``: :class:`gnnkit.nn.SAGEConv` (mean aggregation, PyG semantics).
* ``'gcn'``: :class:`gnnkit.nn.GCNConv` (Kipf & Welling 2017); on a sampled block
  :func:`gnnkit.nn.gcn_norm` uses the **full-graph** degrees the block carries (``src_degree``),
  so that a block with all neighbours reproduces full-batch GCN exactly.
* ``'gat'``: :class:`gnnkit.nn.GATConv` (Veličković et al. 2018), ``heads`` concatenated in hidden
  layers, one head in the output layer.
* ``'dir-sage'``: Dir-GNN (Rossi et al., "Edge Directionality Improves Learning on Heterophilic
  Graphs", LoG 2023, https://arxiv.org/abs/2305.10498) over SAGE, as PyG's ``DirGNNConv``:
  :math:`\mathbf{x}'_i = \alpha\, \mathrm{SAGE}_{out}(\mathbf{x})_i +
  (1 - \alpha)\, \mathrm{SAGE}_{in}(\mathbf{x})_i + \mathbf{W}\mathbf{x}_i`; its layer graph is a
  pair ``(in_block, out_block)`` (a directed loader's ``batch.graph``) or a full graph.
"""
from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from gnnkit.nn.gat_conv import GATConv
from gnnkit.nn.gcn_conv import GCNConv
from gnnkit.nn.models import _check_depth, _ConvStack
from gnnkit.nn.sage_conv import SAGEConv

__all__ = ["MiniBatchGNN", "KINDS"]

KINDS = ("gcn", "gat", "sage", "dir-sage")


class _DirSAGE(nn.Module):
    """One Dir-GNN layer over SAGE (PyG ``DirGNNConv(SAGEConv, alpha, root_weight=True)``) on a
    pair ``(in_graph, out_graph)`` or on a graph (its reverse is built once and memoised)."""

    def __init__(self, in_channels: int, out_channels: int, alpha: float):
        super().__init__()
        self.alpha = alpha
        self.conv_in = SAGEConv(in_channels, out_channels, root_weight=False)
        self.conv_out = SAGEConv(in_channels, out_channels, root_weight=False)
        self.lin = nn.Linear(in_channels, out_channels)
        self._memo = (None, None)

    def reset_parameters(self) -> None:
        for m in (self.conv_in, self.conv_out, self.lin):
            m.reset_parameters()

    def forward(self, x, graph):
        if isinstance(graph, tuple):
            g_in, g_out = graph
            if g_out is None:
                raise ValueError("MiniBatchGNN('dir-sage') needs out_blocks: sample with directed=True")
        else:
            if self._memo[0] is not graph:
                self._memo = (graph, graph.reverse())
            g_in, g_out = graph, self._memo[1]
        n = g_in.num_nodes
        return (self.alpha * self.conv_out(x, g_out) + (1 - self.alpha) * self.conv_in(x, g_in)
                + self.lin(x[:n]))


class MiniBatchGNN(_ConvStack):
    r"""A ``num_layers``-layer GCN / GAT / GraphSAGE / Dir-GNN for sampled mini-batches.

    Layers are ``conv -> ReLU -> dropout`` except the last (no activation): the
    :class:`~gnnkit.nn.models._ConvStack` loop with ``input_dropout = False``.  See the module
    docstring for the kinds.

    Args:
        kind (str): ``'gcn'``, ``'gat'``, ``'sage'`` or ``'dir-sage'``.
        in_channels (int): input size.
        hidden_channels (int): hidden size (per head for GAT).
        out_channels (int): output size (classes).
        num_layers (int, optional): number of layers :math:`L` (use ``L`` fan-outs).
            (default: :obj:`2`)
        dropout (float, optional): dropout between layers. (default: :obj:`0.5`)
        heads (int, optional): GAT heads of the hidden layers. (default: :obj:`8`)
        alpha (float, optional): Dir-GNN weight of the out-direction. (default: :obj:`0.5`)

    Shapes:
        ``forward(x, blocks)``: ``x`` :math:`(N_{src}(\text{blocks}[0]), F_{in})` ->
        :math:`(B, F_{out})`; ``forward(x, graph)`` / ``full_forward``: :math:`(N, F_{in})` ->
        :math:`(N, F_{out})`.

    >>> import torch, gnnkit
    >>> from gnnkit.sampling import sample_neighbors
    >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    >>> model = MiniBatchGNN("sage", 4, 8, 3).eval()
    >>> s = sample_neighbors(g, [1], [-1, -1], seed=0)
    >>> x = torch.randn(3, 4)
    >>> torch.allclose(model(x[s.n_id], s.blocks), model.full_forward(x, g)[[1]], atol=1e-6)
    True
    """

    activation = staticmethod(F.relu)
    # conv -> ReLU -> dropout between layers, none on the raw features (PyG's GraphSAGE, and a
    # sampled first layer's input is the largest tensor of the step: [N_src, F_in])
    input_dropout = False

    def __init__(self, kind: str, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5, heads: int = 8, alpha: float = 0.5):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"MiniBatchGNN: kind must be one of {KINDS}, got {kind!r}")
        _check_depth("MiniBatchGNN", num_layers, dropout)
        self.kind, self.num_layers, self.dropout = kind, num_layers, dropout
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.convs = nn.ModuleList()
        for layer in range(num_layers):
            last = layer == num_layers - 1
            fin = in_channels if layer == 0 else (hidden_channels * heads if kind == "gat" else hidden_channels)
            fout = out_channels if last else hidden_channels
            if kind == "sage":
                self.convs.append(SAGEConv(fin, fout))
            elif kind == "gcn":
                self.convs.append(GCNConv(fin, fout))
            elif kind == "gat":
                self.convs.append(GATConv(fin, fout, heads=1 if last else heads, concat=not last))
            else:
                self.convs.append(_DirSAGE(fin, fout, alpha))

    def forward(self, x: Tensor, blocks, out_blocks=None) -> Tensor:
        """Run on sampled blocks (input layer first; ``x`` holds the features of
        ``blocks[0].n_id``) or on a whole graph.  ``blocks`` may also be a
        :class:`~gnnkit.sampling.NeighborSample`, or for ``'dir-sage'`` a list of
        ``(in_block, out_block)`` pairs (a directed loader's ``batch.graph``)."""
        if hasattr(blocks, "blocks") and hasattr(blocks, "out_blocks"):
            blocks, out_blocks = blocks.blocks, blocks.out_blocks
        if not isinstance(blocks, (list, tuple)):
            return super().forward(x, blocks)
        if len(blocks) != self.num_layers:
            raise ValueError(f"MiniBatchGNN: got {len(blocks)} blocks for {self.num_layers} layers; sample "
                             f"with {self.num_layers} fan-outs")
        first = blocks[0][0] if isinstance(blocks[0], tuple) else blocks[0]
        if x.size(0) != first.num_src_nodes:
            raise ValueError(f"MiniBatchGNN: x has {x.size(0)} rows but blocks[0] has "
                             f"{first.num_src_nodes} source nodes")
        if self.kind == "dir-sage" and not isinstance(blocks[0], tuple):
            if out_blocks is None:
                raise ValueError("MiniBatchGNN('dir-sage') needs out_blocks: sample with directed=True")
            blocks = list(zip(blocks, out_blocks))
        return super().forward(x, list(blocks))

    def full_forward(self, x: Tensor, graph) -> Tensor:
        """Full-batch forward on the whole graph with the same parameters."""
        return super().forward(x, graph)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.kind!r}, {self.in_channels}, {self.hidden_channels}, "
                f"{self.out_channels}, num_layers={self.num_layers})")
