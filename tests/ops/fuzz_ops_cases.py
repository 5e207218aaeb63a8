"""Property-based fuzz cases for every op of ``TORCH_LIBRARY(gnnkit, ...)`` (hypothesis).

Run as a script (``python tests/ops/fuzz_ops_cases.py --examples 30``) it fuzzes every op in the
schema in this process and prints a JSON summary on its last line; ``tests/ops/test_fuzz_ops.py``
runs it in a subprocess, so that a crash (a signal) fails the test instead of the test run.

Each op has one entry in ``CASES``: a function ``(draw) -> Case`` that draws a small graph (empty,
isolated nodes, self loops, duplicate arcs), applies one mutation -- value-preserving (strided,
zero-stride, int32 ids, NaN/inf values) or malformed (empty / non-monotone / wrong-end rowptr, ids
out of range, wrong dtypes or shapes, forged pointer arrays, sizes that overflow or cannot be
allocated) -- and says what must happen: a malformed case must raise a typed error (TypeError,
ValueError, IndexError, torch.OutOfMemoryError); a valid case must return the oracle's answer
(``gnnkit.testing``'s dense references, torch.softmax on dense rows, brute force on tiny graphs)
or satisfy the op's defining property (walks follow arcs, samples are arcs of the graph).

**Adding an op** to the schema (csrc/gnnkit.cpp): add ``@case("new_op")`` here, a function that
draws the arguments with the helpers below and returns ``Case(call, check, valid)``; the test
fails until every op has an entry.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TYPED = (TypeError, ValueError, IndexError, torch.OutOfMemoryError)
NAN, INF = float("nan"), float("inf")


@dataclass
class Case:
    call: Callable[[], Any]
    check: Callable[[Any], None] | None  # valid input: asserts the result; None: only "no error"
    valid: bool  # False: a typed error is required
    desc: str = ""


CASES: dict[str, Callable] = {}


def case(name):
    def deco(fn):
        CASES[name] = fn
        return fn
    return deco


def schema_ops() -> list[str]:
    """The op names of ``TORCH_LIBRARY(gnnkit, ...)`` (loaded extension), without overloads."""
    from gnnkit.ops._library import ops

    ops()
    names = {n.split("::", 1)[1].split(".")[0] for n in torch._C._dispatch_get_all_op_names()
             if n.startswith("gnnkit::")}
    return sorted(names)


# ---------------------------------------------------------------------------- graphs
@dataclass
class Csr:
    n: int
    rowptr: torch.Tensor
    col: torch.Tensor
    src: torch.Tensor  # int64 per CSR position
    dst: torch.Tensor

    def graph(self, n_src=None):
        return SimpleNamespace(indptr=self.rowptr, indices=self.col, num_nodes=self.n,
                               num_src_nodes=self.n if n_src is None else n_src)

    def transpose(self, n_src=None):
        from gnnkit._graph_utils import csr_transpose
        return csr_transpose(self.rowptr, self.col, self.n if n_src is None else n_src)


def draw_csr(draw, n_max=6, e_max=14, n_src=None, min_n=0) -> Csr:
    n = draw(st.integers(min_n, n_max))
    ns = n if n_src is None else n_src
    e = draw(st.integers(0, e_max)) if n and ns else 0
    src = torch.tensor(draw(st.lists(st.integers(0, ns - 1), min_size=e, max_size=e)) if e else [], dtype=torch.long)
    dst = torch.tensor(draw(st.lists(st.integers(0, n - 1), min_size=e, max_size=e)) if e else [], dtype=torch.long)
    order = torch.argsort(dst * (ns + 1) + src, stable=True) if e else torch.zeros(0, dtype=torch.long)
    src, dst = src[order], dst[order]
    rowptr = torch.zeros(n + 1, dtype=torch.long)
    if e:
        rowptr[1:] = torch.cumsum(torch.bincount(dst, minlength=n), 0)
    dtype = draw(st.sampled_from([torch.long, torch.int32]))
    return Csr(n, rowptr, src.to(dtype), src, dst)


def strided(t: torch.Tensor) -> torch.Tensor:
    """Same values, non-contiguous (every other entry of a larger buffer)."""
    if t.numel() == 0:
        return t
    big = torch.empty((2 * t.numel(),), dtype=t.dtype)
    big[1::2] = -7 if not t.is_floating_point() else 1e30  # junk a contiguous read would see
    big[::2] = t.reshape(-1)
    return big[::2].reshape(t.shape) if t.dim() != 1 else big[::2]


VALID_CSR = ["none", "strided_col", "strided_rowptr", "expanded_rowptr"]
BAD_CSR = ["empty_rowptr", "rowptr_start", "rowptr_nonmono", "rowptr_end", "col_high", "col_negative",
           "rowptr_int32", "rowptr_float", "col_float", "col_2d", "huge_expanded_rowptr"]


def mutate_csr(draw, c: Csr, n_cols: int, allow_bad=True):
    """(rowptr, col, valid, desc): one mutation of the CSR's two tensors."""
    kinds = VALID_CSR + (BAD_CSR if allow_bad else [])
    kind = draw(st.sampled_from(kinds))
    rp, col, valid = c.rowptr, c.col, True
    E = col.numel()
    if kind == "strided_col":
        col = strided(col)
    elif kind == "strided_rowptr":
        rp = strided(rp)
    elif kind == "expanded_rowptr":
        if E == 0:
            rp = torch.zeros(1, dtype=torch.long).expand(c.n + 1)
    elif kind == "empty_rowptr":
        rp, valid = torch.zeros(0, dtype=torch.long), False
    elif kind == "rowptr_start":
        rp = rp.clone()
        rp[0] = 1
        valid = False
    elif kind == "rowptr_nonmono":
        if c.n >= 2 and E >= 1:
            rp = rp.clone()
            i = draw(st.integers(1, c.n - 1))
            rp[i] = E + 1  # beyond the end: not monotone (the last entry stays E)
            valid = False
    elif kind == "rowptr_end":
        rp = rp.clone()
        rp[-1] += draw(st.sampled_from([1, 2**40, -1 if E else 1]))
        valid = False
    elif kind in ("col_high", "col_negative"):
        if E:
            col = col.clone()
            k = draw(st.integers(0, E - 1))
            # (+2: beyond the one extra feature row a "wrong_rows" mutation may add)
            col[k] = n_cols + 2 + draw(st.integers(0, 3)) if kind == "col_high" else -1 - draw(st.integers(0, 3))
            valid = False
    elif kind == "rowptr_int32":
        rp, valid = rp.to(torch.int32), False
    elif kind == "rowptr_float":
        rp, valid = rp.double(), False
    elif kind == "col_float":
        col, valid = col.double(), False
    elif kind == "col_2d":
        col, valid = col.reshape(1, -1), False
    elif kind == "huge_expanded_rowptr":
        rp, valid = torch.zeros(1, dtype=torch.long).expand(2**40 + 1), False
    return rp, col, valid, kind


