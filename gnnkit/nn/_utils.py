r"""Helpers shared by the gnnkit layers: input conversion, dropout, initialisers.

Layers keep **one** internal graph type per kind of input.  :func:`as_graph` (the one of
:mod:`gnnkit.graphlike`) converts what a user may pass at the API boundary (a :class:`gnnkit.Graph`, a :class:`gnnkit.block.Block`, any other
CSR object with ``indptr``/``indices``, an ``edge_index`` tensor or a PyG ``Data``) once into a
:class:`gnnkit.Graph` or a :class:`~gnnkit.block.Block`; both offer the operations the layers use
(``with_edge_weight``, ``add_self_loops``, ``remove_self_loops``, ``dst_index``, ``transpose``).

A *block* (bipartite sampled sub-graph, PyG ``NeighborLoader`` convention) has ``num_nodes =
N_dst`` destination rows and ``num_src_nodes = N_src`` sources; the destination nodes are the
first ``N_dst`` source nodes, so ``x_dst = x[:N_dst]``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from gnnkit.graph import Graph
from gnnkit.graphlike import as_graph, num_src_nodes
from gnnkit.ops.dropout import dropout as _ops_dropout

__all__ = ["as_graph", "is_block", "num_src_nodes", "check_positive_int", "check_probability", "glorot",
           "zeros", "dropout", "activation_dropout", "Dropout", "first_rows", "layer_graph", "check_features", "register_bias"]


def check_positive_int(where: str, hint: str = "", **values) -> None:
    """Raise a ``ValueError`` naming ``where``, the argument and its value unless every value is
    an int > 0 (bools are rejected).

    >>> check_positive_int("GCNConv", out_channels=0)
    Traceback (most recent call last):
        ...
    ValueError: GCNConv: out_channels must be a positive int, got 0
    """
    for arg, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{where}: {arg} must be a positive int{hint}, got {v!r}")


def check_probability(where: str, **values) -> None:
    """Raise a ``ValueError`` naming ``where``, the argument and its value unless every value is a
    real number in ``[0, 1)`` (a dropout probability; bools are rejected).

    >>> check_probability("PathNN", dropout=1.5)
    Traceback (most recent call last):
        ...
    ValueError: PathNN: dropout must be in [0, 1), got 1.5
    """
    for arg, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
            raise ValueError(f"{where}: {arg} must be in [0, 1), got {v!r}")


def layer_graph(graph, i: int, num_layers: int):
    """The graph of layer ``i``: the same graph, or ``graph[i]`` for a list of blocks (one per
    layer, input layer first; ``ValueError`` unless there are ``num_layers`` of them)."""
    if isinstance(graph, (list, tuple)):
        if len(graph) != num_layers:
            raise ValueError(f"expected {num_layers} blocks (one per layer), got {len(graph)}")
        return graph[i]
    return graph


def check_features(where: str, x, in_channels: int) -> None:
    """Raise a ``ValueError`` naming ``where`` unless ``x`` is a ``[N, in_channels]`` tensor."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.size(-1) != in_channels:
        raise ValueError(f"{where}: x must have shape [N, {in_channels}], got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")


def register_bias(module: torch.nn.Module, size: int, bias: bool) -> None:
    """``module.bias``: an uninitialised ``[size]`` parameter (``reset_parameters`` fills it) when
    ``bias``, else registered as ``None``."""
    if bias:
        module.bias = torch.nn.Parameter(torch.empty(size))
    else:
        module.register_parameter("bias", None)


def is_block(graph) -> bool:
    """True for a graph-like object that is not a :class:`gnnkit.Graph` (a sampler block)."""
    return not isinstance(graph, Graph)


def dropout(x: Tensor, p: float, training: bool = True, relu: bool = False) -> Tensor:
    r"""Inverted dropout: each entry kept with probability :math:`1 - p` and scaled by
    :math:`1 / (1 - p)`; with ``relu=True`` it returns ``dropout(relu(x))`` (fused on CPU).

    The path is chosen by the device and layout of ``x``, never by a failure:

    - **dense CPU** (every gnnkit model on CPU): :func:`gnnkit.ops.dropout`, one pass of the C++
      kernel whose mask is a counter-based hash of (one seed drawn from torch's generator, element
      index): no mask is stored, the result does not depend on the thread count, and the ReLU is
      fused (its backward reads the output).  Keep probability within :math:`2^{-33}` of
      :math:`1 - p`.
    - **sparse COO** ``x`` (e.g. bag-of-words node features, see :class:`gnnkit.tasks.NodeTask`
      ``sparse_features``): stays sparse; only its stored values draw a mask from ``torch.rand``
      ("sparse dropout", as in Kipf & Welling's code; zeros stay zero either way, so the
      distribution is the same).
    - **CUDA** (no gnnkit dropout kernel there): ``torch.rand_like(x) >= p`` as the mask.

    ``p >= 1`` drops everything (``x * 0``).
    """
    if not training or p == 0.0:
        return torch.relu(x) if relu else x
    if p >= 1.0:
        return x * 0.0
    if x.layout == torch.strided and x.device.type == "cpu":
        return _ops_dropout(x, p, relu=relu)
    if relu:
        x = torch.relu(x)
    scale = 1.0 / (1.0 - p)
    if x.is_sparse:
        x = x.coalesce()
        vals = x.values()
        keep = torch.rand(vals.shape, dtype=vals.dtype, device=vals.device) >= p
        return torch.sparse_coo_tensor(x.indices()[:, keep], vals[keep] * scale, x.shape,
                                       check_invariants=False,
                                       is_coalesced=True)
    r = torch.rand_like(x).ge_(p).mul_(scale)  # 0 or 1/(1-p), in place: one temporary
    return x * r


def activation_dropout(x: Tensor, activation, p: float, training: bool = True) -> Tensor:
    """``dropout(activation(x))``, with the ReLU fused into the dropout pass when ``activation``
    is ``torch.nn.functional.relu`` / ``torch.relu``."""
    if activation is F.relu or activation is torch.relu:
        return dropout(x, p, training, relu=True)
    return dropout(activation(x), p, training)


class Dropout(torch.nn.Module):
    """:func:`dropout` as a module: the drop-in for ``torch.nn.Dropout`` inside an
    ``nn.Sequential`` (no parameters, so it keeps the ``state_dict`` keys of the sequence).

    >>> Dropout(0.5)
    Dropout(p=0.5)
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        check_probability("Dropout", p=p)
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def first_rows(x: Tensor, n: int) -> Tensor:
    """``x[:n]`` (the destination rows of a block), also for a sparse COO ``x``."""
    if x.size(0) == n:
        return x
    if x.is_sparse:
        return x.index_select(0, torch.arange(n, device=x.device))
    return x[:n]


def glorot(t: Tensor | None) -> None:
    """Glorot/Xavier uniform in place, with PyG's fan computation on the last two dims."""
    if t is not None:
        a = math.sqrt(6.0 / (t.size(-2) + t.size(-1)))
        with torch.no_grad():
            t.uniform_(-a, a)


def zeros(t: Tensor | None) -> None:
    if t is not None:
        with torch.no_grad():
            t.zero_()
