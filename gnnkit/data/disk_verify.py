r"""``gnnkit data verify``: the full, streamed check of a DiskGraph directory.

:func:`verify_diskgraph` checks everything the format stores (see :mod:`gnnkit.data.disk`):

1. every file's size and checksum (streamed, 16 MiB blocks), and no ``.npy`` file in the
   directory that ``meta.json`` does not list;
2. then, with ``structure=True``, only if the checksums match (so the arrays are the ones that
   were written, and ids can be trusted to be what the checks below read):

   - each CSR (``indptr``/``indices`` and ``t_indptr``/``t_indices``): ``indptr[0] = 0``,
     non-decreasing, ``indptr[N] = E``; ids in ``[0, N)``, ascending within a row, strictly
     when ``meta.json`` says ``coalesced``;
   - ``t_perm`` is a permutation of ``0..E-1`` (a bitset of :math:`E/8` bytes);
   - the stored transpose is the CSR's transpose: entry :math:`q` of source row :math:`s` with
     destination :math:`d = t\_indices[q]` names CSR position :math:`p = t\_perm[q]` with
     ``indices[p] = s`` and ``indptr[d] <= p < indptr[d+1]``.  Together with the permutation
     check this is a bijection between the two arc lists, so spmm's forward (CSR) and backward
     (transpose) use one graph.  An undirected graph must equal its transpose: proved when the
     transpose arrays *are* the CSR's files, else checked by comparing them; an undirected
     graph without a stored transpose gets the weaker in-degree = out-degree test;
   - ``edge_weight`` and ``features`` finite; ``labels >= -1``; split ids in ``[0, N)``, no id
     twice in a split, no id in two splits.

Memory: one block of each streamed array, plus :math:`N` bytes (split owners) and :math:`E/8`
bytes (the ``t_perm`` bitset).  The transpose check reads ``indices``/``indptr`` at random
positions through the memory map.  Every problem found is listed in one :class:`DiskGraphError`.
"""
from __future__ import annotations

import numpy as np

from gnnkit.data.disk_format import (DEFAULT_CHECKSUM, READ_BYTES, DiskGraphError, iter_payload,
                                     iter_rows, new_hasher, read_rows)

__all__ = ["verify_diskgraph"]


def _kernels():
    from gnnkit.data import kernels  # numba: imported on first use

    return kernels


def verify_diskgraph(dg, *, structure: bool = True, progress: bool = False) -> dict:
    """Verify the opened DiskGraph ``dg`` (see the module docstring).

    Returns:
        dict: ``{"ok": True, "files": {file: "ok"}, "bytes": total, "checks": [...]}``.

    Raises:
        DiskGraphError: listing every problem found (file, expected, actual).
    """
    problems: list[str] = []
    files: dict = {}
    total = 0
    algo = dg.meta.get("checksum_algorithm", DEFAULT_CHECKSUM)
    seen = set()
    entries = list(dg.meta["arrays"].items())
    bar = None
    if progress:
        from tqdm import tqdm

        todo = sum(e["bytes"] for e in {e["file"]: e for _, e in entries}.values())
        bar = tqdm(total=todo, unit="B", unit_scale=True, desc="verify")
    try:
        for _, entry in entries:
            f = dg.path / entry["file"]
            if entry["file"] in seen:
                continue
            seen.add(entry["file"])
            if not f.is_file():
                problems.append(f"{f}: missing")
                continue
            size = f.stat().st_size
            if size != entry["bytes"]:
                problems.append(f"{f}: expected {entry['bytes']} bytes, found {size}")
                continue
            stored = str(entry.get("checksum", ""))
            h = new_hasher(stored.split(":", 1)[0] if ":" in stored else algo)
            for mv in iter_payload(f, entry["offset"], size - entry["offset"]):
                h.update(mv)
                if bar is not None:
                    bar.update(len(mv))
            got = f"{stored.split(':', 1)[0] if ':' in stored else algo}:{h.hexdigest()}"
            if got != stored:
                problems.append(f"{f}: checksum mismatch: expected {stored}, computed {got}")
                continue
            files[entry["file"]] = "ok"
            total += size
    finally:
        if bar is not None:
            bar.close()
    listed = {e["file"] for _, e in entries}
    for f in sorted(dg.path.glob("*.npy")):
        if f.name not in listed:
            problems.append(f"{f}: not listed in meta.json (an array entry was removed, or a "
                            "stray file was added)")
    checks = ["sizes", "checksums", "no unlisted arrays"]
    if structure and not problems:
        problems += _check_structure(dg, checks)
    if problems:
        raise DiskGraphError(f"{dg.path}: verification failed:\n  " + "\n  ".join(problems))
    return {"ok": True, "files": files, "bytes": total, "checks": checks}


