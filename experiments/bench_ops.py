"""Benchmark gnnkit's sparse kernels against their peers, in the same run.

Peers: PyG's fastest CPU path (``torch_geometric.EdgeIndex`` sparse matmul), PyG's default
scatter-based ``MessagePassing.propagate`` (``aggr="add"``), ``torch.sparse`` CSR matmul,
torch-sparse's ``matmul`` (when installed) and, for attention, ``torch_geometric.nn.GATConv``.
Also measures the memory bandwidth with a numpy triad and reports what fraction of it the spmm
forward reaches (bytes = E*(4 + 4F) + N*4F).  Peak memory is measured per implementation in a
fresh subprocess (ru_maxrss).

Fewer bytes per aggregation (``--reorder``, ``--bf16``): the same comparison (gnnkit vs PyG
EdgeIndex, fused GAT vs PyG GATConv) runs again on the graph renumbered by each ``--reorder``
method (:mod:`gnnkit.reorder`; features permuted alike, so the work is identical) and reports the
reordering gain per library (original ms / reordered ms); ``--bf16`` times gnnkit's kernels on
bf16 features (fp32 accumulation) on both numberings, reported separately.  Effective bandwidth =
logical bytes / time (it may exceed the triad once gathered rows come from cache).  The cost of
each reordering (seconds, peak RSS of a fresh process) is measured in a subprocess.

    python experiments/bench_ops.py --nodes 1000000 --edges 10000000 --feat 128 --threads 2 \
        --reorder rcm degree rabbit --bf16

Ends with one line ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import triad_gbps  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=10_000_000)
    p.add_argument("--feat", type=int, default=128)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", nargs="*", default=[], help="implementations to skip (e.g. pyg_scatter)")
    p.add_argument("--ops", nargs="*", default=["spmm", "gat"], choices=["spmm", "gat"],
                   help="op families to benchmark (default: both); e.g. --ops spmm while iterating")
    p.add_argument("--no-memory", action="store_true", help="skip the per-implementation memory runs")
    p.add_argument("--reorder", nargs="*", default=["rabbit"],
                   help="node orderings to compare with the original numbering (rcm degree rabbit metis)")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                   help="also time gnnkit on bf16 features (fp32 accumulation)")
    p.add_argument("--mem-only", default=None, help=argparse.SUPPRESS)  # internal: one subprocess run
    p.add_argument("--reorder-cost", default=None, help=argparse.SUPPRESS)  # internal: one subprocess
    return p.parse_args()


# ----------------------------------------------------------------------------- inputs
def make_inputs(a):
    from gnnkit import Graph
    from gnnkit.testing import random_edge_index

    torch.manual_seed(a.seed)
    ei = random_edge_index(a.nodes, a.edges, seed=a.seed, self_loops=True, duplicates=False)
    g = Graph.from_edge_index(ei, num_nodes=a.nodes)
    return g, ei


# ----------------------------------------------------------------------------- implementations
def spmm_impls(g, ei, a):
    """name -> callable(x) returning out (differentiable in x)."""
    import gnnkit

    N = a.nodes
    impls = {"gnnkit": lambda x: gnnkit.ops.spmm(g, x, "sum")}
    g.transpose()  # build the cached transpose outside the timed region, as PyG caches its own
    M = torch.sparse_csr_tensor(g.indptr, g.indices.long(), torch.ones(g.num_edges), size=(N, N))
    impls["torch_sparse_csr"] = lambda x: M @ x
    try:
        import torch_geometric
        from torch_geometric import EdgeIndex
        from torch_geometric.nn import MessagePassing

        mat = EdgeIndex(torch.stack([ei[1], ei[0]]), sparse_size=(N, N)).sort_by("row")[0]
        mat.get_indptr()
        impls["pyg"] = lambda x: mat.matmul(x)

        class Sum(MessagePassing):
            def __init__(self):
                super().__init__(aggr="add")

            def forward(self, x, edge_index):
                return self.propagate(edge_index, x=x)

        conv = Sum()
        impls["pyg_scatter"] = lambda x: conv(x, ei)
    except ImportError:
        print("torch_geometric not installed: PyG peers skipped", file=sys.stderr)
    try:
        from torch_sparse import SparseTensor, matmul

        adj_t = SparseTensor(row=ei[1], col=ei[0], sparse_sizes=(N, N))
        impls["torch_sparse"] = lambda x: matmul(adj_t, x)
    except ImportError:
        print("torch-sparse not installed: its peer is skipped", file=sys.stderr)
    return {k: v for k, v in impls.items() if k not in a.skip}


def gat_impls(g, ei, a):
    import gnnkit

    H, D, F = a.heads, a.head_dim, a.feat
    torch.manual_seed(1)
    W = torch.nn.Parameter(torch.randn(F, H * D) / F**0.5)
    att_s = torch.nn.Parameter(torch.randn(1, H, D) * 0.1)
    att_d = torch.nn.Parameter(torch.randn(1, H, D) * 0.1)
    g.transpose()

    def gnnkit_gat(x):
        h = (x @ W).view(-1, H, D)
        return gnnkit.ops.gat_attention(g, h, (h * att_s).sum(-1), (h * att_d).sum(-1)).reshape(-1, H * D)

    impls = {"gnnkit_gat": gnnkit_gat}
    try:
        from torch_geometric.nn import GATConv

        conv = GATConv(F, D, heads=H, add_self_loops=False, bias=False)
        impls["pyg_gat"] = lambda x: conv(x, ei)
    except ImportError:
        pass
    return {k: v for k, v in impls.items() if k not in a.skip}


def time_fn(fn, x, repeat, backward):
    times = []
    for i in range(repeat + 1):
        if x.grad is not None:
            x.grad = None
        t = time.perf_counter()
        out = fn(x)
        if backward:
            out.backward(torch.ones_like(out))
        dt = time.perf_counter() - t
        if i > 0:  # first run warms caches / lazy structures
            times.append(dt)
        del out
    return statistics.median(times) * 1e3


def mem_only(a):
    """Subprocess mode: peak RSS of one forward+backward of one implementation."""
    g, ei = make_inputs(a)
    kind, name = a.mem_only.split(":")
    impls = spmm_impls(g, ei, a) if kind == "spmm" else gat_impls(g, ei, a)
    x = torch.randn(a.nodes, a.feat, requires_grad=True)
    g.transpose()
    _reset_peak_rss()  # the graph generation peak must not hide the op's own peak
    before = _rss_mb("VmRSS")
    out = impls[name](x)
    out.backward(torch.ones_like(out))
    peak = _rss_mb("VmHWM")
    print(json.dumps({"peak_rss_mb": peak, "extra_mb": max(0.0, peak - before)}))


def _reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM (Linux >= 4.0)
        f.write("5")


def _rss_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure_memory(a, kind, name):
    cmd = [sys.executable, __file__, "--nodes", str(a.nodes), "--edges", str(a.edges), "--feat", str(a.feat),
           "--heads", str(a.heads), "--head-dim", str(a.head_dim), "--threads", str(a.threads),
           "--seed", str(a.seed), "--mem-only", f"{kind}:{name}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def reorder_cost(a):
    """Subprocess mode: seconds and peak RSS of one reordering of the generated graph."""
    from gnnkit.reorder import reorder

    g, ei = make_inputs(a)
    del ei
    _reset_peak_rss()
    before = _rss_mb("VmRSS")
    t = time.perf_counter()
    _, r = reorder(g, a.reorder_cost)
    sec = time.perf_counter() - t
    peak = _rss_mb("VmHWM")
    print(json.dumps({"seconds": round(sec, 2), "order_seconds": r.info.get("order_seconds"),
                      "peak_rss_mb": round(peak, 1), "extra_mb": round(max(0.0, peak - before), 1)}))


def bytes_spmm(E, N, F, elem):
    """Logical bytes of one spmm forward: per arc its index + one feature row, plus the output."""
    return E * (4 + elem * F) + N * elem * F


def time_pair(name, fn, x, a, ms, label):
    with torch.no_grad():
        fwd = time_fn(fn, x.detach(), a.repeat, backward=False)
    fb = time_fn(fn, x, a.repeat, backward=True)
    ms[name] = {"forward": round(fwd, 2), "forward_backward": round(fb, 2)}
    print(f"{label} {name:22s} fwd {fwd:9.1f} ms   fwd+bwd {fb:9.1f} ms   load {os.getloadavg()[0]:.1f}", flush=True)


def bf16_impls(g, a):
    """gnnkit on bf16 features (the kernels accumulate in fp32, output bf16)."""
    import gnnkit

    H, D, F = a.heads, a.head_dim, a.feat
    torch.manual_seed(1)
    W = torch.nn.Parameter(torch.randn(F, H * D) / F**0.5)
    att_s = torch.nn.Parameter(torch.randn(1, H, D) * 0.1)
    att_d = torch.nn.Parameter(torch.randn(1, H, D) * 0.1)

    def gat(x):
        h = (x.float() @ W).bfloat16().view(-1, H, D)
        a_s, a_d = (h.float() * att_s).sum(-1).bfloat16(), (h.float() * att_d).sum(-1).bfloat16()
        return gnnkit.ops.gat_attention(g, h, a_s, a_d).reshape(-1, H * D)

    out = {}
    if "spmm" in a.ops:
        out["gnnkit_bf16"] = ("spmm", lambda x: gnnkit.ops.spmm(g, x, "sum"))
    if "gat" in a.ops:
        out["gnnkit_gat_bf16"] = ("gat", gat)
    return out


def run_suite(g, ei, x, xg, a, label, peers_only=None):
    """Time every implementation on one numbering; returns ``{name: {forward, forward_backward}}``."""
    ms = {}
    spmm = spmm_impls(g, ei, a) if "spmm" in a.ops else {}
    gat = gat_impls(g, ei, a) if "gat" in a.ops else {}
    for name, fn in spmm.items():
        if peers_only is None or name in peers_only:
            time_pair(name, fn, x, a, ms, f"spmm[{label}]")
    for name, fn in gat.items():
        if peers_only is None or name in peers_only:
            time_pair(name, fn, xg, a, ms, f"gat [{label}]")
    if a.bf16:
        xb = x.detach().bfloat16().requires_grad_(True)
        xgb = xg.detach().bfloat16().requires_grad_(True)
        for name, (kind, fn) in bf16_impls(g, a).items():
            time_pair(name, fn, xb if kind == "spmm" else xgb, a, ms, f"{kind:4s}[{label}]")
    return ms


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    if a.mem_only:
        return mem_only(a)
    if a.reorder_cost:
        return reorder_cost(a)
    print(f"graph: {a.nodes} nodes, {a.edges} edges, F={a.feat}, threads={a.threads}, "
          f"load {os.getloadavg()}", flush=True)
    t0 = time.perf_counter()
    g, ei = make_inputs(a)
    print(f"generated in {time.perf_counter() - t0:.1f}s", flush=True)
    bw = triad_gbps()
    print(f"numpy triad bandwidth: {bw:.1f} GB/s", flush=True)
    x = torch.randn(a.nodes, a.feat, requires_grad=True)
    xg = torch.randn(a.nodes, a.feat, requires_grad=True)
    res = {"nodes": a.nodes, "edges": g.num_edges, "feat": a.feat, "threads": a.threads,
           "triad_gbps": round(bw, 2), "loadavg_start": os.getloadavg()}
    res["ms"] = ms = run_suite(g, ei, x, xg, a, "original")
    E, N, F = g.num_edges, a.nodes, a.feat
    gb = bytes_spmm(E, N, F, 4) / 1e9
    if "gnnkit" in ms:
        spmm = {"gbps": round(gb / (ms["gnnkit"]["forward"] / 1e3), 2)}
        spmm["bandwidth_fraction"] = round(spmm["gbps"] / bw, 3)
        for peer, key in (("pyg", "speedup_vs_pyg"), ("pyg_scatter", "speedup_vs_pyg_scatter"),
                          ("torch_sparse_csr", "speedup_vs_torch_sparse"),
                          ("torch_sparse", "speedup_vs_torch_sparse_pkg")):
            if peer in ms:
                spmm[key] = round(ms[peer]["forward_backward"] / ms["gnnkit"]["forward_backward"], 2)
                spmm[key + "_forward"] = round(ms[peer]["forward"] / ms["gnnkit"]["forward"], 2)
        if "gnnkit_bf16" in ms:
            spmm["bf16_gbps_effective"] = round(bytes_spmm(E, N, F, 2) / 1e9 / (ms["gnnkit_bf16"]["forward"] / 1e3), 2)
            spmm["bf16_speedup_vs_fp32"] = round(ms["gnnkit"]["forward_backward"] / ms["gnnkit_bf16"]["forward_backward"], 2)
            spmm["bf16_speedup_vs_fp32_forward"] = round(ms["gnnkit"]["forward"] / ms["gnnkit_bf16"]["forward"], 2)
        res["spmm_sum"] = spmm
    gat = {}
    if "pyg_gat" in ms:
        gat["speedup_vs_pyg"] = round(ms["pyg_gat"]["forward_backward"] / ms["gnnkit_gat"]["forward_backward"], 2)
        gat["speedup_vs_pyg_forward"] = round(ms["pyg_gat"]["forward"] / ms["gnnkit_gat"]["forward"], 2)
    if "gnnkit_gat_bf16" in ms:
        gat["bf16_speedup_vs_fp32"] = round(ms["gnnkit_gat"]["forward_backward"] / ms["gnnkit_gat_bf16"]["forward_backward"], 2)
    # ---- the same on each reordered numbering: reordering gain per library
    from gnnkit.reorder import reorder

    res["reordered"] = {}
    for method in a.reorder:
        t = time.perf_counter()
        g2, r = reorder(g, method)
        sec = time.perf_counter() - t
        ei2 = r.inverse[ei]
        x2 = x.detach()[r.perm].requires_grad_(True)
        xg2 = xg.detach()[r.perm].requires_grad_(True)
        print(f"reordered ({method}) in {sec:.1f} s", flush=True)
        ms2 = run_suite(g2, ei2, x2, xg2, a, method, peers_only=("gnnkit", "pyg", "gnnkit_gat", "pyg_gat"))
        gain = {k: round(ms[k]["forward_backward"] / v["forward_backward"], 3) for k, v in ms2.items() if k in ms}
        gain_fwd = {k: round(ms[k]["forward"] / v["forward"], 3) for k, v in ms2.items() if k in ms}
        rep = {"reorder_s_in_process": round(sec, 2), "ms": ms2, "gain_fwd_bwd": gain, "gain_forward": gain_fwd}
        if "gnnkit" in ms2:
            rep["gnnkit_gbps_effective"] = round(gb / (ms2["gnnkit"]["forward"] / 1e3), 2)
            if "pyg" in ms2:
                rep["speedup_vs_pyg"] = round(ms2["pyg"]["forward_backward"] / ms2["gnnkit"]["forward_backward"], 2)
        if "gnnkit_bf16" in ms2:
            rep["bf16_gbps_effective"] = round(bytes_spmm(E, N, F, 2) / 1e9 / (ms2["gnnkit_bf16"]["forward"] / 1e3), 2)
        if "gnnkit_gat" in ms2 and "pyg_gat" in ms2:
            rep["gat_speedup_vs_pyg"] = round(ms2["pyg_gat"]["forward_backward"] / ms2["gnnkit_gat"]["forward_backward"], 2)
        if not a.no_memory:
            cmd = [sys.executable, __file__, "--nodes", str(a.nodes), "--edges", str(a.edges), "--threads",
                   str(a.threads), "--seed", str(a.seed), "--reorder-cost", method]
            p = subprocess.run(cmd, capture_output=True, text=True)
            rep["cost"] = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else p.stderr[-500:]
            print(f"reorder cost ({method}): {rep['cost']}", flush=True)
        res["reordered"][method] = rep
        del g2, ei2, x2, xg2
    if not a.no_memory:
        mem = {}
        for kind, names in (("spmm", ["gnnkit", "pyg"]), ("gat", ["gnnkit_gat", "pyg_gat"])):
            for name in names if kind in a.ops else ():
                if name in ms:
                    mem[name] = measure_memory(a, kind, name)
                    print(f"memory {name}: {mem[name]}", flush=True)
        res["memory_mb"] = mem
        if mem.get("gnnkit_gat") and mem.get("pyg_gat"):
            gat["memory_ratio_vs_pyg"] = round(mem["gnnkit_gat"]["extra_mb"] / max(mem["pyg_gat"]["extra_mb"], 1e-9), 3)
    res["gat_attention"] = gat
    import gnnkit  # noqa: F401

    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import gnnkit"], check=True)
    res["import_subprocess_s"] = round(time.perf_counter() - t, 3)
    res["loadavg_end"] = os.getloadavg()
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
