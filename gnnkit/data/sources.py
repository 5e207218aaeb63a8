r"""Inputs of ``gnnkit data convert`` (:func:`gnnkit.data.convert.convert_to_disk`): edge streams.

A *source* yields its arcs in chunks ``(start, src, dst, weight)`` (``int64`` ids, ``float32``
weights or ``None``) and writes its node data (features, labels, splits) into the output
directory.  The parsing itself lives in :mod:`gnnkit.data.readers` (shared with the in-memory
loaders); this module adapts the readers to streaming and turns their
:class:`~gnnkit.data.errors.DatasetError` into :class:`~gnnkit.data.disk.DiskGraphError` (a
subclass), naming the file and the line or byte offset.

===================  =========================================================================
``int32``/``int64``  raw little-endian ``(src, dst)`` pairs (``*.i32``, ``*.i64``, ``*.bin``)
``text``             ``src dst [weight]`` lines, optionally ``.gz`` (:class:`~.readers.TextEdgeList`)
``npz``              ``edge_index`` ``[2, E]`` / ``[E, 2]`` plus optional node data, streamed
``ogb``              an OGB node/link dataset directory (:class:`~.readers.OgbRaw`)
===================  =========================================================================
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from gnnkit.data.disk import DiskGraphError
from gnnkit.data.errors import DatasetError
from gnnkit.data.readers.csv import as_float, as_int
from gnnkit.data.readers.edge_list import TextEdgeList
from gnnkit.data.readers.npz import NpzArchive
from gnnkit.data.readers.ogb_raw import OgbRaw

__all__ = ["FORMATS", "BinarySource", "TextSource", "NpzSource", "OgbSource", "detect_format",
           "open_source"]

FORMATS = ("auto", "text", "int32", "int64", "npz", "ogb")


@contextlib.contextmanager
def disk_errors():
    """Re-raise a reader's :class:`DatasetError` as :class:`DiskGraphError` (same message)."""
    try:
        yield
    except DiskGraphError:
        raise
    except DatasetError as e:
        raise DiskGraphError(str(e)) from e


