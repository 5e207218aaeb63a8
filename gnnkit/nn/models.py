r"""Ready-made node-classification models with the papers' default hyper-parameters, and the
model registry used by the trainer and the CLI.

=========  =======================================================================================
``gcn``    Kipf & Welling 2017: 2 layers, hidden 16, dropout 0.5; Adam lr 0.01, wd 5e-4
``gat``    Veličković et al. 2018: 8 heads x 8 hidden (ELU), 1 output head (8 averaged on PubMed),
           dropout 0.6 on inputs and attention; Adam lr 0.005, wd 5e-4 (PubMed: lr 0.01, wd 1e-3)
``dagnn``  Liu, Gao & Ji 2020: MLP hidden 64, K = 10 (PubMed 20), dropout 0.8 (CiteSeer 0.5);
           Adam lr 0.01, wd 0.005 (CiteSeer 0.02)
``mlp``    2-layer MLP, hidden 64, dropout 0.5; Adam lr 0.01, wd 5e-4 (baseline, no paper)
=========  =======================================================================================

Training defaults follow the papers' protocols: GCN 200 epochs (best validation accuracy),
GAT and DAGNN up to 1000 epochs with patience 100 (GAT: validation accuracy, DAGNN: validation
loss, as the authors' ``train_eval.py``), features row-normalised on the Planetoid datasets
(all three papers do so).  The DAGNN values are the authors' ``run.sh`` flags
(mengliu1998/DeeperGNN).
"""
from __future__ import annotations

import copy

import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.nn import _utils
from gnnkit.nn.dagnn import DAGNNConv
from gnnkit.nn.gat_conv import GATConv
from gnnkit.nn.gcn_conv import GCNConv
from gnnkit.nn.mlp import MLP

__all__ = ["GCN", "GAT", "DAGNN", "MLP", "get_model", "model_defaults", "available_models",
           "register_model"]


def _layer_graph(graph, i: int, num_layers: int):
    """The graph of layer ``i``: the same graph, or ``graph[i]`` for a list of blocks."""
    if isinstance(graph, (list, tuple)):
        if len(graph) != num_layers:
            raise ValueError(f"expected {num_layers} blocks (one per layer), got {len(graph)}")
        return graph[i]
    return graph


def _check_depth(name: str, num_layers, dropout) -> None:
    _utils.check_positive_int(name, num_layers=num_layers)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}")


class _ConvStack(nn.Module):
    """The layer loop shared by :class:`GCN` and :class:`GAT`: for every conv in ``self.convs``,
    input dropout, the conv, then ``self.activation`` (not after the last layer)."""

    activation = staticmethod(F.relu)

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, graph) -> Tensor:
        """``x [N, F_in]`` and a graph (used by every layer) or a list of ``num_layers`` blocks
        -> logits ``[N_dst, F_out]``."""
        for i, conv in enumerate(self.convs):
            x = _utils.dropout(x, self.dropout, self.training)
            x = conv(x, _layer_graph(graph, i, self.num_layers))
            if i < self.num_layers - 1:
                x = self.activation(x)
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

    ``forward(x, graph)`` takes a graph (used by every layer) or a list of ``num_layers`` blocks.

    >>> GCN(1433, 7)
    GCN(1433, 7, hidden_channels=16, num_layers=2)
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 16,
                 num_layers: int = 2, dropout: float = 0.5, cached: bool = False):
        super().__init__()
        _check_depth("GCN", num_layers, dropout)
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
_TRAIN_BASE = {"lr": 0.01, "weight_decay": 5e-4, "epochs": 200, "patience": None,
               "monitor": "val_acc", "normalize_features": False}

