r"""Graph-level models in the model registry (task kind ``'graph'``), registered through the
public API (:func:`gnnkit.nn.models.register_model`, :func:`gnnkit.train.recipes.register_recipe`).

================  =======================================================================
``gin``           GIN (Xu et al. 2019): 5 layers, hidden 300, dropout 0.5, mean readout
                  (OGB's reference sizes), no edge features
``gine``          GINE (Hu et al. 2020; OGB's ``gin``): GIN + edge features
``gine-vn``       GINE with a virtual node (OGB's ``gin-virtual``)
``pathnn-sp``     PathNN-SP (mean over all shortest paths per pair, permutation invariant)
``pathnn-sp+``    PathNN-SP+ (all shortest paths)
``pathnn-ap``     PathNN-AP (all simple paths, distance encoding)
``dgn``           DGN (Beaini et al. 2021): 4 layers, hidden 64, mean + dir1-av + dir1-dx
================  =======================================================================

Every entry is ``cls(in_channels, out_channels, **kwargs)`` with ``forward_batch(batch)`` (a
:class:`gnnkit.tasks.Batch` from :class:`~gnnkit.tasks.graph.GraphTask`) and
``precompute_spec()`` (what :meth:`GraphTask.prepare` must build once per dataset).

Recipes (training settings; per dataset overrides): OGB's reference (``examples/graphproppred``)
for ``ogbg-*``: Adam lr 1e-3, batch 32, 100 epochs, the atom / bond encoders on molecules and
``nn.Embedding(1, d)`` + a linear edge encoder (7 features) on ogbg-ppa.  The synthetic sets use
the PathNN paper's settings (``experiments/configs/expressivity.yaml``).
"""
from __future__ import annotations

from torch import Tensor

from gnnkit.nn.dgn import DGN
from gnnkit.nn.gin import GIN
from gnnkit.nn.models import available_models, register_model
from gnnkit.nn.pathnn import PathNN
from gnnkit.train.recipes import register_recipe

__all__ = ["GraphGIN", "GraphPathNN", "GraphDGN", "register_graph_models"]

_OGB_TRAIN = {"lr": 1e-3, "weight_decay": 0.0, "epochs": 100, "patience": None, "batch_size": 32}
_MOL = {"node_encoder": "atom", "edge_encoder": "bond", "edge_dim": 3}
_PPA = {"node_encoder": "embedding", "edge_encoder": "linear", "edge_dim": 7}


class GraphGIN(GIN):
    """:class:`gnnkit.nn.gin.GIN` with the registry signature ``(in, out, **kw)``."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 300, **kw):
        super().__init__(in_channels, hidden_channels, out_channels, **kw)

    def precompute_spec(self) -> dict:
        return {}

    def forward_batch(self, b) -> Tensor:
        return self(b.x, b.graph, b.batch, b.num_graphs,
                    edge_attr=b.edge_attr if self.edge_dim is not None else None)


class GraphGINE(GraphGIN):
    """GINE: :class:`GraphGIN` with edge features (``edge_dim`` from the dataset's recipe)."""

    def __init__(self, in_channels: int, out_channels: int, edge_dim: int = 1, **kw):
        super().__init__(in_channels, out_channels, edge_dim=edge_dim, **kw)


class GraphPathNN(PathNN):
    """:class:`gnnkit.nn.pathnn.PathNN` with the registry signature; integer node codes are
    used as float features (PathNN's input encoder is linear)."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64,
                 max_len: int = 3, **kw):
        super().__init__(in_channels, hidden_channels, out_channels, max_len, **kw)

    def precompute_spec(self) -> dict:
        return {"paths": (self.max_len, self.mode, self.encode_distances)}

    def forward_batch(self, b) -> Tensor:
        if "paths" not in b.extra:
            raise ValueError("PathNN: the batch carries no paths; call task.prepare(model) "
                             "before building the loaders")
        x = b.x if b.x.is_floating_point() else b.x.to(self.lin1.weight.dtype)
        return self(x, b.extra["paths"], b.batch, b.num_graphs)


class GraphDGN(DGN):
    """:class:`gnnkit.nn.dgn.DGN` with the registry signature; fields from the dataset cache."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, **kw):
        super().__init__(in_channels, hidden_channels, out_channels, **kw)

    def precompute_spec(self) -> dict:
        return {"field": self.num_fields} if self.num_fields else {}

    def forward_batch(self, b) -> Tensor:
        x = b.x if b.x.is_floating_point() else b.x.to(self.embed.weight.dtype)
        return self(x, b.graph, b.batch, field=b.extra.get("field"), num_graphs=b.num_graphs)


def register_graph_models() -> None:
    """Register the table above (idempotent)."""
    if "gin" in available_models():
        return
    gin = {"hidden_channels": 300, "num_layers": 5, "dropout": 0.5, "readout": "mean"}
    register_model("gin", GraphGIN, gin, kinds=("graph",))
    register_model("gine", GraphGINE, gin, kinds=("graph",))
    register_model("gine-vn", GraphGINE, {**gin, "virtual_node": True}, kinds=("graph",))
    path = {"hidden_channels": 64, "batch_norm": True, "residual": True, "dropout": 0.0}
    register_model("pathnn-sp", GraphPathNN, {**path, "mode": "sp", "max_len": 3}, kinds=("graph",))
    register_model("pathnn-sp+", GraphPathNN, {**path, "mode": "sp+", "max_len": 3}, kinds=("graph",))
    register_model("pathnn-ap", GraphPathNN, {**path, "mode": "ap", "max_len": 3,
                                              "encode_distances": True}, kinds=("graph",))
    register_model("dgn", GraphDGN, {"hidden_channels": 64, "num_layers": 4,
                                     "aggregators": ("mean", "dir1-av", "dir1-dx")}, kinds=("graph",))
    ogb = {"ogbg-molhiv": (_MOL, {}), "ogbg-molpcba": (_MOL, {}),
           "ogbg-ppa": (_PPA, {})}
    # PathNN paper (official synthetic configs): no batch norm, K = cutoff - 1, hidden 64
    csl_sp = ({"max_len": 11, "batch_norm": False, "dedupe": True}, {"batch_size": 32})
    csl_ap = ({"max_len": 5, "batch_norm": False, "dedupe": True, "l2_norm": True},
              {"batch_size": 8})
    syn_train = {"lr": 1e-3, "weight_decay": 0.0, "epochs": 200, "patience": None}
    for name in ("gin", "gine", "gine-vn"):
        per = {} if name == "gin" else ogb
        register_recipe(name, {**_OGB_TRAIN}, {**per, "csl": ({"readout": "add", "dropout": 0.0,
                                                               "num_layers": 4, "hidden_channels": 64},
                                                              {**syn_train, "batch_size": 32}),
                                               "exp": ({"readout": "add", "dropout": 0.0,
                                                        "num_layers": 4, "hidden_channels": 64},
                                                       {**syn_train, "batch_size": 32})},
                        replace=True)
    for name, csl in (("pathnn-sp", csl_sp), ("pathnn-sp+", csl_sp), ("pathnn-ap", csl_ap)):
        exp = ({**csl[0], "hidden_channels": 16}, csl[1])
        register_recipe(name, {**syn_train, "batch_size": 32},
                        {"csl": csl, "exp": exp}, replace=True)
    register_recipe("dgn", {"lr": 1e-3, "weight_decay": 0.0, "epochs": 200, "patience": None,
                            "batch_size": 128}, {}, replace=True)


register_graph_models()
