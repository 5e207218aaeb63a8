r"""Out-of-core conversion of edge lists (text, binary, ``.npz``, OGB directories) to a DiskGraph.

``convert_to_disk(src, dst, symmetrize=True, dedup=True, memory="4GB")`` builds the CSR
(grouped by destination, see ``TEAM.md``) of a graph that need not fit in RAM, with its
resident memory bounded by ``memory`` plus a small constant (the interpreter and imports):

1. **Count pass.**  Stream the input once in chunks; validate ids (negative or :math:`\ge N`
   raises :class:`~gnnkit.data.disk.DiskGraphError` naming the file and the line or byte
   offset), count the arcs entering every node (both directions with ``symmetrize``; a self
   loop is its own reverse and is counted once), and find :math:`N`.  Text, ``.npz`` and OGB
   inputs are also *spilled* to a temporary binary file, so later passes never parse text.
2. **Plan.**  Split the destinations into contiguous ranges ("buckets") whose arcs fit the
   budget after the fixed costs (the int64 degree arrays, :math:`8N` bytes each, and the chunk
   buffers): a bucket of :math:`a` arcs and :math:`r` rows costs
   :math:`a \cdot b + 16 r` bytes, with :math:`b` = 5 (int32 index + 1 for bookkeeping)
   unweighted and 24 weighted (index, float32 weight, argsort scratch).
3. **Bucketed counting sort.**  For each bucket, stream the (binary) input again and scatter
   the arcs whose destination lies in the bucket straight to their row slot (the row offsets
   are the prefix sums of the counted degrees), then sort each row by source (insertion sort
   for rows of at most 64 arcs, numpy's vectorised sort for longer ones; a stable argsort per
   row when weighted), merge duplicate arcs (``dedup``), and append the rows to
   ``indices.npy`` and their pointers to ``indptr.npy``.  Each bucket is one sequential read
   of the input; with the default budget a 100M-edge graph is a single bucket.
4. **Transpose (optional).**  The same scheme grouped by source, reading the CSR just written:
   ``t_indptr``, ``t_indices`` (skipped for symmetric graphs, where they equal ``indptr`` and
   ``indices``) and ``t_perm``.

The kernels are numba-compiled (``cache=True``); all arrays are numpy, read and written with
plain file I/O (never memory maps, whose touched pages would count against the budget).
Output is atomic (see :mod:`gnnkit.data.disk`): an interrupted run leaves no ``dst``.

Semantics (chosen to match :class:`gnnkit.Graph`): ``symmetrize`` adds the reverse of every
non-self-loop arc; ``dedup`` merges arcs with the same (destination, source) — unweighted
graphs get set semantics (as :meth:`gnnkit.Graph.to_undirected` and ``coalesce('drop')``),
weighted ones reduce the weights with ``reduce`` (default ``'max'`` with ``symmetrize``, as
``to_undirected``; ``'sum'`` without, as ``coalesce``).  So
``convert_to_disk(..., symmetrize=True, dedup=True)`` equals
``Graph.from_edge_index(ei, num_nodes=N).to_undirected()`` and ``dedup=True`` alone equals
``coalesce('drop')`` on unweighted inputs.  Without ``dedup``, duplicate arcs are kept
(stable, in input order).
"""
from __future__ import annotations

import gzip
import io
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from gnnkit.data.disk import DEFAULT_CHECKSUM, DiskGraph, DiskGraphError, _DirWriter

__all__ = ["convert_to_disk", "csr_from_edges", "parse_memory", "detect_format", "FORMATS", "REDUCES"]

FORMATS = ("auto", "text", "int32", "int64", "npz", "ogb")
REDUCES = ("sum", "max", "min", "mean", "drop")
_REDUCE_CODE = {r: i for i, r in enumerate(REDUCES)}
_SMALL_ROW = 64  # rows up to this many arcs are insertion-sorted in the compiled kernel
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
          "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
          "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}


def parse_memory(memory) -> int:
    """Bytes of a memory budget: an int, or a string such as ``"4GB"``, ``"512MiB"``, ``"64k"``
    (binary units: 1 GB = 2**30 bytes).

    >>> parse_memory("4GB"), parse_memory("1.5k"), parse_memory(1000)
    (4294967296, 1536, 1000)
    """
    if isinstance(memory, (int, np.integer)) and not isinstance(memory, bool):
        value = int(memory)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(memory))
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(f"memory must be bytes or a size like '4GB' or '512MB', "
                             f"got {memory!r}")
        value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise ValueError(f"memory must be positive, got {memory!r}")
    return value


# --------------------------------------------------------------------------------------------
# numba kernels (compiled on first use; cached on disk)
# --------------------------------------------------------------------------------------------
_K: dict = {}