VALID_FEAT = ["plain", "strided", "nonfinite", "expanded"]
BAD_FEAT = ["int", "wrong_rows", "wrong_dim"]


def features(draw, shape, dtype=torch.float64, allow_bad=True, name="x", rows_fixed=True):
    """(tensor, valid, desc) of the given shape, maybe mutated.  rows_fixed=False: the op takes
    its row count from this tensor (e.g. spmm's x sets N_src), so an extra row is valid."""
    kind = draw(st.sampled_from(VALID_FEAT + (BAD_FEAT if allow_bad else [])))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    x = torch.randn(shape, generator=gen, dtype=dtype)
    valid = True
    if kind == "strided":
        x = strided(x)
    elif kind == "nonfinite" and x.numel():
        x = x.clone().reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            x[draw(st.integers(0, x.numel() - 1))] = draw(st.sampled_from([NAN, INF, -INF]))
        x = x.reshape(shape)
    elif kind == "expanded" and len(shape) >= 1 and shape[0] > 0:
        x = x[:1].expand(shape)
    elif kind == "int":
        x, valid = x.long(), False
    elif kind == "wrong_rows":
        x, valid = torch.randn((shape[0] + 1,) + tuple(shape[1:]), dtype=dtype), not rows_fixed
    elif kind == "wrong_dim":
        x, valid = x.reshape(-1), False
        if len(shape) == 1:
            x = x.reshape(-1, 1)
    return x, valid, f"{name}:{kind}"


