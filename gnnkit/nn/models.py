r"""Ready-made node-classification models with the papers' default architectures, and the
model registry (name -> class, architecture defaults, supported task kinds).

=========  =======================================================================================
``gcn``    Kipf & Welling 2017: 2 layers, hidden 16, dropout 0.5
``gat``    Veličković et al. 2018: 8 heads x 8 hidden (ELU), 1 averaged output head, dropout 0.6
           on inputs and attention
``dagnn``  Liu, Gao & Ji 2020: MLP hidden 64, K = 10, dropout 0.8
``mlp``    2-layer MLP, hidden 64, dropout 0.5 (baseline, no paper)
``gae``    link: Kipf & Welling 2016 graph auto-encoder, GCN 32-16, inner product
``vgae``   link: the variational GAE (same paper and sizes)
``link-*`` link: OGB baselines, ``link-sage`` / ``link-gcn``: 3 x 256 encoder + Hadamard MLP
=========  =======================================================================================

How each model is trained (optimiser settings, early stopping, dataset-specific overrides such
as GAT's 8 output heads on PubMed) is a recipe of :mod:`gnnkit.train.recipes`.
:func:`build_model` sizes a model from a task (:mod:`gnnkit.tasks`).
"""
from __future__ import annotations

import copy

import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn.dagnn import DAGNNConv
from gnnkit.nn.gae import build_gae, build_link_gnn, build_vgae
from gnnkit.nn.gat_conv import GATConv
from gnnkit.nn.gcn_conv import GCNConv
from gnnkit.nn.mlp import MLP

__all__ = ["GCN", "GAT", "DAGNN", "MLP", "get_model", "build_model", "available_models",
           "register_model", "model_kwargs", "model_kinds"]


def _check_depth(name: str, num_layers, dropout) -> None:
    _utils.check_positive_int(name, num_layers=num_layers)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}")


class _ConvStack(nn.Module):
    """The layer loop shared by :class:`GCN` and :class:`GAT`: for every conv in ``self.convs``,
    input dropout (not on the raw features when ``input_dropout`` is False), the conv, then
    ``self.norms[i]`` (when set) and ``self.activation`` (not after the last layer)."""

    activation = staticmethod(F.relu)
    input_dropout = True

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        for norm in getattr(self, "norms", None) or ():
            norm.reset_parameters()

    def forward(self, x: Tensor, graph) -> Tensor:
        """``x [N, F_in]`` and a graph (used by every layer) or a list of ``num_layers`` blocks
        -> logits ``[N_dst, F_out]``."""
        norms = getattr(self, "norms", None)
        if self.input_dropout:
            x = _utils.dropout(x, self.dropout, self.training)
        for i, conv in enumerate(self.convs):
            x = conv(x, _utils.layer_graph(graph, i, self.num_layers))
            if i < self.num_layers - 1:
                if norms is not None:
                    x = norms[i](x)
                # the activation, then the next layer's input dropout (one pass for ReLU)
                x = _utils.activation_dropout(x, self.activation, self.dropout, self.training)
        return x


