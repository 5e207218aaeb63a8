"""spmm against the scatter oracle: every reduce x dtype x index dtype x corner-case graph."""
from itertools import product

import pytest
import torch

import gnnkit
from gnnkit.ops import spmm
from gnnkit.testing import corner_case_graphs, random_edge_index, spmm_reference

REDUCES = ["sum", "mean", "max", "min"]
DTYPES = [torch.float32, torch.float64, torch.bfloat16]
GRAPHS = corner_case_graphs() + [("int64_" + n, g) for n, g in corner_case_graphs(torch.int64)]


def _tol(dtype):
    return dict(atol=3e-2, rtol=3e-2) if dtype == torch.bfloat16 else dict(atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case,reduce,dtype", product(GRAPHS, REDUCES, DTYPES), ids=str)
def test_spmm_forward_and_grad(case, reduce, dtype):
    name, g = case
    torch.manual_seed(0)
    x = torch.randn(g.num_nodes, 5, dtype=dtype, requires_grad=True)
    w = torch.rand(g.num_edges, dtype=dtype, requires_grad=True)
    out = spmm(g, x, reduce, edge_weight=w)
    x_ref = x.detach().clone().requires_grad_()
    w_ref = w.detach().clone().requires_grad_()
    ref = spmm_reference(g, x_ref, reduce, edge_weight=w_ref)
    torch.testing.assert_close(out, ref, **_tol(dtype))
    grad = torch.randn_like(out)
    out.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad, **_tol(dtype))
    if w_ref.grad is not None:
        torch.testing.assert_close(w.grad, w_ref.grad, **_tol(dtype))


@pytest.mark.parametrize("reduce", REDUCES)
def test_spmm_gradcheck(reduce):
    g = gnnkit.Graph.from_edge_index(random_edge_index(12, 40, seed=3), num_nodes=12)
    x = torch.randn(12, 3, dtype=torch.float64, requires_grad=True)
    # distinct weights so max/min arg-extremes are unique (gradcheck needs differentiability)
    w = (torch.rand(g.num_edges, dtype=torch.float64) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: spmm(g, x, reduce, edge_weight=w), (x, w))


def test_spmm_unweighted_uses_graph_weights():
    ei = torch.tensor([[0, 1, 2], [2, 2, 0]])
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=3, edge_weight=torch.tensor([2.0, 3.0, 5.0]))
    x = torch.tensor([[1.0], [1.0], [1.0]])
    assert spmm(g, x).flatten().tolist() == [5.0, 0.0, 5.0]
    assert spmm(g, x, edge_weight=torch.ones(3)).flatten().tolist() == [1.0, 0.0, 2.0]


def test_spmm_multihead_weights():
    g = gnnkit.Graph.from_edge_index(random_edge_index(10, 30, seed=2), num_nodes=10)
    x = torch.randn(10, 3, 4, dtype=torch.float64, requires_grad=True)
    w = torch.rand(g.num_edges, 3, dtype=torch.float64, requires_grad=True)
    for reduce in ("sum", "mean"):
        torch.testing.assert_close(spmm(g, x, reduce, w), spmm_reference(g, x, reduce, w))
    assert torch.autograd.gradcheck(lambda x, w: spmm(g, x, "mean", w), (x, w))


def test_spmm_matches_dense_matmul():
    g = gnnkit.Graph.from_edge_index(random_edge_index(50, 300, seed=4), num_nodes=50)
    x = torch.randn(50, 17, dtype=torch.float64)
    dense = torch.zeros(50, 50, dtype=torch.float64)
    src, dst = g.edge_index
    dense.index_put_((dst, src), torch.ones(g.num_edges, dtype=torch.float64), accumulate=True)
    torch.testing.assert_close(spmm(g, x), dense @ x)