def close(a, b):
    torch.testing.assert_close(a, b, equal_nan=True, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------- dense oracles
def dense_rows(c: Csr):
    """[(lo, hi)] per destination row of the clean CSR."""
    rp = c.rowptr.tolist()
    return [(rp[i], rp[i + 1]) for i in range(c.n)]


def gat_dense_rows(c: Csr, x, a_s, a_d, slope=0.2):
    """GAT aggregation with torch.softmax over each dense row of scores (torch's semantics for
    non-finite scores, forward and autograd backward)."""
    out = x.new_zeros((c.n,) + tuple(x.shape[1:]))
    rows = []
    for i, (lo, hi) in enumerate(dense_rows(c)):
        if hi == lo:
            rows.append(out[i])
            continue
        src = c.src[lo:hi]
        e = torch.nn.functional.leaky_relu(a_d[i][None, :] + a_s[src], slope)  # [d, H]
        alpha = torch.softmax(e, 0)
        rows.append((alpha[:, :, None] * x[src]).sum(0))
    return torch.stack(rows) if rows else out


def arg_oracle(c: Csr, x, w, is_max):
    F = x.shape[1]
    out = torch.zeros(c.n, F, dtype=x.dtype)
    for i, (lo, hi) in enumerate(dense_rows(c)):
        if hi > lo:
            vals = x[c.src[lo:hi]] * (1 if w is None else w[lo:hi, None])
            out[i] = vals.amax(0) if is_max else vals.amin(0)
    return out


# ---------------------------------------------------------------------------- cases
def C():
    from gnnkit.ops._library import ops
    return ops()


@case("spmm_sum")
def _spmm_sum(draw):
    from gnnkit.testing import spmm_reference
    ns = draw(st.integers(0, 5))
    c = draw_csr_fn(draw, n_src=ns)
    H, D = draw(st.integers(1, 2)), draw(st.integers(0, 3))
    rp, col, v1, d1 = mutate_csr(draw, c, ns)
    x, v2, d2 = features(draw, (ns, H, D), rows_fixed=False)
    value, v3, d3 = (None, True, "value:none") if draw(st.booleans()) else features(draw, (c.col.numel(), H),
                                                                                       name="value")
    mean = draw(st.booleans())

    def check(out):
        xc = x.contiguous()
        ref = spmm_reference(c.graph(ns), xc, "mean" if mean else "sum",
                             None if value is None else value.contiguous())
        close(out, ref)
    return Case(lambda: C().spmm_sum(rp, col, value, x, mean), check, v1 and v2 and v3, f"{d1} {d2} {d3}")


def draw_csr_fn(draw, n_src=None, **kw):
    return draw_csr(draw, n_src=n_src, **kw)


@case("spmm_arg")
def _spmm_arg(draw):
    ns = draw(st.integers(0, 5))
    c = draw_csr_fn(draw, n_src=ns)
    F = draw(st.integers(0, 3))
    rp, col, v1, d1 = mutate_csr(draw, c, ns)
    x, v2, d2 = features(draw, (ns, F), rows_fixed=False)
    value, v3, d3 = (None, True, "value:none") if draw(st.booleans()) else features(draw, (c.col.numel(),),
                                                                                       name="value")
    reduce = draw(st.sampled_from(["max", "min", "max", "min", "prod"]))

    def check(res):
        out, arg = res
        close(out, arg_oracle(c, x.contiguous(), None if value is None else value.contiguous(), reduce == "max"))
        for i, (lo, hi) in enumerate(dense_rows(c)):
            a = arg[i]
            assert bool(((a >= lo) & (a < hi)).all()) if hi > lo else bool((a == -1).all()), (i, a, lo, hi)
    return Case(lambda: C().spmm_arg(rp, col, value, x, reduce), check, v1 and v2 and v3 and reduce != "prod",
                f"{d1} {d2} {d3} {reduce}")


@case("spmm_arg_backward")
def _spmm_arg_backward(draw):
    ns = draw(st.integers(1, 5))
    c = draw_csr_fn(draw, n_src=ns, min_n=1)
    E, F = c.col.numel(), draw(st.integers(1, 3))
    x = torch.randn(ns, F, dtype=torch.float64)
    value = None if draw(st.booleans()) else torch.rand(E, dtype=torch.float64)
    _, arg = C().spmm_arg(c.rowptr, c.col, value, x, "max")
    g, v1, d1 = features(draw, (c.n, F), name="grad_out")
    kind = draw(st.sampled_from(["ok", "ok", "strided_col", "arg_high", "arg_low", "col_high", "grad_dtype",
                                 "arg_shape", "value_shape"]))
    col, arg2, gg, val2, valid = c.col, arg, g, value, v1
    if kind == "strided_col":
        col = strided(col)
    elif kind == "arg_high":
        arg2, valid = arg.clone().fill_(E + 1), False
    elif kind == "arg_low":
        arg2, valid = arg.clone().fill_(-2), False
    elif kind == "col_high" and E:
        col, valid = col.clone(), False
        col[0] = ns
    elif kind == "grad_dtype":
        gg, valid = g.float(), False
    elif kind == "arg_shape":
        arg2, valid = arg[:, :0], False
    elif kind == "value_shape" and value is not None:
        val2, valid = value[:-1] if E else torch.zeros(1, dtype=torch.float64), False

    def check(res):
        gx, gv = res
        want_x = torch.zeros_like(x)
        want_v = torch.zeros(E, dtype=x.dtype)
        gc = g.contiguous()
        for i in range(c.n):
            for f in range(F):
                k = int(arg[i, f])
                if k >= 0:
                    j = int(c.src[k])
                    want_x[j, f] += (1.0 if value is None else value[k]) * gc[i, f]
                    want_v[k] += gc[i, f] * x[j, f]
        close(gx, want_x)
        if value is not None:
            close(gv, want_v)
    return Case(lambda: C().spmm_arg_backward(col, val2, x, gg, arg2, True, value is not None), check, valid,
                f"{kind} {d1}")


@case("sddmm")
def _sddmm(draw):
    from gnnkit.testing import sddmm_reference
    ns = draw(st.integers(0, 5))
    c = draw_csr_fn(draw, n_src=ns)
    H, D = draw(st.integers(1, 2)), draw(st.integers(0, 3))
    rp, col, v1, d1 = mutate_csr(draw, c, ns)
    a, v2, d2 = features(draw, (c.n, H, D), name="a")
    b, v3, d3 = features(draw, (ns, H, D), name="b", rows_fixed=False)
    return Case(lambda: C().sddmm(rp, col, a, b),
                lambda out: close(out, sddmm_reference(c.graph(ns), a.contiguous(), b.contiguous())),
                v1 and v2 and v3, f"{d1} {d2} {d3}")


def softmax_rows(c: Csr, s):
    out = torch.empty_like(s)
    for lo, hi in dense_rows(c):
        if hi > lo:
            out[lo:hi] = torch.softmax(s[lo:hi], 0)
    return out


def scores(draw, E, H):
    """[E, H] scores with NaN / +inf / -inf sprinkled in (dense rows check torch semantics)."""
    s = torch.randn(E, H, dtype=torch.float64, generator=torch.Generator().manual_seed(draw(st.integers(0, 999))))
    if E and draw(st.booleans()):
        s = s.reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            s[draw(st.integers(0, s.numel() - 1))] = draw(st.sampled_from([NAN, INF, -INF]))
        s = s.reshape(E, H)
    return s


@case("edge_softmax")
def _edge_softmax(draw):
    c = draw_csr_fn(draw)
    rp, _, v1, d1 = mutate_csr(draw, c, c.n)
    if d1.startswith("col"):
        v1 = True  # edge_softmax reads no col
    s = scores(draw, c.col.numel(), draw(st.integers(1, 2)))
    kind = draw(st.sampled_from(["plain", "strided", "bad_len", "int"]))
    valid = v1
    if kind == "strided":
        s = strided(s)
    elif kind == "bad_len":
        s, valid = torch.zeros(s.shape[0] + 3, s.shape[1], dtype=s.dtype), False
    elif kind == "int":
        s, valid = s.long(), False
    return Case(lambda: C().edge_softmax(rp, s), lambda out: close(out, softmax_rows(c, s.contiguous())),
                valid, f"{d1} scores:{kind}")


@case("edge_softmax_backward")
def _edge_softmax_backward(draw):
    c = draw_csr_fn(draw)
    rp, _, v1, d1 = mutate_csr(draw, c, c.n)
    if d1.startswith("col"):
        v1 = True
    E, H = c.col.numel(), draw(st.integers(1, 2))
    y = softmax_rows(c, scores(draw, E, H))
    g, v2, d2 = features(draw, (E, H), name="grad_out")

    def check(out):
        gc = g.contiguous()
        want = torch.empty_like(y)
        for lo, hi in dense_rows(c):
            want[lo:hi] = y[lo:hi] * (gc[lo:hi] - (y[lo:hi] * gc[lo:hi]).sum(0))
        close(out, want)
    return Case(lambda: C().edge_softmax_backward(rp, y, g), check, v1 and v2, f"{d1} {d2}")


def gat_inputs(draw, allow_bad=True):
    ns = draw(st.integers(0, 5))
    c = draw_csr_fn(draw, n_src=ns)
    H, D = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    rp, col, v1, d1 = mutate_csr(draw, c, ns, allow_bad)
    x, v2, d2 = features(draw, (ns, H, D), allow_bad=allow_bad)
    a_s = scores(draw, ns, H)
    a_d = scores(draw, c.n, H)
    p = draw(st.sampled_from([0.0, 0.0, 0.5] + ([1.0, -0.1, NAN] if allow_bad else [])))
    return c, ns, rp, col, x, a_s, a_d, p, v1 and v2 and 0 <= p < 1, f"{d1} {d2} p={p}"


@case("gat_attention")
def _gat_attention(draw):
    c, ns, rp, col, x, a_s, a_d, p, valid, desc = gat_inputs(draw)
    t = (None, None, None) if draw(st.booleans()) else c.transpose(ns)

    def check(res):
        out, _ = res
        if p == 0:
            close(out, gat_dense_rows(c, x.contiguous(), a_s, a_d))
    return Case(lambda: C().gat_attention(rp, col, x, a_s, a_d, 0.2, p, 5, *t), check, valid, desc)


@case("gat_attention_backward")
def _gat_attention_backward(draw):
    c, ns, rp, col, x, a_s, a_d, p, valid, desc = gat_inputs(draw, allow_bad=False)
    out, lse = C().gat_attention(c.rowptr, c.col, x, a_s, a_d, 0.2, p, 5)
    g = torch.randn_like(out)
    t_rp, t_col, t_perm = c.transpose(ns)
    kind = draw(st.sampled_from(["ok", "ok", "perm_high", "perm_swap", "t_col_high", "lse_shape", "t_rowptr_end"]))
    E = c.col.numel()
    if kind == "perm_high" and E:
        t_perm, valid = t_perm + E, False
    elif kind == "perm_swap":
        t_perm, ok = swap_perm(c, t_perm)
        valid = valid and ok
    elif kind == "t_col_high" and E:
        t_col, valid = t_col.clone(), False
        t_col[0] = c.n + 3
    elif kind == "lse_shape":
        lse, valid = lse[:, :0], False
    elif kind == "t_rowptr_end":
        t_rp, valid = t_rp.clone(), False
        t_rp[-1] += 1

    def check(res):
        if p != 0:
            return
        leaves = [t.contiguous().clone().requires_grad_() for t in (x, a_s, a_d)]
        ref = gat_dense_rows(c, *leaves)
        grads = torch.autograd.grad(ref, leaves, g, allow_unused=True) if ref.requires_grad else [None] * 3
        for got, want, leaf in zip(res, grads, leaves):
            close(got, torch.zeros_like(leaf) if want is None else want)
    return Case(lambda: C().gat_attention_backward(rp, col, t_rp, t_col, t_perm, x, a_s, a_d, out, lse, g, 0.2, p, 5),
                check, valid, f"{desc} {kind}")


def swap_perm(c: Csr, perm):
    """perm with its first and last entries swapped, and whether it is still a valid transpose
    (it is not when the two arcs have different sources)."""
    if perm.numel() < 2 or int(c.src[perm[0]]) == int(c.src[perm[-1]]):
        return perm, True
    p = perm.clone()
    a, b = int(perm[0]), int(perm[-1])
    p[0], p[-1] = b, a
    return p, False


def walk_ok(c: Csr, walks, start, stay=False, restart=False):
    rows = dense_rows(c)
    nbrs = [set(c.src[lo:hi].tolist()) for lo, hi in rows]
    for w, s in zip(walks.tolist(), start.tolist()):
        assert w[0] == s
        for a, b in zip(w, w[1:]):
            if a == -1:
                assert b == -1
            elif b == -1:
                assert not nbrs[a] and not stay and not restart
            elif not (restart and b == s):
                assert b in nbrs[a] or (stay and b == a and not nbrs[a]), (w, a, b)


def walk_args(draw):
    c = draw_csr_fn(draw)
    rp, col, v1, d1 = mutate_csr(draw, c, c.n)
    W = draw(st.integers(0, 4))
    start = torch.tensor(draw(st.lists(st.integers(0, max(c.n - 1, 0)), min_size=W, max_size=W)), dtype=torch.long)
    if c.n == 0:
        start = start[:0]
    kind = draw(st.sampled_from(["ok", "ok", "strided", "int32", "high", "negative", "float", "long_walk",
                                 "huge_walk"]))
    L, valid = draw(st.integers(0, 4)), v1
    if kind == "strided":
        start = strided(start)
    elif kind == "int32":
        start = start.int()
    elif kind == "high":
        start, valid = torch.cat([start, torch.tensor([c.n + 2])]), False
    elif kind == "negative":
        start, valid = torch.cat([start, torch.tensor([-1])]), False
    elif kind == "float":
        start, valid = start.double(), False
    elif kind == "long_walk":
        L = -1 if draw(st.booleans()) else 2**62
        valid = valid and L > 0 and start.numel() == 0  # [W, L + 1] overflows unless W == 0
    elif kind == "huge_walk" and start.numel():
        L, valid = 2**40, False  # cannot be allocated: OutOfMemoryError
    return c, rp, col, start, L, valid, f"{d1} start:{kind} L={L}"


@case("random_walk")
def _random_walk(draw):
    c, rp, col, start, L, valid, desc = walk_args(draw)
    mode = draw(st.sampled_from(["uniform", "n2v", "restart", "bad_p", "bad_restart"]))
    p, q, r = {"uniform": (1.0, 1.0, 0.0), "n2v": (0.5, 2.0, 0.0), "restart": (1.0, 1.0, 0.3),
               "bad_p": (draw(st.sampled_from([0.0, -1.0, INF, NAN])), 1.0, 0.0), "bad_restart": (2.0, 1.0, 0.5)}[mode]
    # random_walk reads the CSR grouped by source; the drawn CSR serves as that
    return Case(lambda: C().random_walk(rp, col, start, L, p, q, r, 3),
                lambda w: walk_ok(c, w, start, restart=mode == "restart"), valid and not mode.startswith("bad"),
                f"{desc} {mode}")


@case("saint_random_walk")
def _saint_random_walk(draw):
    c, rp, col, start, L, valid, desc = walk_args(draw)
    return Case(lambda: C().saint_random_walk(rp, col, start, L, 3), lambda w: walk_ok(c, w, start, stay=True),
                valid, desc)


def targets(draw, n):
    T = draw(st.integers(0, 3))
    t = torch.tensor(draw(st.lists(st.integers(0, max(n - 1, 0)), min_size=T, max_size=T)), dtype=torch.long)
    return t if n else t[:0]


@case("gbp_walk_matrix")
def _gbp_walk_matrix(draw):
    c = draw_csr_fn(draw)
    rp, col, valid, d1 = mutate_csr(draw, c, c.n)
    tg = targets(draw, c.n)
    L, nw = draw(st.integers(0, 3)), draw(st.integers(0, 5))
    kind = draw(st.sampled_from(["ok", "ok", "target_high", "neg_levels", "huge_levels", "strided"]))
    if kind == "target_high":
        tg, valid = torch.cat([tg, torch.tensor([c.n])]), False
    elif kind == "neg_levels":
        L, valid = -1, False
    elif kind == "huge_levels":
        L = 2**62
        tg = torch.cat([tg, torch.zeros(2, dtype=torch.long)]) if c.n else tg
        valid = valid and tg.numel() == 0  # T * L overflows unless there are no targets
    elif kind == "strided":
        tg = strided(tg)

    def check(res):
        ptr, node, cnt = res
        assert ptr.numel() == tg.numel() * L + 1 and int(ptr[-1]) == node.numel() == cnt.numel()
        assert bool((ptr.diff() >= 0).all()) and bool(((node >= 0) & (node < max(c.n, 1))).all())
        for r in range(tg.numel() * L):
            lo, hi = int(ptr[r]), int(ptr[r + 1])
            assert int(cnt[lo:hi].sum()) <= nw and bool((cnt[lo:hi] >= 1).all())
            assert bool((node[lo:hi].diff() > 0).all())
    return Case(lambda: C().gbp_walk_matrix(rp, col, tg, L, nw, 1), check, valid, f"{d1} {kind} L={L}")


def gbp_exact(c: Csr, x, tg, w, r):
    """sum_l w_l H^(l)(targets), H^(0) = D^-r x, H^(l+1)(v) = mean over in-arcs j -> v of H^(l)(j)."""
    deg = (c.rowptr.diff().clamp(min=1)).double()
    h = x.double() * deg.pow(-r)[:, None]
    out = w[0] * h[tg]
    for l in range(1, w.numel()):
        nh = torch.zeros_like(h)
        nh.index_add_(0, c.dst, h[c.src])
        h = nh / deg[:, None]
        out = out + w[l] * h[tg]
    return out


@case("gbp_push")
def _gbp_push(draw):
    c = draw_csr_fn(draw)
    rp, col, valid, d1 = mutate_csr(draw, c, c.n)
    B = draw(st.integers(0, 2))
    x = torch.randn(c.n, B, dtype=torch.float64)
    if draw(st.booleans()):
        x = strided(x)
    tg = targets(draw, c.n)
    w = torch.rand(draw(st.integers(1, 4)), dtype=torch.float64)
    r = draw(st.sampled_from([0.0, 0.5, 1.0, 1.5]))
    use_t = draw(st.booleans())
    t = c.transpose()[:2] if use_t else (None, None)
    if r > 1:
        valid = False

    def check(res):
        direct, thr, rn, rv = res
        assert len(rn) == len(rv) == w.numel()
        close(direct, gbp_exact(c, x.contiguous(), tg, w, r))  # r_max = 0: everything is pushed
    return Case(lambda: C().gbp_push(rp, col, x, tg, w, r, 0.0, *t), check, valid, f"{d1} B={B} r={r} t={use_t}")


@case("gbp_correct")
def _gbp_correct(draw):
    c = draw_csr_fn(draw, min_n=1)
    B, nw = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    x = torch.randn(c.n, B, dtype=torch.float64)
    tg = targets(draw, c.n)
    w = torch.rand(draw(st.integers(1, 4)), dtype=torch.float64)
    r_max = draw(st.sampled_from([0.0, 0.05, 1e9]))
    t = c.transpose()[:2]
    direct, thr, rn, rv = C().gbp_push(c.rowptr, c.col, x, tg, w, 0.5, r_max, *t)
    ptr, node, cnt = C().gbp_walk_matrix(c.rowptr, c.col, tg, w.numel() - 1, nw, 2)
    kind = draw(st.sampled_from(["ok", "ok", "ptr_interior", "ptr_end", "node_high", "count_high", "count_zero",
                                 "levels", "res_unsorted", "strided_ptr"]))
    valid = True
    rp = c.rowptr
    if kind == "ptr_interior" and ptr.numel() > 2:
        ptr, valid = ptr.clone(), False
        ptr[1] = node.numel() + 5
    elif kind == "ptr_end":
        ptr, valid = ptr.clone(), False
        ptr[-1] += 1
    elif kind == "node_high" and node.numel():
        node, valid = node.clone(), False
        node[-1] = c.n
    elif kind == "count_high" and cnt.numel():
        cnt, valid = cnt.clone(), False
        cnt[0] = nw + 1
    elif kind == "count_zero" and cnt.numel():
        cnt, valid = cnt.clone(), False
        cnt[0] = 0
    elif kind == "levels":
        rn, rv, valid = rn[:-1], rv[:-1], False
    elif kind == "res_unsorted":
        lvl = [i for i, a in enumerate(rn) if a.numel() >= 2]
        if lvl:
            rn = list(rn)
            rn[lvl[0]] = rn[lvl[0]].flip(0)
            valid = False
    elif kind == "strided_ptr":
        ptr = strided(ptr)
    return Case(lambda: C().gbp_correct(rp, x, tg, w, 0.5, thr, rn, rv, ptr, node, cnt, nw),
                lambda out: out.shape == (tg.numel(), B) or (_ for _ in ()).throw(AssertionError(out.shape)),
                valid, kind)


def brute_paths(c: Csr, K):
    """Simple paths along the drawn CSR's rows (row u -> entries col[u]: the out-adjacency)."""
    nb = [sorted(set(c.src[lo:hi].tolist()) - {u}) for u, (lo, hi) in enumerate(dense_rows(c))]
    paths = {k: [] for k in range(1, K + 1)}

    def dfs(p):
        if len(p) - 1 >= 1:
            paths[len(p) - 1].append(list(p))
        if len(p) - 1 == K:
            return
        for v in nb[p[-1]]:
            if v not in p:
                dfs(p + [v])
    for s in range(c.n):
        dfs([s])
    return paths


def path_args(draw):
    c = draw_csr_fn(draw, n_max=5, e_max=10)
    rp, col, v1, d1 = mutate_csr(draw, c, c.n)
    K = draw(st.sampled_from([1, 2, 3, 3, 0, 65]))
    mode = draw(st.sampled_from(["ap", "ap", "sp", "sp+", "xx"]))
    return c, rp, col, K, mode, v1 and 1 <= K <= 64 and mode != "xx", f"{d1} K={K} {mode}"


@case("count_paths")
def _count_paths(draw):
    c, rp, col, K, mode, valid, desc = path_args(draw)

    def check(cnt):
        assert cnt.shape == (c.n, K)
        if mode == "ap":
            bp = brute_paths(c, K)
            want = torch.zeros(c.n, K, dtype=torch.long)
            for k, ps in bp.items():
                for p in ps:
                    want[p[0], k - 1] += 1
            assert torch.equal(cnt, want), (cnt, want)
    return Case(lambda: C().count_paths(rp, col, K, mode, 10**12), check, valid, desc)


@case("path_count_bound")
def _path_count_bound(draw):
    c, rp, col, K, mode, valid, desc = path_args(draw)

    def check(b):
        cnt = C().count_paths(c.rowptr, c.col, K, mode, 10**12)
        assert bool((b >= cnt.sum(0)).all()), (b, cnt.sum(0))
    return Case(lambda: C().path_count_bound(rp, col, K, mode), check, valid, desc)


@case("enumerate_paths")
def _enumerate_paths(draw):
    c, rp, col, K, mode, valid, desc = path_args(draw)
    counts = C().count_paths(c.rowptr, c.col, K, mode, 10**12) if 1 <= K <= 64 and mode != "xx" else \
        torch.zeros(c.n, max(K, 1), dtype=torch.long)
    kind = draw(st.sampled_from(["ok", "ok", "forged", "shape", "dtype"]))
    if kind == "forged" and counts.numel():
        counts, valid = counts.clone(), False
        counts[0, 0] += draw(st.sampled_from([1, -1 - int(counts[0, 0]), 2**62]))
    elif kind == "shape":
        counts, valid = counts[:, :0], False
    elif kind == "dtype":
        counts, valid = counts.int(), False
    parents = draw(st.booleans())

    def check(res):
        assert len(res) == K * (2 if parents else 1)
        if mode == "ap":
            bp = brute_paths(c, K)
            for k in range(1, K + 1):
                assert sorted(res[k - 1].tolist()) == sorted(bp[k]), (k, res[k - 1], bp[k])
    return Case(lambda: C().enumerate_paths(rp, col, counts, K, mode, parents), check, valid, f"{desc} {kind}")


@case("neighbor_sample")
def _neighbor_sample(draw):
    c = draw_csr_fn(draw, min_n=1)
    rp, col, valid, d1 = mutate_csr(draw, c, c.n)
    m = draw(st.integers(0, c.n))
    seeds = torch.randperm(c.n)[:m]
    fan = draw(st.lists(st.sampled_from([-1, 0, 1, 2, 5]), min_size=0, max_size=3))
    E = c.col.numel()
    weight = None
    if draw(st.booleans()):
        weight = torch.rand(E, dtype=torch.float64)
    directed = draw(st.booleans())
    t = c.transpose() if directed else (None, None, None)
    kind = draw(st.sampled_from(["ok", "ok", "seed_dup", "seed_high", "fan_bad", "perm_high", "perm_swap",
                                 "weight_nan", "weight_neg", "strided_seeds"]))
    if kind == "seed_dup" and m:
        seeds, valid = torch.cat([seeds, seeds[:1]]), False
    elif kind == "seed_high":
        seeds, valid = torch.cat([seeds, torch.tensor([c.n])]), False
    elif kind == "fan_bad":
        fan, valid = fan + [-2], False
    elif kind == "perm_high" and directed and E:
        t, valid = (t[0], t[1], t[2] + E), False
    elif kind == "perm_swap" and directed:
        perm, ok = swap_perm(c, t[2])
        t, valid = (t[0], t[1], perm), valid and ok
    elif kind in ("weight_nan", "weight_neg") and weight is not None and E:
        weight = weight.clone()
        weight[draw(st.integers(0, E - 1))] = NAN if kind == "weight_nan" else -1.0
        valid = False
    elif kind == "strided_seeds":
        seeds = strided(seeds)

    def check(res):
        n_id, hop_ptr, optr, ocol, oeid = res[:5]
        assert torch.equal(n_id[:seeds.numel()], seeds) and n_id.unique().numel() == n_id.numel()
        rows = torch.repeat_interleave(torch.arange(optr.numel() - 1), optr.diff())
        for r, lc, e in zip(rows.tolist(), ocol.tolist(), oeid.tolist()):
            assert int(c.src[e]) == int(n_id[lc]) and int(c.dst[e]) == int(n_id[r]), (r, lc, e)
    return Case(lambda: C().neighbor_sample(rp, col, seeds, fan, weight, 1, *t), check, valid,
                f"{d1} {kind} fan={fan} directed={directed}")


@case("neighbor_sample_hop")
def _neighbor_sample_hop(draw):
    ns = draw(st.integers(1, 6))
    c = draw_csr_fn(draw, n_src=ns, min_n=1)  # the rows a partition owns, global source ids
    rp, col, valid, d1 = mutate_csr(draw, c, ns)
    m = draw(st.integers(0, c.n))
    nodes = torch.randperm(c.n)[:m]
    keys = nodes * 3 + 1  # ids of these rows in the whole graph
    fanout = draw(st.sampled_from([-1, 0, 1, 2, 5]))
    E = c.col.numel()
    weight = torch.rand(E, dtype=torch.float64) if draw(st.booleans()) else None
    kind = draw(st.sampled_from(["ok", "ok", "node_high", "key_negative", "len_mismatch", "fanout_bad",
                                 "weight_nan", "strided"]))
    if kind == "node_high":
        nodes, keys, valid = torch.cat([nodes, torch.tensor([c.n])]), torch.cat([keys, torch.tensor([0])]), False
    elif kind == "key_negative" and m:
        keys, valid = keys.clone(), False
        keys[0] = -5
    elif kind == "len_mismatch":
        keys, valid = torch.cat([keys, torch.tensor([0])]), False
    elif kind == "fanout_bad":
        fanout, valid = -3, False
    elif kind == "weight_nan" and weight is not None and E:
        weight, valid = weight.clone(), False
        weight[0] = NAN
    elif kind == "strided":
        nodes, keys = strided(nodes), strided(keys)

    def check(res):
        cnt, src, pos = res
        assert cnt.numel() == nodes.numel() and int(cnt.sum()) == src.numel() == pos.numel()
        o = 0
        for i, v in enumerate(nodes.tolist()):
            lo, hi = int(c.rowptr[v]), int(c.rowptr[v + 1])
            k = int(cnt[i])
            assert k == (hi - lo if fanout < 0 else min(fanout, hi - lo)) or (weight is not None and k <= hi - lo)
            for q in range(o, o + k):
                assert lo <= int(pos[q]) < hi and int(src[q]) == int(c.src[int(pos[q])])
            o += k
    return Case(lambda: C().neighbor_sample_hop(rp, col, nodes, keys, ns, fanout, weight, 3, 1), check, valid,
                f"{d1} {kind} fanout={fanout}")


@case("negative_sample")
def _negative_sample(draw):
    n = draw(st.integers(1, 6))
    c = draw_csr_fn(draw, n_src=n, min_n=1)  # rows: kept endpoint; cols: candidates (sorted rows)
    rp, col, valid, d1 = mutate_csr(draw, c, n)
    per_anchor = draw(st.booleans())
    anchor = torch.randint(0, c.n, (draw(st.integers(0, 4)),)) if per_anchor else None
    K = draw(st.integers(0, 4))
    strict, exclude_self = draw(st.booleans()), draw(st.booleans())
    weight = torch.rand(n, dtype=torch.float64) + 0.1 if draw(st.booleans()) else None
    kind = draw(st.sampled_from(["ok", "ok", "anchor_high", "k_negative", "weight_nan", "weight_len",
                                 "no_candidates", "strided_anchor"]))
    if kind == "anchor_high" and anchor is not None:
        anchor, valid = torch.cat([anchor, torch.tensor([c.n])]), False
    elif kind == "k_negative":
        K, valid = -1, False
    elif kind == "weight_nan" and weight is not None:
        weight, valid = weight.clone(), False
        weight[0] = NAN
    elif kind == "weight_len" and weight is not None:
        weight, valid = torch.cat([weight, weight[:1]]), False
    elif kind == "no_candidates":
        n, valid = 0, False
    elif kind == "strided_anchor" and anchor is not None:
        anchor = strided(anchor)
    edges = {(int(a), int(b)) for a, b in zip(c.dst.tolist(), c.src.tolist())}

    def admissible(a):
        return [b for b in range(n) if not (strict and (a, b) in edges) and not (exclude_self and a == b)]

    def call():
        try:
            return C().negative_sample(rp, col, anchor, K, n, weight, strict, exclude_self, 5)
        except ValueError as e:
            # a request that cannot be met is a typed refusal, never a wrong answer
            if "cannot" in str(e) or "no admissible" in str(e):
                rows = anchor.tolist() if anchor is not None else range(c.n)
                if anchor is not None:
                    assert any(not admissible(a) for a in rows) and K > 0, str(e)
                else:
                    assert all(not admissible(a) for a in rows) and K > 0, str(e)
                return None
            raise

    def check(res):
        if res is None:
            return
        a, b = res
        assert a.shape == b.shape == ((K,) if anchor is None else (anchor.numel(), K))
        if anchor is not None and K:
            assert torch.equal(a, anchor.reshape(-1, 1).expand(-1, K))
        for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist()):
            assert 0 <= x < c.n and y in admissible(x), (x, y)
    return Case(call, check, valid, f"{d1} {kind} anchor={per_anchor} K={K} strict={strict}")


