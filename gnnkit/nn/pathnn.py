r"""PathNN: path neural networks (Michel et al., ICML 2023, "Path Neural Networks: Expressive and
Accurate Graph Neural Networks", `arXiv:2306.05955 <https://arxiv.org/abs/2306.05955>`_).

Each node is updated from the paths that start at it. Layer :math:`k` (:math:`k = 1..K`) uses the
paths of length :math:`k` (arcs), encodes every path with an LSTM over the node representations
along it, and sums the encodings per start node (the paper's Eq. 2, with the official code's
per-length schedule: layer :math:`k` sees :math:`\mathcal{P}_k(v)`):

.. math::
    \mathbf{h}_v^{(k)} = \mathrm{ReLU}\Big(\mathrm{BN}\big(\mathbf{h}_v^{(k-1)} +
    \sum_{p \in \mathcal{P}_k(v)} \omega_p\,\mathrm{LSTM}(\mathbf{z}_{p_k}, \dots,
    \mathbf{z}_{p_0})\big)\Big), \qquad
    \mathbf{z}_{p_t} = \mathbf{h}^{(k-1)}_{p_t} \;\big[\Vert\, \mathbf{e}_{d(p_0, p_t)}\big]

(the LSTM reads the path from its far end to the start node :math:`p_0 = v` and its last hidden
state is the path encoding; one LSTM is shared by all layers, as in the official code; the
optional distance embedding :math:`\mathbf{e}_{d}` of the shortest-path distance from the start
node is the official code's ``encode_distances``; the optional :math:`\ell_2` normalisation of
:math:`\mathbf{h}^{(k-1)}` before each layer is its ``l2_norm``).  The variants differ in
:math:`\mathcal{P}_k(v)` and the weights :math:`\omega_p`:

* ``'sp+'`` (:math:`\mathcal{SP}^+`): all shortest paths to every target at distance :math:`k`,
  :math:`\omega_p = 1`;
* ``'ap'`` (:math:`\mathcal{AP}`): all simple paths of length :math:`k`, :math:`\omega_p = 1`;
* ``'sp'`` (:math:`\mathcal{SP}`): *one encoding per target*, made order independent: the
  **mean** of the encodings of all :math:`n_{v,t}` shortest paths from :math:`v` to
  :math:`t` (:math:`\omega_p = 1 / n_{v,t}` over the :math:`\mathcal{SP}^+` paths).  The
  paper keeps one shortest path per pair, chosen by the path finder; that choice depends on the
  node numbering, so the model was not permutation invariant (outputs changed by up to 1.5e-2
  under relabelling).  The mean is invariant and equals the paper's model whenever the shortest
  path is unique.

Graph level: input encoder (Linear-[BN]-ReLU twice), :math:`K` path layers, sum readout, then
Linear-ReLU-dropout-Linear.  Left out from the official code: edge features.

**Deduplication** (``dedupe=True``, exact up to float round-off): nodes are partitioned into
*classes* by a colour refinement over the paths: the initial class is the bit pattern of the
input row, and after layer :math:`k` a node's class is its previous class plus the multiset of
(class sequence along the path [, distances], weight) over its length-:math:`k` paths.  Nodes of
one class are, by induction, the same function of the parameters (batch norm statistics are
shared by all nodes).  The LSTM then runs once per distinct class sequence, the encodings are
summed per start node with multiplicities, and the gradient of a class's representative row is
spread equally over its nodes, which is the exact gradient because the nodes' Jacobians are equal.
On symmetric graphs (CSL's circulant graphs: every node alike) this turns millions of LSTM
evaluations per epoch into a few hundred; the tests compare values and gradients with the
per-path encoder.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn._utils import check_positive_int
from gnnkit.nn.pool import global_pool
from gnnkit.ops.paths import DEFAULT_MAX_PATHS, PATH_MODES, enumerate_paths

__all__ = ["PathConv", "PathNN", "PathSet", "compute_paths", "path_distances"]

_INT62 = 1 << 62


class PathSet(list):
    r"""The ``K`` path tensors for :class:`PathNN` plus what it reuses across epochs.

    Attributes:
        parents: ``K`` int64 tensors, ``parents[j-1][r]`` the row among the length-``(j-1)``
            paths (node id for ``j = 1``) of the prefix of length-``j`` path ``r``.
        mode: ``'sp'``, ``'sp+'`` or ``'ap'`` (``'sp'`` holds the ``'sp+'`` paths).
        weights: :obj:`None` or ``K`` float64 tensors :math:`\omega_p` (``'sp'``: ``1/n_{v,t}``).
        dists: :obj:`None` or ``K`` int64 tensors ``[P_k, k + 1]``: :math:`d(p_0, p_t)`
            (``'ap'`` with distances; for shortest paths :math:`d(p_0, p_t) = t`).
        reversible: the set is closed under reversal and prefixes (undirected graph, ``'sp'``,
            ``'sp+'`` or ``'ap'``): the LSTM states can be computed along the prefix tree, one
            LSTM step per path instead of :math:`k + 1` (:meth:`PathConv.encode_tree`).
    """

    def __init__(self, paths, parents, mode: str, undirected: bool, weights=None, dists=None):
        super().__init__(paths)
        self.parents = list(parents)
        self.mode = mode
        self.weights = None if weights is None else list(weights)
        self.dists = None if dists is None else list(dists)
        self.reversible = bool(undirected) and mode in PATH_MODES

    def to(self, device) -> "PathSet":
        """A copy with every tensor on ``device`` (the LSTM encoders gather on any device)."""
        mv = lambda ts: None if ts is None else [t.to(device) for t in ts]  # noqa: E731
        out = PathSet(mv(list(self)), mv(self.parents), self.mode, True, mv(self.weights),
                      mv(self.dists))
        out.reversible = self.reversible
        return out

    def distances(self, k: int) -> Tensor:
        """``[P_k, k + 1]`` int64 distances from the start node of every length-``k`` path."""
        p = self[k - 1]
        if self.dists is not None:
            return self.dists[k - 1]
        if self.mode == "ap":
            raise ValueError("PathSet: 'ap' distances were not computed; use "
                             "compute_paths(..., distances=True)")
        return torch.arange(k + 1).expand(p.size(0), k + 1)


def _pair_weights(paths: Tensor, num_nodes: int) -> Tensor:
    """``1 / n(start, end)``: the inverse number of paths in ``paths`` with the same endpoints."""
    if paths.numel() == 0:
        return torch.zeros(0, dtype=torch.float64)
    key = paths[:, 0] * num_nodes + paths[:, -1]
    _, inv, cnt = torch.unique(key, return_inverse=True, return_counts=True)
    return 1.0 / cnt[inv].to(torch.float64)


def path_distances(graph, paths, max_len: int) -> list[Tensor]:
    r"""Shortest-path distances :math:`d(p_0, p_t)` (:math:`\le t \le K`) along every path.

    Uses one shortest path per reachable pair within ``max_len`` (``'sp'`` enumeration) as the
    distance table and looks every ``(start, node)`` pair up by binary search.

    Returns:
        ``K`` int64 tensors ``[P_k, k + 1]``.
    """
    N = graph.num_nodes
    sp = enumerate_paths(graph, max_len, "sp", max_paths=2**62)
    keys = [torch.arange(N) * N + torch.arange(N)]
    vals = [torch.zeros(N, dtype=torch.int64)]
    for k, p in enumerate(sp, start=1):
        keys.append(p[:, 0] * N + p[:, -1])
        vals.append(torch.full((p.size(0),), k, dtype=torch.int64))
    key = torch.cat(keys)
    order = torch.argsort(key)
    key, val = key[order], torch.cat(vals)[order]
    out = []
    for p in paths:
        q = p[:, :1] * N + p
        out.append(val[torch.searchsorted(key, q)] if p.numel() else torch.zeros_like(p))
    return out


def compute_paths(graph, max_len: int, mode: str = "sp+", max_paths: int = DEFAULT_MAX_PATHS,
                  distances: bool = False) -> PathSet:
    """Paths for :class:`PathNN` as a :class:`PathSet` (a list of ``K`` tensors).

    ``'sp'`` enumerates ``'sp+'`` and adds the weights ``1/n_{v,t}`` (see the module docstring).
    ``distances``: also store :math:`d(p_0, p_t)` (needed for ``'ap'`` with
    ``encode_distances``).  Compute once per graph (or batch) and pass to every forward call.
    """
    if mode not in PATH_MODES:
        raise ValueError(f"compute_paths: mode must be one of {PATH_MODES}, got {mode!r}")
    enum_mode = "sp+" if mode == "sp" else mode
    paths, parents = enumerate_paths(graph, max_len, enum_mode, max_paths=max_paths,
                                     return_parents=True)
    weights = [_pair_weights(p, graph.num_nodes) for p in paths] if mode == "sp" else None
    dists = path_distances(graph, paths, max_len) if distances and mode == "ap" else None
    return PathSet(paths, parents, mode, not graph.directed, weights, dists)


def _unique_rows(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(inverse, counts)`` of the distinct rows of ``x``, compared bit for bit (one byte-wise
    sort in numpy; ``torch.unique(dim=0)`` compares row by row in Python-speed loops)."""
    a = np.ascontiguousarray(x.detach().cpu().numpy())
    rows = a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()
    _, inv, cnt = np.unique(rows, return_inverse=True, return_counts=True)
    return torch.from_numpy(inv.astype(np.int64).ravel()).to(x.device), torch.from_numpy(cnt).to(x.device)