def _kernels() -> dict:
    if _K:
        return _K
    try:
        import numba
    except ImportError as e:  # pragma: no cover - numba ships with gnnkit's data extra
        raise ImportError("gnnkit data conversion needs numba (`pip install numba`)") from e
    jit = numba.njit(cache=True, nogil=True)

    @jit
    def check_ids(src, dst, limit):
        # (first position with an id outside [0, limit) or -1, max id of the chunk)
        mx = -1
        for k in range(src.shape[0]):
            s = src[k]
            d = dst[k]
            if s < 0 or d < 0 or s >= limit or d >= limit:
                return k, mx
            if s > mx:
                mx = s
            if d > mx:
                mx = d
        return -1, mx

    @jit
    def count(src, dst, deg, symmetrize):
        for k in range(src.shape[0]):
            s = src[k]
            d = dst[k]
            deg[d] += 1
            if symmetrize and s != d:
                deg[s] += 1

    @jit
    def partition(src, dst, w, weighted, lo, hi, symmetrize, shift, hist, out_s, out_d, out_w):
        # Group the arcs of a chunk whose destination lies in [lo, hi) by (dst - lo) >> shift
        # (a counting sort on the high bits, written to out_*; returns their number). The
        # scatter that follows then touches one narrow node range at a time, which keeps its
        # random accesses in cache: ~2x faster than scattering the raw stream at 10M nodes.
        P = hist.shape[0] - 1
        for p in range(P + 1):
            hist[p] = 0
        for k in range(src.shape[0]):
            s = src[k]
            d = dst[k]
            if d >= lo and d < hi:
                hist[((d - lo) >> shift) + 1] += 1
            if symmetrize and s != d and s >= lo and s < hi:
                hist[((s - lo) >> shift) + 1] += 1
        for p in range(P):
            hist[p + 1] += hist[p]
        for k in range(src.shape[0]):
            s = src[k]
            d = dst[k]
            if d >= lo and d < hi:
                q = (d - lo) >> shift
                i = hist[q]
                hist[q] = i + 1
                out_s[i] = s
                out_d[i] = d
                if weighted:
                    out_w[i] = w[k]
            if symmetrize and s != d and s >= lo and s < hi:
                q = (s - lo) >> shift
                i = hist[q]
                hist[q] = i + 1
                out_s[i] = d
                out_d[i] = s
                if weighted:
                    out_w[i] = w[k]
        return hist[P]

    @jit
    def plan(deg, bytes_per_arc, bytes_per_row, cap):
        # Greedy contiguous ranges whose cost fits cap; returns the bucket ends. Two sweeps
        # (count, then fill) so that nothing O(N) is allocated. A single entry -(i+1) flags
        # node i as too large on its own.
        n = deg.shape[0]
        for i in range(n):
            if deg[i] * bytes_per_arc + bytes_per_row > cap:
                out = np.empty(1, np.int64)
                out[0] = -(i + 1)
                return out
        ends = np.empty(0, np.int64)
        for sweep in range(2):
            nb = 0
            cost = 0
            for i in range(n):
                c = deg[i] * bytes_per_arc + bytes_per_row
                if cost + c > cap:
                    if sweep == 1:
                        ends[nb] = i
                    nb += 1
                    cost = 0
                cost += c
            if sweep == 1:
                ends[nb] = n
            else:
                ends = np.empty(nb + 1, np.int64)
        return ends

    @jit
    def scatter(src, dst, w, weighted, lo, hi, cursor, slab, slab_w, symmetrize):
        for k in range(src.shape[0]):
            s = src[k]
            d = dst[k]
            if d >= lo and d < hi:
                p = cursor[d - lo]
                cursor[d - lo] = p + 1
                slab[p] = s
                if weighted:
                    slab_w[p] = w[k]
            if symmetrize and s != d and s >= lo and s < hi:
                p = cursor[s - lo]
                cursor[s - lo] = p + 1
                slab[p] = d
                if weighted:
                    slab_w[p] = w[k]

    @jit
    def sort_small_rows(slab, deg, thresh, big_rows, big_starts):
        # Insertion-sort the rows of at most `thresh` arcs; list the longer ones, which the
        # caller sorts with numpy's (SIMD) sort, ~10x faster than a compiled quicksort.
        rd = 0
        nb = 0
        for r in range(deg.shape[0]):
            a = rd
            b = rd + deg[r]
            rd = b
            if b - a > thresh:
                big_rows[nb] = r
                big_starts[nb] = a
                nb += 1
            else:
                for i in range(a + 1, b):
                    v = slab[i]
                    j = i - 1
                    while j >= a and slab[j] > v:
                        slab[j + 1] = slab[j]
                        j -= 1
                    slab[j + 1] = v
        return nb

    @jit
    def compact(slab, slab_w, weighted, deg, counts, dedup, reduce, outdeg, count_out):
        # Rows lie back to back with deg[r] arcs each; unweighted rows are already sorted,
        # weighted ones are sorted here (stable: duplicates keep input order). Merge
        # duplicates (dedup) and compact in place (write position <= read position).
        rd = 0
        wr = 0
        for r in range(deg.shape[0]):
            a = rd
            b = rd + deg[r]
            rd = b
            start = wr
            n = b - a
            if n > 0:
                if weighted:
                    order = np.argsort(slab[a:b], kind="mergesort")
                    vals = slab[a:b][order]
                    ws = slab_w[a:b][order]
                else:
                    vals = slab[a:b]
                    ws = slab_w[:0]
                if not dedup:
                    if weighted or wr != a:
                        for k in range(n):
                            slab[wr + k] = vals[k]
                            if weighted:
                                slab_w[wr + k] = ws[k]
                    wr += n
                else:
                    k = 0
                    while k < n:
                        v = vals[k]
                        acc = ws[k] if weighted else 0.0
                        m = 1
                        k += 1
                        while k < n and vals[k] == v:
                            if weighted:
                                x = ws[k]
                                if reduce == 0 or reduce == 3:
                                    acc += x
                                elif reduce == 1:
                                    acc = max(acc, x)
                                elif reduce == 2:
                                    acc = min(acc, x)
                            m += 1
                            k += 1
                        slab[wr] = v
                        if weighted:
                            slab_w[wr] = acc / m if reduce == 3 else acc
                        wr += 1
            counts[r] = wr - start
            if count_out:
                for k in range(start, wr):
                    outdeg[slab[k]] += 1
        return wr

    @jit
    def transpose_scatter(vals, pos0, ptr, j, row0, lo, hi, cursor, t_idx, t_perm, write_idx):
        # vals: CSR sources at positions pos0..; ptr: indptr block of rows row0.. with
        # ptr[j] <= pos0. Places arcs whose source is in [lo, hi) at their transposed slot.
        m = ptr.shape[0] - 1
        for k in range(vals.shape[0]):
            pos = pos0 + k
            while j < m - 1 and ptr[j + 1] <= pos:
                j += 1
            s = vals[k]
            if s >= lo and s < hi:
                p = cursor[s - lo]
                cursor[s - lo] = p + 1
                if write_idx:
                    t_idx[p] = row0 + j
                t_perm[p] = pos
        return j

    _K.update(check_ids=check_ids, count=count, partition=partition, plan=plan,
              scatter=scatter, sort_small_rows=sort_small_rows, compact=compact,
              transpose_scatter=transpose_scatter)
    return _K


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------
def _open_file(source, path, display) -> None:
    """Set ``source.path`` and ``source.name`` (``display``, else ``path``) of an input file,
    which must exist."""
    source.path = Path(path)
    source.name = display or str(path)
    if not source.path.is_file():
        raise DiskGraphError(f"{source.path}: no such file")


