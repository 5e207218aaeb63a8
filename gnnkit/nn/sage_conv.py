r"""GraphSAGE convolution (Hamilton, Ying & Leskovec, NeurIPS 2017) with PyG's semantics."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gnnkit.graph import Graph
from gnnkit.nn import _utils
from gnnkit.nn._layer import ChannelLayer
from gnnkit.nn._sage_fused import sage_mean_root
from gnnkit.ops import spmm

__all__ = ["SAGEConv"]

_AGGRS = ("mean", "sum", "max", "min")


def _unweighted(g):
    """The same arcs without weights (SAGEConv ignores arc weights, as PyG's)."""
    return g if g.edge_weight is None else g.with_edge_weight(None)


class SAGEConv(ChannelLayer):
    r"""The GraphSAGE operator from `"Inductive Representation Learning on Large Graphs"
    <https://arxiv.org/abs/1706.02216>`_ (Hamilton et al., NeurIPS 2017).

    .. math::
        \mathbf{X}' = \mathbf{X} \mathbf{W}_1 + (\mathbf{D}^{-1} \mathbf{A}^\top \mathbf{X})
        \mathbf{W}_2 + \mathbf{b}

    node-wise (``aggr='mean'``)

    .. math::
        \mathbf{x}'_i = \mathbf{W}_1 \mathbf{x}_i + \mathbf{W}_2 \cdot
        \mathrm{mean}_{j \in \mathcal{N}(i)} \mathbf{x}_j + \mathbf{b}

    where :math:`\mathcal{N}(i) = \{j : j \to i\}` are the in-neighbours (every parallel arc
    counts); a node without in-arcs aggregates 0.  This is PyG's ``SAGEConv`` (``lin_r`` =
    :math:`W_1` without bias, ``lin_l`` = :math:`W_2` with the bias); arc weights are ignored,
    as there.  Optionally the output is L2-normalised (``normalize``).  The layer does not apply
    an activation.  For a directed graph it aggregates along the arcs only; see Dir-GNN for
    both directions.  For ``'mean'``/``'sum'`` it applies :math:`\mathbf{W}_2` before or after
    aggregating, whichever costs fewer flops (same result up to rounding).  When it aggregates
    first (mean/sum) on one feature tensor, the step runs as one autograd node
    (:mod:`gnnkit.nn._sage_fused`: the root term accumulates into the GEMM, and the slice
    ``x[:N_dst]`` gets no zero-filled full-size gradient).

    On a sampled bipartite block (:class:`gnnkit.sampling.Block`) the destination nodes are the
    first ``N_dst`` source nodes, so :math:`\mathbf{x}_i` is ``x[:N_dst]``; a pair
    ``(x_src, x_dst)`` may also be passed.  ``x`` may be stored in bf16 / fp16 while the weights are
    fp32 ("bf16 feature storage"): it is then aggregated in its storage dtype (the spmm kernels
    accumulate in fp32, halving the bytes gathered per arc) and cast to the weights' dtype
    before the linear maps.

    Args:
        in_channels (int or tuple): input size :math:`F_{in}`, or ``(F_src, F_dst)``.
        out_channels (int): output size :math:`F_{out}`.
        aggr (str, optional): ``'mean'``, ``'sum'``, ``'max'`` or ``'min'``. (default: :obj:`'mean'`)
        normalize (bool, optional): L2-normalise every output row. (default: :obj:`False`)
        root_weight (bool, optional): add :math:`\mathbf{W}_1 \mathbf{x}_i`. (default: :obj:`True`)
        bias (bool, optional): learn :math:`\mathbf{b}`. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})` (block: :math:`(N_{src}, F_{in})`,
          or a pair :math:`((N_{src}, F_{src}), (N_{dst}, F_{dst}))`), a :class:`gnnkit.Graph`, a
          block, an ``edge_index`` :math:`(2, |\mathcal{E}|)` or a PyG ``Data``
        - **output:** :math:`(|\mathcal{V}|, F_{out})` (block: :math:`(N_{dst}, F_{out})`)

    >>> conv = SAGEConv(16, 32)
    >>> conv
    SAGEConv(16, 32, aggr=mean)
    >>> g = Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    >>> conv(torch.randn(3, 16), g).shape
    torch.Size([3, 32])
    """

    def __init__(self, in_channels, out_channels: int, aggr: str = "mean", normalize: bool = False,
                 root_weight: bool = True, bias: bool = True):
        super().__init__(in_channels, out_channels)
        name = type(self).__name__
        src_ch, dst_ch = (in_channels, in_channels) if isinstance(in_channels, int) else tuple(in_channels)
        for ch in (src_ch, dst_ch):
            _utils.check_positive_int(name, " (or a pair of them)", in_channels=ch,
                                      out_channels=out_channels)
        if aggr not in _AGGRS:
            raise ValueError(f"{name}: aggr must be one of {_AGGRS}, got {aggr!r}")
        self.aggr = aggr
        self.normalize = normalize
        self.root_weight = root_weight
        self.lin_l = nn.Linear(src_ch, out_channels, bias=bias)
        if root_weight:
            self.lin_r = nn.Linear(dst_ch, out_channels, bias=False)
        else:
            self.register_module("lin_r", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyG's Linear initialisation (kaiming_uniform with a = sqrt(5), i.e. torch's default)
        self.lin_l.reset_parameters()
        if self.lin_r is not None:
            self.lin_r.reset_parameters()

    def forward(self, x, graph, num_nodes: int | None = None) -> Tensor:
        """``x [N_src, F_in]`` (or ``(x_src, x_dst)``) and a graph -> ``[N_dst, F_out]``."""
        name = type(self).__name__
        if isinstance(x, (tuple, list)):
            x_src, x_dst = x
        else:
            x_src, x_dst = x, None
        _utils.check_features(name, x_src, self.lin_l.in_features)
        g = _unweighted(_utils.as_graph(graph, x_src.size(0) if num_nodes is None else num_nodes,
                                        where=name))
        n_dst = g.num_nodes
        if x_dst is None:
            x_dst = x_src[:n_dst]
        elif x_dst.dim() != 2 or x_dst.size(0) != n_dst:
            raise ValueError(f"{name}: x_dst must have shape [{n_dst}, F], got {tuple(x_dst.shape)}")
        # mean/sum commute with the linear map: transform first only when that is cheaper
        # (N_src F_in F_out + E F_out vs E F_in + N_dst F_in F_out; blocks have N_src >> N_dst)
        fin, fout, E = self.lin_l.in_features, self.out_channels, g.indices.numel()
        first = x_src.size(0) * fin * fout + E * fout < E * fin + n_dst * fin * fout
        wdt = self.lin_l.weight.dtype
        fused = (self.aggr in ("mean", "sum") and not first and self.lin_r is not None
                 and not isinstance(x, (tuple, list)) and x_src.dtype == wdt
                 and x_src.layout == torch.strided and not torch.is_autocast_enabled(x_src.device.type))
        if fused:
            # one autograd node: root term accumulated into the GEMM, no zero-filled slice gradient
            out = sage_mean_root(x_src, g, self.lin_l.weight, self.lin_l.bias, self.lin_r.weight, self.aggr)
        else:
            if self.aggr in ("mean", "sum") and first:
                out = spmm(g, F.linear(x_src.to(wdt), self.lin_l.weight), reduce=self.aggr)
            else:
                # low-precision features (e.g. bf16 storage) are aggregated as they are -- the
                # kernels accumulate in fp32 -- and the mean enters the linear map in its dtype
                out = F.linear(spmm(g, x_src, reduce=self.aggr).to(wdt), self.lin_l.weight)
            if self.lin_r is not None:
                # the bias rides on the root GEMM (one add of the two terms instead of two)
                out = out + F.linear(x_dst.to(wdt), self.lin_r.weight, self.lin_l.bias)
            elif self.lin_l.bias is not None:
                out = out + self.lin_l.bias
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    def extra_repr_items(self) -> str:
        return f"aggr={self.aggr}"
