"""gnnkit: graph neural networks with a scalable C++/CUDA core.

Public names are re-exported here explicitly; submodules (``gnnkit.ops``, ``gnnkit.nn``,
``gnnkit.data``, ``gnnkit.analysis``, ``gnnkit.precompute``) are imported lazily so that
``import gnnkit`` stays cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

from gnnkit import _threads  # noqa: E402  (before torch loads libgomp: passive waiting)

_threads.configure_environment()

from gnnkit._threads import get_num_threads, set_num_threads, thread_info  # noqa: E402
from gnnkit.block import Block  # noqa: E402
from gnnkit.graph import Graph, GraphError  # noqa: E402
from gnnkit.graphlike import GraphLike, as_graph  # noqa: E402

_SUBMODULES = {"ops", "nn", "data", "analysis", "precompute", "sampling", "testing", "train", "cli",
               "tasks", "reorder"}

__all__ = ["Block", "Graph", "GraphError", "GraphLike", "as_graph", "__version__", "get_num_threads",
           "set_num_threads", "thread_info", *sorted(_SUBMODULES)]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"gnnkit.{name}")
    raise AttributeError(f"module 'gnnkit' has no attribute {name!r}")