@case("sgns_train")
def _sgns_train(draw):
    N, D = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    W, L = draw(st.integers(0, 4)), draw(st.integers(1, 5))
    walks = torch.randint(-1, N, (W, L))
    emb_in, emb_out = torch.randn(N, D) * 0.1, torch.zeros(N, D)
    noise = torch.rand(N, dtype=torch.float64) + 0.1
    window, negs, lr = draw(st.integers(1, 3)), draw(st.integers(0, 3)), 0.025
    kind = draw(st.sampled_from(["ok", "ok", "walk_high", "walk_low", "emb_double", "emb_mismatch",
                                 "noise_nan", "noise_len", "window_zero", "offset_bad", "walks_int32"]))
    valid = True
    if kind == "walk_high" and walks.numel():
        walks, valid = walks.clone(), False
        walks[0, 0] = N
    elif kind == "walk_low" and walks.numel():
        walks, valid = walks.clone(), False
        walks[0, 0] = -2
    elif kind == "emb_double":
        emb_in, valid = emb_in.double(), False
    elif kind == "emb_mismatch":
        emb_out, valid = torch.zeros(N + 1, D), False
    elif kind == "noise_nan":
        noise, valid = noise.clone(), False
        noise[0] = NAN
    elif kind == "noise_len":
        noise, valid = torch.ones(N + 1, dtype=torch.float64), False
    elif kind == "window_zero":
        window, valid = 0, False
    elif kind == "walks_int32":
        walks, valid = walks.int(), False
    total = W if kind != "offset_bad" else W - 1
    if kind == "offset_bad" and W:
        valid = False
    before = emb_in.clone()

    def check(pairs):
        assert isinstance(pairs, int) and pairs >= 0
        assert torch.isfinite(emb_in).all() and torch.isfinite(emb_out).all()
        if pairs == 0:
            assert torch.equal(emb_in, before)
    return Case(lambda: C().sgns_train(walks, emb_in, emb_out, noise, None, window, negs, lr, 1e-4, 0, max(total, 0),
                                       1), check, valid, f"{kind} W={W} L={L}")


