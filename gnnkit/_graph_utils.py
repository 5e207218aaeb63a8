"""Private helpers of :mod:`gnnkit.graph`: input conversion, validation, CSR building.

Every check raises :class:`gnnkit.graph.GraphError` naming the argument, the bad value and its
position. Everything is vectorised torch; the only Python-level work is one ``.item()`` per check.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "GraphError",
    "INT32_LIMIT",
    "as_tensor",
    "check_integer",
    "check_num_nodes",
    "check_range",
    "check_weight",
    "pick_index_dtype",
    "sort_perm",
    "csr_from_coo",
    "counts_to_indptr",
    "group_starts",
    "csr_transpose",
    "row_index",
    "self_loop_arcs",
]

# Node ids are stored as int32 while every id fits, i.e. while num_nodes <= 2**31.
INT32_LIMIT = 2**31
# dst * N + src fits into int64 while N * N < 2**63.
_KEY_LIMIT = 3_037_000_499


class GraphError(ValueError):
    """A graph input violates the CSR conventions of :class:`gnnkit.Graph`.

    The message names the argument, the offending value and its position, e.g.
    ``edge_index[1, 3] = 7 is out of range [0, 5)``.
    """


def _describe_dtype(x) -> str:
    if isinstance(x, np.ndarray):
        return f"numpy.{x.dtype}"
    return str(x.dtype)


def as_tensor(x, name: str) -> tuple[Tensor, str]:
    """Convert a torch tensor, numpy array or (nested) sequence to a tensor without copying
    where possible. Returns the tensor and a description of the original dtype for messages."""
    if isinstance(x, Tensor):
        return x, str(x.dtype)
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise GraphError(f"{name} must be a numeric array, got a numpy array of dtype object")
        desc = _describe_dtype(x)
        if not (x.flags.writeable and x.flags.c_contiguous and x.dtype.isnative):
            # torch.from_numpy needs a writeable, native-endian array; copy once.
            x = np.array(x, dtype=x.dtype.newbyteorder("="), order="C", copy=True)
        return torch.from_numpy(x), desc
    if isinstance(x, (list, tuple)):
        try:
            t = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as e:
            raise GraphError(f"{name} could not be converted to a tensor: {e}") from e
        return t, str(t.dtype)
    raise GraphError(
        f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__module__}.{type(x).__name__}"
    )


def is_integer_dtype(dtype: torch.dtype) -> bool:
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def check_integer(t: Tensor, desc: str, name: str) -> None:
    if not is_integer_dtype(t.dtype):
        raise GraphError(f"{name} must have an integer dtype, got {desc}")


def check_num_nodes(num_nodes, name: str = "num_nodes") -> int:
    if isinstance(num_nodes, Tensor) and num_nodes.dim() == 0 and is_integer_dtype(num_nodes.dtype):
        num_nodes = int(num_nodes.item())
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, numbers.Integral):
        raise GraphError(f"{name} must be a non-negative int, got {num_nodes!r}")
    num_nodes = int(num_nodes)
    if num_nodes < 0:
        raise GraphError(f"{name} must be a non-negative int, got {num_nodes}")
    return num_nodes


def _fmt_pos(flat: int, shape) -> str:
    idx = np.unravel_index(flat, tuple(shape))
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def check_range(t: Tensor, num_nodes: int, name: str) -> None:
    """Raise if some entry of the integer tensor ``t`` lies outside ``[0, num_nodes)``."""
    if t.numel() == 0:
        return
    bad = (t < 0) | (t >= num_nodes)
    if bool(bad.any()):
        flat = int(bad.reshape(-1).nonzero()[0].item())
        value = int(t.reshape(-1)[flat].item())
        raise GraphError(
            f"{name}{_fmt_pos(flat, t.shape)} = {value} is out of range [0, {num_nodes})"
        )


def check_weight(w, num_edges: int, device: torch.device, name: str = "edge_weight",
                 what: str = "E") -> Tensor:
    """Validate an edge-weight vector: 1-D, length ``num_edges``, real, finite, same device.
    Integer and bool weights are cast to the default float dtype."""
    w, desc = as_tensor(w, name)
    if w.is_complex():
        raise GraphError(f"{name} must be real, got {desc}")
    if not w.is_floating_point():
        w = w.to(torch.get_default_dtype())
    if w.dim() != 1 or w.size(0) != num_edges:
        raise GraphError(
            f"{name} must have shape [{what}] = [{num_edges}], got {tuple(w.shape)}"
        )
    if w.device != device:
        raise GraphError(f"{name} is on {w.device} but the graph is on {device}")
    finite = torch.isfinite(w.detach())
    if not bool(finite.all()):
        k = int((~finite).nonzero()[0].item())
        raise GraphError(f"{name}[{k}] = {float(w[k].item())} is not finite")
    return w


def pick_index_dtype(num_nodes: int, index_dtype) -> torch.dtype:
    """int32 while every node id fits, int64 beyond; ``index_dtype`` forces one of them."""
    if index_dtype is None:
        return torch.int32 if num_nodes <= INT32_LIMIT else torch.int64
    if index_dtype not in (torch.int32, torch.int64):
        raise GraphError(f"index_dtype must be None, torch.int32 or torch.int64, got {index_dtype!r}")
    if index_dtype == torch.int32 and num_nodes > INT32_LIMIT:
        raise GraphError(
            f"index_dtype=torch.int32 cannot hold node ids of a graph with num_nodes={num_nodes}"
        )
    return index_dtype


def sort_perm(dst: Tensor, src: Tensor, num_nodes: int) -> Tensor:
    """Stable permutation sorting arcs by (dst, src); ties keep input order.

    One stable sort on the int64 key ``dst * N + src`` while ``N * N`` fits into int64,
    otherwise two stable sorts (by src, then by dst), which cannot overflow.
    """
    if num_nodes <= _KEY_LIMIT:
        return torch.sort(dst * num_nodes + src, stable=True).indices
    perm = torch.sort(src, stable=True).indices
    return perm[torch.sort(dst[perm], stable=True).indices]


def _alloc(what: str, make, nbytes: int):
    """Run ``make()``; an allocation failure becomes ``torch.OutOfMemoryError`` naming ``what``."""
    try:
        return make()
    except RuntimeError as e:
        if isinstance(e, torch.OutOfMemoryError) or "allocate" not in str(e):
            raise
        raise torch.OutOfMemoryError(f"cannot allocate {what} ({nbytes} bytes): {e}") from None


def counts_to_indptr(index: Tensor, num_nodes: int, name: str = "index", check: bool = True) -> Tensor:
    """int64 ``indptr`` [N + 1] from the (sorted or not) row id of every entry.

    Raises IndexError naming ``name``, the position and the value of an id outside
    ``[0, num_nodes)`` (``bincount`` would otherwise fail with a plain RuntimeError or return a
    longer count), and ``torch.OutOfMemoryError`` naming the size when ``[N + 1]`` cannot be
    allocated.  ``check=False`` skips the id check (ids already validated, e.g. by a C++ op; also
    keeps the function traceable without data-dependent branches)."""
    if num_nodes < 0:
        raise ValueError(f"counts_to_indptr: num_nodes must be >= 0, got {num_nodes}")
    if check and index.numel():
        lo, hi = torch.aminmax(index)
        if int(lo) < 0 or int(hi) >= num_nodes:
            pos = int(((index < 0) | (index >= num_nodes)).nonzero()[0, 0])
            raise IndexError(f"{name}[{pos}] = {int(index[pos])} is out of range [0, {num_nodes})")
    indptr = _alloc(f"indptr [{num_nodes + 1}]",
                    lambda: torch.zeros(num_nodes + 1, dtype=torch.int64, device=index.device), 8 * (num_nodes + 1))
    if num_nodes > 0:
        counts = _alloc(f"bincount of '{name}' [{num_nodes}]",
                        lambda: torch.bincount(index, minlength=num_nodes), 8 * num_nodes)
        torch.cumsum(counts, 0, out=indptr[1:])
    return indptr


def csr_from_coo(src: Tensor, dst: Tensor, weight, num_nodes: int, index_dtype: torch.dtype):
    """Build (indptr, indices, weight, perm) from int64 arc lists; perm[k] = input position."""
    perm = sort_perm(dst, src, num_nodes)
    indptr = counts_to_indptr(dst, num_nodes)
    indices = src[perm].to(index_dtype)
    w = None if weight is None else weight[perm]
    return indptr, indices, w, perm


def group_starts(src: Tensor, dst: Tensor) -> Tensor:
    """Bool mask [E]: True where a CSR entry starts a new (dst, src) group (arcs are sorted)."""
    new = torch.ones(src.numel(), dtype=torch.bool, device=src.device)
    if src.numel() > 1:
        new[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    return new


def row_index(indptr: Tensor, num_edges: int | None = None) -> Tensor:
    """int64 ``[E]``: the row (destination) of every CSR position, i.e. ``indptr`` expanded.
    ``num_edges`` (``indptr[-1]``), when known, saves a device synchronisation."""
    return torch.repeat_interleave(torch.arange(indptr.numel() - 1, device=indptr.device),
                                   indptr.diff(), output_size=num_edges)


def csr_transpose(indptr: Tensor, indices: Tensor, num_src: int, check: bool = True):
    """Transpose of a destination-major CSR: ``(t_indptr, t_indices, t_perm)`` grouped by source.

    ``t_perm[t]`` is the CSR position of transposed entry ``t``.  The sort is stable, so the
    arcs of one source keep increasing CSR order (ascending destinations): deterministic.
    """
    src = indices.to(torch.int64)
    t_indptr = counts_to_indptr(src, num_src, "indices", check)  # checks the ids first
    if not check:
        pass
    elif indptr.dim() != 1 or indptr.numel() < 1:
        raise ValueError(f"csr_transpose: 'indptr' must have shape [N + 1] with at least one entry, got "
                         f"{tuple(indptr.shape)}")
    elif int(indptr[0]) != 0 or int(indptr[-1]) != indices.numel() or bool((indptr.diff() < 0).any()):
        raise ValueError("csr_transpose: 'indptr' must start at 0, never decrease and end at "
                         f"len(indices) = {indices.numel()}")
    perm = torch.sort(src, stable=True).indices
    dst = row_index(indptr, indices.numel())
    return t_indptr, dst[perm].to(indices.dtype), perm


def self_loop_arcs(src: Tensor, dst: Tensor, num_nodes: int, edge_weight, fill_value,
                   remaining: bool, where: str, what: str = "N"):
    """The loops ``add_self_loops`` adds to the arcs ``src -> dst`` and the weights after it.

    Shared by :meth:`gnnkit.Graph.add_self_loops` and :meth:`gnnkit.block.Block.add_self_loops`
    (loop ``i -> i`` for ``i < num_nodes``).  With ``remaining`` only nodes without a loop get
    one.  ``fill_value`` is a finite number or a tensor ``[num_nodes]`` (``what`` names that
    length in messages, ``where`` the caller); an unweighted input stays unweighted when the
    fill is 1.

    Returns:
        ``(loops, weight)``: int64 ``[L]`` loop nodes, and ``None`` or ``[E + L]`` = the arc
        weights (ones when ``edge_weight`` is None) followed by the fill of every loop.
    """
    dev = src.device
    if remaining:
        has = torch.zeros(num_nodes, dtype=torch.bool, device=dev)
        has[src[src == dst]] = True
        loops = (~has).nonzero().view(-1)
    else:
        loops = torch.arange(num_nodes, device=dev)
    w = edge_weight
    if isinstance(fill_value, (Tensor, np.ndarray, list, tuple)):
        fill_w = check_weight(fill_value, num_nodes, dev, name=f"{where}: fill_value", what=what)[loops]
    else:
        try:
            fv = float(fill_value)
        except (TypeError, ValueError) as e:
            raise GraphError(f"{where}: fill_value must be a number or a tensor [{what}], got "
                             f"{fill_value!r}") from e
        if not np.isfinite(fv):
            raise GraphError(f"{where}: fill_value = {fv} is not finite")
        fill_w = None
        if w is not None or fv != 1.0:
            dtype = torch.get_default_dtype() if w is None else w.dtype
            fill_w = torch.full((loops.numel(),), fv, dtype=dtype, device=dev)
    if fill_w is None:
        return loops, None
    if w is None:
        w = torch.ones(src.numel(), dtype=fill_w.dtype, device=dev)
    return loops, torch.cat([w, fill_w.to(w.dtype)])
