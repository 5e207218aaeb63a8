"""Strict negative sampling vs PyG's ``negative_sampling``, and link-loader vs node-loader throughput.

    OMP_NUM_THREADS=1 python experiments/bench_negative.py [--edges 10000000] [--nodes 1000000] [--neg 1000000]

* negatives: ``gnnkit.ops.negative_sampling(g, NEG, strict=True)`` (C++, exact uniform over the
  non-edges, never an edge, exactly NEG pairs) vs ``torch_geometric.utils.negative_sampling(
  edge_index, N, NEG)`` (torch-only path, ``method='sparse'``: it also rejects edges, and may
  return fewer pairs), same graph, same run, best of ``--repeat``;
* loaders: sampled arcs per second per thread of ``gnnkit.link.link_loader`` (positive pairs +
  as many strict negatives, blocks of both endpoints, fanouts 10-5) next to
  ``gnnkit.sampling.NeighborLoader`` (node seeds, same fanouts), ``prefetch=0``, one thread.

Prints the triad bandwidth and the load average beside the figures (shared machine).  Last line:
RESULT {json}.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def triad():
    try:
        from _common import triad_gbps
    except ImportError:
        from bench_ops import triad_gbps
    return triad_gbps(1 << 24, 3)


def best(f, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return min(ts), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--neg", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loader-batches", type=int, default=20)
    args = ap.parse_args()
    import gnnkit
    from gnnkit.link import link_loader
    from gnnkit.ops.negative_sampling import negative_sampling
    from gnnkit.sampling import NeighborLoader

    res = {"load_start": os.getloadavg(), "triad_gbps": triad(), "threads": torch.get_num_threads(),
           "nodes": args.nodes, "edges": args.edges, "neg": args.neg}
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, args.nodes, (2, args.edges), generator=gen)
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=args.nodes)
    g.transpose()
    t_ours, neg = best(lambda: negative_sampling(g, args.neg, seed=1), args.repeat)
    assert neg.shape == (2, args.neg)
    res["gnnkit_s"] = t_ours
    print(f"gnnkit negative_sampling: {t_ours * 1e3:.1f} ms for {args.neg:,} strict negatives "
          f"({args.edges:,} edges)", flush=True)
    try:
        from torch_geometric.utils import negative_sampling as pyg_neg
        torch.manual_seed(0)
        t_pyg, pneg = best(lambda: pyg_neg(ei, args.nodes, args.neg), args.repeat)
        res["pyg_s"] = t_pyg
        res["pyg_returned"] = int(pneg.shape[1])
        res["speedup_vs_pyg"] = t_pyg / t_ours
        print(f"PyG negative_sampling:    {t_pyg * 1e3:.1f} ms ({pneg.shape[1]:,} pairs returned); "
              f"speedup {t_pyg / t_ours:.1f}x", flush=True)
    except ImportError as e:
        print(f"PyG not installed ({e}); no comparison", flush=True)

    pairs = g.edge_index[:, torch.randperm(g.num_edges, generator=gen)[: 1024 * args.loader_batches]]
    loaders = {
        "link": link_loader(g, pairs, [10, 5], batch_size=1024, prefetch=0, seed=0),
        "node": NeighborLoader(g, [10, 5], input_nodes=torch.unique(pairs[0]), batch_size=2048, prefetch=0, seed=0),
    }
    for name, loader in loaders.items():
        t = time.perf_counter()
        c = time.process_time()
        arcs = 0
        for b in loader:
            arcs += sum(int(blk.num_edges) for blk in b.graph)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        res[f"{name}_arcs_per_s_thread"] = arcs / wall / torch.get_num_threads()
        res[f"{name}_arcs_per_cpu_s"] = arcs / cpu
        print(f"{name} loader: {arcs:,} sampled arcs, {arcs / wall / 1e6:.2f} M/s/thread wall, "
              f"{arcs / cpu / 1e6:.2f} M/s per CPU-second", flush=True)
    res["load_end"] = os.getloadavg()
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
