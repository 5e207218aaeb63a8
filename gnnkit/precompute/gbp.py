r"""GBP precompute: bidirectional propagation of node features (reverse push + random walks).

From "Scalable Graph Neural Networks via Bidirectional Propagation" (Chen et al., NeurIPS 2020,
`arXiv:2010.15421 <https://arxiv.org/abs/2010.15421>`_), Algorithm 1.  The generalized PageRank
features

.. math::
    P = \sum_{\ell=0}^{L} w_\ell\, T^\ell X, \qquad T = D^{r-1} A D^{-r}
      = D^{r}\, (D^{-1} A)\, D^{-r},

are estimated, per feature column :math:`x`, only at the target nodes :math:`V_t`:

1. **Walks from the targets** (once, shared by every column): ``n_r`` walks of ``L`` steps from
   each :math:`s \in V_t`, each step to a uniform in-neighbour (a row of :math:`M = D^{-1}A`);
   :math:`S^{(k)}(s, u)` is the fraction of walks at :math:`u` after :math:`k` steps.
2. **Reverse push from the features**: the residue starts as :math:`H^{(0)} = D^{-r} x`.  At level
   :math:`\ell < L` every node with :math:`|H^{(\ell)}(u)| > r_{max} \lVert D^{-r} x \rVert_1`
   (the paper's threshold on the column-normalised residue) pushes its residue to its
   out-neighbours, :math:`H^{(\ell+1)}(v) \mathrel{+}= H^{(\ell)}(u) / d_v`; the others keep it
   as :math:`R_\ell`.
3. **Combination**: since :math:`M^\ell H^{(0)} = H^{(\ell)} + \sum_{t<\ell} M^{\ell-t} R_t`,

   .. math::
       \hat P(s) = d_s^{r} \sum_{\ell=0}^{L} w_\ell \Big( H^{(\ell)}(s)
                   + \sum_{t=0}^{\ell-1} \big(S^{(\ell-t)} R_t\big)(s) \Big),

   an unbiased estimator of :math:`P(s)`.  With ``r_max = 0`` everything is pushed, every
   :math:`R_t` (:math:`t < L`) is zero and :math:`\hat P = P` exactly.

**Error bound** (the form tested in ``tests/precompute``).  Each walk contributes
:math:`Y = \sum_{t<L} \sum_{k=1}^{L-t} w_{t+k} R_t(v_k)` with :math:`|R_t| \le \theta =
r_{max} \lVert D^{-r} x\rVert_1`, so :math:`|Y| \le B = \theta \sum_{\ell} \ell |w_\ell|`, and by
Hoeffding's inequality, for any :math:`\delta \in (0, 1)`,

.. math::
    \Pr\Big[\,|\hat P(s) - P(s)| > d_s^r\, B \sqrt{2 \ln(2/\delta) / n_r}\,\Big] \le \delta .

(The paper states the same kind of guarantee, :math:`|\hat P(s) - P(s)| \le d_s^r \epsilon` with
high probability, in terms of :math:`r_{max}`, :math:`n_r` and :math:`L`; :func:`gbp_error_bound`
returns the explicit Hoeffding radius above.)

Design for scale (per column block of ``block_size`` columns; ``csrc/cpu/gbp_cpu.cpp``):

* **Features** are read in place: a ``.npy`` memmap or a tensor is handed to the kernels as a
  zero-copy float32/float64 column view; level 0 reads it once (thresholds, and the frontier only
  if some value exceeds its threshold), and the walk correction reads :math:`R_0 = D^{-r}x` (below
  the threshold) straight from it at the walk-visited nodes.  No float64 copy of the block.
* **Push** (``gbp_push``): level by level over sparse frontiers (the nodes over the threshold,
  sorted); a level touches only the out-arcs of its frontier, or, when those outnumber
  :math:`E / B`, runs one masked pull over the in-arcs (same sums, same order, so the same result).
  :math:`H^{(\ell)}` lives only on the touched nodes; what stays below the threshold is returned
  as sorted sparse records :math:`R_t` (float32, :math:`t = 1..L-1`).  Memory: two int32
  ``[N]`` maps plus O(touched nodes * block) per level, never ``[L, N, block]``.
* **Walks** (``gbp_walk_matrix``): ``n_r`` walks of ``L`` steps per target along in-arcs, stored as
  sorted (node, count) rows per (target, level) (O(nnz) memory, no ``[N]`` counters).  If the
  bound ``12 L n_r`` bytes per target fits in ``walk_memory`` for all targets, the matrix is built
  once and shared by all blocks; otherwise it is rebuilt per block, a chunk of targets at a time.
* **Correction** (``gbp_correct``): :math:`\sum_k \sum_u S^{(k)}(s, u) \sum_{t \le L-k}
  w_{t+k} R_t(u)` evaluated directly at the walk-matrix entries.
* **Memory maps**: a graph or feature file larger than RAM headroom is used through its map; pages
  of a map count in RSS while mapped, so with read-only maps (``DiskGraph(..., mmap_mode='r')``,
  ``np.load(..., mmap_mode='r')``) the graph pages are handed back after each walk chunk and the
  feature pages after each correction chunk (``release_pages``), and the two never add up.
* **Output**: with ``out=path`` the result goes to a ``.npy`` memory map ``[len(targets), F]``
  (float32), filled block by block; ``path + '.state.json'`` lists the finished blocks, so an
  interrupted run resumes where it stopped, and several processes can fill disjoint
  ``columns=slice(...)`` of the same file (pass the same explicit ``seed`` to all of them).
* **Randomness**: walk ``j`` of target ``s`` uses the stream keyed by ``(seed, s, j)``
  (``csrc/rng.h``), so the estimate is identical for any thread count, block size, column
  slicing, target chunking or process split.  The walks are shared by all columns (as in
  Algorithm 1), not drawn per column: per-column walks would multiply the walk cost by F.

Choosing ``r_max`` and ``n_r``: the threshold is relative to :math:`\lVert D^{-r}x\rVert_1`,
which grows with N, and the push work is bounded by about :math:`L / r_{max}` pushes per column
whatever N is; so what GBP's settings mean depends on :math:`r_{max} N`.  The paper's large-graph
setting (Friendster, 65.6M nodes: ``r_max = 4e-8``, ``n_r = 10000``; ``friendster.sh`` of the
official code) pushes from a small frontier; on a 1M-node graph the same ``4e-8`` pushes almost
every node at levels 0 and 1 (an exact pass), and the setting with the same :math:`r_{max} N` is
about ``2.6e-6``.  The walk term then carries the error: :func:`gbp_error_bound` gives its
worst-case Hoeffding radius, which shrinks as :math:`1/\sqrt{n_r}`.

Restrictions: the graph must be unweighted (``edge_weight`` is rejected); for directed graphs,
:math:`d` is the in-degree and walks go against the arcs (the direction information flows in).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import mmap
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from gnnkit.data.npy_file import load_npy
from gnnkit.ops._library import ops
from gnnkit.ops.random_walk import draw_seed
from gnnkit.precompute.propagation import as_graph, gbp_weights

__all__ = ["gbp_precompute", "gbp_walk_matrix", "gbp_error_bound", "STATE_SUFFIX"]

STATE_SUFFIX = ".state.json"
_STATE_VERSION = 1


def feature_source(graph, x):
    """The features GBP reads, ``[N, F]`` array-like: a tensor, an ndarray/memmap, a ``.npy`` path
    (memory-mapped) or, with ``x=None``, the DiskGraph's stored features."""
    if x is None:
        feats = getattr(graph, "features", None)
        if feats is None:
            raise ValueError("x is None and the graph stores no features; pass x=[N, F]")
        return feats
    if isinstance(x, (str, os.PathLike)):  # an untrusted file: header, dtype and size checked first
        return load_npy(x, ["f"], (None, None), "GBP features [N, F]")
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating tensor, got {x.dtype}")
        return x.detach().cpu()
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"x must hold floats, got dtype {x.dtype}")
        return x
    raise TypeError(f"x must be a Tensor, a numpy array/memmap or a .npy path, got {type(x).__name__}")