class GCN(_ConvStack):
    r"""The GCN of `Kipf & Welling (ICLR 2017) <https://arxiv.org/abs/1609.02907>`_:
    ``num_layers`` :class:`GCNConv` with ReLU and dropout on the input of every layer.

    .. math::
        \mathbf{Z} = \hat{\mathbf{A}}\, \mathrm{ReLU}(\hat{\mathbf{A}}\, \mathrm{drop}(\mathbf{X})
        \mathbf{W}^{(0)})\, \mathbf{W}^{(1)} \quad (\text{two layers; logits, no softmax})

    Args:
        in_channels (int), out_channels (int): input size and number of classes.
        hidden_channels (int, optional): (default: :obj:`16`)
        num_layers (int, optional): (default: :obj:`2`)
        dropout (float, optional): (default: :obj:`0.5`)
        cached (bool, optional): cache the normalisation in every layer. (default: :obj:`False`)
        norm (str, optional): ``'batch'`` puts a ``BatchNorm1d`` after every hidden layer, before
            the ReLU (OGB's reference GCN). (default: :obj:`None`)
        input_dropout (bool, optional): drop out the input features too (Kipf & Welling); OGB's
            reference GCN drops only hidden features. (default: :obj:`True`)

    ``forward(x, graph)`` takes a graph (used by every layer) or a list of ``num_layers`` blocks.

    >>> GCN(1433, 7)
    GCN(1433, 7, hidden_channels=16, num_layers=2)
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 16,
                 num_layers: int = 2, dropout: float = 0.5, cached: bool = False,
                 norm: str | None = None, input_dropout: bool = True):
        super().__init__()
        _check_depth("GCN", num_layers, dropout)
        if norm not in (None, "batch"):
            raise ValueError(f"GCN: norm must be None or 'batch', got {norm!r}")
        self.norm, self.input_dropout = norm, bool(input_dropout)
        if norm == "batch":
            self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_channels) for _ in range(num_layers - 1))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels, self.num_layers, self.dropout = hidden_channels, num_layers, dropout
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(GCNConv(a, b, cached=cached) for a, b in zip(sizes[:-1], sizes[1:]))
        self.reset_parameters()

    def __repr__(self) -> str:
        return (f"GCN({self.in_channels}, {self.out_channels}, hidden_channels="
                f"{self.hidden_channels}, num_layers={self.num_layers})")


class GAT(_ConvStack):
    r"""The GAT of `Veličković et al. (ICLR 2018) <https://arxiv.org/abs/1710.10903>`_:
    :class:`GATConv` layers with ``heads`` concatenated heads and ELU, then an output layer with
    ``out_heads`` averaged heads; dropout on the input of every layer and on the attention.

    Args:
        in_channels (int), out_channels (int): input size and number of classes.
        hidden_channels (int, optional): size of every hidden head. (default: :obj:`8`)
        heads (int, optional): hidden heads. (default: :obj:`8`)
        out_heads (int, optional): output heads, averaged. (default: :obj:`1`)
        num_layers (int, optional): (default: :obj:`2`)
        dropout (float, optional): input dropout. (default: :obj:`0.6`)
        attn_dropout (float, optional): attention dropout. (default: :obj:`0.6`)
        residual (bool, optional): residual projections in every layer. (default: :obj:`False`)

    >>> GAT(1433, 7)
    GAT(1433, 7, hidden_channels=8, heads=8, out_heads=1)
    """

    activation = staticmethod(F.elu)

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 8,
                 heads: int = 8, out_heads: int = 1, num_layers: int = 2, dropout: float = 0.6,
                 attn_dropout: float = 0.6, residual: bool = False):
        super().__init__()
        _check_depth("GAT", num_layers, dropout)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels, self.heads, self.out_heads = hidden_channels, heads, out_heads
        self.num_layers, self.dropout, self.attn_dropout = num_layers, dropout, attn_dropout
        convs, size = [], in_channels
        for _ in range(num_layers - 1):
            convs.append(GATConv(size, hidden_channels, heads=heads, dropout=attn_dropout,
                                 residual=residual))
            size = heads * hidden_channels
        convs.append(GATConv(size, out_channels, heads=out_heads, concat=False,
                             dropout=attn_dropout, residual=residual))
        self.convs = nn.ModuleList(convs)
        self.reset_parameters()

    def __repr__(self) -> str:
        return (f"GAT({self.in_channels}, {self.out_channels}, hidden_channels="
                f"{self.hidden_channels}, heads={self.heads}, out_heads={self.out_heads})")


class DAGNN(nn.Module):
    r"""DAGNN of `Liu, Gao & Ji (KDD 2020) <https://arxiv.org/abs/2007.09296>`_: an MLP
    :math:`\mathbf{Z} = \mathrm{MLP}(\mathbf{X})` (dropout, linear, ReLU, dropout, linear), then
    :class:`DAGNNConv` (``K`` propagation steps with adaptive per-hop retention scores).

    Args:
        in_channels (int), out_channels (int): input size and number of classes.
        hidden_channels (int, optional): (default: :obj:`64`)
        K (int, optional): propagation steps. (default: :obj:`10`)
        dropout (float, optional): (default: :obj:`0.8`)
        cached (bool, optional): cache the normalisation. (default: :obj:`False`)

    >>> DAGNN(1433, 7)
    DAGNN(1433, 7, hidden_channels=64, K=10)
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64,
                 K: int = 10, dropout: float = 0.8, cached: bool = False):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"DAGNN: dropout must be in [0, 1), got {dropout!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels, self.K, self.dropout = hidden_channels, K, dropout
        self.mlp = MLP(in_channels, hidden_channels, out_channels, num_layers=2, dropout=dropout)
        self.prop = DAGNNConv(out_channels, K=K, cached=cached)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()
        self.prop.reset_parameters()

    def forward(self, x: Tensor, graph) -> Tensor:
        return self.prop(self.mlp(x), graph)

    def __repr__(self) -> str:
        return (f"DAGNN({self.in_channels}, {self.out_channels}, hidden_channels="
                f"{self.hidden_channels}, K={self.K})")


