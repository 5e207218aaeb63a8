"""Accuracy of bf16 feature storage (the kernels accumulate in fp32).

1. The 1M-node / 10M-arc random graph of ``bench_ops.py``, F = 128: ``spmm`` (sum) forward and
   backward on bf16 features against fp32, relative L2 error and max error / max |value|; GAT
   attention likewise on bf16 head features.
2. Planetoid (``--datasets``): GraphSAGE (2 x SAGEConv mean, hidden 64, dropout 0.5, Adam lr 0.01,
   wd 5e-4, 200 epochs, best validation epoch, row-normalised features), full batch, features
   stored fp32 vs bf16 (aggregated in bf16 with fp32 accumulation, weights fp32), ``--seeds``
   seeds each, public split.

    python experiments/check_bf16.py --threads 1

Ends with one line ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_root  # noqa: E402


def rel(a: torch.Tensor, b: torch.Tensor) -> dict:
    a, b = a.double(), b.double()
    return {"rel_l2": float((a - b).norm() / b.norm()), "max_err_over_max": float((a - b).abs().max() / b.abs().max())}


def big_graph(nodes: int, edges: int, feat: int) -> dict:
    import gnnkit
    from gnnkit.testing import random_edge_index

    g = gnnkit.Graph.from_edge_index(random_edge_index(nodes, edges, seed=0, self_loops=True, duplicates=False),
                                     num_nodes=nodes)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(nodes, feat, generator=gen)
    gout = torch.randn(nodes, feat, generator=gen)
    out = {}
    x32 = x.clone().requires_grad_(True)
    xb = x.bfloat16().requires_grad_(True)
    o32, ob = gnnkit.ops.spmm(g, x32, "sum"), gnnkit.ops.spmm(g, xb, "sum")
    o32.backward(gout)
    ob.backward(gout.bfloat16())
    out["spmm_forward"], out["spmm_backward"] = rel(ob, o32), rel(xb.grad, x32.grad)
    H, D = 8, 16
    h = torch.randn(nodes, H, D, generator=gen)
    a_s, a_d = torch.randn(nodes, H, generator=gen), torch.randn(nodes, H, generator=gen)
    h32, hb = h.clone().requires_grad_(True), h.bfloat16().requires_grad_(True)
    g32 = gnnkit.ops.gat_attention(g, h32, a_s, a_d)
    gb = gnnkit.ops.gat_attention(g, hb, a_s.bfloat16(), a_d.bfloat16())
    go = torch.randn(g32.shape, generator=gen)
    g32.backward(go)
    gb.backward(go.bfloat16())
    out["gat_forward"], out["gat_backward"] = rel(gb, g32), rel(hb.grad, h32.grad)
    return out


def planetoid(name: str, root, seeds: int, bf16: bool) -> list[float]:
    from gnnkit.data import get_dataset
    from gnnkit.nn import MiniBatchGNN

    ds = get_dataset(name, root=root)
    x = ds.x / ds.x.sum(1, keepdim=True).clamp_min(1)
    if bf16:
        x = x.bfloat16()
    sp = ds.split(0)
    accs = []
    for s in range(seeds):
        torch.manual_seed(s)
        model = MiniBatchGNN("sage", x.size(1), 64, int(ds.y.max()) + 1, num_layers=2, dropout=0.5)
        opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
        best = (-1.0, 0.0)
        for _ in range(200):
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(x, ds.graph)[sp["train"]], ds.y[sp["train"]]).backward()
            opt.step()
            model.eval()
            with torch.no_grad():
                pred = model(x, ds.graph).argmax(1)
            acc = [float((pred[sp[k]] == ds.y[sp[k]]).float().mean()) for k in ("val", "test")]
            best = max(best, tuple(acc))
        accs.append(best[1])
    return accs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--feat", type=int, default=128)
    ap.add_argument("--datasets", default="cora,citeseer,pubmed")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--root", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {"loadavg_start": os.getloadavg(), "threads": args.threads}
    t = time.perf_counter()
    res["graph_1m"] = big_graph(args.nodes, args.edges, args.feat)
    res["graph_1m_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps(res["graph_1m"]), flush=True)
    root = data_root(args.root)
    res["planetoid"] = {}
    for name in [d for d in args.datasets.split(",") if d]:
        r = {}
        for label, flag in (("fp32", False), ("bf16", True)):
            accs = planetoid(name, root, args.seeds, flag)
            r[label] = {"mean": round(sum(accs) / len(accs), 4), "runs": [round(a, 4) for a in accs]}
        r["bf16_minus_fp32"] = round(r["bf16"]["mean"] - r["fp32"]["mean"], 4)
        res["planetoid"][name] = r
        print(name, json.dumps(r), flush=True)
    res["loadavg_end"] = os.getloadavg()
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
