"""The CUDA sources compile (nvcc -c against torch's headers) even on a machine without a GPU.

This keeps csrc/cuda honest between runs on GPU machines; skipped when nvcc is absent.
"""
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found: CUDA sources not compile-checked")
def test_cuda_sources_compile():
    spec = importlib.util.spec_from_file_location("check_cuda_compile", ROOT / "tools" / "check_cuda_compile.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sources = sorted((ROOT / "csrc" / "cuda").glob("*.cu"))
    assert sources, "no CUDA sources found"
    import concurrent.futures as cf

    # one nvcc per core (each compiles for ~45 s, single-threaded): the suite's wall time halves on 2 cores
    with cf.ThreadPoolExecutor(max_workers=max(1, min(len(sources), os.cpu_count() or 1))) as ex:
        results = list(ex.map(mod.check, map(str, sources)))
    failures = [(src, err) for src, rc, err in results if rc != 0]
    assert not failures, "\n\n".join(f"{s}:\n{e}" for s, e in failures)


def test_cuda_matches_cpu_when_gpu_present():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: CUDA kernels are compile-checked only")
    import gnnkit
    from gnnkit.ops import edge_softmax, gat_attention, sddmm, spmm
    from gnnkit.testing import random_edge_index

    g = gnnkit.Graph.from_edge_index(random_edge_index(200, 2000, seed=0), num_nodes=200)
    gc = g.to("cuda")
    x = torch.randn(200, 3, 8, dtype=torch.float64)
    a_s, a_d = torch.randn(200, 3, dtype=torch.float64), torch.randn(200, 3, dtype=torch.float64)
    for reduce in ("sum", "mean", "max", "min"):
        torch.testing.assert_close(spmm(gc, x.cuda().flatten(1), reduce).cpu(), spmm(g, x.flatten(1), reduce))
    torch.testing.assert_close(sddmm(gc, x.cuda(), x.cuda()).cpu(), sddmm(g, x, x))
    s = torch.randn(g.num_edges, 3, dtype=torch.float64)
    torch.testing.assert_close(edge_softmax(gc, s.cuda()).cpu(), edge_softmax(g, s))
    torch.testing.assert_close(gat_attention(gc, x.cuda(), a_s.cuda(), a_d.cuda()).cpu(), gat_attention(g, x, a_s, a_d))
    xg = x.cuda().requires_grad_()
    gat_attention(gc, xg, a_s.cuda(), a_d.cuda()).sum().backward()
    xc = x.clone().requires_grad_()
    gat_attention(g, xc, a_s, a_d).sum().backward()
    torch.testing.assert_close(xg.grad.cpu(), xc.grad)
