r"""Input encoders for graph-level models: OGB atom / bond encoders and plain ones.

OGB's molecule datasets store 9 categorical atom features and 3 categorical bond features
(``ogb.utils.features``).  The encoders of the OGB reference models embed every feature with its
own table and sum (Hu et al. 2020, OGB ``AtomEncoder`` / ``BondEncoder``):

.. math::
    \mathbf{h}_v = \sum_{i} \mathbf{E}^{(i)}_{x_{v,i}}, \qquad
    \mathbf{E}^{(i)} \in \mathbb{R}^{|\mathcal{C}_i| \times d} \ (\text{Xavier-uniform}).

The table sizes come from ``ogb.utils.features.get_atom_feature_dims()`` /
``get_bond_feature_dims()`` when ogb is installed; without it an explicit ``dims`` is needed.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CategoricalEncoder", "AtomEncoder", "BondEncoder", "atom_feature_dims",
           "bond_feature_dims", "make_node_encoder", "make_edge_encoder"]


def atom_feature_dims() -> list[int]:
    """``ogb.utils.features.get_atom_feature_dims()`` (raises ImportError naming ogb)."""
    try:
        from ogb.utils.features import get_atom_feature_dims
    except ImportError as e:  # pragma: no cover - ogb is a test dependency
        raise ImportError("AtomEncoder needs the 'ogb' package for the feature dimensions "
                          "(pip install ogb) or an explicit dims=[...]") from e
    return list(get_atom_feature_dims())


def bond_feature_dims() -> list[int]:
    """``ogb.utils.features.get_bond_feature_dims()``."""
    try:
        from ogb.utils.features import get_bond_feature_dims
    except ImportError as e:  # pragma: no cover
        raise ImportError("BondEncoder needs the 'ogb' package for the feature dimensions "
                          "(pip install ogb) or an explicit dims=[...]") from e
    return list(get_bond_feature_dims())


class CategoricalEncoder(nn.Module):
    r"""Sum of per-column embeddings of integer codes ``x [N, C]`` -> ``[N, d]``.

    Codes are checked against the table sizes (``IndexError`` naming column, row and value).
    """

    def __init__(self, dims, out_channels: int):
        super().__init__()
        self.dims = [int(d) for d in dims]
        self.tables = nn.ModuleList(nn.Embedding(d, out_channels) for d in self.dims)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for t in self.tables:
            nn.init.xavier_uniform_(t.weight)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(1)
        if x.is_floating_point() or x.dim() != 2 or x.size(1) != len(self.dims):
            raise ValueError(f"{type(self).__name__}: x must be integer codes [N, {len(self.dims)}], "
                             f"got {x.dtype} {tuple(x.shape)}")
        lim = torch.tensor(self.dims, device=x.device)
        bad = (x < 0) | (x >= lim)
        if bool(bad.any()):
            r, c = (int(v) for v in bad.nonzero()[0])
            raise IndexError(f"{type(self).__name__}: x[{r}, {c}] = {int(x[r, c])} is out of range "
                             f"[0, {self.dims[c]}) for feature column {c}")
        out = self.tables[0](x[:, 0])
        for i in range(1, len(self.tables)):
            out = out + self.tables[i](x[:, i])
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dims={self.dims}, out={self.tables[0].embedding_dim})"


class AtomEncoder(CategoricalEncoder):
    """OGB atom encoder: ``dims`` default ``get_atom_feature_dims()`` (9 features)."""

    def __init__(self, out_channels: int, dims=None):
        super().__init__(atom_feature_dims() if dims is None else dims, out_channels)


class BondEncoder(CategoricalEncoder):
    """OGB bond encoder: ``dims`` default ``get_bond_feature_dims()`` (3 features)."""

    def __init__(self, out_channels: int, dims=None):
        super().__init__(bond_feature_dims() if dims is None else dims, out_channels)


class _FloatLinear(nn.Linear):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.to(self.weight.dtype))


def make_node_encoder(kind: str, in_channels: int, out_channels: int) -> nn.Module:
    """``'linear'`` (float features), ``'atom'`` (OGB atoms) or ``'embedding'`` (one code per
    node, ``in_channels`` categories; ogbg-ppa's all-zero node ids)."""
    if kind == "linear":
        return _FloatLinear(in_channels, out_channels)
    if kind == "atom":
        return AtomEncoder(out_channels)
    if kind == "embedding":
        return CategoricalEncoder([in_channels], out_channels)
    raise ValueError(f"node_encoder must be 'linear', 'atom' or 'embedding', got {kind!r}")


def make_edge_encoder(kind: str, edge_dim: int, out_channels: int) -> nn.Module:
    """``'linear'`` (float edge features, e.g. ogbg-ppa's 7) or ``'bond'`` (OGB bonds)."""
    if kind == "linear":
        return _FloatLinear(edge_dim, out_channels)
    if kind == "bond":
        return BondEncoder(out_channels)
    raise ValueError(f"edge_encoder must be 'linear' or 'bond', got {kind!r}")