class _BinarySource:
    """Interleaved ``(src, dst)`` pairs of int32/int64 (the generator's and the spill format),
    with an optional float32 weight file beside it."""

    needs_spill = False

    def __init__(self, path, dtype, weights_path=None, display=None):
        self.dtype = np.dtype(dtype)
        self.kind = self.dtype.name
        _open_file(self, path, display)
        size = self.path.stat().st_size
        pair = 2 * self.dtype.itemsize
        if size % pair:
            raise DiskGraphError(
                f"{self.path}: {size} bytes is not a whole number of {self.dtype} (src, dst) "
                f"pairs of {pair} bytes (truncated file, or wrong --format?)")
        self.num_edges = size // pair
        self.weights_path = None if weights_path is None else Path(weights_path)
        self.weighted = self.weights_path is not None
        self.num_nodes = None

    def chunks(self, chunk_edges):
        buf = np.empty(2 * chunk_edges, self.dtype)
        wbuf = np.empty(chunk_edges, np.float32) if self.weighted else None
        wf = open(self.weights_path, "rb") if self.weighted else None
        try:
            with open(self.path, "rb") as f:
                start = 0
                while start < self.num_edges:
                    k = min(chunk_edges, self.num_edges - start)
                    got = f.readinto(memoryview(buf[:2 * k]).cast("B"))
                    if got != 2 * k * self.dtype.itemsize:
                        raise DiskGraphError(f"{self.path}: file changed while reading "
                                             f"(short read at edge {start})")
                    pairs = buf[:2 * k].reshape(k, 2)
                    w = None
                    if wf is not None:
                        wf.readinto(memoryview(wbuf[:k]).cast("B"))
                        w = wbuf[:k]
                    yield start, pairs[:, 0], pairs[:, 1], w
                    start += k
        finally:
            if wf is not None:
                wf.close()

    def locate(self, k: int) -> str:
        return f"edge {k} (byte offset {k * 2 * self.dtype.itemsize})"

    def node_data(self, writer, n, features_dtype):
        return {}

    def chunk_bytes(self, chunk_edges):
        return chunk_edges * (2 * self.dtype.itemsize + (4 if self.weighted else 0))


def _open_text(path):
    p = str(path)
    if p.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", errors="replace")
    return open(p, encoding="utf-8", errors="replace")


_COMMENT = ("#",)


class _TextSource:
    """Whitespace- or comma-separated edge list ``src dst [weight]``, one edge per line.

    Lines starting with ``#`` and blank lines are skipped; a first line with
    non-numeric fields (``src,dst``) is a header.  Extra columns are ignored unless
    ``weighted``, which reads the third column as the weight.
    """

    needs_spill = True
    kind = "text"

    def __init__(self, path, weighted=False, display=None):
        _open_file(self, path, display)
        self.weighted = weighted
        self.num_nodes = None
        self.sep, self.header, ncols = self._sniff()
        if ncols is not None and ncols < (3 if weighted else 2):
            raise DiskGraphError(f"{self.path}: lines have {ncols} column(s); expected "
                                 f"'src dst{' weight' if weighted else ''}'")

    def _sniff(self):
        try:
            with _open_text(self.path) as f:
                for line in f:
                    s = line.strip()
                    if not s or s.startswith(_COMMENT):
                        continue
                    sep = "," if "," in s else None
                    fields = [t for t in (s.split(",") if sep else s.split())]
                    header = False
                    try:
                        [float(t) for t in fields[:2]]
                    except ValueError:
                        header = True
                    return sep, header, len(fields)
        except (OSError, EOFError) as e:
            raise DiskGraphError(f"{self.path}: cannot read ({e})") from e
        return None, False, None  # empty file

    def _data_lines(self):
        """(line number, text) of the data lines, 1-based (slow path, for error messages)."""
        seen_header = not self.header
        with _open_text(self.path) as f:
            for no, line in enumerate(f, 1):
                s = line.strip()
                if not s or s.startswith(_COMMENT):
                    continue
                if not seen_header:
                    seen_header = True
                    continue
                yield no, s

    def locate(self, k: int) -> str:
        for i, (no, s) in enumerate(self._data_lines()):
            if i == k:
                return f"line {no} ({s[:60]!r})"
        return f"data line {k + 1}"

    def chunks(self, chunk_edges):
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is installed with gnnkit[ogb]
            yield from self._chunks_numpy(chunk_edges)
            return
        ncol = 3 if self.weighted else 2
        kw = dict(header=None, comment="#", skip_blank_lines=True, engine="c",
                  usecols=list(range(ncol)), chunksize=chunk_edges,
                  skiprows=self._header_rows(), compression="infer")
        if self.sep is None:
            kw["sep"] = r"\s+"
        else:
            kw["sep"] = ","
        start = 0
        try:
            reader = pd.read_csv(self.path, **kw)
            for df in reader:
                s = df.iloc[:, 0].to_numpy()
                d = df.iloc[:, 1].to_numpy()
                for col, a in ((0, s), (1, d)):
                    if a.dtype.kind != "i":
                        bad = self._first_non_int(a)
                        raise DiskGraphError(
                            f"{self.path}: {self.locate(start + bad)}: column {col + 1} is not "
                            f"an integer node id")
                w = df.iloc[:, 2].to_numpy(np.float32) if self.weighted else None
                yield start, s.astype(np.int64, copy=False), d.astype(np.int64, copy=False), w
                start += len(df)
        except DiskGraphError:
            raise
        except (ValueError, pd.errors.ParserError, OSError, EOFError) as e:
            raise DiskGraphError(f"{self.path}: cannot parse as an edge list near data line "
                                 f"{start + 1}: {e}") from e

    @staticmethod
    def _first_non_int(a):
        try:
            f = a.astype(np.float64)
            bad = np.flatnonzero(~np.isfinite(f) | (f != np.round(f)))
            return int(bad[0]) if bad.size else 0
        except (ValueError, TypeError):
            for i, v in enumerate(a):
                try:
                    int(v)
                except (ValueError, TypeError):
                    return i
            return 0

    def _header_rows(self):
        if not self.header:
            return None
        # Skip the header line: its 0-based physical line number.
        with _open_text(self.path) as f:
            for no, line in enumerate(f):
                s = line.strip()
                if s and not s.startswith(_COMMENT):
                    return [no]
        return None

    def _chunks_numpy(self, chunk_edges):  # pragma: no cover - fallback without pandas
        ncol = 3 if self.weighted else 2
        start = 0
        lines = self._data_lines()
        while True:
            block = [s for _, s in zip(range(chunk_edges), lines)]
            if not block:
                return
            try:
                a = np.loadtxt(block, delimiter=self.sep, usecols=range(ncol), ndmin=2)
            except ValueError as e:
                raise DiskGraphError(f"{self.path}: cannot parse near data line {start + 1}: "
                                     f"{e}") from e
            yield (start, a[:, 0].astype(np.int64), a[:, 1].astype(np.int64),
                   a[:, 2].astype(np.float32) if self.weighted else None)
            start += len(block)

    def node_data(self, writer, n, features_dtype):
        return {}

    def chunk_bytes(self, chunk_edges):
        return chunk_edges * 64  # pandas frame + int64 copies (estimate)


