"""Graph neural network layers and ready-made models (gnnkit.nn).

=====================  ===========================================================================
:class:`GCNConv`       graph convolution (Kipf & Welling 2017) on ``gnnkit.ops.spmm``
:func:`gcn_norm`       its symmetric normalisation as a free function
:class:`GATConv`       graph attention (Veličković et al. 2018) on ``gnnkit.ops.gat_attention``
:class:`DAGNNConv`     DAGNN adaptive K-hop propagation (Liu, Gao & Ji 2020)
:class:`MLP`           graph-agnostic baseline
:class:`MiniBatchGNN`  GCN / GAT / SAGE / Dir-SAGE on sampled blocks or full graphs
:class:`GCN`, ...      ready models with the papers' defaults; :func:`get_model` registry
=====================  ===========================================================================

Every layer takes ``(x, graph)`` where ``graph`` is a :class:`gnnkit.Graph`, a sampler block,
an ``edge_index`` ``[2, E]`` or a PyG ``Data`` (converted once at the boundary).
"""
from gnnkit.block import Block
from gnnkit.nn.dagnn import DAGNNConv, adaptive_combine, dagnn_hops
from gnnkit.nn.decoupled import GBPMLP, SGC, SIGN
from gnnkit.nn.gae import GAE, VGAE, DotPredictor, HadamardMLP, LinkGNN, recon_loss
from gnnkit.nn.gat_conv import GATConv
from gnnkit.nn.gcn_conv import GCNConv, gcn_norm
from gnnkit.nn.minibatch import MiniBatchGNN
from gnnkit.nn.mlp import MLP
from gnnkit.nn.models import (
    DAGNN,
    GAT,
    GCN,
    available_models,
    build_model,
    get_model,
    model_kinds,
    model_kwargs,
    register_model,
)

from gnnkit.nn._laplacian import laplacian_eigenvectors
from gnnkit.nn.dgn import DGN, DGNConv, dgn_vector_field, directional_aggregate
from gnnkit.nn.dir_conv import (
    AggLinear,
    DirGAT,
    DirGATConv,
    DirGCN,
    DirGCNConv,
    DirGNN,
    DirGNNConv,
    DirSAGE,
    DirSAGEConv,
    dir_norm,
)
from gnnkit.nn.pathnn import PathConv, PathNN, PathSet, compute_paths
from gnnkit.nn.zoo import DirGNNNet, GBPNet, SGCNet
from gnnkit.nn.protocol_models import DirGATNet, DirGCNNet, DirSAGENet  # registers the protocol suites' models
from gnnkit.nn.sage_conv import SAGEConv
from gnnkit.nn.batch_norm import BatchNormReLU
from gnnkit.nn.pool import batch_graphs, global_add_pool, global_max_pool, global_mean_pool

__all__ = [
    "GAE",
    "VGAE",
    "LinkGNN",
    "DotPredictor",
    "HadamardMLP",
    "recon_loss",
    "Block",
    "GCNConv",
    "gcn_norm",
    "GATConv",
    "DAGNNConv",
    "dagnn_hops",
    "adaptive_combine",
    "MLP",
    "MiniBatchGNN",
    "GCN",
    "GAT",
    "DAGNN",
    "get_model",
    "build_model",
    "model_kwargs",
    "model_kinds",
    "available_models",
    "register_model",
    "SGC",
    "SIGN",
    "GBPMLP",
    "DGN",
    "DGNConv",
    "dgn_vector_field",
    "directional_aggregate",
    "laplacian_eigenvectors",
    "DirGNNConv",
    "DirGCNConv",
    "DirSAGEConv",
    "DirGATConv",
    "DirGNN",
    "DirGCN",
    "DirSAGE",
    "DirGAT",
    "AggLinear",
    "dir_norm",
    "PathConv",
    "PathNN",
    "PathSet",
    "compute_paths",
    "batch_graphs",
    "global_add_pool",
    "global_mean_pool",
    "global_max_pool",
    "SAGEConv",
    "BatchNormReLU",
    "SGCNet",
    "GBPNet",
    "DirGNNNet",
]


def __getattr__(name):
    # Training defaults moved to gnnkit.train.recipes; the old import path keeps working.
    if name == "model_defaults":
        import warnings

        from gnnkit.train.recipes import model_defaults

        warnings.warn("gnnkit.nn.model_defaults moved to gnnkit.train.recipes.model_defaults",
                      DeprecationWarning, stacklevel=2)
        return model_defaults
    raise AttributeError(f"module 'gnnkit.nn' has no attribute {name!r}")
