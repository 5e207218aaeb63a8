r"""A restricted, validating unpickler for data pickles from the internet (the Planetoid files).

``pickle.load`` on a downloaded file runs whatever the file names.  :class:`RestrictedUnpickler`
resolves only an allow-list of globals, and none of them is handed to the pickle as itself: each
is a checking stand-in, so that a crafted file can neither run code nor make numpy/scipy touch
memory that a forged header describes:

- ``numpy.dtype``: simple numeric codes only (``bool``, ``int8..64``, ``uint8..64``,
  ``float16..64``); the state ``BUILD`` applies must be the plain one (no fields, no
  subarray, no names, native element size);
- ``numpy.core.multiarray._reconstruct``: only ``(ndarray, (0,), b'b')`` (what numpy writes);
  the ``BUILD`` state must be ``(1, shape, dtype, fortran, raw)`` with a checked dtype,
  non-negative dims and ``len(raw) == prod(shape) * itemsize`` *before* numpy sees it;
  ``numpy.ndarray`` itself cannot be called (``ndarray((2**40,))`` would allocate);
- ``numpy.core.multiarray.scalar``: checked dtype, exactly ``itemsize`` bytes;
- ``scipy.sparse.csr_matrix``: a plain record of its state; :func:`to_csr` turns it into a
  matrix only after checking ``_shape``, ``data``, ``indices``, ``indptr`` (1-D arrays of
  allowed dtypes, ``indptr`` of length rows + 1 from 0, non-decreasing, to ``nnz``, ids in
  ``[0, cols)``) and then scipy's ``check_format(full_check=True)``;
- ``collections.defaultdict`` (factory ``list``/``set``/none), ``list``, ``set``, and
  ``_codecs.encode`` for ``latin1`` only (Python 3 writes bytes that way in protocol 2).

Anything else raises :class:`~gnnkit.data.errors.DatasetError` naming the file and the global.
The pure-Python unpickler is used so that ``BUILD`` can be intercepted; the Planetoid files are
a few MB, for which it is fast enough.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np

from gnnkit.data.errors import DatasetError, check_alloc

__all__ = ["RestrictedUnpickler", "restricted_load", "CsrRecord", "to_csr", "check_array",
           "ALLOWED_DTYPES"]

ALLOWED_DTYPES = frozenset(np.dtype(t) for t in (
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"))
_DTYPE_CODES = {"b1", "?", "bool", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4",
                "f8", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64"}


class _Refused(Exception):
    """Raised inside the unpickler; turned into a DatasetError naming the file."""


def _safe_dtype(obj, align=False, copy=False):
    if not isinstance(obj, str) or obj not in _DTYPE_CODES:
        raise _Refused(f"dtype {obj!r} is not a plain numeric dtype")
    return np.dtype(obj)


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` in a pickle: accepted by ``_reconstruct``, not callable."""

    def __init__(self, *args, **kwargs):
        raise _Refused("calling numpy.ndarray directly is not allowed")


def _safe_reconstruct(cls, shape, typecode):
    if cls is not _NdarrayToken or tuple(shape) != (0,) or typecode not in (b"b", "b"):
        raise _Refused(f"unexpected ndarray reconstruction {cls!r}, {shape!r}, {typecode!r}")
    return np.ndarray((0,), np.int8)


def _check_dtype(dt) -> np.dtype:
    if not isinstance(dt, np.dtype) or dt not in ALLOWED_DTYPES:
        raise _Refused(f"array dtype {dt!r} is not a plain numeric dtype")
    return dt


def _safe_scalar(dtype, raw=None):
    dt = _check_dtype(dtype)
    if isinstance(raw, str):
        raw = raw.encode("latin1")
    if not isinstance(raw, bytes) or len(raw) != dt.itemsize:
        raise _Refused(f"numpy scalar of {dt} needs {dt.itemsize} bytes")
    return np.frombuffer(raw, dtype=dt)[0]


def _safe_encode(obj, encoding="utf-8", errors="strict"):
    if encoding not in ("latin1", "latin-1") or not isinstance(obj, str):
        raise _Refused(f"_codecs.encode is only allowed for latin1 strings, got {encoding!r}")
    return obj.encode("latin1")


def _safe_defaultdict(factory=None, *args):
    if factory not in (None, list, set) or args:
        raise _Refused(f"defaultdict factory {factory!r} is not allowed")
    return collections.defaultdict(factory)


