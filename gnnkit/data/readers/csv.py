r"""One reader for header-less numeric CSV files (OGB's ``*.csv.gz``, plain or gzip'ed).

OGB stores every raw array as a header-less CSV, one row per node / edge / graph, gzip'ed
(``ogb/io/read_graph_raw.py`` reads them with ``pd.read_csv(..., header=None)``).  This module is
the only place gnnkit parses them: :func:`read_csv` returns the whole array, :func:`iter_csv`
streams it in row blocks (for out-of-core conversion), and the ``as_*`` helpers check dtype,
shape and values.  Every problem raises :class:`~gnnkit.data.errors.DatasetError` naming the
file, the row (1-based line) and what was expected: a missing or truncated file, a ragged row,
a non-numeric cell, a NaN where an integer is needed, a negative count.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from gnnkit.data.errors import DatasetError

__all__ = ["iter_csv", "read_csv", "as_int", "as_float", "as_labels", "find_csv"]

_DEFAULT_CHUNK = 1 << 20


def find_csv(folder: Path, stem: str) -> Path | None:
    """``folder/stem.csv.gz`` or ``folder/stem.csv`` (the first that exists), else ``None``."""
    for ext in (".csv.gz", ".csv"):
        p = Path(folder) / (stem + ext)
        if p.is_file():
            return p
    return None


def _parse_errors():
    import pandas as pd

    return (EOFError, OSError, zlib.error, ValueError, UnicodeDecodeError, OverflowError,
            pd.errors.ParserError, pd.errors.EmptyDataError)


def iter_csv(path, what: str, *, chunk_rows: int = _DEFAULT_CHUNK, dtype=None):
    """Yield ``(first_row, block)`` for a header-less CSV, ``block`` a 2-D numpy array.

    Args:
        path (str or Path): ``*.csv.gz`` (gzip) or ``*.csv``.
        what (str): what the file holds, for error messages (``'edges'``, ``'node labels'``).
        chunk_rows (int): rows per block. (default: ``2**20``)
        dtype (optional): passed to pandas (``np.int64`` to demand integers while parsing).

    Raises:
        DatasetError: missing file, truncated / corrupt gzip, unparsable or ragged rows, blocks
            with different column counts.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: missing ({what})")
    if path.name.endswith(".gz"):
        with open(path, "rb") as f:
            magic = f.read(2)
        if magic != b"\x1f\x8b":
            raise DatasetError(f"{path}: not a gzip file ({what}); it is empty, truncated or "
                               "corrupt")
    start, ncols = 0, None
    try:
        reader = pd.read_csv(path, header=None, compression="infer", chunksize=int(chunk_rows),
                             dtype=dtype, engine="c")
        for df in reader:
            a = df.to_numpy()
            if ncols is None:
                ncols = a.shape[1]
            elif a.shape[1] != ncols:  # pragma: no cover - pandas raises on ragged rows first
                raise DatasetError(f"{path}: row {start + 1}: {a.shape[1]} columns, earlier rows "
                                   f"have {ncols} ({what})")
            yield start, a
            start += a.shape[0]
    except DatasetError:
        raise
    except pd.errors.EmptyDataError:
        return  # an empty file is zero rows; the caller checks the count it needs
    except _parse_errors() as e:
        raise DatasetError(f"{path}: cannot read {what} near row {start + 1}; the file is "
                           f"truncated, corrupt or not a numeric CSV ({type(e).__name__}: "
                           f"{e})") from e


def read_csv(path, what: str, *, dtype=None, ncols: int | None = None) -> np.ndarray:
    """The whole header-less CSV as one 2-D array (``(0, ncols or 0)`` for an empty file).

    ``ncols`` (optional) is the column count the file must have.
    """
    blocks = [b for _, b in iter_csv(path, what, dtype=dtype)]
    if not blocks:
        return np.empty((0, ncols or 0), dtype=np.int64)
    a = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    if ncols is not None and a.shape[1] != ncols:
        raise DatasetError(f"{path}: {what} must have {ncols} column(s), found {a.shape[1]}")
    return a