def _npy_member_rows(zf: zipfile.ZipFile, name: str, chunk_rows: int, origin: str,
                     skip_items: int = 0, stop_items: int | None = None):
    """Stream a ``.npy`` member of a zip (``.npz``): returns (dtype, shape, fortran, iterator
    of flat item blocks of ``chunk_rows`` items) over items ``[skip_items, stop_items)``."""
    f = zf.open(name)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except ValueError as e:
        f.close()
        raise DiskGraphError(f"{origin}: member {name!r} is not a valid .npy array ({e})") from e
    if dtype.hasobject:
        f.close()
        raise DiskGraphError(f"{origin}: member {name!r} holds Python objects; not supported")
    total = int(np.prod(shape, dtype=np.int64))
    if stop_items is not None:
        total = min(total, stop_items)

    def it():
        try:
            left = total - skip_items
            skip = skip_items * dtype.itemsize
            while skip > 0:
                got = f.read(min(skip, 1 << 24))
                if not got:
                    raise DiskGraphError(f"{origin}: member {name!r} is truncated")
                skip -= len(got)
            while left > 0:
                k = min(chunk_rows, left)
                raw = f.read(k * dtype.itemsize)
                if len(raw) != k * dtype.itemsize:
                    raise DiskGraphError(f"{origin}: member {name!r} is truncated")
                yield np.frombuffer(raw, dtype=dtype)
                left -= k
        finally:
            f.close()

    return dtype, shape, fortran, it()


class _NpzSource:
    """``.npz`` with ``edge_index`` ([2, E] or [E, 2]) and optionally ``num_nodes``,
    ``edge_weight``, ``x``/``features``, ``y``/``labels`` and splits as ``{train,val,test}_mask``
    (boolean) or ``{train,val,valid,test}_idx`` (ids).  Members are streamed, never loaded."""

    needs_spill = True
    kind = "npz"

    def __init__(self, path, weighted=None, display=None):
        _open_file(self, path, display)
        try:
            self.zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as e:
            raise DiskGraphError(f"{self.path}: not a valid .npz (zip) file ({e})") from e
        self.members = {n[:-4]: n for n in self.zf.namelist() if n.endswith(".npy")}
        if "edge_index" not in self.members:
            raise DiskGraphError(f"{self.path}: no 'edge_index' array; found "
                                 f"{sorted(self.members)}")
        dtype, shape, fortran, _ = _npy_member_rows(self.zf, self.members["edge_index"], 1,
                                                    self.name)
        if len(shape) != 2 or 2 not in shape or dtype.kind not in "iu":
            raise DiskGraphError(f"{self.path}: edge_index must be an integer [2, E] or [E, 2] "
                                 f"array, got {dtype} {shape}")
        # In memory order, row-major [2, E] (and column-major [E, 2]) stores all sources, then
        # all destinations ("planar"); row-major [E, 2] (column-major [2, E]) interleaves them.
        if shape[0] == 2:
            self.num_edges, self.planar = int(shape[1]), not fortran
        else:
            self.num_edges, self.planar = int(shape[0]), bool(fortran)
        self.num_nodes = None
        if "num_nodes" in self.members:
            _, _, _, it = _npy_member_rows(self.zf, self.members["num_nodes"], 1, self.name)
            vals = list(it)
            self.num_nodes = int(vals[0][0]) if vals else None
        self.weighted = "edge_weight" in self.members if weighted is None else weighted
        if self.weighted and "edge_weight" not in self.members:
            raise DiskGraphError(f"{self.path}: weighted=True but there is no 'edge_weight'")

    def chunks(self, chunk_edges):
        name = self.members["edge_index"]
        e = self.num_edges
        if self.planar:
            _, _, _, a = _npy_member_rows(self.zf, name, chunk_edges, self.name, stop_items=e)
            _, _, _, b = _npy_member_rows(self.zf, name, chunk_edges, self.name, skip_items=e)
        else:
            _, _, _, ab = _npy_member_rows(self.zf, name, 2 * chunk_edges, self.name)
        wi = None
        if self.weighted:
            _, wshape, _, wi = _npy_member_rows(self.zf, self.members["edge_weight"],
                                                chunk_edges, self.name)
            if tuple(wshape) != (e,):
                raise DiskGraphError(f"{self.path}: edge_weight has shape {wshape}, expected "
                                     f"({e},)")
        start = 0
        while start < e:
            if self.planar:
                s = next(a)
                d = next(b)[:len(s)]
            else:
                pairs = next(ab).reshape(-1, 2)
                s, d = pairs[:, 0], pairs[:, 1]
            w = next(wi).astype(np.float32) if wi is not None else None
            yield start, s.astype(np.int64), d.astype(np.int64), w
            start += len(s)

    def locate(self, k):
        return f"edge_index column {k}"

    def chunk_bytes(self, chunk_edges):
        return chunk_edges * 48

    def node_data(self, writer, n, features_dtype):
        out = {}
        for key in ("x", "features"):
            if key in self.members:
                _write_member_2d(self.zf, self.members[key], writer, "features", n,
                                 np.dtype(features_dtype), self.name)
                break
        for key in ("y", "labels"):
            if key in self.members:
                _write_member_2d(self.zf, self.members[key], writer, "labels", n,
                                 np.dtype(np.int64), self.name)
                break
        for split, keys in (("train", ("train_mask", "train_idx")),
                            ("val", ("val_mask", "valid_mask", "val_idx", "valid_idx")),
                            ("test", ("test_mask", "test_idx"))):
            for key in keys:
                if key in self.members:
                    _write_split_member(self.zf, self.members[key], writer, split, n, self.name)
                    break
        return out


