r"""Locality-aware node orderings: fewer cache misses per aggregation.

``spmm`` and GAT gather one feature row per arc; on a graph numbered at random those rows are
scattered over the whole feature matrix and every gather is a cache (often a TLB) miss.
Renumbering the nodes so that a row's neighbours have nearby ids turns many of them into hits.

=========================  =====================================================================
:func:`reorder`            ``(graph', Reordering)``, also :meth:`gnnkit.Graph.reorder`
:func:`node_order`         the :class:`Reordering` of a method (:data:`METHODS`:
                           ``rcm``, ``degree``, ``rabbit``, ``metis``; :mod:`.orders`)
:class:`Reordering`        ``perm`` / ``inverse``; maps features, labels, splits, and results
                           back to the original ids
:func:`permute_graph`      the CSR renumbered (parallel numba pass)
:func:`reorder_disk`       a DiskGraph renumbered with its features / labels / splits
                           (``gnnkit data convert --reorder``); :func:`load_reordering`
=========================  =====================================================================
"""
from gnnkit.reorder.orders import METHODS
from gnnkit.reorder.permute import (Reordering, load_reordering, node_order, permute_graph, reorder,
                                    reorder_disk)

__all__ = ["METHODS", "Reordering", "reorder", "node_order", "permute_graph", "reorder_disk",
           "load_reordering"]