def _block(x, c0: int, c1: int) -> torch.Tensor:
    """Columns [c0, c1) of x as a float32/float64 tensor view [N, c1 - c0] (no copy).

    A memory-mapped ``.npy`` is wrapped in place (``torch.from_numpy`` over the map): the kernels
    read each needed value once, straight from the page cache, instead of copying the block into
    a float64 buffer.  Other float dtypes (float16, ...) are converted to float32 (a copy).
    """
    if isinstance(x, torch.Tensor):
        v = x[:, c0:c1]
        return v if v.dtype in (torch.float32, torch.float64) else v.to(torch.float32)
    v = x[:, c0:c1]
    if v.dtype not in (np.float32, np.float64) or not v.dtype.isnative:
        v = np.ascontiguousarray(v, dtype=np.float32)
    with warnings.catch_warnings():  # read-only maps: torch warns about writability; never written
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(v)


def _maps(*arrays) -> list:
    """The ``mmap`` objects behind read-only ``np.memmap`` arrays (mode ``'r'``).

    Pages of a file mapping count in the process's RSS while mapped.  Between phases GBP hands the
    pages of these maps back (``MADV_DONTNEED``; the data stays in the page cache and is faulted
    in again on the next access), so that a walk phase over a graph larger than RAM headroom and a
    correction phase over a large feature file never hold both at once.  Only read-only maps
    qualify: dropping pages of a copy-on-write map would lose in-memory writes.
    """
    out = []
    for a in arrays:
        m = getattr(a, "_mmap", None)
        if isinstance(a, np.memmap) and m is not None and getattr(a, "mode", None) == "r" and \
                hasattr(m, "madvise") and all(m is not o for o in out):
            out.append(m)
    return out


