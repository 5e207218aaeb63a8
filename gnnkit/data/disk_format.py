r"""The DiskGraph file format: constants, the fixed-header ``.npy`` writer, the atomic directory
writer and streamed readers (the internal API shared by :mod:`gnnkit.data.disk`,
:mod:`gnnkit.data.convert` and :mod:`gnnkit.data.disk_verify`; the layout is documented in
:mod:`gnnkit.data.disk`).

Atomic writes and stale temporaries.  :class:`DirWriter` writes into a sibling directory
``DST.tmp-<pid>-<random>`` and holds an exclusive ``flock`` on ``.lock`` inside it for its whole
life; ``meta.json`` is written last and the directory renamed to ``DST``.  A process that dies
(``kill -9``, power loss) leaves the temporary behind, but the kernel drops its lock.  Every new
:class:`DirWriter` for ``DST`` first sweeps ``DST.tmp-*`` (:func:`sweep_stale`): a directory
whose lock it can take is stale and is removed; one whose lock is held belongs to a live
writer and is left alone.  Temporaries without a lock file (written by gnnkit before this
scheme) are removed only when nothing in them changed for :data:`LEGACY_STALE_SECONDS`.
``DST.old-<pid>-*`` (the previous ``DST`` during an ``overwrite``) is removed when its pid is
dead.
"""
from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from gnnkit.data.errors import DatasetError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "HEADER_BYTES", "META_FILE", "DEFAULT_CHECKSUM",
           "READ_BYTES", "DiskGraphError", "npy_header", "new_hasher", "ArrayWriter",
           "DirWriter", "iter_payload", "read_rows", "iter_rows", "sweep_stale",
           "sample_digest", "LEGACY_STALE_SECONDS"]

FORMAT_NAME = "gnnkit.diskgraph"
FORMAT_VERSION = 1
HEADER_BYTES = 128
META_FILE = "meta.json"

try:  # xxh3 is ~10x faster than blake2b; blake2b is the always-available fallback.
    import xxhash as _xxhash
except ImportError:  # pragma: no cover - depends on the environment
    _xxhash = None

DEFAULT_CHECKSUM = "xxh3_64" if _xxhash is not None else "blake2b"
READ_BYTES = 1 << 24  # streamed reads in verify()/info(): 16 MiB
SAMPLE_BYTES = 4096  # head and tail of each payload, hashed into meta.json's "sample"
LOCK_FILE = ".lock"
LEGACY_STALE_SECONDS = 3600


class DiskGraphError(DatasetError):
    """A DiskGraph directory or a conversion input is missing, truncated, corrupt or invalid.

    The message names the file and what was expected and found.
    """


