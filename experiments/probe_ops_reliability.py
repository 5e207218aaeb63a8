"""Reliability probes of the kernels and ops (issue #14, classes 1, 2, 4 and 6).

Every probe calls an op through ``gnnkit.ops`` or directly through ``torch.ops.gnnkit`` with one
kind of bad or odd input and says what must happen: a typed error (TypeError / ValueError /
IndexError / torch.OutOfMemoryError), or the same answer as a reference (the contiguous input,
torch.softmax on dense rows, gnnkit.testing's oracles).  Probes run in child processes, in
batches; a child that dies (a signal) records a crash for the probe in flight and the run goes on
in a fresh child.  Outcomes: ok (expected typed error or correct answer), crash, untyped_error,
wrong_answer, silent_accept (malformed input returned without an error), rejected_valid.

    python experiments/probe_ops_reliability.py            # all probes
Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from types import SimpleNamespace

import torch

TYPED = (TypeError, ValueError, IndexError, torch.OutOfMemoryError)
NAN, INF = float("nan"), float("inf")


def strided(t):
    if t.numel() == 0:
        return t
    big = torch.full((2 * t.numel(),), -7 if not t.is_floating_point() else 1e30, dtype=t.dtype)
    big[::2] = t.reshape(-1)
    return big[::2].reshape(t.shape) if t.dim() != 1 else big[::2]


def build():
    """[(name, class, fn, kind)]: kind 'typed' (must raise a typed error) or 'same' (fn returns
    (got, want) that must be equal, NaN == NaN)."""
    import gnnkit
    from gnnkit import ops as O
    from gnnkit._graph_utils import csr_transpose
    from gnnkit.ops._library import ops
    from gnnkit.testing import edge_softmax_reference, gat_attention_reference, random_edge_index

    C = ops()
    g = gnnkit.Graph.from_edge_index(random_edge_index(20, 80, seed=5), num_nodes=20)
    rp, col = g.indptr, g.indices
    t_rp, t_col, t_perm = g.transpose()
    E, N = col.numel(), 20
    x3 = torch.randn(N, 2, 4, dtype=torch.float64)
    x2 = x3.flatten(1)
    a_s, a_d = torch.randn(N, 2, dtype=torch.float64), torch.randn(N, 2, dtype=torch.float64)
    start, tg = torch.arange(N), torch.tensor([0, 3, 7])
    w = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    probes = []

    def add(name, cls, fn, kind):
        probes.append((name, cls, fn, kind))

    # fixed random inputs, so that a probe and its reference see the same values
    v2 = torch.rand(E, 2, dtype=torch.float64)
    v1 = torch.rand(E, dtype=torch.float64)
    s2 = torch.randn(E, 2, dtype=torch.float64)
    y2, g2 = torch.rand(E, 2, dtype=torch.float64), torch.randn(E, 2, dtype=torch.float64)
    o3, l2, go3 = (torch.randn(N, 2, 4, dtype=torch.float64), torch.randn(N, 2, dtype=torch.float64),
                   torch.randn(N, 2, 4, dtype=torch.float64))

    # one raw call per op, parameterised by (rowptr, col) -- and for the transposed CSR ops by it
    def raw_calls(r, c):
        return {
            "spmm_sum": lambda: C.spmm_sum(r, c, None, x3, False),
            "spmm_mean_w": lambda: C.spmm_sum(r, c, v2, x3, True),
            "spmm_max": lambda: C.spmm_arg(r, c, None, x2, "max"),
            "spmm_min_w": lambda: C.spmm_arg(r, c, v1, x2, "min"),
            "sddmm": lambda: C.sddmm(r, c, x3, x3),
            "edge_softmax": lambda: C.edge_softmax(r, s2),
            "edge_softmax_backward": lambda: C.edge_softmax_backward(r, y2, g2),
            "gat": lambda: C.gat_attention(r, c, x3, a_s, a_d, 0.2, 0.0, 0),
            "gat_backward": lambda: C.gat_attention_backward(r, c, t_rp, t_col, t_perm, x3, a_s, a_d, o3, l2, go3,
                                                             0.2, 0.0, 0),
            "random_walk": lambda: C.random_walk(r, c, start, 5, 1.0, 1.0, 0.0, 1),
            "node2vec": lambda: C.random_walk(r, c, start, 5, 0.5, 2.0, 0.0, 1),
            "restart_walk": lambda: C.random_walk(r, c, start, 5, 1.0, 1.0, 0.2, 1),
            "saint_random_walk": lambda: C.saint_random_walk(r, c, start, 5, 1),
            "gbp_walk_matrix": lambda: C.gbp_walk_matrix(r, c, tg, 3, 8, 1),
            "gbp_push": lambda: C.gbp_push(r, c, x2, tg, w, 0.5, 1e-3),
            "count_paths": lambda: C.count_paths(r, c, 3, "ap", 10**9),
            "path_count_bound": lambda: C.path_count_bound(r, c, 3, "sp+"),
            "enumerate_paths": lambda: C.enumerate_paths(r, c, C.count_paths(rp, col, 2, "sp", 10**9), 2, "sp"),
            "neighbor_sample": lambda: C.neighbor_sample(r, c, torch.tensor([1, 4]), [3, 2], None, 0),
            "neighbor_sample_directed": lambda: C.neighbor_sample(r, c, torch.tensor([1, 4]), [3], None, 0,
                                                                  t_rp, t_col, t_perm),
        }

    good = raw_calls(rp, col)

    def same_as(fn_bad, fn_good):
        return lambda: (fn_bad(), fn_good())

    # ---- class 1: strided and zero-stride index tensors
    for op in good:
        add(f"torch.ops {op}: strided col", 1, same_as(raw_calls(rp, strided(col))[op], good[op]), "same")
        add(f"torch.ops {op}: strided rowptr", 1, same_as(raw_calls(strided(rp), col)[op], good[op]), "same")
        add(f"torch.ops {op}: col = ei[1] of ei.T", 1,
            same_as(raw_calls(rp, torch.stack([col.long() * 0, col.long()], 1)[:, 1].to(col.dtype))[op], good[op]),
            "same")
        huge = torch.zeros(1, dtype=torch.long).expand(2**40 + 1)
        add(f"torch.ops {op}: zero-stride rowptr of 2**40+1", 1, raw_calls(huge, col)[op], "typed")
        if op not in ("edge_softmax", "edge_softmax_backward"):
            add(f"torch.ops {op}: zero-stride col", 1, raw_calls(rp, torch.zeros(1, dtype=col.dtype).expand(E))[op],
                "ok_or_typed")
    fake = SimpleNamespace(indptr=strided(rp), indices=strided(col), num_nodes=N, edge_weight=None,
                           transpose=g.transpose)
    for red in ("sum", "mean", "max", "min"):
        add(f"gnnkit.ops.spmm {red}: strided graph", 1, same_as(lambda red=red: O.spmm(fake, x2, red),
                                                                lambda red=red: O.spmm(g, x2, red)), "same")
        add(f"gnnkit.ops.spmm {red}: strided x", 1,
            same_as(lambda red=red: O.spmm(g, strided(x2), red), lambda red=red: O.spmm(g, x2, red)), "same")
    add("gnnkit.ops.sddmm: strided graph", 1, same_as(lambda: O.sddmm(fake, x3, x3), lambda: O.sddmm(g, x3, x3)), "same")
    add("gnnkit.ops.gat_attention: strided graph", 1,
        same_as(lambda: O.gat_attention(fake, x3, a_s, a_d), lambda: O.gat_attention(g, x3, a_s, a_d)), "same")
    s1 = torch.randn(E, dtype=torch.float64)
    add("gnnkit.ops.edge_softmax: strided scores", 1,
        same_as(lambda: O.edge_softmax(g, strided(s1)), lambda: O.edge_softmax(g, s1)), "same")

    # ---- class 2: degenerate CSR and forged pointer arrays
    empty = torch.zeros(0, dtype=torch.long)
    bad_rowptrs = {"empty rowptr": empty, "rowptr[0] = 1": torch.cat([torch.tensor([1]), rp[1:]]),
                   "non-monotone rowptr": torch.cat([rp[:3], torch.tensor([E + 5]), rp[4:]]),
                   "rowptr[-1] != len(col)": torch.cat([rp[:-1], torch.tensor([E - 1])]),
                   "int32 rowptr": rp.int(), "2-D rowptr": rp.reshape(1, -1)}
    for what, r in bad_rowptrs.items():
        for op, fn in raw_calls(r, col).items():
            add(f"torch.ops {op}: {what}", 2, fn, "typed")
    bad_cols = {"col out of range": torch.cat([col[:-1], torch.tensor([N + 3], dtype=col.dtype)]),
                "negative col": torch.cat([torch.tensor([-1], dtype=col.dtype), col[1:]]),
                "float col": col.double()}
    for what, c in bad_cols.items():
        for op, fn in raw_calls(rp, c).items():
            if op.startswith("edge_softmax"):
                continue  # reads no col
            add(f"torch.ops {op}: {what}", 2, fn, "typed")
    _, thr, rn, rv = C.gbp_push(rp, col, x2, tg, w, 0.5, 1e-3, t_rp, t_col)
    sp, sn, sc = C.gbp_walk_matrix(rp, col, tg, 3, 8, 1)
    forged = {"s_ptr interior beyond s_node": lambda: sp.clone().index_fill_(0, torch.tensor([1]), 10**6),
              "s_ptr decreasing": lambda: torch.cat([sp[:2], sp[1:2] - 1, sp[3:]]) if sp.numel() > 3 else sp + 1,
              "s_ptr[-1] short": lambda: torch.cat([sp[:-1], sp[-1:] - 1])}
    for what, mk in forged.items():
        add(f"torch.ops gbp_correct: {what}", 2,
            lambda mk=mk: C.gbp_correct(rp, x2, tg, w, 0.5, thr, rn, rv, mk(), sn, sc, 8), "typed")
    add("torch.ops gbp_correct: s_node out of range", 2,
        lambda: C.gbp_correct(rp, x2, tg, w, 0.5, thr, rn, rv, sp, sn.clone().fill_(N), sc, 8), "typed")
    add("torch.ops gbp_correct: s_count > num_walks", 2,
        lambda: C.gbp_correct(rp, x2, tg, w, 0.5, thr, rn, rv, sp, sn, sc.clone().fill_(9), 8), "typed")
    add("torch.ops gbp_correct: genuine walk matrix", 2,
        lambda: (C.gbp_correct(rp, x2, tg, w, 0.5, thr, rn, rv, sp, sn, sc, 8),) * 2, "same")
    bad_perm = {"t_perm out of range": t_perm + E, "t_perm negative": t_perm - E,
                "t_perm not a permutation": torch.zeros_like(t_perm),
                "t_perm of another graph": t_perm.flip(0)}
    for what, p in bad_perm.items():
        add(f"torch.ops neighbor_sample: {what}", 2,
            lambda p=p: C.neighbor_sample(rp, col, torch.tensor([1, 4]), [3], None, 0, t_rp, t_col, p), "typed")
        add(f"torch.ops gat_attention_backward: {what}", 2,
            lambda p=p: C.gat_attention_backward(rp, col, t_rp, t_col, p, x3, a_s, a_d, x3, a_s, x3, 0.2, 0.0, 0),
            "typed")
    add("torch.ops gbp_push: t_rowptr non-monotone", 2,
        lambda: C.gbp_push(rp, col, x2, tg, w, 0.5, 1e-3, torch.cat([t_rp[:2], t_rp[1:2] + E, t_rp[3:]]), t_col),
        "typed")

    # ---- class 4: non-finite attention scores (torch.softmax semantics)
    for poison in (NAN, INF, -INF):
        s = torch.randn(E, 2, dtype=torch.float64)
        s[0, 0] = poison
        add(f"gnnkit.ops.edge_softmax: {poison} score", 4,
            lambda s=s: (O.edge_softmax(g, s), edge_softmax_reference(g, s)), "same")
        s_all = torch.full((E, 1), -INF, dtype=torch.float64)
        add("gnnkit.ops.edge_softmax: all -inf", 4, lambda s=s_all: (O.edge_softmax(g, s), edge_softmax_reference(g, s)),
            "same")
        for which in ("alpha_src", "alpha_dst"):
            aa_s, aa_d = a_s.clone(), a_d.clone()
            (aa_s if which == "alpha_src" else aa_d)[int(col[0]) if which == "alpha_src" else 0, 0] = poison
            add(f"gnnkit.ops.gat_attention: {poison} in {which}", 4,
                lambda aa_s=aa_s, aa_d=aa_d: (O.gat_attention(g, x3, aa_s, aa_d),
                                              gat_attention_reference(g, x3, aa_s, aa_d)), "same")

            def grads(fn, aa_s=aa_s, aa_d=aa_d):
                leaves = [t.clone().requires_grad_() for t in (x3, aa_s, aa_d)]
                out = fn(*leaves)
                out.backward(torch.ones_like(out))
                return torch.cat([lf.grad.reshape(-1) for lf in leaves])
            add(f"gnnkit.ops.gat_attention backward: {poison} in {which}", 4,
                lambda grads=grads: (grads(lambda *a: O.gat_attention(g, *a)),
                                     grads(lambda *a: gat_attention_reference(g, *a))), "same")

    # ---- class 6: sizes and allocation failures
    add("torch.ops random_walk: walk_length 2**62 (overflow)", 6,
        lambda: C.random_walk(t_rp, t_col, start, 2**62, 1.0, 1.0, 0.0, 0), "typed")
    add("gnnkit.ops.random_walk: walk_length 2**40 (allocation)", 6,
        lambda: O.random_walk(g, start, 2**40, seed=0), "typed")
    add("torch.ops gbp_walk_matrix: num_levels 2**62", 6, lambda: C.gbp_walk_matrix(rp, col, tg, 2**62, 8, 0), "typed")
    add("torch.ops saint_random_walk: walk_length 2**40", 6, lambda: C.saint_random_walk(rp, col, start, 2**40, 0),
        "typed")
    add("csr_transpose: index out of range (bincount)", 6, lambda: csr_transpose(rp, col.clone().fill_(N), N), "typed")
    add("csr_transpose: num_src 2**41 (allocation)", 6, lambda: csr_transpose(rp, col, 2**41), "typed")
    add("torch.ops spmm_arg_backward: grad dtype mismatch", 6,
        lambda: C.spmm_arg_backward(col, None, x2, x2.float(), torch.zeros(N, 8, dtype=torch.long), True, False),
        "typed")
    return probes


def classify(fn, kind):
    try:
        res = fn()
    except TYPED:
        return "ok" if kind in ("typed", "ok_or_typed") else "rejected_valid"
    except Exception:  # noqa: BLE001
        return "untyped_error"
    if kind == "typed":
        return "silent_accept"
    if kind == "ok_or_typed":
        return "ok"
    got, want = res
    try:
        flat = lambda r: [t for t in (r if isinstance(r, (tuple, list)) else [r]) if isinstance(t, torch.Tensor)]  # noqa: E731
        for a, b in zip(flat(got), flat(want), strict=True):
            torch.testing.assert_close(a, b, equal_nan=True)
    except (AssertionError, ValueError):
        return "wrong_answer"
    return "ok"


def worker(i0: int) -> None:
    torch.set_num_threads(1)
    probes = build()
    for i in range(i0, len(probes)):
        name, cls, fn, kind = probes[i]
        print(f"START {i}", flush=True)
        print(f"END {i} {classify(fn, kind)}", flush=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]))
        return
    t0 = time.time()
    probes = build()
    outcome = {}
    i = 0
    while i < len(probes):
        p = subprocess.run([sys.executable, __file__, "--worker", str(i)], capture_output=True, text=True,
                           env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=1800)
        started = None
        for ln in p.stdout.splitlines():
            parts = ln.split()
            if parts[0] == "START":
                started = int(parts[1])
            elif parts[0] == "END":
                outcome[int(parts[1])] = parts[2]
                started = None
        if started is not None:  # died inside this probe
            outcome[started] = f"crash(rc={p.returncode})"
            i = started + 1
        else:
            i = max(outcome, default=-1) + 1
            if i < len(probes) and p.returncode != 0:
                outcome[i] = f"crash(rc={p.returncode})"
                i += 1
    counts = Counter(o.split("(")[0] for o in outcome.values())
    by_class = {}
    for idx, (name, cls, _, _) in enumerate(probes):
        by_class.setdefault(cls, Counter())[outcome[idx].split("(")[0]] += 1
        if outcome[idx] != "ok":
            print(f"  {outcome[idx]:15s} class {cls}: {name}")
    for cls in sorted(by_class):
        print(f"class {cls}: {dict(by_class[cls])}")
    print(f"{len(probes)} probes in {time.time() - t0:.1f} s: {dict(counts)}")
    print("RESULT " + json.dumps({"probes": len(probes), "outcomes": dict(counts),
                                  "by_class": {str(k): dict(v) for k, v in by_class.items()},
                                  "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
