"""Micro-measurements behind session-5 decisions (issues #15, #16, #18), in one place.

1. dropout masks on a ``[10000, 512]`` float32 tensor: ``torch.rand_like``, ``F.dropout`` and
   ``gnnkit.ops.dropout`` (the counter-based kernel), and a plain multiply for scale;
2. dense matmul rate at ``[10000, 512] x [512, 512]``, float32 and bfloat16 (AMX where present);
3. the spmm kernel on the forward CSR vs the transposed CSR of the ``bench_ops.py`` graph
   (``--nodes`` / ``--edges``, power-law sources): the backward of ``spmm`` runs the second;
4. ``gnnkit.ops.batch_norm_relu`` vs torch's ``batch_norm`` + ``relu`` on ``[3200, 128]`` (GIN's
   shape), forward and forward + backward.

Times are medians over ``--repeat`` calls after two warm-ups, in milliseconds, at ``--threads``.

    python experiments/probe_micro.py --threads 2

Last line: ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import gnnkit  # noqa: F401  (before torch's threads start: passive OpenMP waiting)
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import triad_gbps  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    for _ in range(2):
        fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return round(1e3 * statistics.median(ts), 3)


def dropout_masks(repeat: int) -> dict:
    from gnnkit.ops import dropout

    x = torch.randn(10000, 512)
    return {"rand_like": median_ms(lambda: torch.rand_like(x), repeat),
            "F.dropout": median_ms(lambda: F.dropout(x, 0.2, True), repeat),
            "gnnkit.ops.dropout": median_ms(lambda: dropout(x, 0.2), repeat),
            "gnnkit.ops.dropout_relu": median_ms(lambda: dropout(x, 0.2, relu=True), repeat),
            "multiply": median_ms(lambda: x * x, repeat)}


def matmul_rates(repeat: int) -> dict:
    res = {}
    for name, dt in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        a, b = torch.randn(10000, 512, dtype=dt), torch.randn(512, 512, dtype=dt)
        ms = median_ms(lambda: a @ b, repeat)
        res[name] = {"ms": ms, "gflops": round(2 * 10000 * 512 * 512 / ms / 1e6, 1)}
    return res


def spmm_directions(nodes: int, edges: int, feat: int, repeat: int) -> dict:
    from gnnkit.ops import _common
    from gnnkit.testing import random_edge_index

    g = gnnkit.Graph.from_edge_index(random_edge_index(nodes, edges, seed=0), num_nodes=nodes)
    rowptr, col, _, _ = _common.csr(g)
    t_rowptr, t_col, _ = g.transpose()
    x = torch.randn(nodes, 1, feat)
    op = torch.ops.gnnkit.spmm_sum
    deg, t_deg = rowptr.diff().double(), t_rowptr.diff().double()
    return {"nodes": nodes, "edges": edges, "feat": feat,
            "forward_csr_ms": median_ms(lambda: op(rowptr, col, None, x, False), repeat),
            "transposed_csr_ms": median_ms(lambda: op(t_rowptr, t_col, None, x, False), repeat),
            "max_in_degree": int(deg.max()), "max_out_degree": int(t_deg.max())}


def batch_norm_relu(repeat: int) -> dict:
    from gnnkit.ops import batch_norm_relu as bn_relu

    x = torch.randn(3200, 128, requires_grad=True)
    w, b = torch.ones(128, requires_grad=True), torch.zeros(128, requires_grad=True)
    rm, rv = torch.zeros(128), torch.ones(128)

    def torch_fwd():
        return F.relu(F.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5))

    def ours_fwd():
        return bn_relu(x, rm, rv, w, b, True, 0.1, 1e-5)

    g = torch.randn(3200, 128)
    res = {}
    for name, fwd in (("torch", torch_fwd), ("gnnkit", ours_fwd)):
        with torch.no_grad():
            res[f"{name}_forward_ms"] = median_ms(fwd, repeat)
        res[f"{name}_forward_backward_ms"] = median_ms(lambda: fwd().backward(g), repeat)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--feat", type=int, default=128)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {"threads": args.threads, "loadavg_start": os.getloadavg(), "triad_gbps": round(triad_gbps(20_000_000), 1)}
    print(f"threads {args.threads}, triad {res['triad_gbps']} GB/s, load {res['loadavg_start'][0]:.1f}", flush=True)
    for key, fn in (("dropout_masks_ms", lambda: dropout_masks(args.repeat)),
                    ("matmul_10000x512x512", lambda: matmul_rates(args.repeat)),
                    ("batch_norm_relu_3200x128", lambda: batch_norm_relu(args.repeat)),
                    ("spmm_forward_vs_transposed", lambda: spmm_directions(args.nodes, args.edges, args.feat,
                                                                           max(2, args.repeat // 4)))):
        res[key] = fn()
        print(key, json.dumps(res[key]), flush=True)
    res["loadavg_end"] = os.getloadavg()
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
