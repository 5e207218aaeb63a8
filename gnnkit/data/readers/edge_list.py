r"""One reader for text edge lists ``src dst [weight]``, whole (loaders) or streamed (conversion).

Format: one arc per line, whitespace- or comma-separated (optionally ``.gz``); ``comments``
(default ``#``) starts a comment anywhere in a line; blank lines are skipped; extra columns are
ignored unless ``weighted``, which reads the third column as a ``float32`` weight.  With
``header=None`` a first data line whose first two fields are not numbers (``src,dst``) is a
header and skipped.

:class:`TextEdgeList` parses with pandas' C reader in blocks of ``chunk_rows`` lines, so a
billion-line file streams in constant memory (:meth:`TextEdgeList.chunks`) and a small one is read
in one call (:meth:`TextEdgeList.read`).  Both :func:`gnnkit.data.read_edge_list` and
``gnnkit data convert`` use it.  Problems raise :class:`~gnnkit.data.errors.DatasetError` naming
the file and the physical line: a non-integer id (text, a fraction, NaN, a missing column), a
non-finite weight, a corrupt ``.gz``.  Range checks (negative ids, ids ``>= N``) are the caller's:
they depend on the ``num_nodes`` it was given.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), 'g.csv')
>>> _ = open(p, 'w').write('src,dst\n0,1\n# a comment\n1,2 # inline\n')
>>> r = TextEdgeList(p)
>>> r.delimiter, r.header, r.read()[0].tolist()
(',', True, [[0, 1], [1, 2]])
>>> r.locate(1)
"line 4 ('1,2 # inline')"
"""
from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np

from gnnkit.data.errors import DatasetError

__all__ = ["TextEdgeList", "open_text"]


def open_text(path):
    """A text handle on ``path`` (gunzipped when it ends in ``.gz``), undecodable bytes
    replaced (the parser then reports them as non-integer ids)."""
    p = str(path)
    if p.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", errors="replace")
    return open(p, encoding="utf-8", errors="replace")


def _strip(line: str, comments: str | None) -> str:
    return (line.split(comments, 1)[0] if comments else line).strip()


