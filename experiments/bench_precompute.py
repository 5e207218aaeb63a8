"""Benchmark: GBP precompute vs exact propagation (torch.sparse, PyG SIGN) and the random-walk
engine vs PecanPy, on one generated power-law graph, every method with the same thread count.

    python experiments/bench_precompute.py                       # 1M nodes, ~10M arcs, F = 128
    python experiments/bench_precompute.py --nodes 200000 --edges 1000000   # smaller run

Every method runs in its own child process (``--task``), so that its peak RSS (``ru_maxrss``) and
CPU-seconds (``getrusage``: user + system) are its own.  The graph is an undirected R-MAT graph
(gnnkit.data.powerlaw) with ``--edges`` drawn edges (symmetrised, duplicates merged: E arcs ~ 2x),
stored as a memory-mapped DiskGraph; the features ``X ~ N(0, 1)`` ``[N, F]`` float32 are a ``.npy``
file.  Propagation: ``P = sum_l w_l T^l X``, ``T = D^-1/2 A D^-1/2`` (GBP with r = 0.5; PyG's SIGN
uses the same normalisation), PPR weights ``alpha (1 - alpha)^l``, ``L = 4``.  Errors are measured
against the exact torch.sparse result at the targets (float32 exact; its own rounding is ~1e-7).

PecanPy runs in the ``pecanpy`` peer venv (``python experiments/peers.py setup pecanpy``; never in
the main environment): its numba walk
kernel ``_random_walks`` is timed after a warm-up call (JIT compilation excluded), without the
conversion of the walks to string ids, on the same CSR and the same start nodes.
The last line is ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from peers import peer_python, setup_command  # noqa: E402  (experiments/peers.py)


def _peak_rss_mb() -> float:
    """VmHWM of this process: reset at exec (unlike ru_maxrss, which a child inherits from the
    parent at fork)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _usage() -> dict:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": _peak_rss_mb()}


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _weights(L: int, alpha: float) -> np.ndarray:
    return np.array([alpha * (1 - alpha) ** l for l in range(L + 1)])


# ----------------------------------------------------------------------------- data
def make_data(work: Path, nodes: int, edges: int, features: int, num_targets: int, seed: int) -> dict:
    meta_path = work / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("args") == [nodes, edges, features, num_targets, seed]:
            return meta
    import torch

    from gnnkit.data.disk import save_graph
    from gnnkit.data.powerlaw import powerlaw_graph

    work.mkdir(parents=True, exist_ok=True)
    t = time.time()
    g = powerlaw_graph(nodes, edges, seed=seed, directed=False)
    # GBP's A is 0/1: drop the self loops R-MAT draws (duplicates are already merged).
    g = g.remove_self_loops()
    save_graph(work / "graph", g, overwrite=True)
    rng = np.random.default_rng(seed)
    x = np.lib.format.open_memmap(work / "x.npy", mode="w+", dtype=np.float32, shape=(nodes, features))
    for a in range(0, nodes, 100_000):
        b = min(a + 100_000, nodes)
        x[a:b] = rng.standard_normal((b - a, features), dtype=np.float32)
    x.flush()
    del x
    targets = np.sort(rng.choice(nodes, size=num_targets, replace=False)).astype(np.int64)
    np.save(work / "targets.npy", targets)
    ip, ix = g.indptr.numpy(), g.indices.numpy()
    np.savez(work / "pecanpy.npz", indptr=ip.astype(np.uint32), indices=ix.astype(np.uint32),
             data=np.ones(ix.size, np.float32), IDs=np.arange(nodes).astype(str))
    deg = np.diff(ip)
    meta = {"args": [nodes, edges, features, num_targets, seed], "num_nodes": nodes, "num_arcs": int(g.num_edges),
            "max_degree": int(deg.max()), "isolated": int((deg == 0).sum()), "gen_s": time.time() - t}
    meta_path.write_text(json.dumps(meta))
    del torch
    return meta