def _check_file(path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DiskGraphError(f"{p}: no such file")
    return p


class BinarySource:
    """Interleaved ``(src, dst)`` pairs of int32/int64 (the generator's and the spill format),
    with an optional float32 weight file beside it."""

    needs_spill = False

    def __init__(self, path, dtype, weights_path=None, display=None):
        self.dtype = np.dtype(dtype)
        self.kind = self.dtype.name
        self.path = _check_file(path)
        self.name = display or str(path)
        size = self.path.stat().st_size
        pair = 2 * self.dtype.itemsize
        if size % pair:
            raise DiskGraphError(
                f"{self.path}: {size} bytes is not a whole number of {self.dtype} (src, dst) "
                f"pairs of {pair} bytes (truncated file, or wrong --format?)")
        self.num_edges = size // pair
        self.weights_path = None if weights_path is None else Path(weights_path)
        self.weighted = self.weights_path is not None
        if self.weighted:
            got = _check_file(self.weights_path).stat().st_size
            if got != 4 * self.num_edges:
                raise DiskGraphError(f"{self.weights_path}: {got} bytes, expected "
                                     f"{4 * self.num_edges} (one float32 per edge)")
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
                        if wf.readinto(memoryview(wbuf[:k]).cast("B")) != 4 * k:
                            raise DiskGraphError(f"{self.weights_path}: file changed while "
                                                 f"reading (short read at edge {start})")
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


class TextSource:
    """Whitespace- or comma-separated edge list ``src dst [weight]`` (see
    :class:`gnnkit.data.readers.TextEdgeList`: ``#`` comments, blank lines, a header line)."""

    needs_spill = True
    kind = "text"

    def __init__(self, path, weighted=False, display=None):
        self.path = _check_file(path)
        self.name = display or str(path)
        self.weighted = bool(weighted)
        self.num_nodes = None
        with disk_errors():
            self.reader = TextEdgeList(self.path, weighted=self.weighted, display=self.name)
        ncols = self.reader.num_columns
        if ncols is not None and ncols < (3 if weighted else 2):  # pragma: no cover - reader
            raise DiskGraphError(f"{self.path}: lines have {ncols} column(s)")

    def locate(self, k: int) -> str:
        return self.reader.locate(k)

    def chunks(self, chunk_edges):
        with disk_errors():
            yield from self.reader.chunks(chunk_edges)

    def node_data(self, writer, n, features_dtype):
        return {}

    def chunk_bytes(self, chunk_edges):
        return chunk_edges * 64  # pandas frame + int64 copies (estimate)


class NpzSource:
    """``.npz`` with ``edge_index`` ([2, E] or [E, 2]) and optionally ``num_nodes``,
    ``edge_weight``, ``x``/``features``, ``y``/``labels`` and splits as ``{train,val,test}_mask``
    (boolean) or ``{train,val,valid,test}_idx`` (ids).  Members are streamed, never loaded;
    every header is checked against the archive first (:mod:`gnnkit.data.readers.npz`)."""

    needs_spill = True
    kind = "npz"

    def __init__(self, path, weighted=None, display=None):
        self.path = _check_file(path)
        self.name = display or str(path)
        with disk_errors():
            try:
                self.z = NpzArchive(self.path)
            except DatasetError as e:
                raise DatasetError(f"{e} (not a valid .npz (zip) file?)") from e
            self.members = self.z.members
            if "edge_index" not in self.members:
                raise DiskGraphError(f"{self.path}: no 'edge_index' array; found "
                                     f"{sorted(self.members)}")
            dtype, shape, fortran, _ = self.z.header("edge_index")
            if len(shape) != 2 or 2 not in shape or dtype.kind not in "iu":
                raise DiskGraphError(f"{self.path}: edge_index must be an integer [2, E] or "
                                     f"[E, 2] array, got {dtype} {shape}")
            # In memory order, row-major [2, E] (and column-major [E, 2]) stores all sources,
            # then all destinations ("planar"); row-major [E, 2] (column-major [2, E])
            # interleaves them.
            if shape[0] == 2:
                self.num_edges, self.planar = int(shape[1]), not fortran
            else:
                self.num_edges, self.planar = int(shape[0]), bool(fortran)
            self.num_nodes = None
            if "num_nodes" in self.members:
                a = self.z.array("num_nodes").reshape(-1)
                if a.size != 1 or a.dtype.kind not in "iu" or int(a[0]) < 0:
                    raise DiskGraphError(f"{self.path}: num_nodes must be one non-negative "
                                         f"integer, got {a.dtype} {a.shape}")
                self.num_nodes = int(a[0])
            self.weighted = "edge_weight" in self.members if weighted is None else weighted
            if self.weighted:
                if "edge_weight" not in self.members:
                    raise DiskGraphError(f"{self.path}: weighted=True but there is no "
                                         "'edge_weight'")
                wdt, wshape, _, _ = self.z.header("edge_weight")
                if tuple(wshape) != (self.num_edges,) or wdt.kind not in "iuf":
                    raise DiskGraphError(f"{self.path}: edge_weight has {wdt} shape {wshape}, "
                                         f"expected a numeric ({self.num_edges},)")

    def chunks(self, chunk_edges):
        e = self.num_edges
        with disk_errors():
            if self.planar:
                a = self.z.iter_items("edge_index", chunk_edges, stop_items=e)
                b = self.z.iter_items("edge_index", chunk_edges, skip_items=e)
            else:
                ab = self.z.iter_items("edge_index", 2 * chunk_edges)
            wi = self.z.iter_items("edge_weight", chunk_edges) if self.weighted else None
            start = 0
            while start < e:
                if self.planar:
                    s = next(a)
                    d = next(b)[:len(s)]
                else:
                    pairs = next(ab).reshape(-1, 2)
                    s, d = pairs[:, 0], pairs[:, 1]
                w = next(wi).astype(np.float32) if wi is not None else None
                yield start, _ids(s), _ids(d), w
                start += len(s)

    def locate(self, k):
        return f"edge_index column {k}"

    def chunk_bytes(self, chunk_edges):
        return chunk_edges * 48

    def node_data(self, writer, n, features_dtype):
        with disk_errors():
            for key in ("x", "features"):
                if key in self.members:
                    self._write_2d(key, writer, "features", n, np.dtype(features_dtype))
                    break
            for key in ("y", "labels"):
                if key in self.members:
                    self._write_2d(key, writer, "labels", n, np.dtype(np.int64))
                    break
            for split, keys in (("train", ("train_mask", "train_idx")),
                                ("val", ("val_mask", "valid_mask", "val_idx", "valid_idx")),
                                ("test", ("test_mask", "test_idx"))):
                for key in keys:
                    if key in self.members:
                        self._write_split(key, writer, split, n)
                        break
        return {}

    def _write_2d(self, key, writer, name, n, dtype):
        src_dtype, shape, fortran, _ = self.z.header(key)
        what = f"{self.name}: {self.members[key]}"
        if fortran and len(shape) > 1:
            raise DiskGraphError(f"{what} is Fortran-ordered; save it C-ordered")
        if len(shape) not in (1, 2) or shape[0] != n or src_dtype.kind not in "iufb":
            raise DiskGraphError(f"{what} has {src_dtype} shape {shape}, expected a numeric "
                                 f"({n}, ...)")
        row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
        rows = max(1, (1 << 22) // max(1, row))
        w = writer.writer(name, dtype, tuple(shape[1:]))
        done = 0
        for block in self.z.iter_items(key, rows * row):
            block = block.reshape((-1, *shape[1:]))
            if dtype.kind == "i":  # labels: integers, NaN = unlabelled (-1)
                if block.dtype.kind == "f":
                    block = np.where(np.isnan(block), -1, block)
                block = as_int(block.reshape(block.shape[0], -1), what, "labels", low=-1,
                               first_row=done).reshape(block.shape)
            else:
                block = as_float(block.reshape(block.shape[0], -1), what, "features",
                                 first_row=done).reshape(block.shape)
            w.write(block.astype(dtype))
            done += block.shape[0]
        writer.finish(name, w)

    def _write_split(self, key, writer, split, n):
        dtype, shape, _, _ = self.z.header(key)
        what = f"{self.name}: {self.members[key]}"
        w = writer.writer(f"split_{split}", np.int64)
        if dtype == np.bool_:
            if tuple(shape) != (n,):
                raise DiskGraphError(f"{what} has shape {shape}, expected ({n},)")
            off = 0
            for block in self.z.iter_items(key, 1 << 22):
                w.write(np.flatnonzero(block) + off)
                off += len(block)
        else:
            if len(shape) != 1 or dtype.kind not in "iu":
                raise DiskGraphError(f"{what} must be a 1-D integer id array or a boolean mask, "
                                     f"got {dtype} {shape}")
            for block in self.z.iter_items(key, 1 << 22):
                if block.size and (int(block.min()) < 0 or int(block.max()) >= n):
                    raise DiskGraphError(f"{what} holds node ids outside [0, {n})")
                w.write(block.astype(np.int64))
        writer.finish(f"split_{split}", w)


def _ids(a: np.ndarray) -> np.ndarray:
    """int64 ids; unsigned values beyond int64 become -1 (rejected by the range check)."""
    if a.dtype == np.uint64:
        out = a.astype(np.int64)
        out[a > np.iinfo(np.int64).max] = -1
        return out
    return a.astype(np.int64)


class OgbSource:
    """An OGB dataset directory holding one graph (node or link family), read in chunks through
    :class:`gnnkit.data.readers.OgbRaw`: arcs, ``node-feat``, ``node-label`` and the id splits
    of the first scheme under ``split/``.  Edge features are not converted.  Undirected OGB
    graphs (e.g. ogbn-products) list each edge once: pass ``symmetrize``."""

    needs_spill = True
    kind = "ogb"
    weighted = False

    def __init__(self, path, weighted=False, display=None):
        with disk_errors():
            self.raw = OgbRaw(path)
            if self.raw.num_graphs != 1:
                raise DiskGraphError(f"{self.raw.raw}: convert takes one graph; num-node-list "
                                     f"lists {self.raw.num_graphs}")
            self.num_nodes = self.raw.num_nodes
            self.num_edges = self.raw.num_edges
        self.path = self.raw.edge_file
        self.name = display or str(self.raw.edge_file)

    def chunks(self, chunk_edges):
        with disk_errors():
            for start, s, d in self.raw.iter_edges(chunk_edges):
                yield start, s, d, None

    def locate(self, k: int) -> str:
        return f"edge {k} (line {k + 1})"

    def chunk_bytes(self, chunk_edges):
        return chunk_edges * 64

    def node_data(self, writer, n, features_dtype):
        with disk_errors():
            if self.raw.has("node-feat"):
                self._write(writer, "features", "node-feat", np.dtype(features_dtype))
            if self.raw.has("node-label"):
                self._write(writer, "labels", "node-label", np.dtype(np.int64))
            split_root = self.raw.folder / "split"
            subs = sorted(p for p in split_root.iterdir() if p.is_dir()) if \
                split_root.is_dir() else []
            if subs and any((subs[0] / f"{k}.csv.gz").is_file() or (subs[0] / f"{k}.csv").is_file()
                            for k in ("train", "valid", "test")):
                ids = self.raw.index_split(subs[0].name, n)
                for ours, theirs in (("train", "train"), ("val", "valid"), ("test", "test")):
                    writer.write_array(f"split_{ours}", ids[theirs])
        return {}

    def _write(self, writer, name, raw_name, dtype):
        w = None
        for start, block in self.raw.iter_array(raw_name, "node", chunk_rows=1 << 16,
                                                allow_nan=dtype.kind == "i"):
            if dtype.kind == "i":
                if block.dtype.kind == "f":  # NaN labels = unlabelled
                    block = np.where(np.isnan(block), -1, block)
                block = as_int(block, self.raw.path(raw_name), "labels", low=-1, first_row=start)
                if block.shape[1] == 1:
                    block = block[:, 0]
            if w is None:
                w = writer.writer(name, dtype, block.shape[1:])
            w.write(block.astype(dtype))
        if w is None:
            w = writer.writer(name, dtype, ())
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


def open_source(src, fmt, weighted):
    """The source object reading ``src`` in format ``fmt`` (``'auto'``: :func:`detect_format`)."""
    fmt = detect_format(src) if fmt in (None, "auto") else fmt
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if not Path(src).exists():
        raise DiskGraphError(f"{src}: no such file or directory")
    if fmt in ("int32", "int64"):
        if weighted:
            raise DiskGraphError(f"{src}: binary edge lists carry no weights (weighted=True)")
        return BinarySource(src, fmt)
    if fmt == "npz":
        return NpzSource(src, weighted=weighted)
    if fmt == "ogb":
        return OgbSource(src)
    return TextSource(src, weighted=bool(weighted))