class CsrRecord:
    """The state of a pickled ``scipy.sparse.csr_matrix``, not yet trusted (see :func:`to_csr`)."""

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise _Refused("csr_matrix may only be rebuilt from its pickled state")
        self.state = None


def _csr_new(cls, *args):
    if cls is not CsrRecord or args:
        raise _Refused(f"unexpected object construction {cls!r}")
    return CsrRecord()


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
    ("numpy", "ndarray"): _NdarrayToken,
    ("numpy", "dtype"): _safe_dtype,
    ("scipy.sparse.csr", "csr_matrix"): CsrRecord,
    ("scipy.sparse._csr", "csr_matrix"): CsrRecord,
    ("scipy.sparse", "csr_matrix"): CsrRecord,
    ("_codecs", "encode"): _safe_encode,
    ("collections", "defaultdict"): _safe_defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
    ("copy_reg", "_reconstructor"): None,  # listed to give a precise refusal below
}

_BUILD = pickle.BUILD[0]
_NEWOBJ = pickle.NEWOBJ[0]


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that resolves only checking stand-ins for an allow-list of globals (see the
    module docstring); any other global raises :class:`DatasetError` naming it, before anything
    is called."""

    source = "<pickle>"
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):
        resolver = _ALLOWED.get((module, name))
        if resolver is None:
            raise DatasetError(
                f"{self.source}: refusing to unpickle {module}.{name}: only numpy arrays, "
                f"scipy.sparse.csr_matrix, defaultdict and list are allowed in Planetoid files; "
                f"the file is not a genuine Planetoid file or has been tampered with"
            )
        return resolver

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(_csr_new(cls, *args))

    dispatch[_NEWOBJ] = load_newobj

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, CsrRecord):
            if inst.state is not None or not isinstance(state, dict):
                raise _Refused("csr_matrix state must be set once, from a dict")
            inst.state = state
        elif isinstance(inst, np.dtype):
            _check_dtype_state(inst, state)
            inst.__setstate__(state)
        elif type(inst) is np.ndarray:
            inst.__setstate__(_check_array_state(state))
        else:
            raise _Refused(f"BUILD on a {type(inst).__name__} is not allowed")

    dispatch[_BUILD] = load_build


def _check_dtype_state(dt, state) -> None:
    # numpy writes (3, '<', None, None, None, -1, -1, 0) for plain dtypes (version 4 appends
    # flags); anything with names, fields, a subarray or a custom element size is refused.
    if (not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4)
            or state[1] not in ("<", ">", "|", "=") or state[2] is not None
            or state[3] is not None or state[4] is not None or state[5] != -1
            or state[6] != -1):
        raise _Refused(f"dtype state {state!r} is not that of a plain numeric dtype")
    if dt not in ALLOWED_DTYPES:
        raise _Refused(f"dtype {dt} is not a plain numeric dtype")


def _check_array_state(state):
    if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
        raise _Refused(f"ndarray state must be (1, shape, dtype, fortran, data), got "
                       f"{type(state).__name__} of length {len(state) if isinstance(state, tuple) else '?'}")
    _, shape, dt, fortran, raw = state
    _check_dtype(dt)
    if not isinstance(shape, tuple) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
            for s in shape) or len(shape) > 8:
        raise _Refused(f"ndarray shape {shape!r} is not a tuple of non-negative ints")
    if not isinstance(fortran, bool):
        raise _Refused("ndarray fortran flag must be a bool")
    if isinstance(raw, str):
        raw = raw.encode("latin1")
    if not isinstance(raw, bytes):
        raise _Refused(f"ndarray data must be bytes, got {type(raw).__name__}")
    count = 1
    for s in shape:
        count *= int(s)
    if count * dt.itemsize != len(raw):
        raise _Refused(f"ndarray of shape {shape} and dtype {dt} needs {count * dt.itemsize} "
                       f"bytes, the pickle holds {len(raw)}")
    return (1, tuple(int(s) for s in shape), dt, fortran, raw)


def restricted_load(path: str | os.PathLike):
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (``latin1`` for Python-2 pickles).

    A ``csr_matrix`` comes back as a :class:`CsrRecord`; pass it to :func:`to_csr`.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e})") from e
    up = RestrictedUnpickler(io.BytesIO(data), encoding="latin1")
    up.source = str(path)
    try:
        obj = up.load()
    except DatasetError:
        raise
    except _Refused as e:
        raise DatasetError(f"{path}: refused: {e}; the file is not a genuine Planetoid file or "
                           "has been tampered with") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, struct.error, RecursionError,
            OverflowError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: not a readable pickle, the file is truncated or corrupt "
                           f"({type(e).__name__}: {str(e)[:200]})") from e
    return obj


def check_array(a, path, what: str, *, ndim: int | None = None) -> np.ndarray:
    """``a`` must be a plain ``numpy.ndarray`` of an allowed dtype (and ``ndim``)."""
    if type(a) is not np.ndarray or a.dtype not in ALLOWED_DTYPES or (
            ndim is not None and a.ndim != ndim):
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise DatasetError(f"{path}: {what} must be a {ndim or ''}{'-D ' if ndim else ''}numeric "
                           f"numpy array, got {got}")
    return a


_CSR_KEYS = {"_shape", "data", "indices", "indptr"}
_CSR_OPTIONAL = {"maxprint", "format", "_has_sorted_indices", "_has_canonical_format",
                 "_cs_matrix__has_sorted_indices", "_cs_matrix__has_canonical_format"}


def to_csr(rec, path, what: str):
    """A validated ``scipy.sparse.csr_matrix`` from a :class:`CsrRecord` (see the module
    docstring); a dense ndarray passes through :func:`check_array` (2-D).

    Raises:
        DatasetError: naming the file and the first inconsistency.
    """
    import scipy.sparse as sp

    if not isinstance(rec, CsrRecord):
        return check_array(rec, path, what, ndim=2)
    st = rec.state
    if not isinstance(st, dict) or not _CSR_KEYS <= set(st) or set(st) - _CSR_KEYS - _CSR_OPTIONAL:
        keys = sorted(st) if isinstance(st, dict) else type(st).__name__
        raise DatasetError(f"{path}: {what} is a csr_matrix with state keys {keys}; expected "
                           f"{sorted(_CSR_KEYS)}")
    shape = st["_shape"]
    if (not isinstance(shape, tuple) or len(shape) != 2 or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
            for s in shape)):
        raise DatasetError(f"{path}: {what} has an invalid csr_matrix shape {shape!r}")
    rows, cols = int(shape[0]), int(shape[1])
    data = check_array(st["data"], path, f"{what} data", ndim=1)
    indices = check_array(st["indices"], path, f"{what} indices", ndim=1)
    indptr = check_array(st["indptr"], path, f"{what} indptr", ndim=1)
    for name, a in (("indices", indices), ("indptr", indptr)):
        if a.dtype.kind not in "iu":
            raise DatasetError(f"{path}: {what} {name} must be integers, got {a.dtype}")
    nnz = data.shape[0]
    if indices.shape[0] != nnz:
        raise DatasetError(f"{path}: {what} has {nnz} values but {indices.shape[0]} indices")
    if indptr.shape[0] != rows + 1:
        raise DatasetError(f"{path}: {what} indptr has {indptr.shape[0]} entries for {rows} rows "
                           f"(expected {rows + 1})")
    ip = indptr.astype(np.int64)
    if ip[0] != 0 or ip[-1] != nnz or (rows and (np.diff(ip) < 0).any()):
        raise DatasetError(f"{path}: {what} indptr must rise from 0 to nnz={nnz}, got "
                           f"{ip[0]}..{ip[-1]}" + (" and decreases" if rows and (
                               np.diff(ip) < 0).any() else ""))
    if nnz and (int(indices.min()) < 0 or int(indices.max()) >= cols):
        bad = int(indices.max()) if int(indices.max()) >= cols else int(indices.min())
        raise DatasetError(f"{path}: {what} column index {bad} outside [0, {cols})")
    if data.dtype.kind == "f" and nnz and not np.isfinite(data).all():
        raise DatasetError(f"{path}: {what} holds a non-finite value")
    check_alloc(rows * cols * 4, f"{what} as a dense {rows} x {cols} matrix", path)
    try:
        m = sp.csr_matrix((data, indices.astype(np.int64), ip), shape=(rows, cols))
        m.check_format(full_check=True)
    except (ValueError, TypeError, IndexError) as e:
        raise DatasetError(f"{path}: {what} is a corrupt csr_matrix ({e})") from e
    return m