# ----------------------------------------------------------------------------- child tasks
def task_exact(work: Path, args) -> dict:
    import torch

    from gnnkit.data.disk import DiskGraph

    torch.set_num_threads(args.threads)
    dg = DiskGraph(work / "graph")
    targets = np.load(work / "targets.npy")
    w = _weights(args.levels, args.alpha)
    t0, c0 = time.perf_counter(), _cpu()
    g = dg.graph()
    deg = g.indptr.diff().clamp(min=1).to(torch.float32)
    dst = torch.repeat_interleave(torch.arange(g.num_nodes), g.indptr.diff(), output_size=g.num_edges)
    val = deg[dst].rsqrt() * deg[g.indices.long()].rsqrt()
    T = torch.sparse_csr_tensor(g.indptr, g.indices.long(), val, (g.num_nodes, g.num_nodes))
    x = torch.from_numpy(np.load(work / "x.npy"))
    out = float(w[0]) * x
    h = x
    for l in range(1, args.levels + 1):
        h = T @ h
        out += float(w[l]) * h
    res = out[torch.from_numpy(targets)].numpy()
    dt = time.perf_counter() - t0
    np.save(work / "P_exact.npy", res)
    return {"time_s": dt, "compute_cpu_s": _cpu() - c0}


def task_sign(work: Path, args) -> dict:
    import torch
    from torch_geometric.data import Data
    from torch_geometric.transforms import SIGN

    from gnnkit.data.disk import DiskGraph

    torch.set_num_threads(args.threads)
    dg = DiskGraph(work / "graph")
    targets = torch.from_numpy(np.load(work / "targets.npy"))
    w = _weights(args.levels, args.alpha)
    t0, c0 = time.perf_counter(), _cpu()
    g = dg.graph()
    data = Data(x=torch.from_numpy(np.load(work / "x.npy")), edge_index=g.edge_index, num_nodes=g.num_nodes)
    data = SIGN(args.levels)(data)
    out = float(w[0]) * data.x[targets]
    for l in range(1, args.levels + 1):
        out += float(w[l]) * data[f"x{l}"][targets]
    dt = time.perf_counter() - t0
    np.save(work / "P_sign.npy", out.numpy())
    return {"time_s": dt, "compute_cpu_s": _cpu() - c0}


def task_gbp(work: Path, args, name: str, r_max: float, num_walks: int, block_size: int) -> dict:
    import torch

    from gnnkit.data.disk import DiskGraph
    from gnnkit.precompute import gbp_precompute

    torch.set_num_threads(args.threads)
    dg = DiskGraph(work / "graph")
    targets = np.load(work / "targets.npy")
    out = work / f"P_{name}.npy"
    for p in (out, Path(str(out) + ".state.json")):
        if p.exists():
            p.unlink()
    t0, c0 = time.perf_counter(), _cpu()
    gbp_precompute(dg, str(work / "x.npy"), torch.from_numpy(targets), num_levels=args.levels, r=0.5,
                   weights="ppr", alpha=args.alpha, r_max=r_max, num_walks=num_walks, seed=args.seed,
                   out=out, block_size=block_size, resume=False)
    return {"time_s": time.perf_counter() - t0, "compute_cpu_s": _cpu() - c0, "r_max": r_max,
            "num_walks": num_walks, "block_size": block_size}


def task_walk_gnnkit(work: Path, args, p: float, q: float) -> dict:
    import torch

    from gnnkit.data.disk import DiskGraph
    from gnnkit.ops.random_walk import random_walk

    torch.set_num_threads(args.threads)
    g = DiskGraph(work / "graph").graph()
    n = g.num_nodes
    start = torch.from_numpy(np.random.default_rng(1).permutation(n)[:args.walk_starts].astype(np.int64))
    random_walk(g, start[:1000], args.walk_length, p, q, seed=0)  # warm-up (loads the extension)
    t0, c0 = time.perf_counter(), _cpu()
    walks = random_walk(g, start, args.walk_length, p, q, seed=args.seed)
    dt = time.perf_counter() - t0
    steps = int((walks[:, 1:] >= 0).sum())
    return {"time_s": dt, "compute_cpu_s": _cpu() - c0, "steps": steps, "steps_per_s": steps / dt}