# --------------------------------------------------------------------------------------------
# .npy files with a fixed-size header
# --------------------------------------------------------------------------------------------
def npy_header(dtype: np.dtype, shape: tuple) -> bytes:
    """A version-1.0 ``.npy`` header padded to exactly :data:`HEADER_BYTES` bytes."""
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
         "shape": tuple(int(s) for s in shape)}
    text = repr(d).encode("latin1")
    body_len = HEADER_BYTES - 10  # magic (6) + version (2) + header length (2)
    if len(text) + 1 > body_len:
        raise DiskGraphError(f"npy header for shape {shape} does not fit {HEADER_BYTES} bytes")
    text = text + b" " * (body_len - len(text) - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + body_len.to_bytes(2, "little") + text


def new_hasher(algo: str):
    if algo == "xxh3_64":
        if _xxhash is None:
            raise DiskGraphError(
                "checksum algorithm 'xxh3_64' needs the xxhash package (`pip install xxhash`)")
        return _xxhash.xxh3_64()
    if algo == "blake2b":
        return hashlib.blake2b(digest_size=16)
    raise DiskGraphError(f"unknown checksum algorithm {algo!r}; expected 'xxh3_64' or 'blake2b'")


class ArrayWriter:
    """Stream rows of one array into ``path`` (fixed header, payload hashed as it is written)."""

    def __init__(self, path: Path, dtype, row_shape: tuple = (), checksum: str = DEFAULT_CHECKSUM):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(int(s) for s in row_shape)
        self.algo = checksum
        self.hasher = new_hasher(checksum)
        self.rows = 0
        self.head = bytearray()
        self.tail = b""
        self.nbytes = 0
        self.f = open(self.path, "wb")
        self.f.write(npy_header(self.dtype, (0, *self.row_shape)))

    def write(self, chunk) -> None:
        a = np.ascontiguousarray(chunk, dtype=self.dtype)
        if a.shape[1:] != self.row_shape:
            raise DiskGraphError(
                f"{self.path.name}: chunk of shape {a.shape} does not match rows {self.row_shape}")
        if a.size:
            mv = memoryview(a).cast("B")
            self.f.write(mv)
            self.hasher.update(mv)
            if len(self.head) < SAMPLE_BYTES:
                self.head += mv[:SAMPLE_BYTES - len(self.head)]
            self.tail = (self.tail + bytes(mv[-SAMPLE_BYTES:]))[-SAMPLE_BYTES:]
            self.nbytes += len(mv)
        self.rows += a.shape[0]

    def close(self) -> dict:
        shape = (self.rows, *self.row_shape)
        self.f.seek(0)
        self.f.write(npy_header(self.dtype, shape))
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        nbytes = self.rows * int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        return {"file": self.path.name, "dtype": self.dtype.name, "shape": list(shape),
                "offset": HEADER_BYTES, "bytes": HEADER_BYTES + int(nbytes),
                "checksum": f"{self.algo}:{self.hasher.hexdigest()}",
                "sample": _sample_of(self.algo, bytes(self.head), self.tail, self.nbytes)}

    def abort(self) -> None:
        if not self.f.closed:
            self.f.close()


class DirWriter:
    """Atomic writer of a DiskGraph directory (see the module docstring).

    Use as a context manager; :meth:`commit` writes ``meta.json`` last and renames the
    temporary directory to its final name.  Leaving the block without committing (an
    exception, an interrupt) removes the temporary directory.
    """

    def __init__(self, dst, *, overwrite: bool = False, checksum: str = DEFAULT_CHECKSUM):
        self.dst = Path(dst).absolute()
        if self.dst.exists() and not overwrite:
            raise DiskGraphError(f"output {self.dst} already exists (pass overwrite=True / "
                                 "--overwrite to replace it)")
        new_hasher(checksum)  # fail early on an unusable algorithm
        self.checksum = checksum
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        self.swept = sweep_stale(self.dst)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.dst.name}.tmp-{os.getpid()}-",
                                         dir=self.dst.parent))
        self._lock = _take_lock(self.tmp / LOCK_FILE, blocking=True)
        self.arrays: dict = {}
        self._open: list = []
        self.overwrite = overwrite
        self.committed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.committed:
            self.cleanup()
        return False

    def cleanup(self) -> None:
        for w in self._open:
            w.abort()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor drops the flock
            self._lock = None

    def writer(self, name: str, dtype, row_shape: tuple = (), filename: str | None = None):
        w = ArrayWriter(self.tmp / (filename or f"{name}.npy"), dtype, row_shape, self.checksum)
        self._open.append(w)
        return w

    def add(self, name: str, entry: dict) -> None:
        self.arrays[name] = entry

    def finish(self, name: str, w: ArrayWriter) -> dict:
        entry = w.close()
        self._open.remove(w)
        self.arrays[name] = entry
        return entry

    def write_array(self, name: str, array, filename: str | None = None,
                    chunk_rows: int | None = None) -> dict:
        a = np.asarray(array)
        w = self.writer(name, a.dtype, a.shape[1:], filename)
        row_bytes = max(1, a.itemsize * int(np.prod(a.shape[1:], dtype=np.int64)))
        step = chunk_rows or max(1, READ_BYTES // row_bytes)
        for s in range(0, a.shape[0], step):
            w.write(a[s:s + step])
        if a.shape[0] == 0:
            w.write(a)
        return self.finish(name, w)

    def commit(self, meta: dict):
        meta = dict(meta)
        meta["format"] = FORMAT_NAME
        meta["format_version"] = FORMAT_VERSION
        meta["checksum_algorithm"] = self.checksum
        meta["arrays"] = self.arrays
        meta.setdefault("created", datetime.datetime.now(datetime.timezone.utc).isoformat())
        try:
            from gnnkit import __version__ as gv
        except Exception:  # pragma: no cover
            gv = "unknown"
        meta.setdefault("gnnkit_version", gv)
        (self.tmp / f"RELEASE_v{FORMAT_VERSION}.txt").write_text(
            f"{FORMAT_NAME} format version {FORMAT_VERSION}; see gnnkit/data/disk.py\n")
        # meta.json last: its presence marks a complete directory.
        tmp_meta = self.tmp / (META_FILE + ".partial")
        with open(tmp_meta, "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp_meta, self.tmp / META_FILE)
        old = None
        if self.dst.exists():
            if not self.overwrite:
                raise DiskGraphError(f"output {self.dst} appeared during the write; not replaced")
            old = Path(tempfile.mkdtemp(prefix=f"{self.dst.name}.old-{os.getpid()}-",
                                        dir=self.dst.parent))
            os.rename(self.dst, old / "x")
        # The lock file stays behind the rename: drop it first (still holding the lock, so a
        # concurrent sweep sees a fresh, lock-less directory and leaves it alone).
        (self.tmp / LOCK_FILE).unlink(missing_ok=True)
        os.rename(self.tmp, self.dst)
        self.committed = True
        self._release()
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.dst


# --------------------------------------------------------------------------------------------
# Streamed reading helpers
# --------------------------------------------------------------------------------------------
def iter_payload(path: Path, offset: int, nbytes: int, block: int = READ_BYTES):
    """Yield the payload bytes of ``path`` in blocks (memoryviews of one reused buffer)."""
    buf = bytearray(min(block, max(nbytes, 1)))
    mv = memoryview(buf)
    with open(path, "rb") as f:
        f.seek(offset)
        left = nbytes
        while left > 0:
            n = f.readinto(mv[:min(left, len(buf))])
            if not n:
                raise DiskGraphError(f"{path}: unexpected end of file ({left} bytes missing)")
            yield mv[:n]
            left -= n


def read_rows(path: Path, entry: dict, start: int, stop: int) -> np.ndarray:
    """Rows ``[start, stop)`` of an array entry, read with a plain read (no memory map)."""
    dtype = np.dtype(entry["dtype"])
    shape = entry["shape"]
    row_items = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    k = stop - start
    with open(path, "rb") as f:
        f.seek(entry["offset"] + start * row_items * dtype.itemsize)
        a = np.fromfile(f, dtype=dtype, count=k * row_items)
    if a.shape[0] != k * row_items:
        raise DiskGraphError(f"{path}: unexpected end of file at row {start + a.shape[0]}")
    return a.reshape((k, *shape[1:])) if len(shape) > 1 else a


def iter_rows(path: Path, entry: dict, start: int = 0, stop: int | None = None,
               block: int = READ_BYTES):
    """Yield ``(row_start, ndarray)`` chunks of rows ``[start, stop)`` of an array entry, read
    with plain reads (no memory map, so the resident set stays at one block)."""
    dtype = np.dtype(entry["dtype"])
    shape = entry["shape"]
    row_items = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    step = max(1, block // max(1, row_items * dtype.itemsize))
    stop = shape[0] if stop is None else stop
    for r in range(start, stop, step):
        yield r, read_rows(path, entry, r, min(r + step, stop))


# --------------------------------------------------------------------------------------------
# Payload samples: the O(1) identity check of DiskGraph.open
# --------------------------------------------------------------------------------------------
def _sample_of(algo: str, head: bytes, tail: bytes, nbytes: int) -> str:
    h = new_hasher(algo)
    h.update(nbytes.to_bytes(8, "little"))
    h.update(head)
    rest = min(SAMPLE_BYTES, max(0, nbytes - SAMPLE_BYTES))
    if rest:
        h.update(tail[-rest:])
    return f"{algo}:{h.hexdigest()}"


def sample_digest(path: Path, algo: str, offset: int, nbytes: int) -> str:
    """Digest of the payload's size, first and last :data:`SAMPLE_BYTES` bytes (two reads)."""
    with open(path, "rb") as f:
        f.seek(offset)
        head = f.read(min(SAMPLE_BYTES, nbytes))
        rest = min(SAMPLE_BYTES, max(0, nbytes - SAMPLE_BYTES))
        tail = b""
        if rest:
            f.seek(offset + nbytes - rest)
            tail = f.read(rest)
    return _sample_of(algo, head, tail, nbytes)


# --------------------------------------------------------------------------------------------
# Stale temporaries of interrupted writes
# --------------------------------------------------------------------------------------------
def _take_lock(path: Path, blocking: bool):
    """An fd holding an exclusive flock on ``path`` (created), or None if another process
    holds it (non-blocking)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _newest_mtime(d: Path) -> float:
    t = d.stat().st_mtime
    for p in d.rglob("*"):
        try:
            t = max(t, p.stat().st_mtime)
        except OSError:
            pass
    return t


def sweep_stale(dst: Path, now: float | None = None) -> list[Path]:
    """Remove the temporaries that dead writers of ``dst`` left beside it; return them.

    ``DST.tmp-*`` with a ``.lock`` file: removed when its lock can be taken (its writer is
    gone), kept while another process holds it.  Without a lock file (an older gnnkit, or a
    writer between dropping the lock file and its rename): removed only when nothing in it
    changed for :data:`LEGACY_STALE_SECONDS`.  ``DST.old-<pid>-*``: removed when the pid is
    dead.  Other names are never touched.
    """
    dst = Path(dst).absolute()
    now = time.time() if now is None else now
    removed = []
    try:
        siblings = list(dst.parent.iterdir())
    except OSError:
        return removed
    for p in siblings:
        name = p.name
        if not p.is_dir() or p.is_symlink():
            continue
        if name.startswith(dst.name + ".tmp-"):
            lock = p / LOCK_FILE
            if lock.is_file():
                fd = _take_lock(lock, blocking=False)
                if fd is None:
                    continue  # a live writer
                try:
                    shutil.rmtree(p, ignore_errors=True)
                finally:
                    os.close(fd)
                removed.append(p)
            elif now - _newest_mtime(p) > LEGACY_STALE_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        elif name.startswith(dst.name + ".old-"):
            parts = name[len(dst.name) + 5:].split("-", 1)
            if parts[0].isdigit() and not _pid_alive(int(parts[0])):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed
