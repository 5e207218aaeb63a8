r"""Degree normalisation of a :class:`gnnkit.Graph` (the ``normalize`` method, kept in its own
module so that ``graph.py`` holds the CSR type itself)."""
from __future__ import annotations

import torch

from gnnkit._graph_utils import GraphError

__all__ = ["GraphNormalize"]

_NORMS = ("sym", "rw", "col", "dir")


class GraphNormalize:
    """Mixin of :class:`gnnkit.Graph`: :meth:`normalize`."""

    __slots__ = ()

    def normalize(self, kind: str = "sym", *, add_self_loops=None, dtype=None) -> "Graph":
        r"""Degree-normalised copy with explicit weights.

        Degrees are weighted when the graph has weights, counted otherwise; a zero degree gives
        weight 0 (never ``inf``/``nan``). With ``d_in``/``d_out`` the in/out-degree:

        * ``'sym'``: :math:`\hat D^{-1/2} \hat A \hat D^{-1/2}` with :math:`\hat A = A + I`
          (GCN, `arXiv:1609.02907 <https://arxiv.org/abs/1609.02907>`_), i.e.
          :math:`w_{ji} / \sqrt{\hat d_{in}(j)\, \hat d_{in}(i)}` as PyG's ``gcn_norm``
          (in-degrees on both sides). Loops are added with :meth:`add_self_loops`
          (``remaining=True``: nodes that already have a loop get no second one).
        * ``'rw'``: :math:`w_{ji} / d_{in}(i)` (:math:`D_{in}^{-1} A^\top`; mean aggregation).
        * ``'col'``: :math:`w_{ji} / d_{out}(j)`.
        * ``'dir'``: :math:`w_{ji} / \sqrt{d_{out}(j)\, d_{in}(i)}`, the
          :math:`D_{out}^{-1/2} A D_{in}^{-1/2}` of Dir-GNN
          (`arXiv:2305.10498 <https://arxiv.org/abs/2305.10498>`_).

        Args:
            kind (str, optional): ``'sym'``, ``'rw'``, ``'col'`` or ``'dir'``. (default: :obj:`"sym"`)
            add_self_loops (bool, optional): add remaining self loops first.
                (default: :obj:`None`: only for ``'sym'``)
            dtype (torch.dtype, optional): weight dtype. (default: the weights' dtype, else the
                default float dtype)

        Returns:
            a weighted Graph (``directed`` flag kept when the result stays symmetric).

        >>> from gnnkit import Graph
        >>> g = Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]))
        >>> g.normalize("rw", add_self_loops=True).edge_weight
        tensor([1.0000, 0.5000, 0.5000, 0.5000, 0.5000])
        """
        if kind not in _NORMS:
            raise GraphError(f"normalize: kind must be one of {_NORMS}, got {kind!r}")
        if add_self_loops is None:
            add_self_loops = kind == "sym"
        g = self.add_self_loops(remaining=True) if add_self_loops else self
        n, e, dev = g._num_nodes, g.num_edges, g.device
        w = g._edge_weight
        if dtype is None:
            dtype = torch.get_default_dtype() if w is None else w.dtype
        w = torch.ones(e, dtype=dtype, device=dev) if w is None else w.to(dtype)
        src, dst = g._indices.to(torch.int64), g.dst_index()

        def degree(index):
            return torch.zeros(n, dtype=dtype, device=dev).index_add_(0, index, w)

        def inv(deg):
            nz = deg != 0
            return torch.where(nz, 1.0 / torch.where(nz, deg, torch.ones_like(deg)), torch.zeros_like(deg))

        def inv_sqrt(deg, which):
            neg = deg < 0
            if bool(neg.any()):
                k = int(neg.nonzero()[0].item())
                raise GraphError(f"normalize({kind!r}) needs non-negative degrees, but node {k} "
                                 f"has {which}-degree {float(deg[k])}")
            pos = deg > 0
            return torch.where(pos, torch.where(pos, deg, torch.ones_like(deg)).rsqrt(),
                               torch.zeros_like(deg))

        if kind == "sym":
            d = inv_sqrt(degree(dst), "in")
            out = d[src] * w * d[dst]
        elif kind == "rw":
            out = w * inv(degree(dst))[dst]
        elif kind == "col":
            out = w * inv(degree(src))[src]
        else:
            out = inv_sqrt(degree(src), "out")[src] * w * inv_sqrt(degree(dst), "in")[dst]
        res = g._with(edge_weight=out, transpose=g._transpose)
        if not g._directed and not res._is_symmetric():
            res = res._with(directed=True, transpose=g._transpose)
        return res
