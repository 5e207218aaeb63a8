"""Datasets: one :class:`NodeDataset` type for every loader, plus generic readers and generators.

=============================  ==============================================================
:func:`get_dataset`            load by name (``'cora'``, ``'chameleon'``, ``'ogbn-arxiv'``, ``'csbm'``)
:func:`available_datasets`     the names :func:`get_dataset` accepts
:func:`register_family`        add a dataset family to the registry (:mod:`.registry`)
:func:`load_planetoid`         Cora / CiteSeer / PubMed from raw ``ind.*`` files, public split
:func:`load_heterophily`       Platonov et al. ``.npz`` graphs, 10 splits
:func:`load_ogb`               ``ogbn-*`` from OGB's raw layout (opt-in download)
:func:`csbm`                   contextual stochastic block model with exact expected homophily
:func:`read_edge_list`         text / CSV / binary int32 / int64 arc lists -> Graph
:func:`read_npz`               generic node-classification ``.npz`` -> NodeDataset
:func:`read_sparse`            scipy sparse matrix or ``save_npz`` file -> Graph
=============================  ==============================================================

Files are looked for under ``root`` when given, else ``$GNNKIT_DATA`` (see
:mod:`gnnkit.data._paths`).  Bad files raise :class:`DatasetError` naming the file and the problem.
"""
from gnnkit.data.errors import DatasetError
from gnnkit.data.dataset import SPLIT_KEYS, NodeDataset, masks_to_splits, random_splits
from gnnkit.data.registry import available_datasets, get_dataset, register_family
from gnnkit.data.transforms import node_features_from_edges, symmetrized
from gnnkit.data.generic import dataset_from_arrays, graph_from_arcs, read_edge_list, read_npz, read_sparse
from gnnkit.data.graph_datasets import CSL_SKIPS, bicyclopentyl, csl_dataset, csl_graph, decalin
from gnnkit.data.heterophily import HETEROPHILY_NAMES, load_heterophily, read_heterophily_npz
from gnnkit.data.ogb import download_ogb, load_ogb, ogb_dataset_names, ogb_evaluate, ogb_meta
from gnnkit.data.planetoid import PLANETOID_NAMES, RestrictedUnpickler, load_planetoid
from gnnkit.data.synthetic import csbm, edge_homophily

# on-disk graphs: memory-mapped format, out-of-core conversion, streaming power-law generator
from gnnkit.data.convert import convert_to_disk, csr_from_edges, parse_memory
from gnnkit.data.disk import FORMAT_NAME, FORMAT_VERSION, DiskGraph, DiskGraphError, save_graph
from gnnkit.data.powerlaw import powerlaw_graph, rmat_edges, write_powerlaw_edgelist

__all__ = [
    "DatasetError",
    "NodeDataset",
    "SPLIT_KEYS",
    "get_dataset",
    "symmetrized",
    "node_features_from_edges",
    "available_datasets",
    "register_family",
    "masks_to_splits",
    "random_splits",
    "PLANETOID_NAMES",
    "RestrictedUnpickler",
    "load_planetoid",
    "HETEROPHILY_NAMES",
    "load_heterophily",
    "read_heterophily_npz",
    "ogb_dataset_names",
    "ogb_meta",
    "load_ogb",
    "download_ogb",
    "ogb_evaluate",
    "csbm",
    "edge_homophily",
    "read_edge_list",
    "read_npz",
    "read_sparse",
    "dataset_from_arrays",
    "graph_from_arcs",
    "DiskGraph",
    "DiskGraphError",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "save_graph",
    "convert_to_disk",
    "csr_from_edges",
    "parse_memory",
    "powerlaw_graph",
    "rmat_edges",
    "write_powerlaw_edgelist",
    "csl_dataset",
    "csl_graph",
    "decalin",
    "bicyclopentyl",
    "CSL_SKIPS",
]