@case("gather_rows")
def _gather_rows(draw):
    N, F = draw(st.integers(0, 6)), draw(st.integers(0, 3))
    src, valid, d1 = features(draw, (N, F), name="src", rows_fixed=False)
    if d1.endswith("int"):
        valid = True  # any dtype is copied
    if d1.endswith("wrong_dim"):
        valid = src.dim() >= 1
    M = draw(st.integers(0, 5))
    n_rows = src.shape[0] if src.dim() else 0
    index = torch.tensor(draw(st.lists(st.integers(0, max(n_rows - 1, 0)), min_size=M, max_size=M)),
                         dtype=torch.long) if n_rows else torch.zeros(0, dtype=torch.long)
    kind = draw(st.sampled_from(["ok", "ok", "int32", "strided", "high", "negative", "float", "2d",
                                 "strided_rows"]))
    if kind == "int32":
        index = index.int()
    elif kind == "strided":
        index = strided(index)
    elif kind == "high":
        index, valid = torch.cat([index, torch.tensor([n_rows])]), False
    elif kind == "negative":
        index, valid = torch.cat([index, torch.tensor([-1])]), False
    elif kind == "float":
        index, valid = index.double(), False
    elif kind == "2d":
        index, valid = index.reshape(1, -1), False
    elif kind == "strided_rows" and src.dim() == 2:
        src = torch.cat([src, src], 1)[:, ::2]
    # gather_rows reads rows in place: rows that are not contiguous are rejected (documented)
    valid = valid and (src.dim() <= 1 or src.shape[0] == 0 or src[0].is_contiguous())

    return Case(lambda: C().gather_rows(src, index),
                (lambda out: close(out.double(), src[index.long()].double())), valid, f"{d1} {kind}")


