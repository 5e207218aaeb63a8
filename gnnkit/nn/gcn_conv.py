r"""Graph convolution of Kipf & Welling (ICLR 2017) and its normalisation, :func:`gcn_norm`."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gnnkit.graph import Graph, GraphError
from gnnkit.nn import _utils
from gnnkit.nn._layer import ChannelLayer
from gnnkit.ops import spmm

__all__ = ["GCNConv", "gcn_norm"]


def gcn_norm(graph, edge_weight: Tensor | None = None, improved: bool = False,
             add_self_loops: bool = True, dtype: torch.dtype | None = None):
    r"""The GCN propagation matrix :math:`\hat D^{-1/2} \hat A \hat D^{-1/2}` as a weighted graph.

    With :math:`\hat A = A + \lambda I` (:math:`\lambda = 2` when ``improved``, else 1; loops
    only where none exists, PyG ``add_remaining_self_loops``) and :math:`\hat d_i` the weighted
    in-degree, the weight of arc :math:`j \to i` becomes
    :math:`\hat w_{ji} = w_{ji} / \sqrt{\hat d_j \hat d_i}` (in-degrees on both sides, exactly
    PyG's ``gcn_norm`` and :meth:`gnnkit.Graph.normalize` ``('sym')``).

    **Blocks** (:class:`gnnkit.block.Block`, bipartite sampled sub-graphs whose destinations
    are the first sources):

    * a block that carries ``src_degree`` (every sampler block does) is normalised with these
      **full-graph** degrees :math:`d` (arc counts in the block's direction).  For a
      destination :math:`i` of which :math:`k_i` of the :math:`d_i` in-arcs were sampled, and
      :math:`\hat d = d + \lambda`,

      .. math::
          \hat w_{ji} = \frac{d_i}{k_i} \frac{w_{ji}}{\sqrt{\hat d_j \hat d_i}}, \qquad
          \hat w_{ii} = \frac{\lambda}{\hat d_i},

      the Horvitz-Thompson (for uniform sampling unbiased) estimate of the full-graph GCN
      aggregation; with all neighbours (:math:`k_i = d_i`) it is exact.  The loop is appended
      at the end of every destination row.  Assumptions: the graph has no self loops (a loop
      would count as an ordinary arc and get a second one), and degrees are arc counts, so on
      a weighted graph the weights enter the messages but not the degrees.
    * a block without ``src_degree`` (e.g. built by hand) uses its own degrees: loops are added
      for the ``N_dst`` destinations where none exists, a destination uses its in-degree in the
      block and a source its out-degree in the block (DGL's ``GraphConv(norm='both')`` on
      blocks).  For a block that holds the whole of a *symmetric* graph both degrees coincide
      with the full-graph degree.

    Args:
        graph (Graph or Block): the graph (or anything :func:`gnnkit.nn._utils.as_graph`
            accepts).
        edge_weight (Tensor, optional): ``[E]`` weights overriding the graph's. (default: :obj:`None`)
        improved (bool, optional): use :math:`\lambda = 2`. (default: :obj:`False`)
        add_self_loops (bool, optional): add the self loops (:math:`\lambda = 0` otherwise).
            (default: :obj:`True`)
        dtype (torch.dtype, optional): weight dtype. (default: the weights' dtype or the
            default float dtype)

    Returns:
        a graph of the same kind with the normalised ``edge_weight``.

    >>> g = Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]]))
    >>> gcn_norm(g).edge_weight
    tensor([0.5000, 0.5000, 0.5000, 0.5000])
    >>> gcn_norm(g, improved=True).edge_weight
    tensor([0.6667, 0.3333, 0.3333, 0.6667])
    """
    fill = (2.0 if improved else 1.0) if add_self_loops else 0.0
    g = _utils.as_graph(graph, edge_weight=edge_weight, where="gcn_norm")
    if isinstance(g, Graph):
        if fill:
            g = g.add_self_loops(fill, remaining=True)
        return g.normalize("sym", add_self_loops=False, dtype=dtype)
    if dtype is None:
        dtype = torch.get_default_dtype() if g.edge_weight is None else g.edge_weight.dtype
    if g.src_degree is None:
        if fill:
            g = g.add_self_loops(fill, remaining=True)
        w, src, dst = _arcs(g, dtype)
        deg_dst = torch.zeros(g.num_nodes, dtype=dtype, device=src.device).index_add_(0, dst, w)
        deg_src = torch.zeros(g.num_src_nodes, dtype=dtype, device=src.device).index_add_(0, src, w)
        return g.with_edge_weight(_inv_sqrt(deg_src)[src] * w * _inv_sqrt(deg_dst)[dst])
    # full-graph degrees carried by the block (see the docstring)
    n = g.num_nodes
    w, src, dst = _arcs(g, dtype)
    deg = g.src_degree.to(dtype)
    k = g.in_degree().to(dtype)
    inv = _inv_sqrt(deg + fill)
    scale = torch.where(k > 0, deg[:n] / k.clamp_min(1.0), torch.zeros_like(k)) * inv[:n]
    g = g.with_edge_weight(inv[src] * w * scale[dst])
    return g.add_self_loops(fill * inv[:n].square(), remaining=False) if fill else g


def _arcs(g, dtype):
    """``(w, src, dst)`` of a block: weights in ``dtype`` (1 when unweighted, checked >= 0) and
    int64 source/destination of every arc."""
    src, dst = g.indices.to(torch.int64), g.dst_index()
    w = g.edge_weight
    w = torch.ones(src.numel(), dtype=dtype, device=src.device) if w is None else w.to(dtype)
    if bool((w < 0).any()):
        raise GraphError("gcn_norm: negative edge weights give negative degrees")
    return w, src, dst


def _inv_sqrt(d: Tensor) -> Tensor:
    """:math:`d^{-1/2}`, 0 where :math:`d = 0` (isolated nodes get no message, never inf)."""
    return torch.where(d > 0, d.clamp_min(torch.finfo(d.dtype).tiny).rsqrt(), torch.zeros_like(d))


class GCNConv(ChannelLayer):
    r"""The graph convolutional operator from `"Semi-supervised Classification with Graph
    Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_ (Kipf & Welling, ICLR 2017).

    .. math::
        \mathbf{X}' = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2}
        \mathbf{X} \mathbf{\Theta} + \mathbf{b}

    node-wise

    .. math::
        \mathbf{x}'_i = \mathbf{\Theta}^{\top} \sum_{j \in \mathcal{N}(i) \cup \{ i \}}
        \frac{w_{ji}}{\sqrt{\hat{d}_j \hat{d}_i}} \mathbf{x}_j + \mathbf{b}

    where :math:`\hat{\mathbf{A}} = \mathbf{A} + \mathbf{I}` (:math:`2\mathbf{I}` when
    ``improved``), :math:`\hat{d}_i = 1 + \sum_{j \to i} w_{ji}` and :math:`w_{ji}` the arc weight
    (default 1).  Propagation is ``gnnkit.ops.spmm(normalized_graph, x @ W)``.  The layer does
    not apply an activation.  For a directed graph messages flow along the arcs ``j -> i`` and
    both degrees are in-degrees (PyG's ``gcn_norm``), see :func:`gcn_norm`.

    Args:
        in_channels (int): input size :math:`F_{in}`.
        out_channels (int): output size :math:`F_{out}`.
        improved (bool, optional): :math:`\hat A = A + 2I`. (default: :obj:`False`)
        cached (bool, optional): compute the normalised graph on the first call and reuse it
            for every later call, whatever graph is passed (transductive learning only; the
            cache is cleared by :meth:`reset_parameters`). Independently of this flag, the layer
            re-uses the normalisation while it is called with the *same* (immutable)
            :class:`gnnkit.Graph` object. (default: :obj:`False`)
        add_self_loops (bool, optional): add the remaining self loops. (default: :obj:`None`:
            equal to ``normalize``)
        normalize (bool, optional): apply the symmetric normalisation; otherwise propagate with
            the raw arc weights. (default: :obj:`True`)
        bias (bool, optional): learn an additive bias. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})` (for a block
          :math:`(N_{src}, F_{in})`), a :class:`gnnkit.Graph` / block, or an ``edge_index``
          :math:`(2, |\mathcal{E}|)` with optional ``edge_weight`` :math:`(|\mathcal{E}|)`, or a PyG
          ``Data``
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})` (for a block
          :math:`(N_{dst}, F_{out})`)

    >>> conv = GCNConv(16, 32)
    >>> conv
    GCNConv(16, 32)
    >>> g = Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    >>> conv(torch.randn(3, 16), g).shape
    torch.Size([3, 32])
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 cached: bool = False, add_self_loops: bool | None = None, normalize: bool = True,
                 bias: bool = True):
        super().__init__(in_channels, out_channels)
        name = type(self).__name__
        _utils.check_positive_int(name, in_channels=in_channels, out_channels=out_channels)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError(f"'{name}' does not support adding self-loops to the graph when no "
                             "on-the-fly normalization is applied (normalize=False)")
        if improved and not add_self_loops:
            raise ValueError(f"'{name}': improved=True puts 2 on the diagonal and needs "
                             "add_self_loops=True")
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        _utils.register_bias(self, out_channels, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _utils.glorot(self.lin.weight)
        _utils.zeros(self.bias)
        self._cached_graph = None
        self._memo = (None, None)

    def _propagation_graph(self, g, dtype):
        if self.cached and self._cached_graph is not None:
            return self._cached_graph
        key, adj = self._memo
        if key is not g:
            if self.normalize:
                adj = gcn_norm(g, improved=self.improved, add_self_loops=self.add_self_loops,
                               dtype=dtype)
            else:
                adj = g
            # Graphs are immutable, so the derived graph can be re-used for the same object.
            self._memo = (g, adj)
        if self.cached:
            self._cached_graph = adj
        return adj

    def forward(self, x: Tensor, graph, edge_weight: Tensor | None = None,
                num_nodes: int | None = None) -> Tensor:
        """``x [N_src, F_in]`` and a graph (see the class docstring) -> ``[N_dst, F_out]``."""
        name = type(self).__name__
        _utils.check_features(name, x, self.in_channels)
        g = _utils.as_graph(graph, x.size(0) if num_nodes is None else num_nodes, edge_weight,
                            where=name)
        if self.cached and _utils.is_block(g):
            raise ValueError(f"'{name}' with cached=True does not support bipartite blocks (every "
                             "mini-batch has a different block); use cached=False")
        adj = self._propagation_graph(g, x.dtype)
        out = spmm(adj, self.lin(x))
        if self.bias is not None:
            out = out + self.bias
        return out
