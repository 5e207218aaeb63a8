"""numba kernels of :mod:`gnnkit.analysis.curvature` and :mod:`gnnkit.analysis.rewiring` (private).

All kernels take a *simple undirected* graph as sorted CSR arrays (``indptr`` int64 [N+1],
``indices`` int64, symmetric, no self loops, no duplicates) and a list of undirected edges
``eu[e] < ev[e]``. Edges are split into ``nchunks`` chunks; every chunk owns its scratch and every
edge's value depends only on the graph, so results are identical for any number of threads. Each
parallel kernel has a serial twin (``*_serial``) that the callers use below
``gnnkit._threads.NUMBA_SERIAL_WORK`` (README "Threads").

- :mod:`.forman`: balanced Forman curvature, triangles, SDRF candidates / affected edges (one
  triangle + 4-cycle counter);
- :mod:`.transport`: the exact transport solver for costs in {1, 2, 3} and Sinkhorn;
- :mod:`.ollivier`: Ollivier-Ricci problems, bitsets, the per-edge kernel, BORF's plan argmax.
"""
from gnnkit.analysis._curvature_numba.forman import (balanced_forman_kernel, balanced_forman_serial,
                                                      bf_affected_edges, bf_edge_value, bf_value,
                                                      sdrf_candidates, triangle_kernel, triangle_serial)
from gnnkit.analysis._curvature_numba.ollivier import (ollivier_ricci_kernel, ollivier_ricci_serial,
                                                        one_hop_bitset, orc_transport_argmax, two_hop_bitset)
from gnnkit.analysis._curvature_numba.transport import exact_w1, sinkhorn_cost

__all__ = ["balanced_forman_kernel", "balanced_forman_serial", "bf_affected_edges", "bf_edge_value", "bf_value",
           "exact_w1", "ollivier_ricci_kernel", "ollivier_ricci_serial", "one_hop_bitset",
           "orc_transport_argmax", "sdrf_candidates", "sinkhorn_cost", "triangle_kernel", "triangle_serial",
           "two_hop_bitset"]