def _write_member_2d(zf, member, writer, name, n, dtype, origin):
    src_dtype, shape, fortran, _ = _npy_member_rows(zf, member, 1, origin)
    if fortran and len(shape) > 1:
        raise DiskGraphError(f"{origin}: {member} is Fortran-ordered; save it C-ordered")
    if len(shape) not in (1, 2) or shape[0] != n:
        raise DiskGraphError(f"{origin}: {member} has shape {shape}, expected ({n}, ...)")
    row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    rows = max(1, (1 << 22) // max(1, row))
    _, _, _, it = _npy_member_rows(zf, member, rows * row, origin)
    w = writer.writer(name, dtype, tuple(shape[1:]))
    for block in it:
        if dtype.kind == "i" and block.dtype.kind == "f":
            block = np.where(np.isnan(block), -1, block)
        w.write(block.astype(dtype).reshape((-1, *shape[1:])))
    writer.finish(name, w)


def _write_split_member(zf, member, writer, split, n, origin):
    dtype, shape, _, it = _npy_member_rows(zf, member, 1 << 22, origin)
    w = writer.writer(f"split_{split}", np.int64)
    if dtype == np.bool_:
        if tuple(shape) != (n,):
            raise DiskGraphError(f"{origin}: {member} has shape {shape}, expected ({n},)")
        off = 0
        for block in it:
            w.write(np.flatnonzero(block) + off)
            off += len(block)
    else:
        for block in it:
            if block.size and (block.min() < 0 or block.max() >= n):
                raise DiskGraphError(f"{origin}: {member} holds node ids outside [0, {n})")
            w.write(block.astype(np.int64))
    writer.finish(f"split_{split}", w)


class _OgbSource(_TextSource):
    """An OGB node-property dataset directory, read in chunks: ``raw/edge.csv.gz``,
    ``raw/num-node-list.csv.gz``, ``raw/node-feat.csv.gz``, ``raw/node-label.csv.gz`` and
    ``split/<name>/{train,valid,test}.csv.gz``.  Only edges, features, labels and splits are
    converted (no edge features).  Undirected OGB graphs (e.g. ogbn-products) list each edge once: pass ``symmetrize``."""

    kind = "ogb"

    def __init__(self, path, weighted=False, display=None):
        root = Path(path)
        raw = root / "raw"
        edge = next((raw / f for f in ("edge.csv.gz", "edge.csv") if (raw / f).is_file()), None)
        if edge is None:
            raise DiskGraphError(f"{root}: not an OGB dataset directory (no raw/edge.csv.gz)")
        self.root = root
        super().__init__(edge, weighted=False, display=display or str(edge))
        self.num_nodes = None
        nn = next((raw / f for f in ("num-node-list.csv.gz", "num-node-list.csv")
                   if (raw / f).is_file()), None)
        if nn is not None:
            with _open_text(nn) as f:
                vals = [int(x) for x in f.read().split()]
            if len(vals) != 1:
                raise DiskGraphError(f"{nn}: expected one graph's node count, found {len(vals)}")
            self.num_nodes = vals[0]

    def node_data(self, writer, n, features_dtype):
        raw = self.root / "raw"
        feat = _first_file(raw, "node-feat")
        if feat is not None:
            _write_csv_matrix(feat, writer, "features", n, np.dtype(features_dtype))
        lab = _first_file(raw, "node-label")
        if lab is not None:
            _write_csv_matrix(lab, writer, "labels", n, np.dtype(np.int64))
        split_root = self.root / "split"
        if split_root.is_dir():
            subs = sorted(p for p in split_root.iterdir() if p.is_dir())
            if subs:
                for split, fname in (("train", "train"), ("val", "valid"), ("test", "test")):
                    f = _first_file(subs[0], fname)
                    if f is not None:
                        _write_csv_ids(f, writer, f"split_{split}", n)
        return {}


def _first_file(d: Path, stem: str):
    for ext in (".csv.gz", ".csv"):
        if (d / (stem + ext)).is_file():
            return d / (stem + ext)
    return None


def _write_csv_matrix(path, writer, name, n, dtype):
    import pandas as pd

    w = None
    rows = 0
    try:
        for df in pd.read_csv(path, header=None, chunksize=1 << 16, dtype=np.float64):
            a = df.to_numpy()
            if dtype.kind == "i":
                a = np.where(np.isnan(a), -1, a)
            a = a.astype(dtype)
            if a.shape[1] == 1 and name == "labels":
                a = a[:, 0]
            if w is None:
                w = writer.writer(name, dtype, a.shape[1:])
            w.write(a)
            rows += a.shape[0]
    except (ValueError, pd.errors.ParserError) as e:
        raise DiskGraphError(f"{path}: cannot parse ({e})") from e
    if w is None or rows != n:
        raise DiskGraphError(f"{path}: {rows} rows, expected one per node ({n})")
    writer.finish(name, w)


def _write_csv_ids(path, writer, name, n):
    import pandas as pd

    w = writer.writer(name, np.int64)
    try:
        for df in pd.read_csv(path, header=None, chunksize=1 << 20, dtype=np.int64):
            a = df.iloc[:, 0].to_numpy()
            if a.size and (a.min() < 0 or a.max() >= n):
                raise DiskGraphError(f"{path}: node ids outside [0, {n})")
            w.write(a)
    except (ValueError, pd.errors.ParserError) as e:
        raise DiskGraphError(f"{path}: cannot parse ({e})") from e
    writer.finish(name, w)


def detect_format(path) -> str:
    """Input format from the path: a directory is ``'ogb'``; ``*.npz`` is ``'npz'``;
    ``*.i32``/``*.bin32``/``*.int32`` are int32 pairs, ``*.i64``/``*.bin64``/``*.int64``/``*.bin``
    int64 pairs (the suffixes of :func:`gnnkit.data.read_edge_list`); anything else is text.

    >>> detect_format("edges.i32"), detect_format("g.npz"), detect_format("web.txt.gz")
    ('int32', 'npz', 'text')
    """
    p = Path(path)
    if p.is_dir():
        return "ogb"
    name = p.name.lower()
    if name.endswith(".npz"):
        return "npz"
    if name.endswith((".i32", ".bin32", ".int32")):
        return "int32"
    if name.endswith((".i64", ".bin64", ".int64", ".bin")):
        return "int64"
    return "text"


def _open_source(src, fmt, weighted):
    fmt = detect_format(src) if fmt in (None, "auto") else fmt
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if not Path(src).exists():
        raise DiskGraphError(f"{src}: no such file or directory")
    if fmt in ("int32", "int64"):
        if weighted:
            raise DiskGraphError(f"{src}: binary edge lists carry no weights (weighted=True)")
        return _BinarySource(src, fmt)
    if fmt == "npz":
        return _NpzSource(src, weighted=weighted)
    if fmt == "ogb":
        return _OgbSource(src)
    return _TextSource(src, weighted=bool(weighted))


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------
class _Bar:
    def __init__(self, enabled, total, desc, unit="edge"):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr)

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


_PART_MIN_NODES = 1 << 16  # node ranges at most this wide are scattered without partitioning
_PART_MIN_SHIFT = 15  # partitions span >= 2**15 nodes: their int64 cursors (256 KiB) stay in L2


class _Partitioner:
    """Reusable buffers for the ``partition`` kernel (arcs of one chunk grouped by node range).

    Holds ``2 * chunk_edges`` arcs (a chunk symmetrised): :meth:`nbytes` of them."""

    def __init__(self, chunk_edges, dtype, weighted):
        m = 2 * chunk_edges
        self.out_s = np.empty(m, dtype)
        self.out_d = np.empty(m, dtype)
        self.out_w = np.empty(m if weighted else 0, np.float32)
        self.weighted = weighted

    @staticmethod
    def nbytes(chunk_edges, dtype, weighted):
        return 2 * chunk_edges * (2 * np.dtype(dtype).itemsize + (4 if weighted else 0))

    def __call__(self, s, d, w, lo, hi, symmetrize):
        """Arcs of the chunk with destination in [lo, hi), grouped: (src, dst, weight)."""
        span = hi - lo
        shift = max(_PART_MIN_SHIFT, int(np.ceil(np.log2(max(span, 1) / 4096))))
        hist = np.empty(((span - 1) >> shift) + 2, np.int64)
        empty_w = self.out_w[:0]
        m = _kernels()["partition"](s, d, w if w is not None else empty_w, self.weighted, lo,
                                    hi, symmetrize, shift, hist, self.out_s, self.out_d,
                                    self.out_w)
        return self.out_s[:m], self.out_d[:m], self.out_w[:m] if self.weighted else empty_w


