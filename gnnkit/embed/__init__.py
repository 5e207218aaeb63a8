"""Node embeddings: node2vec / DeepWalk (compiled walks + compiled SGNS) and a linear probe.

=========================  ==========================================================
:func:`node2vec_embedding`  node2vec (p, q) walks + skip-gram with negative sampling
:func:`deepwalk_embedding`  uniform walks + skip-gram
:func:`sgns_train`          skip-gram with negative sampling on any node sequences
:func:`linear_probe`        logistic-regression probe for node classification
=========================  ==========================================================
"""
from gnnkit.embed.node2vec import deepwalk_embedding, node2vec_embedding, sgns_train, walk_noise
from gnnkit.embed.probe import linear_probe

__all__ = ["node2vec_embedding", "deepwalk_embedding", "sgns_train", "walk_noise", "linear_probe"]
