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

import re
import sys
import time
from pathlib import Path

import numpy as np

from gnnkit.data.disk import DEFAULT_CHECKSUM, DiskGraph, DiskGraphError
from gnnkit.data.disk_format import DirWriter, read_rows
from gnnkit.data.sources import FORMATS, BinarySource, detect_format, open_source

__all__ = ["convert_to_disk", "csr_from_edges", "parse_memory", "detect_format", "FORMATS", "REDUCES"]

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


def _kernels():
    """The numba kernels (:mod:`gnnkit.data.kernels`), imported on first use: importing numba
    takes about a second, which ``import gnnkit.data`` should not pay."""
    from gnnkit.data import kernels

    return kernels


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
        m = _kernels().partition(s, d, w if w is not None else empty_w, self.weighted, lo,
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
            bad, mx = K.check_ids(s, d, limit)
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
                K.count(pd_, pd_, deg, False)
            else:
                K.count(s, d, deg, symmetrize)
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
        return n, deg, BinarySource(spill_dir / "edges.i64", np.int64,
                                     spill_dir / "weights.f32" if source.weighted else None,
                                     display=source.name)
    return n, deg, source


def _plan(deg, bytes_per_arc, bytes_per_row, cap, what):
    if deg.shape[0] == 0:
        return [0]
    ends = _kernels().plan(deg, bytes_per_arc, bytes_per_row, cap)
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


def _buckets(bounds, deg):
    """Per bucket ``[lo, hi)`` of rows: ``(lo, hi, its degrees, its arcs, row cursors)``."""
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        bdeg = deg[lo:hi]
        yield lo, hi, bdeg, int(bdeg.sum()), _row_cursors(bdeg)


def _sort_rows(K, slab, deg):
    """Sort every row of an unweighted slab in place (rows given by ``deg``): short rows with
    the compiled insertion sort, the long ones with numpy's sort."""
    nbig = min(deg.shape[0], slab.shape[0] // (_SMALL_ROW + 1) + 1)
    big_rows = np.empty(nbig, np.int64)
    big_starts = np.empty(nbig, np.int64)
    nb = K.sort_small_rows(slab, deg, _SMALL_ROW, big_rows, big_starts)
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
        for lo, hi, bdeg, arcs, cursor in _buckets(bounds, deg):
            slab = np.empty(arcs, idx_dtype)
            slab_w = np.empty(arcs, np.float32) if weighted else dummy_w
            if arcs:
                for _, s, d, cw in binsrc.chunks(chunk_edges):
                    if hi - lo > _PART_MIN_NODES:
                        if part is None:
                            part = _Partitioner(chunk_edges, s.dtype, weighted)
                        ps, pd_, pw = part(s, d, cw, lo, hi, symmetrize)
                        K.scatter(ps, pd_, pw, weighted, lo, hi, cursor, slab, slab_w, False)
                    else:
                        K.scatter(s, d, cw if weighted else dummy_w, weighted, lo, hi, cursor,
                                     slab, slab_w, symmetrize)
                    bar.update(s.shape[0])
            else:
                bar.update(binsrc.num_edges)
            if not weighted:
                _sort_rows(K, slab, bdeg)
            counts = cursor  # reuse: the cursors are no longer needed
            kept = K.compact(slab, slab_w, weighted, bdeg, counts, dedup, _REDUCE_CODE[reduce],
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
        for lo, hi, bdeg, arcs, cursor in _buckets(bounds, outdeg):
            t_idx = np.empty(arcs if not symmetric else 0, idx_dtype)
            t_perm = np.empty(arcs, np.int64)
            if arcs:
                for r0 in range(0, n, row_step):
                    r1 = min(r0 + row_step, n)
                    ptr = read_rows(pf, pe, r0, r1 + 1)
                    j = 0
                    for p in range(int(ptr[0]), int(ptr[-1]), chunk_edges):
                        q = min(p + chunk_edges, int(ptr[-1]))
                        vals = read_rows(jf, ie, p, q)
                        j = K.transpose_scatter(vals, p, ptr, j, r0, lo, hi, cursor, t_idx,
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
    bad, _ = K.check_ids(src, dst, n)
    if bad >= 0:
        v = int(src[bad]) if not 0 <= src[bad] < n else int(dst[bad])
        raise ValueError(f"edge {bad}: node id {v} is out of range [0, {n})")
    deg = np.zeros(n, np.int64)
    K.count(src, dst, deg, symmetrize)
    idx_dtype = np.int32 if n <= 2**31 else np.int64
    cursor = _row_cursors(deg)
    slab = np.empty(int(deg.sum()), idx_dtype)
    empty_w = np.zeros(0, np.float32)
    K.scatter(src, dst, empty_w, False, 0, n, cursor, slab, empty_w, symmetrize)
    _sort_rows(K, slab, deg)
    counts = cursor
    kept = K.compact(slab, empty_w, False, deg, counts, dedup, 0, deg[:0], False)
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
    source = open_source(src, format, weighted)
    n_fixed = num_nodes if num_nodes is not None else source.num_nodes
    if num_nodes is not None and source.num_nodes is not None and num_nodes != source.num_nodes:
        raise DiskGraphError(f"{source.name}: num_nodes={num_nodes} but the source says "
                             f"{source.num_nodes}")
    _kernels()
    with DirWriter(dst, overwrite=overwrite, checksum=checksum) as w:
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
        dg = DiskGraph(w.commit(meta))
    stats["num_nodes"], stats["num_edges"] = int(n), int(e)
    stats["seconds"] = time.perf_counter() - t0
    return dg
