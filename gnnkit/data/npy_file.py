r"""Memory-mapping a ``.npy`` file that may be damaged or forged.

``np.load(path, mmap_mode='r')`` trusts the header: a forged shape maps past the end of the file
(or fails with numpy's own errors), a Python-object dtype asks for pickles, and a truncated
payload surfaces later as a bus error or a short read.  :func:`load_npy` reads the header
itself first (size-capped), checks the dtype (plain numeric, one of the expected ones), the order
(C), the shape and that header + payload is exactly the file's size, and only then maps it.

Every failure is a :class:`~gnnkit.data.errors.DatasetError` (or the subclass the caller names)
naming the file and what it was for.
"""
from __future__ import annotations

import tokenize
from pathlib import Path

import numpy as np

from gnnkit.data.errors import DatasetError

__all__ = ["load_npy", "read_npy_header"]


def read_npy_header(fh):
    """``(shape, fortran_order, dtype)`` from an open ``.npy`` stream (header capped at 64 KiB);
    numpy's errors pass through (the callers turn them into typed errors)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh, max_header_size=1 << 16)
    if version in ((2, 0), (3, 0)):
        return np.lib.format.read_array_header_2_0(fh, max_header_size=1 << 16)
    raise ValueError(f"unsupported .npy version {version}")


def load_npy(f, dtypes, shape: tuple, what: str, *, error: type = DatasetError) -> np.ndarray:
    """Memory-map the ``.npy`` file ``f`` read-only after checking its header: a dtype in
    ``dtypes`` (numpy dtypes, or kind letters such as ``'f'``), no Python objects, C order, the
    ``shape`` (``None`` matches any extent) and header + payload = the file's size.  Failures
    raise ``error`` (a :class:`~gnnkit.data.errors.DatasetError` subclass)."""
    f = Path(f)
    try:
        with open(f, "rb") as fh:
            shp, fortran, dt = read_npy_header(fh)
            offset = fh.tell()
    except FileNotFoundError:
        raise error(f"{f} is missing ({what})") from None
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError, MemoryError,
            tokenize.TokenError) as e:
        raise error(f"{f}: unreadable .npy header ({what}): {type(e).__name__}: {e}") from e
    if dt.hasobject or dt.fields is not None or dt.subdtype is not None:
        raise error(f"{f}: dtype {dt} is not a plain numeric dtype ({what})")
    if not any(dt == d if isinstance(d, np.dtype) else (dt.kind in d and dt.isnative) for d in dtypes):
        raise error(f"{f}: dtype {dt}, expected {' or '.join(map(str, dtypes))} ({what})")
    if fortran and len(shp) > 1:
        raise error(f"{f}: Fortran order, gnnkit writes C order ({what})")
    if len(shp) != len(shape) or any(w is not None and s != w for s, w in zip(shp, shape)):
        want = tuple("*" if w is None else w for w in shape)
        raise error(f"{f}: shape {tuple(shp)}, expected {want} ({what})")
    count = 1
    for s in shp:
        count *= int(s)
    need = offset + count * dt.itemsize
    size = f.stat().st_size
    if size != need:
        raise error(f"{f}: {size} bytes, its header announces {need} (shape {tuple(shp)} of {dt}): "
                             f"truncated or forged ({what})")
    if count == 0:
        return np.empty(shp, dtype=dt)
    try:
        return np.load(f, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise error(f"{f}: cannot map ({what}): {e}") from e