class _MLPModel(MLP):
    """The ``mlp`` registry entry: :class:`MLP` with the (in, out, hidden=...) signature."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64,
                 num_layers: int = 2, dropout: float = 0.5, activation: str = "relu"):
        super().__init__(in_channels, hidden_channels, out_channels, num_layers=num_layers,
                         dropout=dropout, activation=activation)

    def __repr__(self) -> str:
        return "MLP" + super().__repr__()[len(type(self).__name__):]


# ---------------------------------------------------------------------- registry
# name -> (class, architecture defaults, task kinds).  Training settings and dataset-specific
# overrides are recipes of gnnkit.train.recipes, not part of nn.
_REGISTRY: dict = {
    "gcn": (GCN, {"hidden_channels": 16, "num_layers": 2, "dropout": 0.5}, ("node",)),
    "gat": (GAT, {"hidden_channels": 8, "heads": 8, "out_heads": 1, "dropout": 0.6,
                  "attn_dropout": 0.6}, ("node",)),
    "dagnn": (DAGNN, {"hidden_channels": 64, "K": 10, "dropout": 0.8}, ("node",)),
    "mlp": (_MLPModel, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5}, ("node",)),
    # link prediction (gnnkit.nn.gae): Kipf & Welling 2016 (32-16 GCN), OGB's SAGE / GCN baselines
    "gae": (build_gae, {"hidden_channels": 32, "out_channels": 16}, ("link",)),
    "vgae": (build_vgae, {"hidden_channels": 32, "out_channels": 16}, ("link",)),
    "link-sage": (build_link_gnn, {"hidden_channels": 256, "num_layers": 3, "dropout": 0.0, "conv": "sage",
                                   "predictor": "mlp"}, ("link",)),
    "link-gcn": (build_link_gnn, {"hidden_channels": 256, "num_layers": 3, "dropout": 0.0, "conv": "gcn",
                                  "predictor": "mlp"}, ("link",)),
}


def available_models(kind: str | None = None) -> list[str]:
    """Names accepted by :func:`get_model` (only those supporting task kind ``kind`` if given).

    >>> {'dagnn', 'gat', 'gcn', 'mlp'} <= set(available_models('node'))
    True
    """
    return sorted(n for n, e in _REGISTRY.items() if kind is None or kind in e[2])


def register_model(name: str, cls, model_kwargs: dict | None = None, *, kinds=("node",),
                   **legacy) -> None:
    """Add a model to the registry: ``cls(in_channels, out_channels, **model_kwargs)``,
    usable for the task kinds ``kinds``.  Training defaults go to
    :func:`gnnkit.train.recipes.register_recipe`."""
    if legacy:
        raise TypeError(f"register_model: {sorted(legacy)} moved out of nn: register training "
                        "defaults with gnnkit.train.recipes.register_recipe(name, train=..., "
                        "datasets=...)")
    key = name.lower()
    if key in _REGISTRY:
        raise ValueError(f"register_model: a model named {name!r} is already registered")
    if isinstance(kinds, str) or not kinds:
        raise ValueError(f"register_model: kinds must be a non-empty sequence of task kinds, got {kinds!r}")
    _REGISTRY[key] = (cls, dict(model_kwargs or {}), tuple(kinds))


def _lookup(name: str):
    key = str(name).lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    return _REGISTRY[key]


def model_kwargs(name: str) -> dict:
    """The architecture defaults of a registered model (a copy).

    >>> model_kwargs('gcn')
    {'hidden_channels': 16, 'num_layers': 2, 'dropout': 0.5}
    """
    return copy.deepcopy(_lookup(name)[1])


def model_kinds(name: str) -> tuple:
    """The task kinds a registered model supports."""
    return _lookup(name)[2]


def _build(name: str, in_channels: int, out_channels: int, kwargs: dict, overrides) -> nn.Module:
    cls = _lookup(name)[0]
    try:
        return cls(in_channels, out_channels, **kwargs)
    except TypeError as e:
        raise ValueError(f"get_model({name!r}): bad override(s) {sorted(overrides)}: {e}") from e


def get_model(name: str, in_channels: int, out_channels: int, dataset_name: str | None = None,
              **overrides) -> nn.Module:
    """Build a registered model with its papers' defaults (see the module docstring).

    Args:
        name (str): a registry name (:func:`available_models`, case-insensitive).
        in_channels (int): number of input features.
        out_channels (int): output width (classes).
        dataset_name (str, optional): apply the training recipe's dataset-specific model
            overrides (e.g. GAT's 8 output heads on ``'pubmed'``; see
            :mod:`gnnkit.train.recipes`).
        **overrides: model keyword arguments replacing the defaults.

    >>> get_model('gat', 500, 3, dataset_name='pubmed')
    GAT(500, 3, hidden_channels=8, heads=8, out_heads=8)
    """
    kwargs = model_kwargs(name)
    if dataset_name:
        # The dataset overrides are recipes (gnnkit.train), looked up only when asked for.
        from gnnkit.train.recipes import dataset_model_overrides

        kwargs.update(dataset_model_overrides(name, dataset_name))
    kwargs.update(overrides)
    return _build(name, in_channels, out_channels, kwargs, overrides)


def build_model(name: str, task, **overrides) -> nn.Module:
    """Build a registered model for ``task``: ``in = task.num_features``, ``out =
    task.num_outputs`` (one logit for a binary task, ``T`` for ``T`` tasks, ...).

    Raises ``ValueError`` when the model does not declare ``task.kind``.

    >>> from gnnkit.data import csbm
    >>> from gnnkit.tasks import NodeTask
    >>> build_model('gcn', NodeTask(csbm(50, num_classes=3, feature_dim=4, seed=0)))
    GCN(4, 3, hidden_channels=16, num_layers=2)
    """
    kinds = model_kinds(name)
    if task.kind not in kinds:
        raise ValueError(f"build_model: model {name!r} supports task kind(s) {list(kinds)}, not "
                         f"{task.kind!r}; models for {task.kind!r}: "
                         f"{', '.join(available_models(task.kind)) or 'none'}")
    kwargs = model_kwargs(name)
    kwargs.update(overrides)
    return _build(name, task.num_features, task.num_outputs, kwargs, overrides)
