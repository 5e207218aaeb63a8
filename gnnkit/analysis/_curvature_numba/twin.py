"""Serial twins of the parallel kernels (README "Threads"): one source, two compilations.

numba runs ``prange`` as ``range`` when a function is compiled without ``parallel=True``, so the
serial twin of a parallel kernel is the same Python function compiled again. It gets its own name
because numba keys its on-disk cache by the function's qualified name and first line, not by the
compile flags: under the kernel's name the two compilations would share (and overwrite) one cache
entry.
"""
from __future__ import annotations

import types

from numba import njit


def serial_twin(kernel, name: str):
    """``kernel`` (a ``@njit(parallel=True)`` dispatcher) compiled for the calling thread only,
    as ``name`` (cached under that name)."""
    f = kernel.py_func
    twin = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    twin.__qualname__ = name
    twin.__module__ = f.__module__
    twin.__doc__ = f":func:`{f.__name__}` on the calling thread (numba's pool is not used)."
    return njit(cache=True)(twin)
