"""Benchmark of gnnkit.analysis.

1. Ollivier-Ricci curvature of every edge of squirrel (alpha = 0.5, exact transport) with
   gnnkit against the GraphRicciCurvature package (method "OTD" = exact, same alpha), in the same
   run. GraphRicciCurvature pins old scipy/numpy, so it lives in its own virtualenv and runs as a
   subprocess of that venv's python; only its curvature computation is timed (inside the
   subprocess: ``OllivierRicci.compute_ricci_curvature_edges``, which includes its all-pairs
   shortest paths).
   Wall and CPU seconds are both reported: on a shared machine the wall-time speedup
   (``speedup_vs_graphricci``) depends on the load, the CPU-time ratio much less.
2. Timing of every homophily measure on a generated graph with 10M arcs.

Prints a final ``RESULT {json}`` line.

    python experiments/bench_analysis.py                      # full squirrel, peer if present
    python experiments/bench_analysis.py --max-edges 2000     # quick run on a subset of edges
    python experiments/bench_analysis.py --peer-python none   # gnnkit only

Peer setup (its own venv under ``.peers/`` or ``$GNNKIT_PEERS_DIR``, never the main environment):
    python experiments/peers.py setup ricci
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gnnkit  # noqa: E402
from gnnkit.analysis import homophily, ollivier_ricci_curvature  # noqa: E402
from gnnkit.analysis.curvature import simple_graph  # noqa: E402

sys.path.insert(0, str(ROOT / "experiments"))
from peers import peer_python, setup_command  # noqa: E402  (experiments/peers.py)

PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
import networkx as nx
from GraphRicciCurvature.OllivierRicci import OllivierRicci
edges_path, nodes, alpha, out_path, subset = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
all_edges = np.load(edges_path)
G = nx.Graph()
G.add_nodes_from(range(nodes))
G.add_edges_from(map(tuple, all_edges.tolist()))
query = np.load(subset) if subset != "-" else all_edges
import resource
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime  # pool workers are children
orc = OllivierRicci(G, alpha=alpha, method="OTD", verbose="ERROR")
c0 = cpu()
t0 = time.perf_counter()
res = orc.compute_ricci_curvature_edges([tuple(e) for e in query.tolist()])
dt = time.perf_counter() - t0
dc = cpu() - c0
vals = np.array([res[(int(a), int(b))] for a, b in query.tolist()])
np.save(out_path, vals)
import GraphRicciCurvature, ot, scipy
print(json.dumps({"seconds": dt, "cpu_seconds": dc, "version": getattr(GraphRicciCurvature, "__version__", "?"),
                  "pot": ot.__version__, "networkx": nx.__version__, "numpy": np.__version__,
                  "scipy": scipy.__version__, "proc": orc.proc}))
"""