# name -> (class, model kwargs, train kwargs, {dataset: (model overrides, train overrides)})
_REGISTRY: dict = {
    "gcn": (GCN, {"hidden_channels": 16, "num_layers": 2, "dropout": 0.5},
            {"lr": 0.01, "weight_decay": 5e-4, "epochs": 200, "patience": None},
            {}),
    "gat": (GAT, {"hidden_channels": 8, "heads": 8, "out_heads": 1, "dropout": 0.6,
                  "attn_dropout": 0.6},
            {"lr": 0.005, "weight_decay": 5e-4, "epochs": 1000, "patience": 100},
            {"pubmed": ({"out_heads": 8}, {"lr": 0.01, "weight_decay": 1e-3})}),
    "dagnn": (DAGNN, {"hidden_channels": 64, "K": 10, "dropout": 0.8},
              {"lr": 0.01, "weight_decay": 0.005, "epochs": 1000, "patience": 100,
               "monitor": "val_loss"},
              {"citeseer": ({"dropout": 0.5}, {"weight_decay": 0.02}),
               "pubmed": ({"K": 20}, {})}),
    "mlp": (_MLPModel, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5},
            {"lr": 0.01, "weight_decay": 5e-4, "epochs": 500, "patience": 100}, {}),
}
_PLANETOID = ("cora", "citeseer", "pubmed")


def available_models() -> list[str]:
    """Names accepted by :func:`get_model`.

    >>> available_models()[:7]
    ['dagnn', 'dir-gat', 'dir-gcn', 'dir-gnn', 'dir-sage', 'gat', 'gbp']
    """
    return sorted(_REGISTRY)


def register_model(name: str, cls, model_kwargs: dict | None = None,
                   train_kwargs: dict | None = None, per_dataset: dict | None = None) -> None:
    """Add a model to the registry (``cls(in_channels, out_channels, **model_kwargs)``)."""
    key = name.lower()
    if key in _REGISTRY:
        raise ValueError(f"register_model: a model named {name!r} is already registered")
    _REGISTRY[key] = (cls, dict(model_kwargs or {}), dict(train_kwargs or {}), dict(per_dataset or {}))


def _lookup(name: str):
    key = str(name).lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    return _REGISTRY[key]


def model_defaults(name: str, dataset_name: str | None = None) -> tuple[dict, dict]:
    """``(model_kwargs, train_kwargs)``: the defaults of ``name`` for ``dataset_name``.

    ``train_kwargs`` has ``lr``, ``weight_decay``, ``epochs``, ``patience``, ``monitor`` and
    ``normalize_features`` (:class:`gnnkit.train.TrainConfig` fields).

    >>> m, t = model_defaults('dagnn', 'citeseer')
    >>> m['dropout'], t['weight_decay'], t['monitor']
    (0.5, 0.02, 'val_loss')
    """
    cls, mk, tk, per = _lookup(name)
    model_kw, train_kw = dict(mk), {**_TRAIN_BASE, **tk}
    ds = (dataset_name or "").lower()
    if ds in per:
        model_kw.update(per[ds][0])
        train_kw.update(per[ds][1])
    if ds in _PLANETOID:
        train_kw["normalize_features"] = True
    return copy.deepcopy(model_kw), train_kw


def get_model(name: str, in_channels: int, out_channels: int, dataset_name: str | None = None,
              **overrides) -> nn.Module:
    """Build a registered model with the papers' defaults (see the module docstring).

    Args:
        name (str): ``'gcn'``, ``'gat'``, ``'dagnn'`` or ``'mlp'`` (case-insensitive).
        in_channels (int): number of input features.
        out_channels (int): number of classes.
        dataset_name (str, optional): selects dataset-specific defaults (e.g. ``'citeseer'``).
        **overrides: model keyword arguments replacing the defaults.

    >>> get_model('gat', 500, 3, dataset_name='pubmed')
    GAT(500, 3, hidden_channels=8, heads=8, out_heads=8)
    """
    cls = _lookup(name)[0]
    kwargs, _ = model_defaults(name, dataset_name)
    kwargs.update(overrides)
    try:
        return cls(in_channels, out_channels, **kwargs)
    except TypeError as e:
        raise ValueError(f"get_model({name!r}): bad override(s) {sorted(overrides)}: {e}") from e