def dropout_p(draw):
    """(p, valid): p in [0, 1) or a malformed probability."""
    kind = draw(st.sampled_from(["ok", "ok", "ok", "zero", "one", "negative", "nan", "inf"]))
    p = {"zero": 0.0, "one": 1.0, "negative": -0.25, "nan": NAN, "inf": INF}.get(
        kind, draw(st.floats(0.0, 0.999)))
    return p, kind in ("ok", "zero")


@case("dropout")
def _dropout(draw):
    from gnnkit.testing import dropout_reference

    shape = tuple(draw(st.lists(st.integers(0, 40), min_size=1, max_size=3)))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.bfloat16]))
    x, valid, d1 = features(draw, shape, dtype=dtype, rows_fixed=False)
    if d1.endswith("wrong_dim"):
        valid = True  # any shape is valid
    p, vp = dropout_p(draw)
    seed = draw(st.integers(-2**63, 2**63 - 1))
    relu = draw(st.booleans())

    def check(out):
        want, _ = dropout_reference(x, p, seed, relu)
        assert out.shape == x.shape and out.dtype == x.dtype and out.is_contiguous()
        torch.testing.assert_close(out, want, equal_nan=True, rtol=0, atol=0)
    return Case(lambda: C().dropout(x, p, seed, relu), check, valid and vp, f"{d1} p={p} relu={relu}")