def data_root() -> Path:
    env = os.environ.get("GNNKIT_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


def bench_ricci(args) -> dict:
    path = Path(args.data) if args.data else data_root() / "heterophily" / "squirrel.npz"
    edges = np.load(path)["edges"]
    g = gnnkit.Graph.from_edge_index(torch.from_numpy(edges.T.copy()), directed=False)
    sg = simple_graph(g)
    m = sg.eu.shape[0]
    sel = np.arange(m)
    if args.max_edges and args.max_edges < m:
        sel = np.sort(np.random.default_rng(0).choice(m, args.max_edges, replace=False))
    # JIT warm-up (numba cache=True: compiled once per machine, loaded afterwards)
    t0 = time.perf_counter()
    tiny = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 0]]), directed=False)
    ollivier_ricci_curvature(tiny)
    warm = time.perf_counter() - t0

    import numba

    from gnnkit.analysis._curvature_numba import ollivier_ricci_kernel, one_hop_bitset, two_hop_bitset
    c0 = time.process_time()  # CPU time of all threads of this process
    t0 = time.perf_counter()
    if sel.size == m:
        ours, exact = ollivier_ricci_curvature(sg, alpha=args.alpha, method="exact", per_edge=True,
                                               return_exact=True)
        ours, exact = ours.numpy(), exact.numpy()
    else:  # subset: call the kernel on the chosen edges only (same code path as the public function)
        nw = (sg.num_nodes + 63) // 64
        r1, r2 = one_hop_bitset(sg.indptr, sg.indices, nw), two_hop_bitset(sg.indptr, sg.indices, nw)
        ours, exact = ollivier_ricci_kernel(sg.indptr, sg.indices, sg.eu[sel], sg.ev[sel], args.alpha, r1, r2, True, True,
                                            np.iinfo(np.int64).max, 0.01, 1000,
                                            max(1, min(sel.size, 4 * numba.get_num_threads())))
    t_ours = time.perf_counter() - t0
    c_ours = time.process_time() - c0
    print(f"gnnkit ORC: {sel.size} edges of {m} in {t_ours:.2f} s wall, {c_ours:.1f} s CPU "
          f"({numba.get_num_threads()} threads, "
          f"JIT warm-up {warm:.1f} s), all exact: {bool(exact.all())}", flush=True)
    res = {"dataset": path.stem, "num_nodes": int(sg.num_nodes), "num_undirected_edges": int(m),
           "edges_compared": int(sel.size), "alpha": args.alpha, "gnnkit_seconds": round(t_ours, 3), "gnnkit_cpu_seconds": round(c_ours, 3),
           "gnnkit_threads": numba.get_num_threads(), "gnnkit_all_exact": bool(exact.all())}
    peer = args.peer_python
    if peer == "auto":
        found = peer_python("ricci")
        peer = str(found) if found else "none"
    if peer == "none" or not Path(peer).exists():
        print(f"peer skipped: GraphRicciCurvature python {peer!r} not found "
              f"(create it with: {setup_command('ricci')})", flush=True)
        return res
    with tempfile.TemporaryDirectory() as tmp:
        all_path = Path(tmp) / "edges.npy"
        np.save(all_path, np.stack([sg.eu, sg.ev], 1))
        sub = "-"
        if sel.size < m:
            sub = str(Path(tmp) / "subset.npy")
            np.save(sub, np.stack([sg.eu[sel], sg.ev[sel]], 1))
        script = Path(tmp) / "peer.py"
        script.write_text(PEER_SCRIPT)
        out = Path(tmp) / "peer_vals.npy"
        print("running GraphRicciCurvature (OTD) ...", flush=True)
        proc = subprocess.run([peer, str(script), str(all_path), str(sg.num_nodes), str(args.alpha), str(out), sub],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"peer failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        theirs = np.load(out)
    diff = np.abs(theirs - ours)
    res.update({
        "graphricci_seconds": round(info["seconds"], 3),
        "graphricci_cpu_seconds": round(info["cpu_seconds"], 3),
        "speedup_cpu_time": round(info["cpu_seconds"] / max(c_ours, 1e-9), 2),
        "graphricci_proc": info["proc"],
        "graphricci_versions": {k: info[k] for k in ("version", "pot", "networkx", "numpy", "scipy")},
        "speedup_vs_graphricci": round(info["seconds"] / t_ours, 2),
        "max_abs_diff": float(diff.max()),
        "edges_over_1e-3": int((diff > 1e-3).sum()),
    })
    print(f"GraphRicciCurvature: {info['seconds']:.2f} s wall, {info['cpu_seconds']:.1f} s CPU (proc={info['proc']}); "
          f"max |diff| = {diff.max():.3g}",
          flush=True)
    return res


def bench_homophily(num_edges: int, num_nodes: int, num_classes: int = 10) -> dict:
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    y = torch.randint(0, num_classes, (num_nodes,), generator=gen)
    out = {}
    for method in ("edge", "node", "edge_insensitive", "adjusted", "label_informativeness",
                   "label_informativeness_node", "compatibility"):
        homophily(ei[:, :1000], y, method=method)  # warm-up
        t0 = time.perf_counter()
        homophily(ei, y, method=method)
        out[method] = round(time.perf_counter() - t0, 4)
    print(f"homophily on {num_edges} arcs / {num_nodes} nodes (seconds): {out}", flush=True)
    return {"homophily_num_arcs": num_edges, "homophily_seconds": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="squirrel.npz (default: $GNNKIT_DATA or ../shared/datasets)")
    p.add_argument("--peer-python", default="auto",
                   help="python of the GraphRicciCurvature venv ('auto': the ricci peer of experiments/peers.py), or 'none'")
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--max-edges", type=int, default=0, help="compare on a random subset of edges (0 = all)")
    p.add_argument("--homophily-edges", type=int, default=10_000_000, help="0 skips the homophily timing")
    p.add_argument("--skip-ricci", action="store_true")
    args = p.parse_args(argv)
    result = {}
    if not args.skip_ricci:
        result.update(bench_ricci(args))
    if args.homophily_edges:
        result.update(bench_homophily(args.homophily_edges, num_nodes=max(1000, args.homophily_edges // 10)))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
