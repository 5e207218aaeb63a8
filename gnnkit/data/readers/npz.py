r"""One reader for ``.npz`` archives (numpy's zip of ``.npy`` members), whole or streamed.

An ``.npz`` from the internet is untrusted: its ``.npy`` headers state a dtype and a shape, and
numpy allocates ``prod(shape) * itemsize`` bytes *before* reading the payload.  Every member is
therefore checked against its zip entry first: the header must parse, must not hold Python objects
(``allow_pickle=False`` everywhere), and the payload it announces must fit in the member's
uncompressed size exactly (numpy writes nothing after the payload), which must itself be plausible for its compressed size (deflate expands at most
~1032x) and fit in memory (:func:`~gnnkit.data.errors.check_alloc`).  A forged header thus raises
:class:`~gnnkit.data.errors.DatasetError` naming the file and member, never a huge allocation.
"""
from __future__ import annotations

import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from gnnkit.data.errors import DatasetError, check_alloc
from gnnkit.data.npy_file import read_npy_header

__all__ = ["read_npz", "npy_member_header", "iter_npy_member", "NpzArchive"]

_DEFLATE_MAX_RATIO = 1100  # zlib's worst case is ~1032:1
# (numpy parses a .npy header's dict literal with tokenize / ast: a damaged one raises
# tokenize.TokenError or SyntaxError, which are not ValueErrors)
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError,
                NotImplementedError, RuntimeError, OverflowError, SyntaxError, tokenize.TokenError)


def npy_member_header(zf: zipfile.ZipFile, member: str, origin) -> tuple:
    """``(dtype, shape, fortran_order, header_bytes)`` of one ``.npy`` member, checked.

    Raises:
        DatasetError: unreadable header, object dtype, or a payload larger than the member.
    """
    try:
        info = zf.getinfo(member)
        with zf.open(member) as f:
            shape, fortran, dtype = read_npy_header(f)
            header_bytes = f.tell()
    except _READ_ERRORS as e:
        raise DatasetError(f"{origin}: member {member!r} is not a valid .npy array "
                           f"({type(e).__name__}: {e})") from e
    if dtype.hasobject:
        raise DatasetError(f"{origin}: member {member!r} holds Python objects (dtype {dtype}); "
                           "only numeric arrays are read (allow_pickle=False)")
    if any(int(s) < 0 for s in shape):
        raise DatasetError(f"{origin}: member {member!r} has a negative shape {shape}")
    count = 1
    for s in shape:
        count *= int(s)
    need = count * dtype.itemsize
    limit = info.file_size - header_bytes
    if info.compress_type == zipfile.ZIP_STORED:
        plausible = info.compress_size
    else:
        plausible = info.compress_size * _DEFLATE_MAX_RATIO + 1024
    if need != limit or info.file_size > plausible:
        raise DatasetError(f"{origin}: member {member!r} announces shape {tuple(shape)} of "
                           f"{dtype} ({need:,} bytes) but holds {max(limit, 0):,} bytes of payload "
                           f"({info.compress_size:,} compressed); the archive is truncated or "
                           "forged")
    check_alloc(need, f"member {member!r} (shape {tuple(shape)}, {dtype})", origin)
    return dtype, tuple(int(s) for s in shape), bool(fortran), header_bytes


class NpzArchive:
    """An open ``.npz``: ``members`` maps array names to zip members; headers are checked on
    demand with :func:`npy_member_header`.  Use as a context manager (closes the zip)."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: file not found")
        try:
            self.zf = zipfile.ZipFile(self.path)
            names = self.zf.namelist()
        except _READ_ERRORS as e:
            raise DatasetError(f"{self.path}: not a readable .npz archive, it is truncated or "
                               f"corrupt ({type(e).__name__}: {e})") from e
        self.members = {n[:-4]: n for n in names if n.endswith(".npy")}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self) -> None:
        self.zf.close()

    def header(self, key: str) -> tuple:
        return npy_member_header(self.zf, self.members[key], self.path)

    def array(self, key: str) -> np.ndarray:
        """The whole array ``key`` (header checked first)."""
        dtype, shape, fortran, _ = self.header(key)
        try:
            with self.zf.open(self.members[key]) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        except _READ_ERRORS as e:
            raise DatasetError(f"{self.path}: array {key!r} cannot be read, the archive is "
                               f"truncated or corrupt ({type(e).__name__}: {e})") from e

    def iter_items(self, key: str, chunk_items: int, skip_items: int = 0,
                   stop_items: int | None = None):
        """Flat blocks of ``chunk_items`` items of member ``key`` (in storage order) over items
        ``[skip_items, stop_items)``; see :func:`iter_npy_member`."""
        return iter_npy_member(self.zf, self.members[key], chunk_items, self.path, skip_items,
                               stop_items)


def iter_npy_member(zf: zipfile.ZipFile, member: str, chunk_items: int, origin,
                    skip_items: int = 0, stop_items: int | None = None):
    """Stream one ``.npy`` member of a zip without loading it: yields flat 1-D blocks of at most
    ``chunk_items`` items, in storage order, over items ``[skip_items, stop_items)``."""
    dtype, shape, _, header_bytes = npy_member_header(zf, member, origin)
    total = 1
    for s in shape:
        total *= s
    if stop_items is not None:
        total = min(total, stop_items)
    try:
        f = zf.open(member)
        f.read(header_bytes)
    except _READ_ERRORS as e:
        raise DatasetError(f"{origin}: member {member!r} cannot be read ({e})") from e
    try:
        left = total - skip_items
        skip = skip_items * dtype.itemsize
        while skip > 0:
            got = f.read(min(skip, 1 << 24))
            if not got:
                raise DatasetError(f"{origin}: member {member!r} is truncated")
            skip -= len(got)
        while left > 0:
            k = min(chunk_items, left)
            raw = f.read(k * dtype.itemsize)
            if len(raw) != k * dtype.itemsize:
                raise DatasetError(f"{origin}: member {member!r} is truncated")
            yield np.frombuffer(raw, dtype=dtype)
            left -= k
    except _READ_ERRORS as e:
        raise DatasetError(f"{origin}: member {member!r} is truncated or corrupt "
                           f"({type(e).__name__}: {e})") from e
    finally:
        f.close()


def read_npz(path) -> dict:
    """Every array of an ``.npz`` archive as a dict (``allow_pickle=False``, headers checked).

    Raises :class:`DatasetError` naming the file (and the member) when the archive is missing,
    truncated, corrupt, holds object arrays or announces more data than it holds.
    """
    with NpzArchive(path) as z:
        return {k: z.array(k) for k in z.members}