def test_spmm_thread_count_invariance():
    g = gnnkit.Graph.from_edge_index(random_edge_index(2000, 40000, seed=5), num_nodes=2000)
    x = torch.randn(2000, 33)
    prev = torch.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            outs.append(spmm(g, x, "sum"))
    finally:
        torch.set_num_threads(prev)
    assert all(torch.equal(outs[0], o) for o in outs[1:])


def test_spmm_non_contiguous_input():
    g = gnnkit.Graph.from_edge_index(random_edge_index(20, 60, seed=6), num_nodes=20)
    x = torch.randn(8, 20).t()  # non-contiguous view
    torch.testing.assert_close(spmm(g, x), spmm_reference(g, x))


# ----------------------------------------------------------------------------- ISA variants
# The CPU sum/mean kernel has baseline / AVX2 / AVX-512 builds (GNNKIT_SPMM_ISA pins one); they
# must agree bitwise with each other, and with themselves across thread counts.
ISAS = ["generic", "avx2", "avx512"]


def _isa_supported(isa):
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0], [0]]), num_nodes=1)
    import os

    old = os.environ.get("GNNKIT_SPMM_ISA")
    os.environ["GNNKIT_SPMM_ISA"] = isa
    try:
        spmm(g, torch.ones(1, 1))
        return True
    except ValueError as e:
        assert "supports at most" in str(e)
        return False
    finally:
        if old is None:
            del os.environ["GNNKIT_SPMM_ISA"]
        else:
            os.environ["GNNKIT_SPMM_ISA"] = old


SUPPORTED_ISAS = [i for i in ISAS if _isa_supported(i)]


def _run_isa(monkeypatch, isa, fn):
    monkeypatch.setenv("GNNKIT_SPMM_ISA", isa)
    try:
        return fn()
    finally:
        monkeypatch.delenv("GNNKIT_SPMM_ISA")


@pytest.mark.parametrize("dtype,index_dtype", product([torch.float32, torch.float64, torch.bfloat16],
                                                      [torch.int32, torch.int64]), ids=str)
def test_spmm_isa_variants_bitwise(monkeypatch, dtype, index_dtype):
    g = gnnkit.Graph.from_edge_index(random_edge_index(300, 3000, seed=7), num_nodes=300,
                                     index_dtype=index_dtype)
    torch.manual_seed(0)
    w = torch.rand(g.num_edges, dtype=dtype)
    cases = [(F, reduce, ew) for F in (1, 5, 33, 128) for reduce in ("sum", "mean") for ew in (None, w)]
    for F, reduce, ew in cases:
        x = torch.randn(300, F, dtype=dtype)
        outs = [_run_isa(monkeypatch, isa, lambda: spmm(g, x, reduce, edge_weight=ew)) for isa in SUPPORTED_ISAS]
        assert all(torch.equal(outs[0], o) for o in outs[1:]), (F, reduce, ew is None)
        torch.testing.assert_close(outs[0], spmm_reference(g, x, reduce, edge_weight=ew), **_tol(dtype))


def test_spmm_isa_variants_bitwise_multihead_and_grad(monkeypatch):
    g = gnnkit.Graph.from_edge_index(random_edge_index(200, 2500, seed=8), num_nodes=200)
    torch.manual_seed(1)
    x = torch.randn(200, 4, 6)
    w = torch.rand(g.num_edges, 4)
    for ew in (None, w):  # unweighted heads are aggregated as one [N, H*D] matrix
        outs, grads = [], []
        for isa in SUPPORTED_ISAS:
            xr = x.clone().requires_grad_()
            out = _run_isa(monkeypatch, isa, lambda: spmm(g, xr, "mean", edge_weight=ew))
            _run_isa(monkeypatch, isa, lambda: out.backward(torch.ones_like(out)))
            outs.append(out.detach())
            grads.append(xr.grad)
        assert all(torch.equal(outs[0], o) for o in outs[1:])
        assert all(torch.equal(grads[0], gr) for gr in grads[1:])
        torch.testing.assert_close(outs[0], spmm_reference(g, x, "mean", edge_weight=ew))