def _first_bad(mask) -> tuple[int, int]:
    r, c = np.argwhere(mask)[0]
    return int(r), int(c)


def as_int(a: np.ndarray, path, what: str, *, low: int | None = None, high: int | None = None,
           first_row: int = 0) -> np.ndarray:
    """``a`` as ``int64``, every entry an integer in ``[low, high)`` (bounds optional).

    Floating cells are accepted when they are whole numbers (pandas reads an integer column
    with a gap as float); NaN, fractions, text and values beyond int64 raise.
    """
    a = np.asarray(a)
    if a.dtype.kind == "b" or not (a.dtype.kind in "iuf" or a.size == 0):
        raise DatasetError(f"{path}: {what} must be integers, got {a.dtype} values "
                           f"(e.g. {a.flat[0]!r})" if a.size else f"{path}: {what} must be "
                           f"integers, got dtype {a.dtype}")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a)) | (np.abs(a) >= 2.0 ** 63)
        if bad.any():
            r, c = _first_bad(bad.reshape(a.shape[0], -1))
            raise DatasetError(f"{path}: row {first_row + r + 1}, column {c + 1}: {what} must be "
                               f"integers, found {a.reshape(a.shape[0], -1)[r, c]!r}")
    elif a.dtype.kind == "u" and a.size and int(a.max()) >= 2 ** 63:
        raise DatasetError(f"{path}: {what} holds {int(a.max())}, beyond int64")
    out = a.astype(np.int64)
    if out.size and ((low is not None and int(out.min()) < low)
                     or (high is not None and int(out.max()) >= high)):
        bad = np.zeros(out.shape, bool)
        if low is not None:
            bad |= out < low
        if high is not None:
            bad |= out >= high
        r, c = _first_bad(bad.reshape(out.shape[0], -1))
        rng = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'})"
        raise DatasetError(f"{path}: row {first_row + r + 1}, column {c + 1}: {what} "
                           f"{int(out.reshape(out.shape[0], -1)[r, c])} is outside {rng}")
    return out


def as_float(a: np.ndarray, path, what: str, *, dtype=np.float32, finite: bool = True,
             first_row: int = 0) -> np.ndarray:
    """``a`` as a C-contiguous ``dtype`` array; ``finite=True`` rejects NaN / inf."""
    a = np.asarray(a)
    if not (a.dtype.kind in "iufb" or a.size == 0):
        raise DatasetError(f"{path}: {what} must be numeric, got dtype {a.dtype}")
    out = np.ascontiguousarray(a, dtype=dtype)
    if finite and out.dtype.kind == "f" and out.size:
        bad = ~np.isfinite(out)
        if bad.any():
            r, c = _first_bad(bad.reshape(out.shape[0], -1))
            raise DatasetError(f"{path}: row {first_row + r + 1}, column {c + 1}: {what} hold a "
                               f"non-finite value {out.reshape(out.shape[0], -1)[r, c]}")
    return out


def as_labels(a: np.ndarray, path, what: str, *, rows: int, num_tasks: int,
              num_classes: int | None = None) -> np.ndarray:
    """Integer class labels ``[rows, num_tasks]`` as ``int64``; NaN (unlabelled) becomes ``-1``.

    Raises on a wrong shape, fractional or infinite values, and (with ``num_classes``) labels
    outside ``[-1, num_classes)``.
    """
    a = np.asarray(a)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape != (rows, num_tasks):
        raise DatasetError(f"{path}: {what} have shape {a.shape}, expected ({rows}, {num_tasks})")
    if not (a.dtype.kind in "iuf" or a.size == 0):
        raise DatasetError(f"{path}: {what} must be numeric, got dtype {a.dtype}")
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        a = np.where(nan, -1.0, a)
    return as_int(a, path, what, low=-1, high=num_classes)
