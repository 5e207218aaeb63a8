"""Graph batching throughput and a GIN epoch: gnnkit vs PyG (same graphs, same run).

Graphs: ``--graphs`` molecule-sized random graphs (a random tree on 15..35 nodes plus 3 chords
on average: 25 nodes / 54 arcs), 9 integer atom codes per node, 3 bond codes per edge, one
binary label.  The same graphs as one :class:`gnnkit.graphlevel.GraphDataset` and as a list of
PyG ``Data`` (building either is not timed).

1. collation: one shuffled epoch of batches of ``--batch-size`` graphs (x, edge_index / CSR,
   edge_attr, y, batch vector): ``GraphLoader`` vs ``torch_geometric.loader.DataLoader``;
2. GIN epoch (training: loading + forward + backward + Adam step, ``--gin-graphs`` graphs):
   ``gnnkit.nn.gin.GIN`` (spmm aggregation) vs the same architecture on PyG's ``GINConv``
   (Linear node encoder on the float-cast codes, ``--layers`` x (GIN MLP, BN, ReLU), mean readout).

Prints the load average and a single-thread numpy triad bandwidth beside the figures.
Last line: ``RESULT {json}``.

    python experiments/bench_graph_batching.py --graphs 100000
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import triad_gbps  # noqa: E402
from gnnkit.graphlevel import GraphDataset, GraphLoader  # noqa: E402
from gnnkit.nn.gin import GIN  # noqa: E402


def make_graphs(G: int, seed: int = 0):
    """Concatenated COO (local ids) of G random trees + chords, vectorised."""
    rng = np.random.default_rng(seed)
    n = rng.integers(15, 36, G)
    node_ptr = np.zeros(G + 1, dtype=np.int64)
    np.cumsum(n, out=node_ptr[1:])
    N = int(node_ptr[-1])
    gid = np.repeat(np.arange(G), n)
    local = np.arange(N) - node_ptr[gid]
    child = local > 0                                   # tree: node i > 0 -> random parent < i
    par = (rng.random(N) * np.maximum(local, 1)).astype(np.int64)
    t_src, t_dst, t_g = local[child], par[child], gid[child]
    k = rng.poisson(3, G)                               # chords
    c_g = np.repeat(np.arange(G), k)
    a = (rng.random(c_g.size) * n[c_g]).astype(np.int64)
    b = (rng.random(c_g.size) * n[c_g]).astype(np.int64)
    keep = a != b
    src = np.concatenate([t_src, a[keep]])
    dst = np.concatenate([t_dst, b[keep]])
    eg = np.concatenate([t_g, c_g[keep]])
    order = np.argsort(eg, kind="stable")
    src, dst, eg = src[order], dst[order], eg[order]
    m = np.bincount(eg, minlength=G)
    x = rng.integers(0, 10, (N, 9))
    ea = rng.integers(0, 4, (src.size, 3))
    y = rng.integers(0, 2, (G, 1)).astype(np.float32)
    return n, m, src, dst, x, ea, y


def build_pyg(n, m, src, dst, x, ea, y):
    from torch_geometric.data import Data
    out = []
    node_ptr = np.concatenate([[0], np.cumsum(n)])
    edge_ptr = np.concatenate([[0], np.cumsum(m)])
    X, S, D, EA, Y = (torch.from_numpy(v) for v in (x, src, dst, ea, y))
    for g in range(len(n)):
        e0, e1 = edge_ptr[g], edge_ptr[g + 1]
        ei = torch.stack([torch.cat([S[e0:e1], D[e0:e1]]), torch.cat([D[e0:e1], S[e0:e1]])])
        eattr = torch.cat([EA[e0:e1], EA[e0:e1]])
        out.append(Data(x=X[node_ptr[g]:node_ptr[g + 1]], edge_index=ei, edge_attr=eattr, y=Y[g:g + 1]))
    return out


class PygGIN(torch.nn.Module):
    def __init__(self, in_ch, hidden, out, layers):
        super().__init__()
        from torch_geometric.nn import GINConv
        self.enc = torch.nn.Linear(in_ch, hidden)
        self.convs = torch.nn.ModuleList(GINConv(torch.nn.Sequential(
            torch.nn.Linear(hidden, 2 * hidden), torch.nn.BatchNorm1d(2 * hidden), torch.nn.ReLU(),
            torch.nn.Linear(2 * hidden, hidden))) for _ in range(layers))
        self.bns = torch.nn.ModuleList(torch.nn.BatchNorm1d(hidden) for _ in range(layers))
        self.head = torch.nn.Linear(hidden, out)

    def forward(self, x, edge_index, batch, num_graphs):
        from torch_geometric.nn import global_mean_pool
        h = self.enc(x)
        for i, (c, bn) in enumerate(zip(self.convs, self.bns)):
            h = bn(c(h, edge_index))
            if i < len(self.convs) - 1:
                h = F.relu(h)
        return self.head(global_mean_pool(h, batch, num_graphs))


def matmul_ms_per_step(model, opt, loader, steps, args_of, target):
    """Self CPU time of the dense matmuls (aten::mm / addmm / bmm, forward and backward) per
    training step, from torch.profiler over ``steps`` steps after 3 warm-up steps."""
    from torch.profiler import ProfilerActivity, profile

    it = iter(loader)

    def step():
        b = next(it)
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(*args_of(b)), getattr(b, target)).backward()
        opt.step()

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    us = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in ("aten::mm", "aten::addmm", "aten::bmm"))
    return us / 1e3 / steps


def time_epoch(fn):
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", type=int, default=100_000)
    ap.add_argument("--gin-graphs", type=int, default=None, help="graphs in the GIN epoch (default: all)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile-steps", type=int, default=20,
                    help="GIN steps profiled per library (torch.profiler) for the matmul share; 0: skip")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from torch_geometric.loader import DataLoader

    print(f"load {os.getloadavg()}  triad {triad_gbps(20_000_000):.1f} GB/s  threads {args.threads}", flush=True)
    n, m, src, dst, x, ea, y = make_graphs(args.graphs)
    ds = GraphDataset.from_coo(src, dst, n, m, torch.from_numpy(y), x=torch.from_numpy(x).float(),
                               edge_attr=torch.from_numpy(ea), add_reverse=True,
                               task_type="binary", name="bench")
    data = build_pyg(n, m, src, dst, x.astype(np.float32), ea, y)
    for d in data:
        d.x = d.x.float()
    print(f"graphs {len(ds)}  avg nodes {ds.num_nodes / len(ds):.1f}  avg arcs {ds.num_arcs / len(ds):.1f}", flush=True)

    def ours():
        k = 0
        for b in GraphLoader(ds, batch_size=args.batch_size, shuffle=True, seed=k):
            k += b.num_graphs
        return k

    def pyg():
        k = 0
        for b in DataLoader(data, batch_size=args.batch_size, shuffle=True):
            k += b.num_graphs
        return k

    res = {"graphs": len(ds), "batch_size": args.batch_size, "threads": args.threads}
    t_ours = min(time_epoch(ours)[0] for _ in range(args.repeat))
    t_pyg = min(time_epoch(pyg)[0] for _ in range(args.repeat))
    res.update(collate_s_gnnkit=t_ours, collate_s_pyg=t_pyg, collate_speedup_vs_pyg=t_pyg / t_ours)
    print(f"collate epoch: gnnkit {t_ours:.2f} s  pyg {t_pyg:.2f} s  speedup {t_pyg / t_ours:.1f}x  "
          f"load {os.getloadavg()[0]:.1f}", flush=True)

    Gg = args.gin_graphs or len(ds)
    sub = ds if Gg == len(ds) else ds.subset(torch.arange(Gg))
    torch.manual_seed(0)
    ours_m = GIN(9, args.hidden, 1, num_layers=args.layers, dropout=0.0, readout="mean")
    pyg_m = PygGIN(9, args.hidden, 1, args.layers)
    opt_o = torch.optim.Adam(ours_m.parameters(), 1e-3)
    opt_p = torch.optim.Adam(pyg_m.parameters(), 1e-3)

    def gin_ours():
        for b in GraphLoader(sub, batch_size=args.batch_size, shuffle=True):
            opt_o.zero_grad()
            out = ours_m(b.x, b.graph, b.batch, b.num_graphs)
            F.binary_cross_entropy_with_logits(out, b.target).backward()
            opt_o.step()
        return Gg

    def gin_pyg():
        for b in DataLoader(data[:Gg], batch_size=args.batch_size, shuffle=True):
            opt_p.zero_grad()
            out = pyg_m(b.x, b.edge_index, b.batch, b.num_graphs)
            F.binary_cross_entropy_with_logits(out, b.y).backward()
            opt_p.step()
        return Gg

    t_go = min(time_epoch(gin_ours)[0] for _ in range(args.repeat))
    t_gp = min(time_epoch(gin_pyg)[0] for _ in range(args.repeat))
    res.update(gin_graphs=Gg, hidden=args.hidden, layers=args.layers, gin_epoch_s_gnnkit=t_go,
               gin_epoch_s_pyg=t_gp, gin_speedup_vs_pyg=t_gp / t_go, load=os.getloadavg()[0])
    print(f"GIN epoch ({Gg} graphs): gnnkit {t_go:.2f} s  pyg {t_gp:.2f} s  speedup {t_gp / t_go:.2f}x  "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    if args.profile_steps:
        steps = -(-Gg // args.batch_size)
        mm_o = matmul_ms_per_step(ours_m, opt_o, GraphLoader(sub, batch_size=args.batch_size, shuffle=True),
                                  args.profile_steps, lambda b: (b.x, b.graph, b.batch, b.num_graphs), "target")
        mm_p = matmul_ms_per_step(pyg_m, opt_p, DataLoader(data[:Gg], batch_size=args.batch_size, shuffle=True),
                                  args.profile_steps, lambda b: (b.x, b.edge_index, b.batch, b.num_graphs), "y")
        # everything but gnnkit's dense matmuls at zero cost: the speedup no gnnkit change can pass
        ceiling = t_gp / (steps * mm_o / 1e3)
        res.update(gin_matmul_ms_per_step_gnnkit=mm_o, gin_matmul_ms_per_step_pyg=mm_p,
                   gin_step_ms_gnnkit=1e3 * t_go / steps, gin_step_ms_pyg=1e3 * t_gp / steps,
                   gin_speedup_ceiling_matmul_only=ceiling)
        print(f"GIN dense matmuls (mm/addmm, forward + backward): gnnkit {mm_o:.2f} ms/step, pyg {mm_p:.2f} "
              f"ms/step, of steps {1e3 * t_go / steps:.2f} / {1e3 * t_gp / steps:.2f} ms; speedup ceiling with "
              f"everything else free: {ceiling:.2f}x", flush=True)
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