def _dense_codes(code: Tensor) -> tuple[Tensor, int]:
    uniq, inv = torch.unique(code, return_inverse=True)
    return inv, uniq.numel()


class PathConv(nn.Module):
    r"""One PathNN layer for paths of one length (see the module docstring for the formula).

    Args:
        channels (int): feature size :math:`d` (input = output).
        lstm (nn.LSTM, optional): a shared ``nn.LSTM(d or 2d, d, batch_first=True)``; a new one
            when :obj:`None`. (default: :obj:`None`)
        residual (bool): add :math:`\mathbf{h}_v` before the batch norm. (default: :obj:`True`)
        batch_norm (bool): apply ``BatchNorm1d``. (default: :obj:`True`)
        dropout (float): dropout on the LSTM inputs (training only). (default: ``0.0``)
        chunk_size (int, optional): encode at most this many paths at once. (default: all)
        distance_embedding (nn.Embedding, optional): :math:`\mathbf{e}_d` (then the LSTM input
            is :math:`2d`). (default: :obj:`None`)
        dedupe (bool): encode identical input sequences once (module docstring).

    Shapes:
        ``x [N, d]``, ``paths [P, k + 1]`` (int64, start node first) -> ``[N, d]``.
    """

    def __init__(self, channels: int, lstm: nn.LSTM | None = None, residual: bool = True,
                 batch_norm: bool = True, dropout: float = 0.0, chunk_size: int | None = None,
                 distance_embedding: nn.Embedding | None = None, dedupe: bool = False):
        super().__init__()
        check_positive_int("PathConv", channels=channels)
        if chunk_size is not None:
            check_positive_int("PathConv", " or None", chunk_size=chunk_size)
        _utils.check_probability("PathConv", dropout=dropout)
        if dedupe and dropout > 0:
            raise ValueError("PathConv: dedupe=True needs dropout=0 (input dropout draws a mask "
                             "per path, so identical paths are no longer identical)")
        self.channels = channels
        self.residual = residual
        self.dropout = dropout
        self.chunk_size = chunk_size
        self.dedupe = dedupe
        self.shared_lstm = lstm is not None
        self.dist_emb = distance_embedding
        in_size = channels * (2 if distance_embedding is not None else 1)
        self.lstm = lstm if lstm is not None else nn.LSTM(in_size, channels, batch_first=True)
        if self.lstm.input_size != in_size or self.lstm.hidden_size != channels or not self.lstm.batch_first:
            raise ValueError(f"PathConv: lstm must be nn.LSTM({in_size}, {channels}, batch_first=True)")
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
        w_ih = lstm.weight_ih_l0
        d = self.channels
        w_x, w_d = (w_ih[:, :d], w_ih[:, d:]) if self.dist_emb is not None else (w_ih, None)
        return w_x, w_d, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0

    def _cell(self, gates, c):
        i, f, g, o = gates.split(self.channels, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = i * g if c is None else f * c + i * g
        return o * torch.tanh(c), c

    def _dist_gates(self, w_d):
        return None if w_d is None else self.dist_emb.weight @ w_d.t()

    def encode_tree(self, x: Tensor, path_set: "PathSet", k: int) -> Tensor:
        """:meth:`encode` for the length-``k`` paths of a reversible :class:`PathSet` without
        distances, along its prefix tree (no dropout)."""
        w_x, _, w_hh, b_ih, b_hh = self._weights()
        parents = path_set.parents
        xw = x @ w_x.t() + b_ih + b_hh
        h, c = self._cell(xw, None)                # length-0 paths: the nodes themselves
        for j in range(1, k + 1):
            p, par = path_set[j - 1], parents[j - 1]
            h, c = self._cell(xw[p[:, j]] + (h @ w_hh.t())[par], c[par])
        # h[r] encodes path r read from its start to its end = the reversed path read from its
        # far end to its start node p[r, -1]
        if path_set.weights is not None:
            h = h * path_set.weights[k - 1].to(h.dtype).unsqueeze(1)
        return x.new_zeros(x.size(0), self.channels).index_add_(0, path_set[k - 1][:, -1], h)

    def _lstm_paths(self, x, paths, dist, xw, dw, w_x, w_hh, b):
        """LSTM encodings ``[P, d]`` of ``paths`` (far end first)."""
        dropped = self.training and self.dropout > 0
        h = c = None
        for t in range(paths.size(1) - 1, -1, -1):
            if dropped:   # dropout on the LSTM inputs, fresh per path position
                xi = _utils.dropout(x[paths[:, t]], self.dropout)
                gates = xi @ w_x.t() + b
            else:
                gates = xw[paths[:, t]]
            if dw is not None:
                gates = gates + dw[dist[:, t]]
            if h is not None:
                gates = gates + h @ w_hh.t()
            h, c = self._cell(gates, c)
        return h

    def encode(self, x: Tensor, paths: Tensor, dist: Tensor | None = None,
               weight: Tensor | None = None) -> Tensor:
        r""":math:`\sum_{p \in \mathcal{P}(v)} \omega_p \mathrm{LSTM}(p)` per node, ``[N, d]``."""
        N = x.size(0)
        out = x.new_zeros(N, self.channels)
        if paths.numel() == 0:
            return out
        w_x, w_d, w_hh, b_ih, b_hh = self._weights()
        b = b_ih + b_hh
        dw = self._dist_gates(w_d)
        # The input projection of every node is computed once and gathered per path step
        # (N x 4d instead of P x (k+1) x 4d matmuls); same gates (i, f, g, o) as nn.LSTM.
        xw = x @ w_x.t() + b
        step = self.chunk_size or paths.size(0)
        for lo in range(0, paths.size(0), step):
            p = paths[lo:lo + step]
            dd = None if dist is None else dist[lo:lo + step]
            h = self._lstm_paths(x, p, dd, xw, dw, w_x, w_hh, b)
            if weight is not None:
                h = h * weight[lo:lo + step].to(h.dtype).unsqueeze(1)
            out.index_add_(0, p[:, 0], h)
        return out

    def encode_dedupe(self, x: Tensor, paths: Tensor, dist: Tensor | None = None,
                      weight: Tensor | None = None, colors: Tensor | None = None):
        """:meth:`encode` evaluating the LSTM once per distinct input sequence (module docstring).

        ``colors`` int64 ``[N]``: structural classes of the nodes (nodes of one class are the
        same function of the parameters); default: bit-identical rows of ``x``.  Returns
        ``(out [N, d], colors of the output)``: the output class of a node is its input class
        plus its multiset of (sequence, weight) classes."""
        N = x.size(0)
        if colors is None:
            colors, _ = _unique_rows(x)
        rid, U = _dense_codes(colors)
        if paths.numel() == 0:
            return x.new_zeros(N, self.channels), rid
        cnt = torch.bincount(rid, minlength=U)
        w_x, w_d, w_hh, b_ih, b_hh = self._weights()
        b = b_ih + b_hh
        dw = self._dist_gates(w_d)
        # one row per class: the value of its first node, the gradient shared by all its nodes
        # (exact: nodes of a class are the same function of the parameters)
        seg_mean = x.new_zeros(U, x.size(1)).index_add_(0, rid, x) / cnt.to(x.dtype).unsqueeze(1)
        first = torch.full((U,), N, dtype=torch.int64).scatter_reduce_(
            0, rid, torch.arange(N), "amin")
        xu = x.detach()[first] + (seg_mean - seg_mean.detach())
        cols = rid[paths]                                              # [P, k + 1]
        radix = U
        if dist is not None:
            D = int(dist.max()) + 1
            cols = cols * D + dist
            radix = U * D
        code, bound = cols[:, 0].clone(), radix
        for t in range(1, cols.size(1)):
            if bound * radix >= _INT62:
                code, bound = _dense_codes(code)
            code = code * radix + cols[:, t]
            bound = bound * radix
        code, S = _dense_codes(code)                                   # sequence id per path
        P = paths.size(0)
        rep = torch.full((S,), P, dtype=torch.int64).scatter_reduce_(0, code, torch.arange(P), "amin")
        rep_paths = rid[paths[rep]]                                     # rows of xu
        rep_dist = None if dist is None else dist[rep]
        xw = xu @ w_x.t() + b
        enc = self._lstm_paths(xu, rep_paths, rep_dist, xw, dw, w_x, w_hh, b)   # [S, d]
        # (start, sequence[, weight class]) groups with multiplicities, summed in sorted order
        W = 1
        if weight is not None:
            wcls, W = _dense_codes(weight)
            code = code * W + wcls
        key = paths[:, 0].long() * (S * W) + code
        gkey, gcnt = torch.unique(key, return_counts=True)
        start, sw = gkey // (S * W), gkey % (S * W)
        seq = sw // W
        mult = gcnt.to(torch.float64)
        if weight is not None:
            mult = mult * torch.unique(weight)[sw % W]
        out = x.new_zeros(N, self.channels).index_add_(0, start, enc[seq] * mult.to(x.dtype).unsqueeze(1))
        return out, self._refine(rid, start, sw, gcnt, N)

    @staticmethod
    def _refine(rid: Tensor, start: Tensor, sw: Tensor, gcnt: Tensor, N: int) -> Tensor:
        """New classes: rows ``[class, (sequence, count) pairs sorted, -1 padding]`` compared
        exactly (the groups arrive sorted by start node, then sequence)."""
        per = torch.bincount(start, minlength=N)
        L = int(per.max()) if per.numel() else 0
        table = torch.full((N, 1 + 2 * L), -1, dtype=torch.int64)
        table[:, 0] = rid
        if L:
            offs = torch.cumsum(per, 0) - per
            pos = torch.arange(start.numel()) - offs[start]
            table[start, 1 + 2 * pos] = sw
            table[start, 2 + 2 * pos] = gcnt
        new, _ = _unique_rows(table)
        return new

    def forward(self, x: Tensor, paths: Tensor, path_set: "PathSet | None" = None) -> Tensor:
        """``path_set``: the :class:`PathSet` that ``paths`` belongs to (gives weights and
        distances, and enables the prefix-tree encoder for reversible sets without distances)."""
        return self.forward_colored(x, paths, path_set)[0]

    def forward_colored(self, x: Tensor, paths: Tensor, path_set: "PathSet | None" = None,
                        colors: Tensor | None = None):
        """:meth:`forward` that also takes / returns the node classes of :meth:`encode_dedupe`
        (``None`` without ``dedupe``)."""
        if not isinstance(paths, Tensor) or paths.dtype not in (torch.int64, torch.int32) \
                or paths.dim() != 2:
            raise TypeError("PathConv: paths must be an int64 or int32 tensor [num_paths, k + 1] (from "
                            f"gnnkit.ops.enumerate_paths), got {getattr(paths, 'dtype', type(paths))}")
        if x.dim() != 2 or x.size(1) != self.channels:
            raise ValueError(f"PathConv: x must have shape [N, {self.channels}], got {tuple(x.shape)}")
        if paths.numel() and (int(paths.min()) < 0 or int(paths.max()) >= x.size(0)):
            raise IndexError(f"PathConv: path node ids must lie in [0, {x.size(0)}), got "
                             f"[{int(paths.min())}, {int(paths.max())}]")
        k = paths.size(1) - 1
        dist = weight = None
        if path_set is not None:
            weight = None if path_set.weights is None else path_set.weights[k - 1]
            if self.dist_emb is not None:
                dist = path_set.distances(k)
        elif self.dist_emb is not None:
            raise ValueError("PathConv: distance encoding needs path_set (a PathSet from "
                             "compute_paths(..., distances=True))")
        if dist is not None and dist.numel() and int(dist.max()) >= self.dist_emb.num_embeddings:
            raise ValueError(f"PathConv: distance {int(dist.max())} >= the embedding's "
                             f"{self.dist_emb.num_embeddings} entries")
        new_colors = None
        if self.dedupe:
            h, new_colors = self.encode_dedupe(x, paths, dist, weight, colors)
        elif (path_set is not None and path_set.reversible and dist is None and paths.numel() > 0
              and not (self.training and self.dropout > 0)):
            h = self.encode_tree(x, path_set, k)
        else:
            h = self.encode(x, paths, dist, weight)
        if self.residual:
            h = h + x
        if self.bn is not None:
            h = self.bn(h)
        return F.relu(h), new_colors

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
        batch_norm (bool): batch norm in the encoder and the path layers (the official
            synthetic-data code uses none). (default: :obj:`True`)
        encode_distances (bool): concatenate a learned embedding of :math:`d(p_0, p_t)` to the
            LSTM inputs (official ``encode_distances``). (default: :obj:`False`)
        l2_norm (bool): :math:`\ell_2`-normalise node rows before every path layer (official
            ``l2_norm``). (default: :obj:`False`)
        dedupe (bool): see the module docstring. (default: :obj:`False`)

    Shapes:
        ``x [N, F_in]``, ``paths`` a :class:`PathSet` (or a list of ``K`` tensors
        ``[P_k, k + 1]``) with the same ``max_len``, ``batch [N]`` -> ``[B, out_channels]``.

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
                 readout: str = "add", chunk_size: int | None = None, batch_norm: bool = True,
                 encode_distances: bool = False, l2_norm: bool = False, dedupe: bool = False):
        super().__init__()
        check_positive_int("PathNN", in_channels=in_channels, hidden_channels=hidden_channels,
                           out_channels=out_channels, max_len=max_len)
        _utils.check_probability("PathNN", dropout=dropout)
        if mode not in PATH_MODES:
            raise ValueError(f"PathNN: mode must be one of {PATH_MODES}, got {mode!r}")
        if readout not in ("add", "mean", "max"):
            raise ValueError(f"PathNN: readout must be 'add', 'mean' or 'max', got {readout!r}")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.max_len, self.mode, self.dropout = max_len, mode, dropout
        self.residual, self.readout = residual, readout
        self.encode_distances, self.l2_norm, self.dedupe = encode_distances, l2_norm, dedupe
        d = hidden_channels
        bn = (lambda: nn.BatchNorm1d(d)) if batch_norm else nn.Identity
        self.encoder = nn.Sequential(nn.Linear(in_channels, d), bn(), nn.ReLU(),
                                     nn.Linear(d, d), bn(), nn.ReLU())
        self.dist_emb = nn.Embedding(max_len + 1, d) if encode_distances else None
        self.lstm = nn.LSTM(2 * d if encode_distances else d, d, batch_first=True)
        self.convs = nn.ModuleList(PathConv(d, self.lstm, residual, batch_norm, dropout, chunk_size,
                                            self.dist_emb, dedupe)
                                   for _ in range(max_len))
        self.lin1 = nn.Linear(d, d)
        self.lin2 = nn.Linear(d, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.encoder:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        self.lstm.reset_parameters()
        if self.dist_emb is not None:
            nn.init.xavier_uniform_(self.dist_emb.weight)
        for c in self.convs:
            c.reset_parameters()
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def compute_paths(self, graph, max_paths: int = DEFAULT_MAX_PATHS) -> PathSet:
        """Paths of this model's ``mode`` and ``max_len`` for ``graph`` (with distances when
        the model encodes them)."""
        return compute_paths(graph, self.max_len, self.mode, max_paths,
                             distances=self.encode_distances)

    def node_embeddings(self, x: Tensor, paths) -> Tensor:
        """``[N, d]``: the node representations after the last path layer."""
        if len(paths) != self.max_len:
            raise ValueError(f"PathNN: expected paths for lengths 1..{self.max_len} "
                             f"({self.max_len} tensors), got {len(paths)}")
        for k, p in enumerate(paths, start=1):
            if isinstance(p, Tensor) and p.dim() == 2 and p.size(1) != k + 1:
                raise ValueError(f"PathNN: paths[{k - 1}] must hold length-{k} paths [P, {k + 1}], "
                                 f"got shape {tuple(p.shape)}")
        path_set = paths if isinstance(paths, PathSet) else None
        if path_set is None and (self.mode == "sp" or self.encode_distances):
            raise ValueError(f"PathNN(mode={self.mode!r}, encode_distances={self.encode_distances})"
                             " needs a PathSet from compute_paths (weights / distances)")
        if path_set is not None and (path_set.mode == "sp") != (self.mode == "sp"):
            raise ValueError(f"PathNN: model mode {self.mode!r} but paths computed for "
                             f"{path_set.mode!r}")
        # dedupe: node classes start from bit-identical input rows (the encoder is row-wise)
        colors = _unique_rows(x)[0] if self.dedupe else None
        h = self.encoder(x)
        for conv, p in zip(self.convs, paths):
            if self.l2_norm:
                h = F.normalize(h, p=2.0, dim=1)
            h, colors = conv.forward_colored(h, p, path_set, colors)
        return h

    def forward(self, x: Tensor, paths, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        h = global_pool(self.node_embeddings(x, paths), batch, self.readout, num_graphs)
        h = _utils.activation_dropout(self.lin1(h), F.relu, self.dropout, self.training)
        return self.lin2(h)

    def __repr__(self) -> str:
        return (f"PathNN({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"max_len={self.max_len}, mode={self.mode!r})")
