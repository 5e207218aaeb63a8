"""Link prediction data: edge splits, OGB link datasets, synthetic OGB layouts, the link loader.

===========================  ==============================================================
:func:`random_link_split`    leak-free train/val/test edge split with fixed negatives
:class:`LinkSplit`           positives, fixed negatives and the training (message) graph
:func:`load_ogbl`            ``ogbl-collab/ddi/ppa/citation2`` from OGB's raw layout
:class:`LinkDataset`         features + split + metric (what :class:`~gnnkit.tasks.LinkTask` takes)
:func:`write_ogbl_layout`    small synthetic dataset in OGB's link layout
:func:`link_loader`          seed pairs + strict negatives -> blocks of both endpoints
===========================  ==============================================================

Negative sampling is an op: :mod:`gnnkit.ops.negative_sampling`.
"""
from gnnkit.link.loader import link_loader
from gnnkit.link.ogbl import OGBL_NAMES, LinkDataset, load_ogbl, ogbl_dataset_names, ogbl_meta
from gnnkit.link.split import LinkSplit, random_link_split, target_pairs
from gnnkit.link.synthetic import write_ogbl_layout

__all__ = ["link_loader", "random_link_split", "LinkSplit", "target_pairs", "load_ogbl", "LinkDataset",
           "ogbl_dataset_names", "ogbl_meta", "OGBL_NAMES", "write_ogbl_layout"]