@pytest.mark.parametrize("isa", ISAS)
def test_spmm_isa_thread_count_invariance(monkeypatch, isa):
    if isa not in SUPPORTED_ISAS:
        pytest.skip(f"CPU lacks {isa}")
    g = gnnkit.Graph.from_edge_index(random_edge_index(3000, 60000, seed=9), num_nodes=3000)
    x = torch.randn(3000, 128)
    prev = torch.get_num_threads()
    outs = []
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            outs.append(_run_isa(monkeypatch, isa, lambda: spmm(g, x, "sum")))
    finally:
        torch.set_num_threads(prev)
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("isa", ISAS)
def test_spmm_isa_gradcheck(monkeypatch, isa):
    if isa not in SUPPORTED_ISAS:
        pytest.skip(f"CPU lacks {isa}")
    g = gnnkit.Graph.from_edge_index(random_edge_index(12, 40, seed=3), num_nodes=12)
    x = torch.randn(12, 19, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(g.num_edges, dtype=torch.float64) + 0.5).requires_grad_()
    monkeypatch.setenv("GNNKIT_SPMM_ISA", isa)
    for reduce in ("sum", "mean"):
        assert torch.autograd.gradcheck(lambda x, w: spmm(g, x, reduce, edge_weight=w), (x, w))


def test_spmm_isa_bad_env(monkeypatch):
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0], [0]]), num_nodes=1)
    monkeypatch.setenv("GNNKIT_SPMM_ISA", "sse9")
    with pytest.raises(ValueError, match="GNNKIT_SPMM_ISA must be 'auto', 'generic', 'avx2' or 'avx512', got 'sse9'"):
        spmm(g, torch.ones(1, 3))
    if "avx512" not in SUPPORTED_ISAS:
        monkeypatch.setenv("GNNKIT_SPMM_ISA", "avx512")
        with pytest.raises(ValueError, match="supports at most"):
            spmm(g, torch.ones(1, 3))


# GNNKIT_HUGE_PAGES=0 turns off the madvise(MADV_HUGEPAGE) hint on large outputs.  The value is
# read once per process, so each setting runs in its own interpreter.  N=70000, F=128 float32 is a
# 35.8 MB output: above the hint's 32 MB threshold.
_HUGE_SCRIPT = r"""
import os, sys, torch, gnnkit
from gnnkit.ops import spmm
torch.set_num_threads(1)
gen = torch.Generator().manual_seed(0)
n, f = 70000, 128
ei = torch.randint(0, n, (2, 3 * n), generator=gen)
g = gnnkit.Graph.from_edge_index(ei, num_nodes=n, edge_weight=torch.rand(3 * n, generator=gen))
x = torch.randn(n, f, generator=gen)
if sys.argv[2] == "0":
    # a bad value raises (and is not cached), then the valid value is read
    os.environ["GNNKIT_HUGE_PAGES"] = "yes"
    try:
        spmm(g, x)
        raise SystemExit("GNNKIT_HUGE_PAGES=yes did not raise")
    except ValueError as e:
        assert "GNNKIT_HUGE_PAGES must be '0' or '1', got 'yes'" in str(e), e
    os.environ["GNNKIT_HUGE_PAGES"] = "0"
out = spmm(g, x)
assert out.nbytes >= 32 << 20
torch.save(out, sys.argv[1])
"""


def test_huge_pages_opt_out_gives_identical_results(tmp_path):
    import os
    import subprocess
    import sys

    outs = []
    for value in ("1", "0"):
        path = tmp_path / f"out{value}.pt"
        env = dict(os.environ, GNNKIT_HUGE_PAGES=value)
        p = subprocess.run([sys.executable, "-c", _HUGE_SCRIPT, str(path), value], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr[-3000:]
        outs.append(torch.load(path))
    assert torch.equal(outs[0], outs[1])