PECANPY_CHILD = r"""
import json, os, sys, time, resource
import numpy as np
from pecanpy import pecanpy as pp
from numba_progress import ProgressBar
path, starts, L, p, q, seed, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
import numba
numba.set_num_threads(threads)
cls = pp.FirstOrderUnweighted if (p == 1 and q == 1) else pp.SparseOTF
g = cls(p=p, q=q, workers=threads, verbose=False, random_state=seed)
g.read_npz(path, weighted=False, implicit_ids=True)
n = g.indptr.size - 1
start = np.random.default_rng(1).permutation(n)[:starts].astype(np.uint32)
g._preprocess_transition_probs()
mf, hn = g.get_move_forward(), g.get_has_nbrs()
with ProgressBar(total=10, disable=True) as prog:
    g._random_walks(10, L, seed, start[:10], hn, mf, prog)  # JIT warm-up, not timed
    t0 = time.perf_counter()
    W = g._random_walks(start.size, L, seed, start, hn, mf, prog)
    dt = time.perf_counter() - t0
steps = int((W[:, -1].astype(np.int64) - 1).sum())
ru = resource.getrusage(resource.RUSAGE_SELF)
hwm = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"time_s": dt, "steps": steps, "steps_per_s": steps / dt, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_rss_mb": hwm}))
"""


