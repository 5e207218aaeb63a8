"""The error type of every data loader and reader (no dependencies, so every module can import it).

:class:`DatasetError` (a :class:`ValueError`) means a dataset file or array is missing, corrupt or
inconsistent; the message names the file (when there is one), the field and the problem.
:class:`gnnkit.data.disk.DiskGraphError` is its subclass for DiskGraph directories and conversion
inputs.
"""
from __future__ import annotations

import os

__all__ = ["DatasetError", "where", "check_alloc"]


class DatasetError(ValueError):
    """A dataset file or array is missing, corrupt or inconsistent.

    The message names the file (when there is one), the field and the problem.
    """


def where(source) -> str:
    """``"<source>: "`` (the prefix of an error message), or ``""`` when there is no source."""
    return f"{source}: " if source else ""


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 40


def check_alloc(nbytes: int, what: str, source=None) -> None:
    """Refuse an allocation a data file asks for that exceeds the machine's physical memory.

    File headers and count files (``num-node-list.csv.gz``, an ``.npy`` shape, a pickled
    ``csr_matrix`` shape) are untrusted: a forged size must give a :class:`DatasetError` naming
    the file and the size, not a multi-terabyte ``malloc`` (or the OOM killer).
    """
    nbytes = int(nbytes)
    limit = _physical_memory()
    if nbytes < 0 or nbytes > limit:
        raise DatasetError(f"{where(source)}{what} would need {nbytes:,} bytes, more than this "
                           f"machine's {limit:,} bytes of memory; the file's sizes are forged or "
                           "corrupt")