def _release(maps) -> None:
    for m in maps:
        try:
            m.madvise(mmap.MADV_DONTNEED)
        except (AttributeError, OSError, ValueError):  # not Linux, or closed: nothing to hand back
            pass


_RELEASE_BYTES = 2 * 2**30


def _targets(targets, n: int) -> torch.Tensor:
    if targets is None:
        return torch.arange(n, dtype=torch.long)
    t = torch.as_tensor(np.asarray(targets) if not isinstance(targets, torch.Tensor) else targets)
    if t.dtype == torch.bool:
        if t.numel() != n:
            raise ValueError(f"a boolean targets mask must have {n} entries, got {t.numel()}")
        return t.nonzero().view(-1)
    if t.dtype.is_floating_point:
        raise TypeError(f"targets must hold integer node ids, got {t.dtype}")
    t = t.reshape(-1).to(torch.long).contiguous()
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
        bad = int(t[(t < 0) | (t >= n)][0])
        raise IndexError(f"targets holds node id {bad}, outside [0, {n})")
    return t


def _push_csr(g):
    """Out-arcs CSR for the push phase: the CSR itself for an undirected graph, else the graph's
    (cached; stored in a DiskGraph) transpose."""
    if getattr(g, "directed", True) is False:
        return g.indptr, g.indices
    t = g.transpose()
    return t[0], t[1]


def gbp_walk_matrix(graph, targets, num_levels: int, num_walks: int, seed: int):
    """Sparse walk matrices :math:`S^{(1..L)}` of the targets as CSR over (target, level) rows:
    ``(ptr [T*L+1], node [nnz], count [nnz])``; ``count / num_walks`` is
    :math:`S^{(k)}(s, u)` for row ``i * L + k - 1``."""
    g = as_graph(graph)
    t = _targets(targets, g.num_nodes)
    return ops().gbp_walk_matrix(g.indptr, g.indices, t, int(num_levels), int(num_walks), int(seed))


def gbp_error_bound(graph, x, r_max: float, num_walks: int, weights, r: float = 0.5, delta: float = 0.05,
                    targets=None) -> torch.Tensor:
    r"""Hoeffding radius :math:`d_s^r\, B_c \sqrt{2\ln(2/\delta)/n_r}` per (target, column) (see the
    module docstring): :math:`|\hat P - P|` exceeds it with probability at most ``delta``.

    Shapes:
        ``x [N, F] -> [len(targets), F]`` (float64).
    """
    g = as_graph(graph)
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(torch.float64)
    w = torch.as_tensor(weights, dtype=torch.float64)
    deg = g.indptr.diff().clamp(min=1).to(torch.float64)
    theta = r_max * (xt * deg.pow(-r).unsqueeze(1)).abs().sum(0)  # [F]
    B = theta * float((torch.arange(w.numel(), dtype=torch.float64) * w.abs()).sum())
    t = _targets(targets, g.num_nodes)
    if num_walks <= 0:
        return torch.full((t.numel(), xt.shape[1]), math.inf, dtype=torch.float64)
    rad = B * math.sqrt(2 * math.log(2 / delta) / num_walks)
    return deg[t].pow(r).unsqueeze(1) * rad.unsqueeze(0)