class TextEdgeList:
    """A text / CSV edge list (see the module docstring).

    Args:
        path (str or Path): the file (``.gz`` is decompressed).
        delimiter (str, optional): ``','`` or any single character; ``None`` picks ``','`` when
            the first data line holds a comma, else runs of whitespace. (default: ``None``)
        comments (str): comment prefix; ``''`` disables comments. (default: ``'#'``)
        weighted (bool): read the third column as weights. (default: ``False``)
        header (bool, optional): the first data line is a header; ``None`` decides from its
            first two fields (not numbers: header). (default: ``None``)
        display (str, optional): the name used in error messages. (default: ``path``)

    Raises:
        DatasetError: missing or unreadable file; lines with fewer columns than needed.
    """

    def __init__(self, path, *, delimiter: str | None = None, comments: str = "#",
                 weighted: bool = False, header: bool | None = None, display: str | None = None):
        self.path = Path(path)
        self.name = display or str(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: edge list file not found")
        self.comments = comments or None
        self.weighted = bool(weighted)
        self.ncols_needed = 3 if weighted else 2
        sep, sniffed_header, ncols = self._sniff()
        self.delimiter = delimiter if delimiter is not None else sep
        self.header = sniffed_header if header is None else bool(header)
        self.num_columns = ncols
        if ncols is not None and ncols < self.ncols_needed:
            raise DatasetError(f"{self.path}: {self.locate(0)} has {ncols} column(s); expected "
                               f"'src dst{' weight' if weighted else ''}'")

    # ------------------------------------------------------------------ lines
    def _sniff(self):
        try:
            with open_text(self.path) as f:
                for line in f:
                    s = _strip(line, self.comments)
                    if not s:
                        continue
                    sep = "," if "," in s else None
                    fields = [t.strip() for t in (s.split(",") if sep else s.split())]
                    try:
                        [float(t) for t in fields[:2]]
                        header = False
                    except ValueError:
                        header = True
                    return sep, header, len(fields)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{self.path}: cannot read ({type(e).__name__}: {e})") from e
        return None, False, None  # no data line at all

    def _data_lines(self):
        """``(physical line number, text)`` of the data lines, 1-based (for error messages)."""
        skip_header = self.header
        with open_text(self.path) as f:
            for no, line in enumerate(f, 1):
                s = _strip(line, self.comments)
                if not s:
                    continue
                if skip_header:
                    skip_header = False
                    continue
                yield no, line.strip()

    def locate(self, k: int) -> str:
        """``"line <n> ('<text>')"`` of the ``k``-th data line (0-based); a slow rescan."""
        try:
            for i, (no, s) in enumerate(self._data_lines()):
                if i == k:
                    return f"line {no} ({s[:60]!r})"
        except (OSError, EOFError, zlib.error):
            pass
        return f"data line {k + 1}"

    def _header_rows(self):
        if not self.header:
            return None
        with open_text(self.path) as f:
            for no, line in enumerate(f):
                if _strip(line, self.comments):
                    return [no]
        return None

    # ------------------------------------------------------------------ parsing
    def chunks(self, chunk_rows: int = 1 << 20):
        """Yield ``(start, src, dst, weight)`` blocks: ``int64`` ids, ``float32`` weights (or
        ``None``), ``start`` the index of the block's first data line."""
        import pandas as pd

        if self.num_columns is None:
            return
        kw = dict(header=None, comment=self.comments, skip_blank_lines=True, engine="c",
                  usecols=list(range(self.ncols_needed)), chunksize=int(chunk_rows),
                  skiprows=self._header_rows(), compression="infer")
        if self.delimiter is None:
            kw["sep"] = r"\s+"
        else:
            kw["sep"] = self.delimiter
        start = 0
        try:
            for df in pd.read_csv(self.path, **kw):
                cols = [df.iloc[:, c].to_numpy() for c in range(self.ncols_needed)]
                for c in (0, 1):
                    if cols[c].dtype.kind != "i":
                        bad = _first_non_int(cols[c])
                        raise DatasetError(f"{self.name}: {self.locate(start + bad)}: column "
                                           f"{c + 1} is not an integer node id")
                w = None
                if self.weighted:
                    try:
                        w = cols[2].astype(np.float32)
                    except (TypeError, ValueError):
                        bad = _first_non_float(cols[2])
                        raise DatasetError(f"{self.name}: {self.locate(start + bad)}: column 3 "
                                           "is not a number (weight)") from None
                    if not np.isfinite(w).all():
                        bad = int(np.flatnonzero(~np.isfinite(w))[0])
                        raise DatasetError(f"{self.name}: {self.locate(start + bad)}: weight "
                                           f"{w[bad]} is not finite")
                yield (start, cols[0].astype(np.int64, copy=False),
                       cols[1].astype(np.int64, copy=False), w)
                start += len(df)
        except DatasetError:
            raise
        except pd.errors.EmptyDataError:
            return
        except (ValueError, pd.errors.ParserError, OSError, EOFError, zlib.error,
                UnicodeDecodeError, OverflowError) as e:
            raise DatasetError(f"{self.name}: cannot parse as an edge list near data line "
                               f"{start + 1} ({type(e).__name__}: {e})") from e

    def read(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The whole list: ``(pairs int64 [E, 2], weights float32 [E] or None)``."""
        src, dst, ws = [], [], []
        for _, s, d, w in self.chunks():
            src.append(s)
            dst.append(d)
            if w is not None:
                ws.append(w)
        if not src:
            return np.zeros((0, 2), np.int64), (np.zeros(0, np.float32) if self.weighted
                                                 else None)
        pairs = np.stack([np.concatenate(src), np.concatenate(dst)], axis=1)
        return pairs, (np.concatenate(ws) if self.weighted else None)


def _first_non_int(a) -> int:
    try:
        f = a.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(f) | (f != np.round(f)))
        return int(bad[0]) if bad.size else 0
    except (ValueError, TypeError, OverflowError):
        for i, v in enumerate(a):
            try:
                int(v)
            except (ValueError, TypeError, OverflowError):
                return i
        return 0


def _first_non_float(a) -> int:
    for i, v in enumerate(a):
        try:
            float(v)
        except (ValueError, TypeError):
            return i
    return 0
