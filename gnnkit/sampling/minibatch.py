"""Moved: :class:`MiniBatchGNN` lives in :mod:`gnnkit.nn.minibatch` (this name stays importable)."""
from gnnkit.nn.minibatch import KINDS, MiniBatchGNN

__all__ = ["MiniBatchGNN", "KINDS"]