# ------------------------------------------------------------------ resumable output
@contextlib.contextmanager
def _locked(path: Path):
    import fcntl

    with open(str(path) + ".lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_state(p: Path):
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{p}: corrupt GBP state file ({e}); delete it and the output to start over") from e


def _write_state(p: Path, state: dict) -> None:
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, p)


def _fingerprint(t: torch.Tensor) -> str:
    return hashlib.blake2b(t.numpy().tobytes(), digest_size=16).hexdigest()


def _open_output(out: Path, shape, params: dict, seed, resume: bool):
    """Create or reopen the output memmap; returns (memmap, state, seed)."""
    state_path = Path(str(out) + STATE_SUFFIX)
    with _locked(out):
        state = _read_state(state_path) if resume else None
        if state is not None:
            if state.get("version") != _STATE_VERSION:
                raise ValueError(f"{state_path}: state version {state.get('version')} is not {_STATE_VERSION}")
            old = dict(state["params"])
            if seed is None:
                seed = old["seed"]
            want = dict(params, seed=int(seed))
            diff = sorted(k for k in set(old) | set(want) if old.get(k) != want.get(k))
            if diff:
                raise ValueError(
                    f"{state_path}: the unfinished run used other parameters ({', '.join(diff)}: "
                    f"{[old.get(k) for k in diff]} vs {[want.get(k) for k in diff]}); pass the same "
                    "ones, or resume=False to start over")
            if not out.exists():
                raise ValueError(f"{state_path} exists but the output {out} is missing; resume=False restarts")
            mm = np.load(out, mmap_mode="r+")
            if tuple(mm.shape) != tuple(shape):
                raise ValueError(f"{out}: shape {mm.shape}, expected {tuple(shape)}")
            return mm, state, int(seed)
        if seed is None:
            raise RuntimeError("internal: seed must be drawn before opening the output")
        out.parent.mkdir(parents=True, exist_ok=True)
        mm = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=tuple(shape))
        state = {"version": _STATE_VERSION, "params": dict(params, seed=int(seed)), "done": []}
        _write_state(state_path, state)
        return mm, state, int(seed)


def _mark_done(out: Path, block) -> None:
    state_path = Path(str(out) + STATE_SUFFIX)
    with _locked(out):
        state = _read_state(state_path)
        if list(block) not in state["done"]:
            state["done"].append(list(block))
            state["done"].sort()
        _write_state(state_path, state)


