r"""Deep Adaptive Graph Neural Network propagation (Liu, Gao & Ji, KDD 2020)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn.gcn_conv import gcn_norm
from gnnkit.ops import spmm

__all__ = ["DAGNNConv", "dagnn_hops", "adaptive_combine"]


def dagnn_hops(adj, z: Tensor, K: int) -> Tensor:
    r"""The stacked propagations :math:`[\mathbf{H}_0, \dots, \mathbf{H}_K]`,
    :math:`\mathbf{H}_k = \hat{\mathbf{A}}^k \mathbf{Z}`, as a ``[N, K + 1, C]`` tensor.

    ``adj`` is the (already normalised) propagation graph; ``K`` sparse products are run.

    >>> from gnnkit import Graph
    >>> adj = gcn_norm(Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]])))
    >>> dagnn_hops(adj, torch.tensor([[1.0], [3.0]]), 2)[:, :, 0].round(decimals=4)
    tensor([[1., 2., 2.],
            [3., 2., 2.]])
    """
    hs = [z]
    for _ in range(K):
        z = spmm(adj, z)
        hs.append(z)
    return torch.stack(hs, dim=1)


def adaptive_combine(hops: Tensor, proj: nn.Linear) -> Tensor:
    r"""DAGNN's adaptive adjustment (Eq. 8 of the paper):
    :math:`\mathbf{S} = \sigma(\mathbf{H}\mathbf{s})` and
    :math:`\mathbf{x}_{out} = \sum_k s_k \mathbf{H}_k` per node.

    Args:
        hops (Tensor): ``[N, K + 1, C]`` from :func:`dagnn_hops`.
        proj (nn.Linear): the trainable projection ``s`` (``C -> 1``).

    Returns:
        ``[N, C]``.
    """
    scores = torch.sigmoid(proj(hops))  # [N, K+1, 1] retention scores
    return (scores * hops).sum(dim=1)


class DAGNNConv(nn.Module):
    r"""The adaptive multi-hop propagation of `"Towards Deeper Graph Neural Networks"
    <https://arxiv.org/abs/2007.09296>`_ (Liu, Gao & Ji, KDD 2020), Eq. 8.

    .. math::
        \mathbf{H}_\ell = \hat{\mathbf{A}}^{\ell} \mathbf{Z},\ \ell = 0..K, \qquad
        \mathbf{H} = \mathrm{stack}(\mathbf{H}_0, \dots, \mathbf{H}_K) \in \mathbb{R}^{n \times (K+1) \times c},

    .. math::
        \mathbf{S} = \sigma(\mathbf{H}\mathbf{s}) \in \mathbb{R}^{n \times (K+1) \times 1}, \qquad
        \mathbf{X}_{out} = \mathrm{squeeze}(\tilde{\mathbf{S}} \mathbf{H}) \in \mathbb{R}^{n \times c}

    where :math:`\hat{\mathbf{A}} = \hat{\mathbf{D}}^{-1/2}(\mathbf{A} + \mathbf{I})\hat{\mathbf{D}}^{-1/2}`
    (:func:`gcn_norm`), :math:`\mathbf{s} \in \mathbb{R}^{c}` is the trainable projection of the
    retention scores and :math:`\tilde{\mathbf S}` the reshaped :math:`\mathbf S`; node-wise
    :math:`\mathbf{x}_{out,i} = \sum_{\ell} \sigma(\mathbf{h}_{\ell,i}^\top \mathbf{s} + b)\,
    \mathbf{h}_{\ell,i}`.  As in the authors' code (``Prop`` in mengliu1998/DeeperGNN) the
    projection has a bias :math:`b` (``bias=True``); the paper's Eq. 8 has none.  The layer has no
    feature transformation (DAGNN puts an MLP in front, see :class:`gnnkit.nn.DAGNN`).

    Mini-batches: ``graph`` may be a list of ``K`` blocks (outermost first, PyG/DGL order,
    ``blocks[k]`` destinations = ``blocks[k+1]`` sources).  :math:`\mathbf{H}_\ell` at the final
    destinations is then the product of the last :math:`\ell` blocks applied to
    ``z[:N_src(blocks[K-ℓ])]``, i.e. :math:`O(K^2)` block products instead of :math:`K`.

    Args:
        channels (int): size :math:`c` of the input (= output) features.
        K (int): number of propagation steps (:math:`\ge 0`). (default: :obj:`10`)
        bias (bool, optional): bias of the retention projection. (default: :obj:`True`)
        cached (bool, optional): keep the normalised graph of the first call (transductive).
            (default: :obj:`False`)

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, c)` and a Graph / edge_index / PyG Data, or
          :math:`(N_{src}, c)` and ``K`` blocks
        - **output:** :math:`(|\mathcal{V}|, c)` (:math:`N_{dst}` rows of the last block)

    >>> conv = DAGNNConv(7, K=10)
    >>> conv
    DAGNNConv(7, K=10)
    """

    def __init__(self, channels: int, K: int = 10, bias: bool = True, cached: bool = False):
        super().__init__()
        name = type(self).__name__
        _utils.check_positive_int(name, channels=channels)
        if not isinstance(K, int) or K < 0:
            raise ValueError(f"{name}: K must be an int >= 0, got {K!r}")
        self.channels = channels
        self.K = K
        self.cached = cached
        self.proj = nn.Linear(channels, 1, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.proj.reset_parameters()  # torch default init, as the authors' nn.Linear
        self._cached_graph = None
        self._memo = (None, None)

    def _norm(self, g, dtype):
        key, adj = self._memo
        if key is not g:
            adj = gcn_norm(g, dtype=dtype)
            self._memo = (g, adj)
        return adj

    def forward(self, x: Tensor, graph, num_nodes: int | None = None) -> Tensor:
        name = type(self).__name__
        _utils.check_features(name, x, self.channels)
        if isinstance(graph, (list, tuple)):
            return self._forward_blocks(x, graph)
        if self.cached and self._cached_graph is not None:
            adj = self._cached_graph
        else:
            g = _utils.as_graph(graph, x.size(0) if num_nodes is None else num_nodes, where=name)
            if _utils.is_block(g) and _utils.num_src_nodes(g) != g.num_nodes:
                raise ValueError(f"'{name}' propagates K steps on one graph; for mini-batches pass "
                                 f"a list of K={self.K} blocks")
            adj = self._norm(g, x.dtype)
            if self.cached:
                self._cached_graph = adj
        return adaptive_combine(dagnn_hops(adj, x, self.K), self.proj)

    def _forward_blocks(self, x: Tensor, blocks) -> Tensor:
        name = type(self).__name__
        if len(blocks) != self.K:
            raise ValueError(f"'{name}' with K={self.K} needs a list of {self.K} blocks, got "
                             f"{len(blocks)}")
        if self.cached:
            raise ValueError(f"'{name}' with cached=True does not support blocks")
        if self.K == 0:
            return adaptive_combine(x.unsqueeze(1), self.proj)
        adjs = [gcn_norm(_utils.as_graph(b, where=name), dtype=x.dtype) for b in blocks]
        n_out = blocks[-1].num_nodes
        hops = [x[:n_out]]
        for ell in range(1, self.K + 1):
            first = self.K - ell
            h = x[:_utils.num_src_nodes(adjs[first])]
            for adj in adjs[first:]:
                h = spmm(adj, h)
            hops.append(h)
        return adaptive_combine(torch.stack(hops, dim=1), self.proj)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, K={self.K})"