def run_pecanpy(work: Path, args, p: float, q: float) -> dict:
    py = peer_python("pecanpy")
    if py is None:
        return {"error": f"PecanPy peer venv missing: {setup_command('pecanpy')}"}
    env = dict(os.environ, NUMBA_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    env.pop("PYTHONPATH", None)
    cmd = [str(py), "-c", PECANPY_CHILD, str(work / "pecanpy.npz"), str(args.walk_starts), str(args.walk_length),
           str(p), str(q), str(args.seed), str(args.threads)]
    pr = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if pr.returncode != 0:
        return {"error": pr.stderr[-2000:]}
    return json.loads(pr.stdout.strip().splitlines()[-1])


def run_child(task: str, args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, str(HERE), "--task", task] + [a for a in sys.argv[1:] if a != "--task"]
    pr = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if pr.returncode != 0:
        return {"error": pr.stderr[-3000:]}
    return json.loads(pr.stdout.strip().splitlines()[-1])


def child_main(args) -> None:
    work = Path(args.workdir)
    if args.task == "exact":
        res = task_exact(work, args)
    elif args.task == "sign":
        res = task_sign(work, args)
    elif args.task == "gbp_fast":
        res = task_gbp(work, args, "gbp_fast", args.fast_rmax, args.fast_walks, args.fast_block_size)
    elif args.task == "gbp_scaled":
        res = task_gbp(work, args, "gbp_scaled", scaled_rmax(args.nodes), args.scaled_walks,
                       args.fast_block_size)
    elif args.task == "gbp_official":
        res = task_gbp(work, args, "gbp_official", 4e-8, 10_000, args.block_size)
    elif args.task == "walk_uniform":
        res = task_walk_gnnkit(work, args, 1.0, 1.0)
    elif args.task == "walk_node2vec":
        res = task_walk_gnnkit(work, args, args.p, args.q)
    else:
        raise SystemExit(f"unknown task {args.task}")
    res.update(_usage())
    print(json.dumps(res))


def _errors(work: Path, name: str) -> dict:
    ref = np.load(work / "P_exact.npy").astype(np.float64)
    est = np.asarray(np.load(work / f"P_{name}.npy"), dtype=np.float64)
    err = np.abs(est - ref)
    return {"max_abs_err": float(err.max()), "mean_abs_err": float(err.mean()),
            "ref_mean_abs": float(np.abs(ref).mean())}


FRIENDSTER_NODES = 65_608_366


def scaled_rmax(num_nodes: int) -> float:
    """The paper's large-graph threshold (r_max = 4e-8 on Friendster, 65.6M nodes, official
    ``friendster.sh``) moved to a graph of ``num_nodes`` nodes.  The threshold is relative to the
    column's L1 norm, which grows with N, so the per-node threshold is equal when r_max * N is:
    on 1M nodes the literal 4e-8 pushes ~96 % of nodes (two exact levels), 2.6e-6 matches."""
    return 4e-8 * FRIENDSTER_NODES / num_nodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=5_000_000, help="R-MAT edges drawn (arcs after symmetrising ~2x)")
    ap.add_argument("--features", type=int, default=128)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--targets", type=int, default=1387)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block-size", type=int, default=16)
    ap.add_argument("--fast-rmax", type=float, default=1e-5)
    ap.add_argument("--fast-walks", type=int, default=2000)
    ap.add_argument("--fast-block-size", type=int, default=128)
    ap.add_argument("--scaled-walks", type=int, default=1200,
                    help="walks per target of gbp_scaled (r_max = scaled_rmax(N))")
    ap.add_argument("--walk-starts", type=int, default=1_000_000,
                    help="walk start nodes (default: one walk from every node of the 1M graph, node2vec's "
                         "convention; far fewer makes the timed region ~0.1 s)")
    ap.add_argument("--walk-length", type=int, default=80)
    ap.add_argument("--p", type=float, default=0.5)
    ap.add_argument("--q", type=float, default=2.0)
    ap.add_argument("--tasks", default="exact,sign,gbp_fast,gbp_scaled,gbp_official,walk_uniform,walk_node2vec,"
                                       "pecanpy_uniform,pecanpy_node2vec")
    ap.add_argument("--workdir", default="/tmp/bench_precompute")
    ap.add_argument("--task", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.task:
        child_main(args)
        return
    work = Path(args.workdir)
    meta = make_data(work, args.nodes, args.edges, args.features, args.targets, args.seed)
    print(f"graph: {meta['num_nodes']} nodes, {meta['num_arcs']} arcs, max degree {meta['max_degree']}", flush=True)
    results = {}
    for task in args.tasks.split(","):
        if task == "pecanpy_uniform":
            res = run_pecanpy(work, args, 1.0, 1.0)
        elif task == "pecanpy_node2vec":
            res = run_pecanpy(work, args, args.p, args.q)
        else:
            res = run_child(task, args)
        if task in ("sign", "gbp_fast", "gbp_scaled", "gbp_official") and "error" not in res and (work / "P_exact.npy").exists():
            res.update(_errors(work, task))
        results[task] = res
        print(task, json.dumps(res), flush=True)

    def ratio(a, b, key="time_s"):
        try:
            return results[b][key] / results[a][key]
        except (KeyError, ZeroDivisionError, TypeError):
            return None

    def sps(a, b):
        try:
            return results[a]["steps_per_s"] / results[b]["steps_per_s"]
        except (KeyError, ZeroDivisionError, TypeError):
            return None

    summary = {
        "graph": meta, "threads": args.threads, "features": args.features, "levels": args.levels,
        "targets": args.targets, "results": results,
        "speedup_vs_exact": ratio("gbp_fast", "exact"),
        "cpu_speedup_vs_exact": ratio("gbp_fast", "exact", "compute_cpu_s"),
        "speedup_scaled_vs_exact": ratio("gbp_scaled", "exact"),
        "cpu_speedup_scaled_vs_exact": ratio("gbp_scaled", "exact", "compute_cpu_s"),
        "speedup_official_vs_exact": ratio("gbp_official", "exact"),
        "speedup_vs_sign": ratio("gbp_fast", "sign"),
        "speedup_vs_pecanpy_uniform": sps("walk_uniform", "pecanpy_uniform"),
        "speedup_vs_pecanpy_node2vec": sps("walk_node2vec", "pecanpy_node2vec"),
    }
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