def _count_pass(source, n_fixed, symmetrize, chunk_edges, spill_dir, progress, stats):
    """Pass 1: validate ids, count in-arcs per node, spill non-binary inputs."""
    K = _kernels()
    deg = np.zeros(n_fixed if n_fixed is not None else 1 << 16, np.int64)
    max_id = -1
    total = 0
    spill = spill_w = None
    if source.needs_spill:
        spill_dir.mkdir(parents=True, exist_ok=True)
        spill = open(spill_dir / "edges.i64", "wb")
        if source.weighted:
            spill_w = open(spill_dir / "weights.f32", "wb")
    pairs = np.empty((chunk_edges, 2), np.int64) if spill is not None else None
    part = None
    bar = _Bar(progress, getattr(source, "num_edges", None), "count")
    try:
        for start, s, d, w in source.chunks(chunk_edges):
            k = s.shape[0]
            if k == 0:
                continue
            if w is not None and not np.isfinite(w).all():
                bad = int(np.flatnonzero(~np.isfinite(w))[0])
                raise DiskGraphError(f"{source.name}: {source.locate(start + bad)}: weight "
                                     f"{w[bad]} is not finite")
            limit = n_fixed if n_fixed is not None else np.iinfo(np.int64).max
            bad, mx = K["check_ids"](s, d, limit)
            if bad >= 0:
                v = int(s[bad]) if (s[bad] < 0 or s[bad] >= limit) else int(d[bad])
                rng = f"[0, {n_fixed})" if n_fixed is not None else "[0, inf)"
                raise DiskGraphError(f"{source.name}: {source.locate(start + bad)}: node id "
                                     f"{v} is out of range {rng}")
            max_id = max(max_id, int(mx))
            if mx >= deg.shape[0]:
                grown = np.zeros(max(2 * deg.shape[0], int(mx) + 1), np.int64)
                grown[:deg.shape[0]] = deg
                deg = grown
            if deg.shape[0] > _PART_MIN_NODES:
                if part is None:
                    part = _Partitioner(chunk_edges, s.dtype, False)
                _, pd_, _ = part(s, d, None, 0, deg.shape[0], symmetrize)
                K["count"](pd_, pd_, deg, False)
            else:
                K["count"](s, d, deg, symmetrize)
            total += k
            if spill is not None:
                pairs[:k, 0] = s
                pairs[:k, 1] = d
                spill.write(memoryview(pairs[:k]).cast("B"))
                if spill_w is not None:
                    spill_w.write(memoryview(np.ascontiguousarray(w, np.float32)).cast("B"))
            bar.update(k)
    finally:
        bar.close()
        if spill is not None:
            spill.close()
        if spill_w is not None:
            spill_w.close()
    n = n_fixed if n_fixed is not None else max_id + 1
    if deg.shape[0] != n:
        deg = deg[:n].copy() if deg.shape[0] > n else np.concatenate(
            [deg, np.zeros(n - deg.shape[0], np.int64)])
    stats["input_edges"] = total
    if spill is not None:
        return n, deg, _BinarySource(spill_dir / "edges.i64", np.int64,
                                     spill_dir / "weights.f32" if source.weighted else None,
                                     display=source.name)
    return n, deg, source


def _plan(deg, bytes_per_arc, bytes_per_row, cap, what):
    if deg.shape[0] == 0:
        return [0]
    ends = _kernels()["plan"](deg, bytes_per_arc, bytes_per_row, cap)
    if ends[0] < 0:
        node = -int(ends[0]) - 1
        raise DiskGraphError(
            f"memory budget too small: node {node} alone has {int(deg[node])} {what} arcs "
            f"({int(deg[node]) * bytes_per_arc + bytes_per_row} bytes), more than the "
            f"{cap} bytes left for a bucket; raise --memory")
    return [0] + [int(e) for e in ends]


def _row_cursors(deg):
    """int64 exclusive prefix sum of a degree array: the first slab slot of every row."""
    cursor = np.zeros(deg.shape[0], np.int64)
    if deg.shape[0]:
        np.cumsum(deg[:-1], out=cursor[1:])
    return cursor


