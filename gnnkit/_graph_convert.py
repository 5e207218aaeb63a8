r"""Conversions of a :class:`gnnkit.Graph` to and from torch sparse CSR, SciPy, NetworkX, PyG
and ``torch_sparse.SparseTensor`` (methods of the Graph, kept in their own module)."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from gnnkit._graph_utils import GraphError, pick_index_dtype

__all__ = ["GraphConversions"]

_SPARSE_HINT = "requires the optional package 'torch-sparse' (pip install torch-sparse)"


def _import_sparse_tensor(where: str):
    try:
        from torch_sparse import SparseTensor
    except ImportError as e:
        raise ImportError(f"{where} {_SPARSE_HINT}") from e
    return SparseTensor


class GraphConversions:
    """Mixin of :class:`gnnkit.Graph`: ``to_*`` / ``from_*`` conversions."""

    __slots__ = ()

    def to_edge_index(self):
        """``(edge_index int64 [2, E], edge_weight [E] or None)`` in CSR order."""
        return self.edge_index, self._edge_weight

    def to_torch_csr(self, dtype=None) -> Tensor:
        """``torch.sparse_csr_tensor`` aggregation matrix ``M [N, N]`` with ``M[dst, src] = w``
        (1 when unweighted), so ``M @ x`` equals ``gnnkit.ops.spmm(g, x)``. Duplicate arcs are
        kept (torch sums them in products)."""
        w = self._edge_weight
        if w is None:
            w = torch.ones(self.num_edges, dtype=dtype or torch.get_default_dtype(), device=self.device)
        elif dtype is not None:
            w = w.to(dtype)
        n = self._num_nodes
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(self._indptr, self._indices.to(torch.int64), w, size=(n, n),
                                           check_invariants=False)

    def to_scipy(self):
        """``scipy.sparse.csr_array`` ``A [N, N]`` with ``A[u, v] = w`` for the arc ``u -> v``
        (ones when unweighted; duplicates kept as separate stored entries)."""
        import scipy.sparse as sp

        t_indptr, t_indices, t_perm = self.transpose()
        w = self._edge_weight
        if w is None:
            data = np.ones(self.num_edges, dtype=np.float32)
        else:
            w = w.detach()[t_perm].cpu()
            data = (w.float() if w.dtype in (torch.float16, torch.bfloat16) else w).numpy()
        n = self._num_nodes
        return sp.csr_array((data, t_indices.cpu().numpy(), t_indptr.cpu().numpy()), shape=(n, n))

    @classmethod
    def from_scipy(cls, A, directed=None, weighted=None, *, index_dtype=None) -> "Graph":
        """From a square scipy.sparse matrix or array; ``A[u, v]`` (every stored entry, explicit
        zeros included) is the arc ``u -> v``.

        Args:
            A: square ``scipy.sparse`` matrix/array.
            directed (bool, optional): as in :meth:`from_edge_index`. (default: :obj:`None`: infer)
            weighted (bool, optional): keep the values as weights.
                (default: :obj:`None`: unless every stored value is 1)
            index_dtype (torch.dtype, optional): force int64 indices. (default: :obj:`None`)
        """
        import scipy.sparse as sp

        if not sp.issparse(A):
            raise GraphError(f"A must be a scipy.sparse matrix or array, got {type(A).__name__}")
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise GraphError(f"A must be square, got shape {tuple(A.shape)}")
        coo = A.tocoo()
        data = np.asarray(coo.data)
        if weighted is None:
            weighted = not bool(np.all(data == 1))
        ei = np.stack([np.asarray(coo.row, dtype=np.int64), np.asarray(coo.col, dtype=np.int64)])
        w = None
        if weighted:
            if np.iscomplexobj(data):
                raise GraphError(f"A must be real, got dtype {data.dtype}")
            w = data  # integer values are cast to the default float dtype
        return cls.from_edge_index(ei, num_nodes=A.shape[0], edge_weight=w, directed=directed,
                                   index_dtype=index_dtype)

    def to_networkx(self, weight: str = "weight"):
        """``networkx`` graph on nodes ``0..N-1``: ``DiGraph`` (``Graph`` when undirected; each
        undirected edge once), or the ``Multi*`` variant when duplicate arcs exist. Weights go
        to the edge attribute ``weight``."""
        import networkx as nx

        multi = not self.is_coalesced()
        if self._directed:
            G = nx.MultiDiGraph() if multi else nx.DiGraph()
        else:
            G = nx.MultiGraph() if multi else nx.Graph()
        G.add_nodes_from(range(self._num_nodes))
        src, dst = self._indices.to(torch.int64), self.dst_index()
        w = self._edge_weight
        if not self._directed:
            keep = src <= dst
            src, dst = src[keep], dst[keep]
            w = None if w is None else w[keep]
        if w is None:
            G.add_edges_from(zip(src.tolist(), dst.tolist()))
        else:
            G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.detach().cpu().tolist()),
                                      weight=weight)
        return G

    @classmethod
    def from_networkx(cls, G, weight="weight", *, index_dtype=None) -> "Graph":
        """From a networkx (Multi)(Di)Graph.

        Nodes ``0..N-1`` keep their ids; any other node labels are numbered in ``G.nodes``
        order. An undirected edge becomes two arcs (a self loop one) and ``directed=False``.
        The graph is weighted when some edge has the attribute ``weight`` (missing values are
        1); ``weight=None`` ignores weights. Weights use the default float dtype.
        """
        import networkx as nx

        if not isinstance(G, nx.Graph):
            raise GraphError(f"G must be a networkx graph, got {type(G).__name__}")
        nodes = list(G.nodes())
        n = len(nodes)
        identity = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in nodes) \
            and set(int(v) for v in nodes) == set(range(n))
        ids = None if identity else {v: i for i, v in enumerate(nodes)}
        edges = list(G.edges(data=weight, default=None)) if weight is not None else \
            [(u, v, None) for u, v in G.edges()]
        if ids is None:
            src = torch.tensor([int(u) for u, _, _ in edges], dtype=torch.int64)
            dst = torch.tensor([int(v) for _, v, _ in edges], dtype=torch.int64)
        else:
            src = torch.tensor([ids[u] for u, _, _ in edges], dtype=torch.int64)
            dst = torch.tensor([ids[v] for _, v, _ in edges], dtype=torch.int64)
        w = None
        if any(d is not None for _, _, d in edges):
            vals = []
            for u, v, d in edges:
                try:
                    vals.append(1.0 if d is None else float(d))
                except (TypeError, ValueError) as e:
                    raise GraphError(f"edge ({u!r}, {v!r}) has non-numeric {weight!r} = {d!r}") from e
            w = torch.tensor(vals, dtype=torch.get_default_dtype())
            bad = ~torch.isfinite(w)
            if bool(bad.any()):
                k = int(bad.nonzero()[0].item())
                u, v, d = edges[k]
                raise GraphError(f"edge ({u!r}, {v!r}) has {weight!r} = {d!r}, which is not finite")
        idx_dtype = pick_index_dtype(n, index_dtype)
        if G.is_directed():
            return cls._from_coo(src, dst, w, n, True, idx_dtype)[0]
        off = (src != dst).nonzero().view(-1)
        w2 = None if w is None else torch.cat([w, w[off]])
        return cls._from_coo(torch.cat([src, dst[off]]), torch.cat([dst, src[off]]), w2, n, False,
                             idx_dtype)[0]

    def to_pyg(self):
        """``torch_geometric.data.Data(edge_index, num_nodes[, edge_weight])`` in CSR order."""
        try:
            from torch_geometric.data import Data
        except ImportError as e:
            raise ImportError("Graph.to_pyg requires 'torch_geometric' (pip install torch-geometric)") from e
        kw = {} if self._edge_weight is None else {"edge_weight": self._edge_weight}
        return Data(edge_index=self.edge_index, num_nodes=self._num_nodes, **kw)

    @classmethod
    def from_pyg(cls, data, *, edge_weight: str = "edge_weight", directed=None,
                 return_perm: bool = False, index_dtype=None):
        """From a ``torch_geometric.data.Data`` with ``edge_index`` (or an ``adj_t``
        SparseTensor). Weights are read from the attribute named ``edge_weight`` when present.
        ``directed`` and ``return_perm`` as in :meth:`from_edge_index` (default: infer the flag).
        """
        ei = getattr(data, "edge_index", None)
        if ei is None:
            adj_t = getattr(data, "adj_t", None)
            if adj_t is not None:
                if return_perm:
                    raise GraphError("return_perm is not supported for data with adj_t")
                return cls.from_sparse_tensor(adj_t, directed=directed, index_dtype=index_dtype)
            raise GraphError("data has neither 'edge_index' nor 'adj_t'")
        w = getattr(data, edge_weight, None) if edge_weight is not None else None
        return cls.from_edge_index(ei, num_nodes=data.num_nodes, edge_weight=w, directed=directed,
                                   return_perm=return_perm, index_dtype=index_dtype)

    def to_sparse_tensor(self):
        """``torch_sparse.SparseTensor`` in the ``adj_t`` convention (row = destination), so
        ``adj_t @ x`` equals the aggregation. Raises ImportError without torch-sparse."""
        SparseTensor = _import_sparse_tensor("Graph.to_sparse_tensor")
        n = self._num_nodes
        return SparseTensor(rowptr=self._indptr, col=self._indices.to(torch.int64),
                            value=self._edge_weight, sparse_sizes=(n, n), is_sorted=True,
                            trust_data=True)

    @classmethod
    def from_sparse_tensor(cls, adj_t, directed=None, *, index_dtype=None) -> "Graph":
        """From a square ``torch_sparse.SparseTensor`` ``adj_t`` (row = destination)."""
        _import_sparse_tensor("Graph.from_sparse_tensor")
        rows, cols = adj_t.sparse_sizes()
        if rows != cols:
            raise GraphError(f"adj_t must be square, got sparse_sizes {(rows, cols)}")
        rowptr, col, value = adj_t.csr()
        return cls(rowptr, col, value, num_nodes=rows, directed=directed, index_dtype=index_dtype)