@case("dropout_relu_backward")
def _dropout_relu_backward(draw):
    shape = tuple(draw(st.lists(st.integers(0, 30), min_size=1, max_size=2)))
    g, v1, d1 = features(draw, shape, name="grad", rows_fixed=False)
    y, v2, d2 = features(draw, shape, name="out", rows_fixed=False)
    p, vp = dropout_p(draw)
    shape_only = ("wrong_dim", "wrong_rows")  # any shape is valid when both shapes match
    v1, v2 = v1 or d1.endswith(shape_only), v2 or d2.endswith(shape_only)
    valid = v1 and v2 and vp and g.shape == y.shape
    if draw(st.booleans()) and valid:
        y, valid, d2 = y.float(), False, "out:float32"  # dtype mismatch

    def check(out):
        want = torch.where(y > 0, g * (1.0 / (1.0 - p)), torch.zeros((), dtype=g.dtype))
        torch.testing.assert_close(out, want, equal_nan=True, rtol=0, atol=0)
    return Case(lambda: C().dropout_relu_backward(g, y, p), check, valid, f"{d1} {d2} p={p}")


def _bn_params(draw, C, dtype):
    """(weight, bias, desc): None or [C] affine parameters of x's dtype."""
    if not draw(st.booleans()):
        return None, None, "affine:none"
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    return torch.rand(C, generator=gen, dtype=dtype) + 0.5, torch.randn(C, generator=gen, dtype=dtype), "affine"


