r"""Registry entries ``dir-gcn``, ``dir-sage`` and ``dir-gat``: :class:`~gnnkit.nn.DirGNN` with one
base convolution each, so that a benchmark config can list the three Dir-GNN variants side by side
(Rossi et al., "Edge Directionality Improves Learning on Heterophilic Graphs", LoG 2023,
https://arxiv.org/abs/2305.10498).

Defaults are the official code's ``best_hyperparams.yml`` for ``chameleon`` (Dir-GCN: 5 layers x 128,
jumping knowledge ``max``, L2 row normalisation, :math:`\alpha = 1`, no dropout, Adam lr 0.005, no
weight decay, patience 400, features row-normalised as PyG's ``NormalizeFeatures``) and, for
Dir-SAGE / Dir-GAT, the code's defaults used by its ablation commands (3 layers x 64, ``jk='max'``,
lr 0.001, patience 200, ``--normalize``).  Per-dataset settings live in
``experiments/configs/dirgnn.yaml``.
"""
from __future__ import annotations

from gnnkit.nn.dir_conv import DirGNN
from gnnkit.nn.models import register_model

__all__ = ["DirGCNNet", "DirSAGENet", "DirGATNet", "PLATONOV_MODELS"]


class _DirNet(DirGNN):
    """:class:`DirGNN` with the registry's ``(in_channels, out_channels, **kw)`` order and a fixed conv."""

    conv_kind = "dir-gcn"

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 128,
                 num_layers: int = 5, alpha: float = 1.0, jumping_knowledge: str | None = "max",
                 normalize: bool = True, dropout: float = 0.0, learn_alpha: bool = False):
        super().__init__(in_channels, hidden_channels, out_channels, num_layers=num_layers,
                         conv=self.conv_kind, alpha=alpha, jumping_knowledge=jumping_knowledge,
                         normalize=normalize, dropout=dropout, learn_alpha=learn_alpha)


class DirGCNNet(_DirNet):
    """Dir-GCN (``conv='dir-gcn'``)."""

    conv_kind = "dir-gcn"


class DirSAGENet(_DirNet):
    """Dir-SAGE (``conv='dir-sage'``)."""

    conv_kind = "dir-sage"


class DirGATNet(_DirNet):
    """Dir-GAT (``conv='dir-gat'``)."""

    conv_kind = "dir-gat"


# Architecture defaults only; training settings: gnnkit.train.recipes ("dir-gcn", ...).
_ABLATION = {"hidden_channels": 64, "num_layers": 3, "alpha": 0.5, "jumping_knowledge": "max",
             "normalize": True}
register_model("dir-gcn", DirGCNNet, {})
register_model("dir-sage", DirSAGENet, dict(_ABLATION))
register_model("dir-gat", DirGATNet, dict(_ABLATION))


# ---------------------------------------------------------------------- Platonov et al. (ICLR 2023)
from gnnkit.nn.residual import ResidualGNN  # noqa: E402
from gnnkit.nn.sage import SAGE  # noqa: E402


def _residual(block: str, features: str = "none"):
    """A registry class: :class:`ResidualGNN` with a fixed ``block`` (and graph features)."""

    class _Net(ResidualGNN):
        def __init__(self, in_channels: int, out_channels: int, **kwargs):
            super().__init__(in_channels, out_channels, block=block, features=features, **kwargs)

    _Net.__name__ = _Net.__qualname__ = "ResidualGNN"
    return _Net


# The paper's architecture defaults (official train.py): hidden 512, 5 layers (the paper picks
# 1-5 on validation), 8 heads, LayerNorm, dropout 0.2.  Training (AdamW lr 3e-5, 1000 steps):
# gnnkit.train.recipes.
_PLATONOV_MODEL = {"hidden_channels": 512, "num_layers": 5, "heads": 8, "dropout": 0.2}
PLATONOV_MODELS = {"res-gcn": "gcn", "res-sage": "sage", "res-gat": "gat", "res-gat-sep": "gat-sep",
                   "res-gt": "gt", "res-gt-sep": "gt-sep", "resnet": "ff"}
for _name, _block in PLATONOV_MODELS.items():
    register_model(_name, _residual(_block), dict(_PLATONOV_MODEL))
register_model("resnet-sgc", _residual("ff", "sgc"), dict(_PLATONOV_MODEL))
register_model("resnet-adj", _residual("ff", "adj"), dict(_PLATONOV_MODEL))

# GraphSAGE (OGB's reference example: 3 x 256, dropout 0.5).
register_model("sage", SAGE, {"hidden_channels": 256, "num_layers": 3, "dropout": 0.5})