def _file(dg, name):
    entry = dg.meta["arrays"][name]
    return dg.path / entry["file"], entry


def _check_structure(dg, checks: list) -> list[str]:
    problems = []
    strict = bool(dg.meta.get("coalesced", False))
    arrays = dg.meta["arrays"]
    shared = "t_indptr" in arrays and (arrays["t_indptr"]["file"], arrays["t_indices"]["file"]) \
        == (arrays["indptr"]["file"], arrays["indices"]["file"])
    for ptr_name, idx_name in (("indptr", "indices"), ("t_indptr", "t_indices")):
        if ptr_name not in arrays or (ptr_name == "t_indptr" and shared):
            continue  # a symmetric graph's transpose is the CSR itself, checked above
        msg = _check_csr(dg, ptr_name, idx_name, strict)
        if msg:
            problems.append(msg)
    checks.append("csr")
    if "t_perm" in arrays and not problems:
        msg = _check_perm(dg)
        if msg:
            problems.append(msg)
        else:
            checks.append("t_perm permutation")
            msg = _check_transpose(dg)
            if msg:
                problems.append(msg)
            else:
                checks.append("transpose = CSR transposed" + (" (symmetric)" if shared else ""))
                if not dg.directed and not shared:
                    msg = _check_same(dg, ("indptr", "t_indptr"), ("indices", "t_indices"))
                    if msg:
                        problems.append(msg)
                    else:
                        checks.append("symmetric (undirected)")
    if not problems and not dg.directed and "t_perm" not in arrays:
        msg = _check_degrees(dg)
        if msg:
            problems.append(msg)
        else:
            checks.append("in-degree = out-degree (undirected, no stored transpose)")
    for name in ("edge_weight", "features"):
        if name in arrays:
            msg = _check_finite(dg, name)
            if msg:
                problems.append(msg)
            else:
                checks.append(f"{name} finite")
    if "labels" in arrays:
        f, entry = _file(dg, "labels")
        for r, a in iter_rows(f, entry):
            if a.size and int(a.min()) < -1:
                bad = int(np.argwhere(a.reshape(a.shape[0], -1) < -1)[0][0])
                problems.append(f"{f}: labels[{r + bad}] = {a[bad].tolist()} has a value < -1 "
                                "(-1 marks an unlabelled node)")
                break
        checks.append("labels >= -1")
    msg = _check_splits(dg)
    if msg:
        problems.append(msg)
    elif any(k.startswith("split_") for k in arrays):
        checks.append("splits in range, unique, disjoint")
    return problems