def _sort_rows(K, slab, deg):
    """Sort every row of an unweighted slab in place (rows given by ``deg``): short rows with
    the compiled insertion sort, the long ones with numpy's sort."""
    nbig = min(deg.shape[0], slab.shape[0] // (_SMALL_ROW + 1) + 1)
    big_rows = np.empty(nbig, np.int64)
    big_starts = np.empty(nbig, np.int64)
    nb = K["sort_small_rows"](slab, deg, _SMALL_ROW, big_rows, big_starts)
    for r, a in zip(big_rows[:nb].tolist(), big_starts[:nb].tolist()):
        slab[a:a + int(deg[r])].sort()


def _bucket_bar(progress, total, what, nb):
    return _Bar(progress, total, f"{what} ({nb} bucket{'s' if nb != 1 else ''})")


def _build_csr(binsrc, deg, n, bounds, idx_dtype, weighted, symmetrize, dedup, reduce,
               chunk_edges, w, outdeg, progress, stats):
    """Pass 3: one bucketed counting sort per destination range; streams indptr/indices."""
    K = _kernels()
    ptr_w = w.writer("indptr", np.int64)
    idx_w = w.writer("indices", idx_dtype)
    wt_w = w.writer("edge_weight", np.float32) if weighted else None
    ptr_w.write(np.zeros(1, np.int64))
    offset = 0
    nb = len(bounds) - 1
    bar = _bucket_bar(progress, binsrc.num_edges * nb, "build", nb)
    dummy_w = np.zeros(0, np.float32)
    part = None
    try:
        for b in range(nb):
            lo, hi = bounds[b], bounds[b + 1]
            bdeg = deg[lo:hi]
            arcs = int(bdeg.sum())
            cursor = _row_cursors(bdeg)
            slab = np.empty(arcs, idx_dtype)
            slab_w = np.empty(arcs, np.float32) if weighted else dummy_w
            if arcs:
                for _, s, d, cw in binsrc.chunks(chunk_edges):
                    if hi - lo > _PART_MIN_NODES:
                        if part is None:
                            part = _Partitioner(chunk_edges, s.dtype, weighted)
                        ps, pd_, pw = part(s, d, cw, lo, hi, symmetrize)
                        K["scatter"](ps, pd_, pw, weighted, lo, hi, cursor, slab, slab_w, False)
                    else:
                        K["scatter"](s, d, cw if weighted else dummy_w, weighted, lo, hi, cursor,
                                     slab, slab_w, symmetrize)
                    bar.update(s.shape[0])
            else:
                bar.update(binsrc.num_edges)
            if not weighted:
                _sort_rows(K, slab, bdeg)
            counts = cursor  # reuse: the cursors are no longer needed
            kept = K["compact"](slab, slab_w, weighted, bdeg, counts, dedup, _REDUCE_CODE[reduce],
                                outdeg if outdeg is not None else deg[:0], outdeg is not None)
            np.cumsum(counts, out=counts)
            counts += offset
            ptr_w.write(counts)
            idx_w.write(slab[:kept])
            if wt_w is not None:
                wt_w.write(slab_w[:kept])
            offset += int(kept)
            del slab, slab_w, cursor, counts
    finally:
        bar.close()
    w.finish("indptr", ptr_w)
    w.finish("indices", idx_w)
    if wt_w is not None:
        w.finish("edge_weight", wt_w)
    stats["buckets"] = nb
    return offset


def _build_transpose(w, n, e, outdeg, idx_dtype, symmetric, cap, chunk_edges, progress, stats):
    """Pass 4: transposed CSR (grouped by source) from the CSR just written."""
    from gnnkit.data.disk import _read_rows

    K = _kernels()
    isz = 0 if symmetric else np.dtype(idx_dtype).itemsize
    bounds = _plan(outdeg, isz + 8, 16, cap, "outgoing")
    pe, ie = w.arrays["indptr"], w.arrays["indices"]
    pf, jf = w.tmp / pe["file"], w.tmp / ie["file"]
    if symmetric:
        w.add("t_indptr", dict(pe))
        w.add("t_indices", dict(ie))
        tptr_w = tidx_w = None
    else:
        tptr_w = w.writer("t_indptr", np.int64)
        tidx_w = w.writer("t_indices", idx_dtype)
        tptr_w.write(np.zeros(1, np.int64))
    tperm_w = w.writer("t_perm", np.int64)
    nb = len(bounds) - 1
    row_step = max(1, chunk_edges // 2)
    offset = 0
    bar = _bucket_bar(progress, e * nb, "transpose", nb)
    try:
        for b in range(nb):
            lo, hi = bounds[b], bounds[b + 1]
            bdeg = outdeg[lo:hi]
            arcs = int(bdeg.sum())
            cursor = _row_cursors(bdeg)
            t_idx = np.empty(arcs if not symmetric else 0, idx_dtype)
            t_perm = np.empty(arcs, np.int64)
            if arcs:
                for r0 in range(0, n, row_step):
                    r1 = min(r0 + row_step, n)
                    ptr = _read_rows(pf, pe, r0, r1 + 1)
                    j = 0
                    for p in range(int(ptr[0]), int(ptr[-1]), chunk_edges):
                        q = min(p + chunk_edges, int(ptr[-1]))
                        vals = _read_rows(jf, ie, p, q)
                        j = K["transpose_scatter"](vals, p, ptr, j, r0, lo, hi, cursor, t_idx,
                                                   t_perm, not symmetric)
                        bar.update(q - p)
            if tptr_w is not None:
                c = np.cumsum(bdeg) + offset
                tptr_w.write(c)
                tidx_w.write(t_idx)
            tperm_w.write(t_perm)
            offset += arcs
            del t_idx, t_perm, cursor
    finally:
        bar.close()
    if tptr_w is not None:
        w.finish("t_indptr", tptr_w)
        w.finish("t_indices", tidx_w)
    w.finish("t_perm", tperm_w)
    stats["transpose_buckets"] = nb


def csr_from_edges(src, dst, num_nodes: int, *, symmetrize: bool = False,
                   dedup: bool = False) -> tuple[np.ndarray, np.ndarray]:
    r"""In-memory CSR (grouped by destination) of unweighted arcs ``src -> dst``, with the
    kernels of :func:`convert_to_disk` (a counting sort: :math:`O(E)` plus per-row sorts).

    Same semantics as the conversion: ``symmetrize`` adds the reverse of every non-self-loop
    arc, ``dedup`` keeps one copy of each arc.  Ids must lie in ``[0, num_nodes)``.

    Returns:
        ``(indptr, indices)``: int64 :math:`(N+1)` and int32 (int64 when :math:`N > 2^{31}`)
        :math:`(E')`, ready for ``gnnkit.Graph(indptr, indices, validate=False)``.

    Example:
        >>> import numpy as np
        >>> indptr, indices = csr_from_edges(np.array([2, 0, 1]), np.array([0, 1, 0]), 3)
        >>> indptr.tolist(), indices.tolist()
        ([0, 2, 3, 3], [1, 2, 0])
    """
    K = _kernels()
    src = np.ascontiguousarray(src)
    dst = np.ascontiguousarray(dst)
    if src.shape != dst.shape or src.ndim != 1 or src.dtype.kind not in "iu" or (
            dst.dtype.kind not in "iu"):
        raise ValueError(f"src and dst must be 1-D integer arrays of equal length, got "
                         f"{src.dtype}{list(src.shape)} and {dst.dtype}{list(dst.shape)}")
    n = int(num_nodes)
    bad, _ = K["check_ids"](src, dst, n)
    if bad >= 0:
        v = int(src[bad]) if not 0 <= src[bad] < n else int(dst[bad])
        raise ValueError(f"edge {bad}: node id {v} is out of range [0, {n})")
    deg = np.zeros(n, np.int64)
    K["count"](src, dst, deg, symmetrize)
    idx_dtype = np.int32 if n <= 2**31 else np.int64
    cursor = _row_cursors(deg)
    slab = np.empty(int(deg.sum()), idx_dtype)
    empty_w = np.zeros(0, np.float32)
    K["scatter"](src, dst, empty_w, False, 0, n, cursor, slab, empty_w, symmetrize)
    _sort_rows(K, slab, deg)
    counts = cursor
    kept = K["compact"](slab, empty_w, False, deg, counts, dedup, 0, deg[:0], False)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, slab[:kept] if kept == slab.shape[0] else slab[:kept].copy()


def convert_to_disk(src, dst, *, format: str = "auto", num_nodes: int | None = None,
            symmetrize: bool = False, dedup: bool = False, reduce: str | None = None,
            weighted: bool | None = None, memory="4GB", transpose: bool = False,
            features_dtype: str = "float32", overwrite: bool = False, progress: bool = False,
            chunk_edges: int | None = None, checksum: str = DEFAULT_CHECKSUM,
            stats: dict | None = None) -> DiskGraph:
    r"""Convert an edge list to a DiskGraph directory out of core (see the module docstring).

    Args:
        src (str or os.PathLike): input: a text/CSV edge list (optionally ``.gz``), a binary
            file of int32/int64 (src, dst) pairs (``*.i32``/``*.i64``), an ``.npz``, or an OGB
            dataset directory.
        dst (str or os.PathLike): output directory (created atomically).
        format (str): one of :data:`FORMATS` (default: :obj:`"auto"`: :func:`detect_format`).
        num_nodes (int, optional): :math:`N`; ids must lie in ``[0, N)`` (default: from the
            source's metadata, else ``max id + 1``).
        symmetrize (bool): add the reverse of every non-self-loop arc (default: :obj:`False`).
        dedup (bool): merge duplicate arcs (default: :obj:`False`).
        reduce (str, optional): weight merge for ``dedup`` on weighted inputs, one of
            :data:`REDUCES` (default: ``'max'`` with ``symmetrize``, else ``'sum'``).
        weighted (bool, optional): read weights (text: the third column; npz:
            ``edge_weight``) (default: :obj:`None`: npz weights if present, text unweighted).
        memory (int or str): budget for the resident memory of the conversion, e.g. ``"4GB"``
            (default: :obj:`"4GB"`).
        transpose (bool): also store the transposed CSR (default: :obj:`False`).
        features_dtype (str): ``'float32'`` or ``'float16'`` (default: :obj:`"float32"`).
        overwrite (bool): replace an existing ``dst`` (default: :obj:`False`).
        progress (bool): tqdm progress bars on stderr (default: :obj:`False`).
        chunk_edges (int, optional): edges per streamed chunk (default: from ``memory``).
        checksum (str): ``'xxh3_64'`` or ``'blake2b'`` (default: :data:`DEFAULT_CHECKSUM`).
        stats (dict, optional): filled with counters (input edges, buckets, seconds per pass).

    Returns:
        DiskGraph: the opened result.

    Raises:
        DiskGraphError: unreadable, truncated or invalid input (naming the file and the line or
            offset), an existing ``dst``, or a budget too small for the degree arrays.
    """
    t0 = time.perf_counter()
    stats = {} if stats is None else stats
    if Path(dst).exists() and not overwrite:
        raise DiskGraphError(f"output {Path(dst).absolute()} already exists (pass overwrite=True "
                             "/ --overwrite to replace it)")
    budget = parse_memory(memory)
    if reduce is None:
        reduce = "max" if symmetrize else "sum"
    if reduce not in REDUCES:
        raise ValueError(f"reduce must be one of {REDUCES}, got {reduce!r}")
    if np.dtype(features_dtype) not in (np.float32, np.float16):
        raise ValueError(f"features_dtype must be 'float32' or 'float16', got {features_dtype!r}")
    if num_nodes is not None and (isinstance(num_nodes, bool) or not isinstance(
            num_nodes, (int, np.integer)) or num_nodes < 0):
        raise ValueError(f"num_nodes must be a non-negative int, got {num_nodes!r}")
    if chunk_edges is None:
        chunk_edges = int(min(1 << 22, max(1 << 10, budget // 256)))
    if chunk_edges < 1:
        raise ValueError(f"chunk_edges must be >= 1, got {chunk_edges}")
    source = _open_source(src, format, weighted)
    n_fixed = num_nodes if num_nodes is not None else source.num_nodes
    if num_nodes is not None and source.num_nodes is not None and num_nodes != source.num_nodes:
        raise DiskGraphError(f"{source.name}: num_nodes={num_nodes} but the source says "
                             f"{source.num_nodes}")
    _kernels()
    with _DirWriter(dst, overwrite=overwrite, checksum=checksum) as w:
        n, deg, binsrc = _count_pass(source, n_fixed, symmetrize, chunk_edges, w.tmp / "_spill",
                                     progress, stats)
        stats["count_s"] = time.perf_counter() - t0
        idx_dtype = np.dtype(np.int32) if n <= 2**31 else np.dtype(np.int64)
        weighted_out = bool(binsrc.weighted)
        fixed = (deg.nbytes * (2 if transpose else 1) + binsrc.chunk_bytes(chunk_edges)
                 + _Partitioner.nbytes(chunk_edges, binsrc.dtype, binsrc.weighted))
        cap = budget - fixed
        if cap < (1 << 10):
            raise DiskGraphError(
                f"memory budget {budget} bytes is too small: the degree arrays and chunk "
                f"buffers for N={n} nodes already need {fixed} bytes; raise --memory")
        # index (+ float32 weight) per arc, + 1 for the list of long rows (unweighted) or + 16
        # for the stable argsort of a row (weighted; counted per arc, which over-estimates).
        bytes_per_arc = idx_dtype.itemsize + (4 + 16 if weighted_out else 1)
        bounds = _plan(deg, bytes_per_arc, 16, cap, "incoming")
        outdeg = np.zeros(n, np.int64) if transpose else None
        t1 = time.perf_counter()
        e = _build_csr(binsrc, deg, n, bounds, idx_dtype, weighted_out, symmetrize, dedup,
                       reduce, chunk_edges, w, outdeg, progress, stats)
        stats["build_s"] = time.perf_counter() - t1
        del deg
        if transpose:
            t2 = time.perf_counter()
            cap_t = budget - outdeg.nbytes - chunk_edges * (8 + idx_dtype.itemsize)
            _build_transpose(w, n, e, outdeg, idx_dtype, symmetrize, cap_t, chunk_edges,
                             progress, stats)
            stats["transpose_s"] = time.perf_counter() - t2
            del outdeg
        if binsrc is not source:  # drop the spill before the rename
            for p in (w.tmp / "_spill").glob("*"):
                p.unlink()
            (w.tmp / "_spill").rmdir()
        t3 = time.perf_counter()
        source.node_data(w, n, features_dtype)
        stats["node_data_s"] = time.perf_counter() - t3
        meta = {"num_nodes": int(n), "num_edges": int(e), "directed": not symmetrize,
                "coalesced": bool(dedup),
                "source": {"path": str(src), "format": source.kind,
                           "input_edges": int(stats["input_edges"]),
                           "symmetrize": bool(symmetrize), "dedup": bool(dedup),
                           "reduce": reduce if weighted_out else None}}
        dg = w.commit(meta)
    stats["num_nodes"], stats["num_edges"] = int(n), int(e)
    stats["seconds"] = time.perf_counter() - t0
    return dg