@case("batch_norm_relu")
def _batch_norm_relu(draw):
    from gnnkit.testing import batch_norm_relu_reference

    N, Cc = draw(st.integers(0, 8)), draw(st.integers(0, 5))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    x, valid, d1 = features(draw, (N, Cc), dtype=dtype, rows_fixed=False)
    w, b, d2 = _bn_params(draw, Cc, dtype)
    training, relu = draw(st.booleans()), draw(st.booleans())
    mean = var = None
    if not training:
        mean, var = torch.randn(Cc, dtype=dtype), torch.rand(Cc, dtype=dtype) + 0.1
    kind = draw(st.sampled_from(["ok", "ok", "ok", "weight_len", "bias_dtype", "half", "neg_eps"]))
    eps = -1.0 if kind == "neg_eps" else 1e-5
    if kind == "weight_len":
        w, valid = torch.ones(Cc + 1, dtype=dtype), False
    elif kind == "bias_dtype":
        b, valid = torch.zeros(Cc, dtype=torch.float64 if dtype == torch.float32 else torch.float32), False
    elif kind == "half" and x.is_floating_point():
        x, valid = x.half(), False
    elif kind == "neg_eps":
        valid = False
    if training and x.dim() == 2 and x.shape[0] < 2:
        valid = False  # batch statistics need two rows (as torch.nn.BatchNorm1d)

    def check(res):
        out = res[0]
        assert out.shape == x.shape and out.dtype == x.dtype and out.is_contiguous()
        if torch.isfinite(x).all():
            want = batch_norm_relu_reference(x, mean, var, w, b, training, 0.1, eps, relu)
            torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    return Case(lambda: C().batch_norm_relu(x, w, b, mean, var, eps, relu), check, valid,
                f"{d1} {d2} {kind} training={training} relu={relu}")


@case("batch_norm_relu_backward")
def _batch_norm_relu_backward(draw):
    N, Cc = draw(st.integers(2, 8)), draw(st.integers(0, 5))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    x = torch.randn(N, Cc, generator=gen, dtype=torch.float64)
    w, b, d2 = _bn_params(draw, Cc, torch.float64)
    relu = draw(st.booleans())
    y, mean, var = C().batch_norm_relu(x, w, b, None, None, 1e-5, relu)
    g, valid, d1 = features(draw, (N, Cc), name="grad")
    kind = draw(st.sampled_from(["ok", "ok", "out_shape", "mean_len"]))
    if kind == "out_shape":
        y, valid = y[:-1], False
    elif kind == "mean_len":
        mean, valid = torch.zeros(Cc + 1, dtype=torch.float64), False

    def check(res):
        gx, gw, gb = res
        assert gx.shape == x.shape and gw.shape == gb.shape == (Cc,)
        if torch.isfinite(g).all():
            xr = x.clone().requires_grad_()
            wr = None if w is None else w.clone().requires_grad_()
            br = None if b is None else b.clone().requires_grad_()
            yr = torch.nn.functional.batch_norm(xr, None, None, wr, br, True, 0.1, 1e-5)
            (torch.relu(yr) if relu else yr).backward(g)
            close(gx, xr.grad)
            if wr is not None:
                close(gw, wr.grad)
                close(gb, br.grad)
    return Case(lambda: C().batch_norm_relu_backward(g, x, y, w, mean, var, 1e-5, relu, True), check, valid,
                f"{d1} {d2} {kind} relu={relu}")


@case("batch_norm_update_stats")
def _batch_norm_update_stats(draw):
    Cc = draw(st.integers(0, 5))
    mean, valid, d1 = features(draw, (Cc,), name="mean")
    var = torch.rand(Cc, dtype=torch.float64)
    rm, rv = torch.randn(Cc, dtype=torch.float64), torch.rand(Cc, dtype=torch.float64)
    rm0, rv0 = rm.clone(), rv.clone()
    n = draw(st.integers(0, 6))
    momentum = draw(st.sampled_from([0.1, 0.5, 1.0, 0.0]))
    valid = valid and n >= 2

    def check(_):
        close(rm, momentum * mean.double() + (1 - momentum) * rm0)
        close(rv, momentum * var * n / (n - 1) + (1 - momentum) * rv0)
    return Case(lambda: C().batch_norm_update_stats(rm, rv, mean, var, n, momentum), check, valid,
                f"{d1} n={n} m={momentum}")


# ---------------------------------------------------------------------------- runner
def run_one(op: str, make, stats: Counter, log):
    def body(data):
        cs = make(data.draw)
        print(f"CASE {op} {cs.desc}", file=log, flush=True)
        try:
            res = cs.call()
        except TYPED as e:
            if cs.valid:
                raise AssertionError(f"{op}: valid input rejected ({cs.desc}): {type(e).__name__}: {e}") from None
            stats["typed_error"] += 1
            return
        except Exception as e:  # noqa: BLE001 - anything else is an untyped error
            raise AssertionError(f"{op}: untyped error ({cs.desc}): {type(e).__name__}: {e}") from None
        if not cs.valid:
            raise AssertionError(f"{op}: malformed input accepted silently ({cs.desc})")
        if cs.check is not None:
            cs.check(res)
        stats["ok"] += 1
    return body


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=30, help="hypothesis examples per op")
    ap.add_argument("--ops", default="", help="comma-separated ops (default: every op of the schema)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: derandomized)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = a.ops.split(",") if a.ops else schema_ops()
    summary = {}
    for op in names:
        stats = Counter()
        kw = dict(max_examples=a.examples, deadline=None, database=None, derandomize=a.seed is None,
                  suppress_health_check=list(HealthCheck), print_blob=False)
        test = settings(**kw)(given(data=st.data())(run_one(op, CASES[op], stats, sys.stderr)))
        if a.seed is not None:
            from hypothesis import seed as hseed
            test = hseed(a.seed)(test)
        failure = None
        try:
            test()
        except Exception as e:  # noqa: BLE001
            failure = "".join(traceback.format_exception_only(type(e), e)).strip()[-2000:]
        summary[op] = {"ok": stats["ok"], "typed_error": stats["typed_error"], "failure": failure}
    print("SUMMARY " + json.dumps(summary), flush=True)
    return 1 if any(v["failure"] for v in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