def _check_csr(dg, ptr_name: str, idx_name: str, strict: bool) -> str | None:
    n, e = dg.num_nodes, dg.num_edges
    pf, pe = _file(dg, ptr_name)
    jf, ie = _file(dg, idx_name)
    check_rows = _kernels().check_rows
    last = 0
    step = max(1, READ_BYTES // 8)
    for r0 in range(0, n, step):
        # Each block of rows [r0, r1) reads indptr[r0 : r1 + 1], so every row has both ends.
        r1 = min(r0 + step, n)
        ptr = read_rows(pf, pe, r0, r1 + 1)
        if r0 == 0 and int(ptr[0]) != 0:
            return f"{pf}: {ptr_name}[0]={int(ptr[0])}, expected 0"
        d = np.diff(ptr)
        if d.size and int(d.min()) < 0:
            return f"{pf}: {ptr_name} decreases at row {r0 + int(np.flatnonzero(d < 0)[0])}"
        last = int(ptr[-1])
        lo, hi = int(ptr[0]), int(ptr[-1])
        if hi > e:
            return f"{pf}: {ptr_name} reaches {hi} > E={e}"
        j, prev = 0, -1
        for p0, vals in iter_rows(jf, ie, lo, hi):
            bad, code, j, prev = check_rows(vals, p0, ptr, j, prev, n, strict)
            if bad >= 0:
                row = r0 + j
                what = {1: f"out of range [0, {n})", 2: "not ascending within its row",
                        3: "a duplicate in a coalesced row"}[code]
                return f"{jf}: {idx_name}[{bad}]={int(vals[bad - p0])} (row {row}) is {what}"
    if n == 0:
        last = int(read_rows(pf, pe, 0, 1)[0])
    if last != e:
        return f"{pf}: {ptr_name}[N]={last}, expected E={e}"
    return None


def _check_perm(dg) -> str | None:
    e = dg.num_edges
    f, entry = _file(dg, "t_perm")
    marks = np.zeros((e + 7) // 8, np.uint8)
    perm_marks = _kernels().perm_marks
    for r, a in iter_rows(f, entry):
        bad, code = perm_marks(a, marks, e)
        if bad >= 0:
            v = int(a[bad])
            if code == 1:
                return f"{f}: t_perm[{r + bad}]={v} out of range [0, {e})"
            return (f"{f}: t_perm is not a permutation: t_perm[{r + bad}]={v} repeats an "
                    "earlier entry")
    return None  # E entries, all distinct and in [0, E): a permutation


def _check_transpose(dg) -> str | None:
    n = dg.num_nodes
    indptr, indices = dg.indptr, dg.indices  # memory maps: random reads
    tpf, tpe = _file(dg, "t_indptr")
    tif, tie = _file(dg, "t_indices")
    tqf, tqe = _file(dg, "t_perm")
    check = _kernels().check_transpose
    step = max(1, READ_BYTES // 8)
    for r0 in range(0, n, step):
        r1 = min(r0 + step, n)
        tptr = read_rows(tpf, tpe, r0, r1 + 1)
        lo, hi = int(tptr[0]), int(tptr[-1])
        j = 0
        for q0, perm in iter_rows(tqf, tqe, lo, hi):
            t_idx = read_rows(tif, tie, q0, q0 + perm.shape[0])
            bad, code, j = check(t_idx, perm, q0, tptr, j, r0, indptr, indices)
            if bad >= 0:
                k = bad - q0
                s, d, p = r0 + j, int(t_idx[k]), int(perm[k])
                if code == 1:
                    return (f"{tqf}: the stored transpose disagrees with the CSR: transposed "
                            f"entry {bad} (arc {s} -> {d}) points at CSR position {p}, whose "
                            f"source is {int(indices[p])}, not {s}")
                return (f"{tqf}: the stored transpose disagrees with the CSR: transposed entry "
                        f"{bad} (arc {s} -> {d}) points at CSR position {p}, which is not in row "
                        f"{d} (positions {int(indptr[d])}..{int(indptr[d + 1]) - 1})")
    return None


def _check_same(dg, *pairs) -> str | None:
    """Undirected graph with separate transposed files: symmetric iff the transposed CSR equals
    the CSR (given that it is the CSR's transpose, checked before)."""
    for a, b in pairs:
        fa, ea = _file(dg, a)
        fb, eb = _file(dg, b)
        for (r, x), (_, y) in zip(iter_rows(fa, ea), iter_rows(fb, eb)):
            if not np.array_equal(x, y):
                k = int(np.flatnonzero(x != y)[0])
                return (f"{dg.path}: meta.json says undirected but the graph is not symmetric: "
                        f"{a}[{r + k}]={int(x[k])} while its transpose has {int(y[k])}")
    return None


def _check_degrees(dg) -> str | None:
    n = dg.num_nodes
    f, entry = _file(dg, "indices")
    out = np.zeros(n, np.int64)
    for _, a in iter_rows(f, entry):
        out += np.bincount(a, minlength=n)
    ind = np.diff(np.asarray(dg.indptr))
    if not np.array_equal(out, ind):
        v = int(np.flatnonzero(out != ind)[0])
        return (f"{dg.path}: meta.json says undirected but node {v} has in-degree {int(ind[v])} "
                f"and out-degree {int(out[v])}; the graph is not symmetric")
    return None


def _check_finite(dg, name: str) -> str | None:
    f, entry = _file(dg, name)
    for r, a in iter_rows(f, entry):
        if a.size and not np.isfinite(a).all():
            bad = int(np.argwhere(~np.isfinite(a.reshape(a.shape[0], -1)))[0][0])
            return f"{f}: {name}[{r + bad}] holds a non-finite value"
    return None


def _check_splits(dg) -> str | None:
    n = dg.num_nodes
    names = sorted(k for k in dg.meta["arrays"] if k.startswith("split_"))
    if not names:
        return None
    owner = np.full(n, -1, np.int16)
    for i, name in enumerate(names):
        f, entry = _file(dg, name)
        for r, a in iter_rows(f, entry):
            if not a.size:
                continue
            if int(a.min()) < 0 or int(a.max()) >= n:
                bad = int(np.flatnonzero((a < 0) | (a >= n))[0])
                return f"{f}: {name}[{r + bad}]={int(a[bad])} out of range [0, {n})"
            prev = owner[a]
            if (prev >= 0).any():
                k = int(np.flatnonzero(prev >= 0)[0])
                other = names[int(prev[k])]
                if other == name:
                    return f"{f}: node {int(a[k])} appears twice in {name}"
                return f"{f}: node {int(a[k])} is in both {other} and {name}"
            u, c = np.unique(a, return_counts=True)
            if (c > 1).any():
                return f"{f}: node {int(u[c > 1][0])} appears twice in {name}"
            owner[a] = i
    return None