# ------------------------------------------------------------------ main entry point
def gbp_precompute(graph, x=None, targets=None, *, num_levels: int = 4, r: float = 0.5, weights="ppr",
                   alpha: float = 0.1, t: float = 5.0, r_max: float = 1e-4, num_walks: int = 1000,
                   seed: int | None = None, generator: torch.Generator | None = None, columns=None,
                   out=None, block_size: int = 16, resume: bool = True, progress: bool = False,
                   walk_memory: int = 2**30, release_pages: bool | None = None):
    r"""Estimate :math:`P = \sum_{\ell=0}^{L} w_\ell T^\ell X` at ``targets`` by GBP's
    bidirectional propagation (see the module docstring for the algorithm and the error bound).

    Args:
        graph (Graph or DiskGraph): unweighted graph; a DiskGraph is used through its memory maps.
        x (Tensor, ndarray, memmap or str, optional): features ``[N, F]`` (a ``.npy`` path is
            memory-mapped).  Default: the DiskGraph's stored features.
        targets (Tensor, optional): node ids (or a boolean mask) to estimate; default: all nodes.
        num_levels (int): L (default: ``4``).
        r (float): convolution coefficient in [0, 1] (default: ``0.5``).
        weights (str or sequence): ``'ppr'``, ``'heat'``, ``'last'`` or ``L + 1`` numbers
            (default: ``'ppr'``); see :func:`gnnkit.precompute.gbp_weights`.
        alpha (float): PPR teleport probability (default: ``0.1``).
        t (float): heat-kernel time (default: ``5.0``).
        r_max (float): push threshold relative to :math:`\lVert D^{-r}x_c\rVert_1`, ``>= 0``
            (default: ``1e-4``); ``0`` gives the exact result.
        num_walks (int): walks per target, ``n_r`` (default: ``1000``).
        seed (int, optional): 64-bit walk seed; default: drawn from ``generator`` (or reused from
            the state file when resuming).
        generator (torch.Generator, optional): source of the seed (default: torch's global one).
        columns (slice, optional): the feature columns to compute (default: all); with ``out``,
            other processes may compute the other columns of the same file.
        out (str or Path, optional): output ``.npy`` path (float32 ``[len(targets), F]`` memmap,
            all F columns; only ``columns`` are written).  Default: return an in-memory tensor.
        block_size (int): columns per block (default: ``16``); the unit of progress and resume.
        resume (bool): reuse ``out`` and skip the blocks its state file lists (default: ``True``).
        progress (bool): tqdm progress bar over the column blocks (default: ``False``).
        walk_memory (int): bytes allowed for the walk matrix (bounded by 12 L n_r bytes per
            target, default: 1 GiB).  If all targets fit, the matrix is built once for every
            block; else it is rebuilt per block in chunks of targets (same result).
        release_pages (bool, optional): hand the pages of read-only memory maps (a DiskGraph
            opened with ``mmap_mode='r'``, a ``.npy`` feature map) back to the page cache between
            the walk and correction phases, so that the graph and the features are never both
            resident in this process (see :func:`_maps`).  Default: when those maps exceed 2 GiB.

    Returns:
        ``np.memmap [len(targets), F]`` when ``out`` is given, else a float32 tensor
        ``[len(targets), len(columns)]``.

    Shapes:
        ``x [N, F]``, ``targets [T]`` :math:`\to` ``[T, F]``.

    Example:
        >>> import torch, gnnkit
        >>> from gnnkit.precompute import gbp_precompute, propagate_exact
        >>> g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
        >>> x = torch.tensor([[1.0], [0.0], [2.0]])
        >>> est = gbp_precompute(g, x, torch.tensor([0, 2]), num_levels=3, r_max=0.0, seed=0)
        >>> ref = propagate_exact(g, x, num_levels=3, targets=torch.tensor([0, 2]))
        >>> bool(torch.allclose(est.double(), ref, atol=1e-6))
        True
    """
    g = as_graph(graph)
    if g.edge_weight is not None:
        raise ValueError("gbp_precompute: GBP is defined on the unweighted adjacency, but the graph has "
                         "edge weights; drop them (gnnkit.Graph(g.indptr, g.indices, directed=g.directed))")
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r <= 1:
        raise ValueError(f"gbp_precompute: r must be in [0, 1], got {r!r}")
    if isinstance(r_max, bool) or not isinstance(r_max, (int, float)) or not r_max >= 0 or math.isinf(r_max):
        raise ValueError(f"gbp_precompute: r_max must be a finite number >= 0, got {r_max!r}")
    if isinstance(num_walks, bool) or not isinstance(num_walks, int) or num_walks < 0:
        raise ValueError(f"gbp_precompute: num_walks must be an int >= 0, got {num_walks!r}")
    if isinstance(walk_memory, bool) or not isinstance(walk_memory, int) or walk_memory < 1:
        raise ValueError(f"gbp_precompute: walk_memory must be a positive int (bytes), got {walk_memory!r}")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"gbp_precompute: block_size must be a positive int, got {block_size!r}")
    w = gbp_weights(weights, num_levels, alpha=alpha, t=t)
    n = g.num_nodes
    feats = feature_source(graph, x)
    if len(feats.shape) != 2 or feats.shape[0] != n:
        raise ValueError(f"gbp_precompute: x must have shape [{n}, F], got {tuple(feats.shape)}")
    F = int(feats.shape[1])
    tgt = _targets(targets, n)
    if columns is None:
        columns = slice(0, F)
    if not isinstance(columns, slice) or columns.step not in (None, 1):
        raise ValueError(f"gbp_precompute: columns must be a slice with step 1, got {columns!r}")
    c_lo, c_hi, _ = columns.indices(F)
    c_hi = max(c_hi, c_lo)
    # Blocks on a global grid of block_size, clipped to the slice: every process agrees on them.
    blocks = []
    for b0 in range((c_lo // block_size) * block_size, c_hi, block_size):
        lo, hi = max(b0, c_lo), min(b0 + block_size, c_hi)
        if lo < hi:
            blocks.append((lo, hi))

    state = None
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        params = {"num_nodes": n, "num_edges": int(g.num_edges), "F": F, "num_targets": int(tgt.numel()),
                  "targets": _fingerprint(tgt), "num_levels": int(num_levels), "r": float(r),
                  "weights": [float(v) for v in w], "r_max": float(r_max), "num_walks": int(num_walks)}
        state_exists = resume and Path(str(out_path) + STATE_SUFFIX).exists()
        if seed is None and not state_exists:
            seed = draw_seed(generator)
        mm, state, seed = _open_output(out_path, (tgt.numel(), F), params, seed, resume)
        done = {tuple(b) for b in state["done"]}
        todo = [b for b in blocks if b not in done]
    else:
        if seed is None:
            seed = draw_seed(generator)
        todo = blocks
        result = torch.zeros(tgt.numel(), c_hi - c_lo, dtype=torch.float32)

    C = ops()
    if todo:
        t_rowptr, t_col = _push_csr(g)
        L, T = int(num_levels), int(tgt.numel())
        use_walks = num_walks > 0 and L > 0 and T > 0
        # Walk-matrix rows of `chunk` targets at a time: at most L * n_r entries of 12 bytes each
        # per target.  If all targets fit in walk_memory the matrix is built once and shared by
        # every block; otherwise each block rebuilds it chunk by chunk (the same walks: streams are
        # keyed by (seed, target, walk), so the result does not depend on the chunking).
        per_target = 12 * max(L, 1) * max(int(num_walks), 1) + 8 * max(L, 1)
        chunk = max(1, int(walk_memory) // per_target)
        graph_maps = _maps(*(getattr(graph, k, None) for k in ("indptr", "indices", "t_indptr", "t_indices")))
        feat_maps = _maps(feats)
        if release_pages is None:
            release_pages = sum(len(m) for m in graph_maps + feat_maps) > _RELEASE_BYTES
        if not release_pages:
            graph_maps, feat_maps = [], []
        shared = None
        if use_walks and T <= chunk:
            shared = C.gbp_walk_matrix(g.indptr, g.indices, tgt, L, int(num_walks), int(seed))
            _release(graph_maps)
        d_pos = (g.indptr[tgt + 1] - g.indptr[tgt]).clamp(min=1).to(torch.float64).pow(float(r)).unsqueeze(1)
        it = todo
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(todo, desc="GBP column blocks", unit="block")
        for (b0, b1) in it:
            xb = _block(feats, b0, b1)
            direct, thr, res_node, res_val = C.gbp_push(g.indptr, g.indices, xb, tgt, w, float(r), float(r_max),
                                                        t_rowptr, t_col)
            if not bool(torch.isfinite(thr).all()):  # thr_c = r_max * ||D^-r x_c||_1: any NaN/inf in x_c
                c = int((~torch.isfinite(thr)).nonzero()[0])
                col = xb[:, c]
                bad = int((~torch.isfinite(col)).nonzero()[0])
                raise ValueError(f"gbp_precompute: x[{bad}, {b0 + c}] = {float(col[bad])} is not finite")
            _release(feat_maps + graph_maps)
            if use_walks:
                for a in range(0, T, chunk):
                    tc = tgt[a:a + chunk]
                    S = shared if shared is not None else C.gbp_walk_matrix(g.indptr, g.indices, tc, L,
                                                                             int(num_walks), int(seed))
                    _release(graph_maps)
                    direct[a:a + chunk] += C.gbp_correct(g.indptr, xb, tc, w, float(r), thr, res_node, res_val,
                                                         *S, int(num_walks))
                    del S
                    _release(feat_maps)
            est = direct * d_pos  # P(s) = d_s^r * (exact part + walk correction)
            if out_path is not None:
                mm[:, b0:b1] = est.numpy().astype(np.float32)
                mm.flush()
                _mark_done(out_path, (b0, b1))
            else:
                result[:, b0 - c_lo:b1 - c_lo] = est.to(torch.float32)
    if out_path is not None:
        return mm
    return result
