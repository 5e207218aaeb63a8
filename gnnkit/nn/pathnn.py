r"""PathNN: path neural networks (Michel et al., ICML 2023, "Path Neural Networks: Expressive and
Accurate Graph Neural Networks", `arXiv:2306.05955 <https://arxiv.org/abs/2306.05955>`_).

Each node is updated from the paths that start at it. Layer :math:`k` (:math:`k = 1..K`) uses the
paths of length :math:`k` (arcs), encodes every path with an LSTM over the node representations
along it, and sums the encodings per start node (the paper's Eq. 2, with the official code's
per-length schedule: layer :math:`k` sees :math:`\mathcal{P}_k(v)`):

.. math::
    \mathbf{h}_v^{(k)} = \mathrm{ReLU}\Big(\mathrm{BN}\big(\mathbf{h}_v^{(k-1)} +
    \sum_{p \in \mathcal{P}_k(v)} \mathrm{LSTM}(\mathbf{h}^{(k-1)}_{p_k}, \dots,
    \mathbf{h}^{(k-1)}_{p_1}, \mathbf{h}^{(k-1)}_{p_0})\big)\Big)

(the LSTM reads the path from its far end to the start node :math:`p_0 = v` and its last hidden
state is the path encoding; one LSTM is shared by all layers, as in the official code).  The
variants differ in :math:`\mathcal{P}_k(v)`: ``'sp'`` one shortest path per target at distance
:math:`k` (PathNN-:math:`\mathcal{SP}`), ``'sp+'`` all shortest paths (:math:`\mathcal{SP}^+`),
``'ap'`` all simple paths (:math:`\mathcal{AP}`); see :mod:`gnnkit.ops.paths`.

Graph level: input encoder (Linear-BN-ReLU twice), :math:`K` path layers, sum readout, then
Linear-ReLU-dropout-Linear.  Left out from the official code: the optional distance encoding
(``encode_distances``) and edge features.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn._utils import check_positive_int
from gnnkit.nn.pool import global_pool
from gnnkit.ops.paths import DEFAULT_MAX_PATHS, PATH_MODES, enumerate_paths

__all__ = ["PathConv", "PathNN", "PathSet", "compute_paths"]


class PathSet(list):
    r"""The ``K`` path tensors of :func:`gnnkit.ops.enumerate_paths` plus what PathNN can reuse.

    When the collection is closed under reversal and under taking prefixes (``'ap'`` and
    ``'sp+'`` on an undirected graph), the LSTM encoding of a path read from its far end to its
    start equals the LSTM state at the end of the *reversed* path, which is itself in the set, and
    the states of all paths can be computed along the prefix tree: one LSTM step per path instead
    of :math:`k + 1`.  ``parents[j-1][r]`` is the row, among the length-:math:`(j-1)` paths
    (node ids for :math:`j = 1`), of the prefix of length-:math:`j` path ``r`` (from the kernel).
    """

    def __init__(self, paths, parents, mode: str, undirected: bool):
        super().__init__(paths)
        self.parents = list(parents)
        self.mode = mode
        self.reversible = bool(undirected) and mode in ("ap", "sp+")


def compute_paths(graph, max_len: int, mode: str = "sp+", max_paths: int = DEFAULT_MAX_PATHS):
    """Paths for :class:`PathNN`: ``enumerate_paths(graph, max_len, mode, max_paths)`` as a
    :class:`PathSet` (a list of ``K`` tensors).

    Compute them once per graph (or per batch) and pass them to every forward call.
    """
    paths, parents = enumerate_paths(graph, max_len, mode, max_paths=max_paths, return_parents=True)
    return PathSet(paths, parents, mode, not graph.directed)


class PathConv(nn.Module):
    r"""One PathNN layer for paths of one length (see the module docstring for the formula).

    Args:
        channels (int): feature size :math:`d` (input = output).
        lstm (nn.LSTM, optional): a shared ``nn.LSTM(d, d, batch_first=True)``; a new one when
            :obj:`None`. (default: :obj:`None`)
        residual (bool): add :math:`\mathbf{h}_v` before the batch norm. (default: :obj:`True`)
        batch_norm (bool): apply ``BatchNorm1d``. (default: :obj:`True`)
        dropout (float): dropout on the LSTM inputs (training only). (default: ``0.0``)
        chunk_size (int, optional): encode at most this many paths at once (bounds the LSTM's
            working memory at inference). (default: :obj:`None`, all at once)

    Shapes:
        ``x [N, d]``, ``paths [P, k + 1]`` (int64, start node first) -> ``[N, d]``.
    """

    def __init__(self, channels: int, lstm: nn.LSTM | None = None, residual: bool = True,
                 batch_norm: bool = True, dropout: float = 0.0, chunk_size: int | None = None):
        super().__init__()
        check_positive_int("PathConv", channels=channels)
        if chunk_size is not None:
            check_positive_int("PathConv", " or None", chunk_size=chunk_size)
        self.channels = channels
        self.residual = residual
        self.dropout = dropout
        self.chunk_size = chunk_size
        self.shared_lstm = lstm is not None
        self.lstm = lstm if lstm is not None else nn.LSTM(channels, channels, batch_first=True)
        if self.lstm.input_size != channels or self.lstm.hidden_size != channels or not self.lstm.batch_first:
            raise ValueError(f"PathConv: lstm must be nn.LSTM({channels}, {channels}, batch_first=True)")
        self.bn = nn.BatchNorm1d(channels) if batch_norm else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if not self.shared_lstm:
            self.lstm.reset_parameters()
        if self.bn is not None:
            self.bn.reset_parameters()

    def _weights(self):
        lstm = self.lstm
        if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
            raise ValueError("PathConv: the path encoder must be a 1-layer, unidirectional LSTM")
        return lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0

    def _cell(self, gates, c):
        i, f, g, o = gates.split(self.channels, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = i * g if c is None else f * c + i * g
        return o * torch.tanh(c), c

    def encode_tree(self, x: Tensor, path_set: "PathSet", k: int) -> Tensor:
        """:meth:`encode` for the length-``k`` paths of a reversible :class:`PathSet`, along
        its prefix tree (no dropout)."""
        w_ih, w_hh, b_ih, b_hh = self._weights()
        parents = path_set.parents
        xw = x @ w_ih.t() + b_ih + b_hh
        h, c = self._cell(xw, None)                # length-0 paths: the nodes themselves
        for j in range(1, k + 1):
            p, par = path_set[j - 1], parents[j - 1]
            h, c = self._cell(xw[p[:, j]] + (h @ w_hh.t())[par], c[par])
        # h[r] encodes path r read from its start to its end = the reversed path read from its
        # far end to its start node p[r, -1]
        return x.new_zeros(x.size(0), self.channels).index_add_(0, path_set[k - 1][:, -1], h)

    def encode(self, x: Tensor, paths: Tensor) -> Tensor:
        """Sum of the LSTM encodings of the paths starting at each node, ``[N, d]``."""
        N = x.size(0)
        out = x.new_zeros(N, self.channels)
        if paths.numel() == 0:
            return out
        w_ih, w_hh, b_ih, b_hh = self._weights()
        # The input projection of every node is computed once and gathered per path step
        # (N x 4d instead of P x (k+1) x 4d matmuls); same gates (i, f, g, o) as nn.LSTM.
        dropped = self.training and self.dropout > 0
        xw = None if dropped else x @ w_ih.t() + b_ih + b_hh
        step = self.chunk_size or paths.size(0)
        for lo in range(0, paths.size(0), step):
            p = paths[lo:lo + step]
            h = c = None
            for t in range(p.size(1) - 1, -1, -1):   # far end first, start node last
                if dropped:   # dropout on the LSTM inputs, fresh per path position
                    xi = F.dropout(x[p[:, t]], p=self.dropout, training=True)
                    gates = xi @ w_ih.t() + b_ih + b_hh
                else:
                    gates = xw[p[:, t]]
                if h is not None:
                    gates = gates + h @ w_hh.t()
                h, c = self._cell(gates, c)
            out.index_add_(0, p[:, 0], h)
        return out

    def forward(self, x: Tensor, paths: Tensor, path_set: "PathSet | None" = None) -> Tensor:
        """``path_set``: the :class:`PathSet` that ``paths`` belongs to; when it is reversible
        (and no input dropout is active) the prefix-tree encoder is used (same result)."""
        if not isinstance(paths, Tensor) or paths.dtype != torch.int64 or paths.dim() != 2:
            raise TypeError("PathConv: paths must be an int64 tensor [num_paths, k + 1] (from "
                            f"gnnkit.ops.enumerate_paths), got {getattr(paths, 'dtype', type(paths))}")
        if x.dim() != 2 or x.size(1) != self.channels:
            raise ValueError(f"PathConv: x must have shape [N, {self.channels}], got {tuple(x.shape)}")
        if paths.numel() and (int(paths.min()) < 0 or int(paths.max()) >= x.size(0)):
            raise IndexError(f"PathConv: path node ids must lie in [0, {x.size(0)}), got "
                             f"[{int(paths.min())}, {int(paths.max())}]")
        k = paths.size(1) - 1
        use_tree = (path_set is not None and path_set.reversible and paths.numel() > 0
                    and not (self.training and self.dropout > 0))
        h = self.encode_tree(x, path_set, k) if use_tree else self.encode(x, paths)
        if self.residual:
            h = h + x
        if self.bn is not None:
            h = self.bn(h)
        return F.relu(h)

    def __repr__(self) -> str:
        return f"PathConv({self.channels})"


class PathNN(nn.Module):
    r"""Graph-level PathNN (Michel et al. 2023, `arXiv:2306.05955 <https://arxiv.org/abs/2306.05955>`_).

    .. math::
        \mathbf{h}^{(0)} = \mathrm{Enc}(\mathbf{x}),\quad
        \mathbf{h}^{(k)} = \mathrm{PathConv}_k(\mathbf{h}^{(k-1)}, \mathcal{P}_k),\quad
        \hat{y}_G = W_2\,\mathrm{drop}(\mathrm{ReLU}(W_1 \textstyle\sum_{v \in G} \mathbf{h}^{(K)}_v))

    Args:
        in_channels (int): node feature size.
        hidden_channels (int): :math:`d`.
        out_channels (int): number of outputs (classes).
        max_len (int): :math:`K`, the longest path length and the number of path layers (the
            official code's ``cutoff`` is ``K + 1``, counted in nodes).
        mode (str): ``'sp'``, ``'sp+'`` or ``'ap'``. (default: ``'sp+'``)
        dropout (float): dropout on LSTM inputs and before the last linear layer. (default: ``0.0``)
        residual (bool): residual connections in the path layers. (default: :obj:`True`)
        readout (str): ``'add'``, ``'mean'`` or ``'max'``. (default: ``'add'``, as the paper)
        chunk_size (int, optional): see :class:`PathConv`.

    Shapes:
        ``x [N, F_in]``, ``paths`` list of ``K`` tensors ``[P_k, k + 1]`` (from
        :func:`compute_paths` with the same ``max_len``; a batch is the union graph of
        :func:`gnnkit.nn.pool.batch_graphs`), ``batch [N]`` -> ``[B, out_channels]``.

    >>> import torch, gnnkit
    >>> from gnnkit.data.graph_datasets import decalin
    >>> model = PathNN(1, 8, 2, max_len=3, mode="sp+").eval()
    >>> model
    PathNN(1, 8, 2, max_len=3, mode='sp+')
    >>> g = decalin()
    >>> model(torch.ones(10, 1), compute_paths(g, 3, "sp+")).shape
    torch.Size([1, 2])
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, max_len: int,
                 mode: str = "sp+", dropout: float = 0.0, residual: bool = True,
                 readout: str = "add", chunk_size: int | None = None):
        super().__init__()
        check_positive_int("PathNN", in_channels=in_channels, hidden_channels=hidden_channels,
                           out_channels=out_channels, max_len=max_len)
        if mode not in PATH_MODES:
            raise ValueError(f"PathNN: mode must be one of {PATH_MODES}, got {mode!r}")
        if readout not in ("add", "mean", "max"):
            raise ValueError(f"PathNN: readout must be 'add', 'mean' or 'max', got {readout!r}")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.max_len, self.mode, self.dropout = max_len, mode, dropout
        self.residual, self.readout = residual, readout
        d = hidden_channels
        self.encoder = nn.Sequential(nn.Linear(in_channels, d), nn.BatchNorm1d(d), nn.ReLU(),
                                     nn.Linear(d, d), nn.BatchNorm1d(d), nn.ReLU())
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.convs = nn.ModuleList(PathConv(d, self.lstm, residual, True, dropout, chunk_size)
                                   for _ in range(max_len))
        self.lin1 = nn.Linear(d, d)
        self.lin2 = nn.Linear(d, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.encoder:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        self.lstm.reset_parameters()
        for c in self.convs:
            c.reset_parameters()
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def compute_paths(self, graph, max_paths: int = DEFAULT_MAX_PATHS):
        """Paths of this model's ``mode`` and ``max_len`` for ``graph``."""
        return compute_paths(graph, self.max_len, self.mode, max_paths)

    def node_embeddings(self, x: Tensor, paths) -> Tensor:
        """``[N, d]``: the node representations after the last path layer."""
        if len(paths) != self.max_len:
            raise ValueError(f"PathNN: expected paths for lengths 1..{self.max_len} "
                             f"({self.max_len} tensors), got {len(paths)}")
        for k, p in enumerate(paths, start=1):
            if isinstance(p, Tensor) and p.dim() == 2 and p.size(1) != k + 1:
                raise ValueError(f"PathNN: paths[{k - 1}] must hold length-{k} paths [P, {k + 1}], "
                                 f"got shape {tuple(p.shape)}")
        h = self.encoder(x)
        path_set = paths if isinstance(paths, PathSet) else None
        for conv, p in zip(self.convs, paths):
            h = conv(h, p, path_set)
        return h

    def forward(self, x: Tensor, paths, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        h = global_pool(self.node_embeddings(x, paths), batch, self.readout, num_graphs)
        h = F.relu(self.lin1(h))
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.lin2(h)

    def __repr__(self) -> str:
        return (f"PathNN({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"max_len={self.max_len}, mode={self.mode!r})")
